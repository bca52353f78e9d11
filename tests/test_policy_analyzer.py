"""The pack as the Pulumi engine runs it: policy/__main__.py's PolicyPack behind pulumi_policy's own analyzer
servicer, fed the protobuf requests `pulumi preview --policy-pack policy` sends (numbers as floats, props
behind the proxies, providers as the engine describes them). No CLI needed: the gRPC server is the only part
left out."""

import runpy

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto

import harness
from test_policy_coverage import PROBES, _probe, _service
from test_policy_pack import STACK_CONFIG, _resources
from sigsci_policies import (validate_agent_hardened, validate_controller_module, validate_controller_reaches_agents,
                             validate_extproc_fail_closed, validate_gateway_covered, validate_image_digests,
                             validate_module_kept, validate_no_bypass, validate_no_bypass_ingress,
                             validate_no_bypass_network_policy, validate_no_bypass_route, validate_no_unprotected_pods,
                             validate_pinned_versions)

POLICY_OF = {
    validate_no_bypass: "sigsci-no-bypass-service",
    validate_no_unprotected_pods: "sigsci-no-unprotected-pods",
    validate_no_bypass_network_policy: "sigsci-no-bypass-network-policy",
    validate_controller_reaches_agents: "sigsci-controller-reaches-agents",
    validate_no_bypass_ingress: "sigsci-no-bypass-ingress",
    validate_no_bypass_route: "sigsci-no-bypass-route",
    validate_gateway_covered: "sigsci-gateway-covered",
    validate_extproc_fail_closed: "sigsci-extproc-fail-closed",
    validate_module_kept: "sigsci-module-kept",
    validate_agent_hardened: "sigsci-agent-hardened",
    validate_pinned_versions: "sigsci-pinned-versions",
    validate_image_digests: "sigsci-valid-image-digests",
    validate_controller_module: "sigsci-controller-module",
}


def _declare(**replacements):
    """Run policy/__main__.py as the engine does, with pulumi_policy's classes of those names replaced."""
    import pulumi_policy

    with pytest.MonkeyPatch.context() as patch:
        for name, replacement in replacements.items():
            patch.setattr(pulumi_policy, name, replacement)
        patch.syspath_prepend(str(harness.ROOT / "policy"))
        runpy.run_path(str(harness.ROOT / "policy" / "__main__.py"), run_name="__main__")


@pytest.fixture(scope="module")
def pack():
    """The PolicyPack arguments policy/__main__.py declares (the constructor would serve them forever)."""
    captured = {}
    _declare(PolicyPack=lambda **kwargs: captured.update(kwargs))
    return captured


def _struct(value):
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _analyzer(pack, config=None, pack_config=None):
    """The servicer, configured as `--policy-pack-config` would: `config` is sigsci-pinned-versions' settings,
    `pack_config` a whole config file ({policy: settings})."""
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    servicer = _PolicyAnalyzerServicer(pack["name"], "0.0.1", pack["policies"], pack["enforcement_level"])
    settings = {**({"sigsci-pinned-versions": config} if config else {}), **(pack_config or {})}
    if settings:
        servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
            name: proto.PolicyConfig(enforcementLevel=proto.MANDATORY, properties=_struct(properties))
            for name, properties in settings.items()}), None)
    return servicer


def _provider(namespace):
    return proto.AnalyzerProviderResource(type="pulumi:providers:kubernetes", name="k8s", urn="urn:provider",
                                          properties=_struct({"namespace": namespace}))


def run_pack(pack, resources, config=None, providers=None, pack_config=None):
    """Every diagnostic the pack returns for a stack: each resource analysed, then the whole stack."""
    servicer, providers = _analyzer(pack, config, pack_config), providers or {}
    requests = []
    for resource_type, name, props in resources:
        extra = {"provider": providers[name]} if name in providers else {}
        requests.append((proto.AnalyzerResource(type=resource_type, name=name, urn=f"urn:{name}",
                                                properties=_struct(props), **extra),
                         proto.AnalyzeRequest(type=resource_type, name=name, urn=f"urn:{name}",
                                              properties=_struct(props), **extra)))
    diagnostics = []
    for _, request in requests:
        diagnostics += servicer.Analyze(request, None).diagnostics
    diagnostics += servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[r for r, _ in requests]),
                                         None).diagnostics
    return [(d.policyName, d.message, d.enforcementLevel) for d in diagnostics]


def test_the_pack_declares_twelve_mandatory_policies(pack):
    info = _analyzer(pack).GetAnalyzerInfo(None, None)
    assert info.name == "sigsci-waf-coverage"
    assert {p.name for p in info.policies} == set(POLICY_OF.values())
    assert all(p.enforcementLevel == proto.MANDATORY for p in info.policies)


def test_each_policy_module_holds_one_policy_and_the_pack_wires_every_one():
    """A module of policy/sigsci_policies/ defines one policy, the validate_* function of the policy it is named
    after, or none (what the policies share); policy/__main__.py wires each one, and the package exports it."""
    import importlib
    import pkgutil

    import sigsci_policies

    defined = {}
    for module in pkgutil.iter_modules(sigsci_policies.__path__):
        namespace = vars(importlib.import_module(f"{sigsci_policies.__name__}.{module.name}"))
        functions = [value for name, value in namespace.items() if name.startswith("validate_")
                     and getattr(value, "__module__", None) == namespace["__name__"]]
        assert len(functions) <= 1, (module.name, functions)
        defined.update({function: "sigsci-" + module.name.replace("_", "-") for function in functions})
    wired = {}

    def record(**kwargs):
        assert kwargs["validate"] not in wired, kwargs["name"]
        wired[kwargs["validate"]] = kwargs["name"]

    _declare(PolicyPack=lambda **kwargs: None, StackValidationPolicy=record, ResourceValidationPolicy=record)
    assert len(defined) == 13 and wired == defined
    assert {getattr(sigsci_policies, name) for name in sigsci_policies.__all__} == set(defined)


@pytest.mark.parametrize("stack", harness.stack_names())
def test_the_pack_passes_every_stack(pack, stack):
    """What CI would run on each stack: zero diagnostics, not even advisory ones."""
    resources = _resources(harness.run_stack(stack))
    assert run_pack(pack, resources, STACK_CONFIG.get(stack)) == []


def test_the_pack_refuses_dev_unless_configured_to_follow_latest(pack):
    found = run_pack(pack, _resources(harness.run_stack("dev")))
    # dev runs the latest agent in three places: beside its app, beside the ingress controller, and as the
    # gateway's agents.
    assert len(found) == 3 and {f[0] for f in found} == {"sigsci-pinned-versions"}
    assert all(f[2] == proto.MANDATORY for f in found)


@pytest.fixture(scope="module")
def stacks():
    return {name: _resources(harness.run_stack(name)) for name in ("dev", "staging", "prod")}


def test_the_pack_reports_every_hostile_probe(pack, stacks):
    missed = []
    for probe, (validate, builder) in sorted(PROBES.items()):
        stack, resources, name = _probe(stacks, builder)
        found = run_pack(pack, resources, STACK_CONFIG.get(stack))
        if not any(policy == POLICY_OF[validate] and name in message for policy, message, _ in found):
            missed.append(probe)
    assert len(PROBES) >= 20 and missed == []


def test_the_providers_namespace_reaches_the_pack(pack, stacks):
    service = _service("storefront-direct", "storefront-direct", None, {"app.kubernetes.io/name": "storefront"},
                       [{"port": 80, "targetPort": 8080}])
    resources = [*stacks["staging"], service]
    elsewhere = run_pack(pack, resources, providers={"storefront-direct": _provider("elsewhere")})
    assert elsewhere == []
    found = run_pack(pack, resources, providers={"storefront-direct": _provider("shop")})
    assert [f[0] for f in found] == ["sigsci-no-bypass-service"] and "shop/storefront-direct" in found[0][1]
    unknown = run_pack(pack, resources)
    assert [f[0] for f in unknown] == ["sigsci-no-bypass-service"] and "<namespace unknown>" in unknown[0][1]


def test_a_stack_that_fails_open_on_purpose_says_so_in_its_pack_config(pack):
    """The component's failOpen: true is refused by the pack unless the stack's policy config allows it."""
    from test_policy_gateway import BASE

    config = {**BASE, "sigsci:gateway": {"failOpen": True, "routes": [{"app": "web"}]}}
    resources = _resources(harness.run_config(config))
    found = run_pack(pack, resources)
    assert [(f[0], f[2]) for f in found] == [("sigsci-extproc-fail-closed", proto.MANDATORY)]
    assert "failOpen: true" in found[0][1]
    assert run_pack(pack, resources, pack_config={"sigsci-extproc-fail-closed": {"allowFailOpen": True}}) == []
    # Only a literal true allows it (the CLI checks the config against the schema; the analyzer does not).
    assert run_pack(pack, resources, pack_config={"sigsci-extproc-fail-closed": {"allowFailOpen": "yes"}}) == found
