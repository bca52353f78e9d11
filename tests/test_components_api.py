"""The components as other Pulumi programs use them: typed args in step with the schema, errors in their terms."""

import typing

import pytest

import harness
from sigsci_waf import ConfigError, SigsciRevProxyApp, SigsciRevProxyAppArgs, SigsciSecret, SigsciSecretArgs
from sigsci_waf.schema import AppSpec


def test_typed_args_cover_exactly_the_schema():
    arg_keys = set(SigsciRevProxyAppArgs.__annotations__) - {"secret_name", "credentials_hash"}
    assert arg_keys == set(AppSpec.model_fields)


def _program(**app):
    def program():
        secret = SigsciSecret("keys", SigsciSecretArgs(namespaces=["default"], site="demo",
                                                       access_key_id="id", secret_access_key="key"))
        SigsciRevProxyApp("web", {"secret_name": secret.secret_name, **app})
    return program


def test_component_errors_use_python_names():
    with pytest.raises(ConfigError) as err:
        harness.run(_program(image="example/web:1", port=8080, listener_port=8080))
    assert err.value.key == "SigsciRevProxyApp 'web'.listener_port"
    with pytest.raises(ConfigError) as err:
        harness.run(_program(image="example/web:1", port=8080, agent={"startup_probe": {"enabled": True,
                                                                                         "port": 8080}}))
    assert err.value.key == "SigsciRevProxyApp 'web'.agent.startup_probe.port"


def test_component_requires_a_secret_name():
    def program():
        SigsciRevProxyApp("web", {"image": "example/web:1", "port": 8080})
    with pytest.raises(ConfigError) as err:
        harness.run(program)
    assert err.value.key == "SigsciRevProxyApp 'web'.secret_name"


def test_secret_component_checks_its_args():
    def program():
        SigsciSecret("keys", {"namespaces": ["Bad_NS"], "site": "demo", "access_key_id": "a",
                              "secret_access_key": "b"})
    with pytest.raises(ConfigError) as err:
        harness.run(program)
    assert err.value.key == "SigsciSecret 'keys'.namespaces[0]"

    def half():
        SigsciSecret("keys", {"namespaces": ["web"], "site": "demo", "access_key_id": "a"})
    with pytest.raises(ConfigError) as err:
        harness.run(half)
    assert err.value.key == "SigsciSecret 'keys'.secret_access_key"


def test_component_name_defaults_to_the_resource_name():
    run = harness.run(_program(image="example/web:1", port=8080))
    deployment = harness.clean(run.named("web-deployment").inputs)
    assert deployment["metadata"]["name"] == "web"
