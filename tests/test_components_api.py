"""The components as other Pulumi programs use them: typed args in step with the schema, errors in their terms."""

import pytest

import harness
from sigsci_waf import ConfigError, SigsciRevProxyApp, SigsciRevProxyAppArgs, SigsciSecret, SigsciSecretArgs
from sigsci_waf.config.app import AppSpec


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


def test_ingress_args_cover_exactly_the_schema():
    from sigsci_waf import SigsciIngressControllerArgs
    from sigsci_waf.config.ingress import IngressSpec

    arg_keys = set(SigsciIngressControllerArgs.__annotations__) - {"secret_name", "credentials_hash"}
    assert arg_keys == set(IngressSpec.model_fields)


def _ingress_program(**ingress):
    from sigsci_waf import SigsciIngressController

    def program():
        secret = SigsciSecret("keys", SigsciSecretArgs(namespaces=["default", "edge"], site="demo",
                                                       access_key_id="id", secret_access_key="key"))
        web = SigsciRevProxyApp("web", {"secret_name": secret.secret_name, "image": "example/web:1", "port": 8080,
                                        "service_port": 80})
        SigsciIngressController("edge", {"secret_name": secret.secret_name,
                                         "credentials_hash": secret.credentials_hash,
                                         "namespace": "edge", **ingress}, apps=[web])
    return program


def test_ingress_component_routes_to_app_components():
    run = harness.run(_ingress_program(routes=[{"app": "web", "host": "web.example.com"}]))
    release = harness.clean(run.named("edge-release").inputs)
    assert release["namespace"] == "edge"
    assert "sigsci.fastly.com/credentials-hash" in release["values"]["controller"]["podAnnotations"]
    ingress = harness.clean(run.named("edge-route-default.web").inputs)
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "web", "port": {"number": 80}}
    # The component never creates its namespace: the caller owns it.
    assert run.of_type("kubernetes:core/v1:Namespace") == []


def test_ingress_component_errors_use_python_names():
    with pytest.raises(ConfigError) as err:
        harness.run(_ingress_program(routes=[{"app": "shop"}]))
    assert err.value.key == "SigsciIngressController 'edge'.routes[0].app"
    with pytest.raises(ConfigError) as err:
        harness.run(_ingress_program(extra_values={"controller": {"replicaCount": 5}}))
    assert err.value.key == "SigsciIngressController 'edge'.extra_values.controller.replicaCount"
    assert "controller.replicas" in str(err.value)
    with pytest.raises(ConfigError) as err:
        harness.run(_ingress_program(agent={"pre_stop_sleep_seconds": 5}))
    assert err.value.key == "SigsciIngressController 'edge'.agent.pre_stop_sleep_seconds"
    with pytest.raises(ConfigError) as err:
        harness.run(_ingress_program(flavour="nginx-ingress", routes=[{"app": "web"}]))
    assert err.value.key == "SigsciIngressController 'edge'.routes[0].host"


def test_ingress_component_requires_a_secret_name():
    from sigsci_waf import SigsciIngressController

    with pytest.raises(ConfigError) as err:
        harness.run(lambda: SigsciIngressController("edge", {"namespace": "edge"}))
    assert err.value.key == "SigsciIngressController 'edge'.secret_name"
