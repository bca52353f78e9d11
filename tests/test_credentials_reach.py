"""An agent only starts with its keys: refuse, at preview, credentials that would not reach it."""

import pytest

import harness
from sigsci_waf import SigsciIngressController, SigsciRevProxyApp, SigsciSecret
from sigsci_waf.config.errors import ConfigError

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}


def _program(build):
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run(build, mocks=mocks)
    return err.value, mocks


def test_an_app_outside_the_secrets_namespaces_is_refused():
    def build():
        secret = SigsciSecret("keys", {"namespaces": ["shop"], "site": "demo", "access_key_id": "id",
                                       "secret_access_key": "key"})
        SigsciRevProxyApp("web", {**{k: v for k, v in APP.items() if k != "name"}, "namespace": "billing",
                                  "secret_name": secret.secret_name})
    err, mocks = _program(build)
    assert err.key == "SigsciRevProxyApp 'web'.secret_name"
    assert "only in shop, not in namespace billing" in err.problem
    assert not any(r.type.startswith("kubernetes:apps") for r in mocks.resources)


def test_an_ingress_outside_the_secrets_namespaces_is_refused():
    def build():
        secret = SigsciSecret("keys", {"namespaces": ["shop"], "site": "demo", "access_key_id": "id",
                                       "secret_access_key": "key"})
        SigsciIngressController("edge", {"secret_name": secret.secret_name})  # namespace sigsci-ingress
    err, mocks = _program(build)
    # The namespace was left to its default: that, not the Secret, is what to fix first.
    assert err.key == "SigsciIngressController 'edge'.namespace" and "sigsci-ingress" in err.problem
    assert "is not set" in err.problem
    assert not any(r.type.startswith("kubernetes:helm") for r in mocks.resources)


def test_an_existing_secret_or_a_plain_name_is_trusted_everywhere():
    def build():
        secret = SigsciSecret("keys", {"namespaces": ["shop"], "existing_secret": "agent-keys"})
        SigsciRevProxyApp("web", {**APP, "namespace": "billing", "secret_name": secret.secret_name})
        SigsciRevProxyApp("api", {**APP, "name": "api", "namespace": "billing", "secret_name": "agent-keys"})
    run = harness.run(build)
    assert run.named("web-deployment") and run.named("api-deployment")


@pytest.mark.parametrize("namespaces", ["shop", ("shop",), {"shop": 1}, 7])
def test_namespaces_must_be_a_list(namespaces):
    def build():
        SigsciSecret("keys", {"namespaces": namespaces, "site": "demo", "access_key_id": "id",
                              "secret_access_key": "key"})
    if isinstance(namespaces, tuple):
        harness.run(build)  # a tuple is a sequence of names: fine
        return
    err, mocks = _program(build)
    assert err.key == "SigsciSecret 'keys'.namespaces" and "list" in err.problem
    assert not any(r.type == "kubernetes:core/v1:Secret" for r in mocks.resources)


@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key"])
@pytest.mark.parametrize("value", ["", "   ", "\n", 12])
def test_empty_or_non_string_keys_are_refused_in_the_component(field, value):
    args = {"namespaces": ["shop"], "site": "demo", "access_key_id": "id", "secret_access_key": "key", field: value}
    err, mocks = _program(lambda: SigsciSecret("keys", args))
    assert err.key == f"SigsciSecret 'keys'.{field}"
    assert not mocks.resources or all(r.type.startswith("sigsci:") for r in mocks.resources)


@pytest.mark.parametrize("key", ["sigsci:accessKeyId", "sigsci:secretAccessKey"])
@pytest.mark.parametrize("value", ["", "  "])
def test_empty_keys_in_stack_config_are_refused(key, value):
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, key: value, "sigsci:apps": [APP]}
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(config, mocks=mocks)
    assert err.value.key == key and "empty" in err.value.problem
    assert mocks.resources == []


def test_a_forgotten_app_namespace_is_named_not_the_secret():
    def build():
        secret = SigsciSecret("keys", {"namespaces": ["web"], "site": "demo", "access_key_id": "id",
                                       "secret_access_key": "key"})
        SigsciRevProxyApp("web", {"secret_name": secret.secret_name, "image": "example/web:1.4.2", "port": 8080})
    err, mocks = _program(build)
    assert err.key == "SigsciRevProxyApp 'web'.namespace"
    assert err.problem.startswith("is not set, so it is default,") and "creates it in web" in err.problem
