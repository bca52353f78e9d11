"""The component provider's package schema, inferred offline by Pulumi's own analyzer: each component
with its documented inputs and outputs, so other languages get typed, described SDKs."""

import importlib.util

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pydantic.alias_generators import to_camel

import harness
from sigsci_waf import (SigsciGateway, SigsciGatewayArgs, SigsciIngressController, SigsciIngressControllerArgs,
                        SigsciInjection, SigsciInjectionArgs, SigsciRevProxyApp, SigsciRevProxyAppArgs, SigsciSecret,
                        SigsciSecretArgs)

PROVIDER = harness.ROOT / "provider"


def _provider_module():
    spec = importlib.util.spec_from_file_location("sigsci_provider", PROVIDER / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the host starts only under __main__
    return module


@pytest.fixture(scope="module")
def schema():
    module = _provider_module()
    return module.PACKAGE, Analyzer(module.PACKAGE).analyze(module.COMPONENTS)


def test_the_plugin_files_are_there():
    assert (PROVIDER / "PulumiPlugin.yaml").read_text().count("runtime: python") == 1
    # Not `-r ../requirements.txt`: its `-e .` resolved against provider/ and the plugin did not install.
    lines = [line for line in (PROVIDER / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == [".."]  # the package from the repository root (tests/test_provider_install.py installs it)


EXPECTED = {
    "SigsciSecret": (SigsciSecretArgs, {"secretName", "credentialsHash"}),
    "SigsciRevProxyApp": (SigsciRevProxyAppArgs, {"serviceName", "namespace"}),
    "SigsciIngressController": (SigsciIngressControllerArgs,
                                {"namespace", "releaseName", "ingressClass", "serviceName", "loadBalancerAddress"}),
    "SigsciGateway": (SigsciGatewayArgs, {"namespace", "gatewayNamespace", "gatewayName"}),
    "SigsciInjection": (SigsciInjectionArgs, {"policyName", "paramsNamespace"}),
}


@pytest.mark.parametrize("component", sorted(EXPECTED))
def test_each_component_with_described_inputs_and_outputs(schema, component):
    package, result = schema
    definition = result["component_definitions"][component]
    args, outputs = EXPECTED[component]
    assert set(definition.inputs) == {to_camel(k) for k in args.__annotations__}
    assert set(definition.outputs) == outputs
    for name, prop in {**definition.inputs, **definition.outputs}.items():
        assert prop.description and len(prop.description) > 10, f"{component}.{name} has no description"
    assert definition.description


def test_the_type_tokens_match_the_package(schema):
    """The engine routes `sigsci:index:<Component>` to this plugin; the components register under it, whichever
    way in they are built (their public Args here, the resolve stage's objects in the stack program)."""
    package, _ = schema
    args = {"secret_name": "sigsci.demo"}
    built = {"SigsciSecret": lambda: SigsciSecret("c", {"namespaces": ["web"], "existing_secret": "keys"}),
             "SigsciRevProxyApp": lambda: SigsciRevProxyApp("c", {**args, "image": "nginx:1.27", "port": 8080}),
             "SigsciIngressController": lambda: SigsciIngressController("c", args),
             "SigsciGateway": lambda: SigsciGateway("c", args),
             "SigsciInjection": lambda: SigsciInjection("c", {**args, "namespaces": ["shop"]})}
    for component in EXPECTED:
        run = harness.run(built[component])
        assert run.options["c"]["type"] == f"{package}:index:{component}"
    stack = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:ingress": {},
                                "sigsci:gateway": {}, "sigsci:injection": {"namespaces": ["shop"]},
                                "sigsci:apps": [{"name": "web", "image": "nginx:1.27", "port": 8080}]})
    assert {stack.options[n]["type"] for n in ("sigsci", "web.default", "ingress", "gateway", "injection")} == {
        f"{package}:index:{component}" for component in EXPECTED}


# -- the path other languages take: the provider builds the components from schema inputs --------------------

def _provider():
    from pulumi.provider.experimental.component import ComponentProvider

    module = _provider_module()
    return ComponentProvider(module.COMPONENTS, module.PACKAGE)


def test_the_package_schema_generates():
    import json

    schema = json.loads(_provider().schema)
    assert schema["name"] == "sigsci"
    assert sorted(schema["resources"]) == [f"sigsci:index:{c}" for c in sorted(EXPECTED)]
    for token, resource in schema["resources"].items():
        assert resource["description"], token
        assert all(p.get("description") for p in resource["inputProperties"].values()), token


def test_the_provider_constructs_each_component():
    from invariants import plain_credentials
    from schema_check import validate_run

    provider = _provider()

    def program():
        provider.construct("keys", "sigsci:index:SigsciSecret", {
            "namespaces": ["default", "edge"], "site": "demo",
            "accessKeyId": harness.PLANTED_KEY_ID, "secretAccessKey": harness.PLANTED_SECRET}, None)
        provider.construct("web", "sigsci:index:SigsciRevProxyApp", {
            "secretName": "sigsci.demo", "image": "example/web:1.0", "port": 8080,
            "agent": {"startupProbe": {"enabled": True}}}, None)
        provider.construct("edge", "sigsci:index:SigsciIngressController", {
            "secretName": "sigsci.demo", "namespace": "edge", "agentLifetime": "service",
            "routes": [{"service": {"name": "web", "port": 8080}, "namespace": "default"}]}, None)

    run = harness.run(program)
    kinds = {r.type.rsplit(":", 1)[-1] for r in run.resources}
    assert {"SigsciSecret", "SigsciRevProxyApp", "SigsciIngressController", "Secret", "Deployment", "Service",
            "NetworkPolicy", "Release", "Ingress"} <= kinds
    for r in run.resources:
        assert plain_credentials(harness.clean(r.inputs)) == [], r.name
    validate_run(run)


def test_bad_input_through_the_provider_names_the_key():
    from pulumi.provider.server import ComponentInitError

    provider = _provider()

    def program():
        provider.construct("web", "sigsci:index:SigsciRevProxyApp", {
            "secretName": "sigsci.demo", "image": "example/web:1.0", "port": 70000}, None)

    with pytest.raises(ComponentInitError) as err:
        harness.run(program)
    assert "SigsciRevProxyApp 'web'.port" in str(err.value)
