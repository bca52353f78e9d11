"""The policy pack's checks, called as CrossGuard calls them, on resources the stacks really declare."""

import copy
import json
import sys

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs

import harness
from harness import clean, unwrap_secrets
from ingress_configs import ingress_config

sys.path.insert(0, str(harness.ROOT / "policy"))
from sigsci_policies import (validate_agent_hardened, validate_controller_module,  # noqa: E402
                             validate_controller_reaches_agents, validate_extproc_fail_closed,
                             validate_gateway_covered, validate_image_digests, validate_module_kept,
                             validate_no_bypass, validate_no_bypass_ingress, validate_no_bypass_network_policy, validate_no_bypass_route,
                             validate_no_unprotected_pods, validate_pinned_versions)

OPTIONS = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                additional_secret_outputs=[], custom_timeouts=None)


def _resources(run) -> list[tuple[str, str, dict]]:
    return [(r.type, r.name, unwrap_secrets(clean(r.inputs))) for r in run.resources if not r.read]


def _resource_args(resource_type, name, props, config=None):
    return ResourceValidationArgs(resource_type, props, f"urn:{name}", name, OPTIONS, None, config or {})


def _stack_args(resources):
    return StackValidationArgs([PolicyResource(t, p, f"urn:{n}", n, OPTIONS, None, None, [], {})
                                for t, n, p in resources])


STACK_POLICIES = (validate_no_bypass, validate_no_unprotected_pods, validate_no_bypass_network_policy,
                  validate_no_bypass_ingress, validate_no_bypass_route, validate_gateway_covered,
                  validate_extproc_fail_closed, validate_controller_reaches_agents, validate_module_kept)
RESOURCE_POLICIES = (validate_agent_hardened, validate_pinned_versions, validate_image_digests,
                     validate_controller_module)
# The pack's config per stack: dev follows the vendor's latest agent on purpose (README).
def _pack_config(stack: str) -> dict:
    """The pack's settings for a stack, as the workflows pass them (policyPackConfigs)."""
    return json.loads((harness.ROOT / "policy" / f"config.{stack}.json").read_text())


STACK_CONFIG = {stack: _pack_config(stack).get("sigsci-pinned-versions") for stack in harness.stack_names()}


def test_every_stack_has_pack_settings_and_the_workflows_pass_them():
    assert STACK_CONFIG["dev"] == {"requirePinnedVersions": False}
    assert all(STACK_CONFIG[s] is None for s in ("staging", "prod"))
    for workflow in ("preview", "deploy"):
        text = (harness.ROOT / ".github" / "workflows" / f"{workflow}.yml").read_text()
        assert "policyPacks: policy\n" in text
        assert "policyPackConfigs: policy/config.${{ matrix.stack }}.json" in text


def violations(validate, resources, config=None) -> list[str]:
    found: list[str] = []
    report = lambda message, urn=None: found.append(message)  # noqa: E731
    if validate in STACK_POLICIES:
        validate(_stack_args(resources), report)
    else:
        for resource_type, name, props in resources:
            validate(_resource_args(resource_type, name, props, config), report)
    return found


@pytest.fixture(scope="module")
def staging():
    return _resources(harness.run_stack("staging"))


@pytest.fixture(scope="module")
def dev():
    return _resources(harness.run_stack("dev"))


def _named(resources, name):
    return next(r for r in resources if r[1] == name)


@pytest.mark.parametrize("stack", harness.stack_names())
def test_stacks_pass_every_policy(stack):
    """What CI runs on every stack: the whole pack, every policy, zero violations."""
    resources = _resources(harness.run_stack(stack))
    assert len(resources) > 5
    for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert violations(validate, resources, STACK_CONFIG.get(stack)) == [], validate.__name__


def test_a_service_around_the_agent_is_reported(staging):
    service_type, _, service = _named(staging, "storefront.shop-service")
    bypass = copy.deepcopy(service)
    bypass["metadata"]["name"] = "storefront-direct"
    bypass["spec"]["ports"][0]["targetPort"] = 8080  # the app's own port
    named = copy.deepcopy(bypass)
    named["metadata"]["name"] = "storefront-named"
    named["spec"]["ports"][0]["targetPort"] = "http"  # the app container's port name
    found = violations(validate_no_bypass, [*staging, (service_type, "direct", bypass), (service_type, "named", named)])
    assert len(found) == 2 and all("around the WAF agent" in f for f in found)


def test_agent_without_read_only_root_or_with_literal_keys_is_reported(staging):
    resource_type, name, deployment = _named(staging, "storefront.shop-deployment")
    broken = copy.deepcopy(deployment)
    agent = next(c for c in broken["spec"]["template"]["spec"]["containers"] if c["name"] == "sigsci-agent")
    agent["securityContext"]["readOnlyRootFilesystem"] = False
    agent["env"][0] = {"name": "SIGSCI_ACCESSKEYID", "value": "literal"}
    found = violations(validate_agent_hardened, [(resource_type, name, broken)])
    assert len(found) == 2
    assert "readOnlyRootFilesystem" in found[0] and "SIGSCI_ACCESSKEYID" in found[1]


def test_agent_handed_to_the_chart_is_checked_too(staging):
    resource_type, name, release = _named(staging, "ingress-release")
    broken = copy.deepcopy(release)
    broken["values"]["controller"]["initContainers"][0]["env"] = []
    found = violations(validate_agent_hardened, [(resource_type, name, broken)])
    assert len(found) == 2 and all("from a Secret" in f for f in found)


def test_latest_images_are_reported_unless_the_stack_allows_them(dev):
    found = violations(validate_pinned_versions, dev)
    # dev follows the vendor's latest agent on purpose: the app's agent, the controller's and the gateway's.
    assert len(found) == 3 and all("not pinned" in f for f in found)
    assert violations(validate_pinned_versions, dev, {"requirePinnedVersions": False}) == []


def test_latest_controller_image_is_reported():
    run = harness.run_config(ingress_config(flavour="nginx-ingress", controller={"image": {"tag": "latest"}}))
    found = violations(validate_pinned_versions, _resources(run))
    assert found == ["ingress-release (Helm release sigsci-ingress/sigsci-nginx-ingress): controller image tag "
                     "'latest' is not pinned; set controller.image.tag to a release or controller.image.digest"]


def test_the_pack_declares_its_policies():
    import ast

    source = (harness.ROOT / "policy" / "__main__.py").read_text()
    names = {node.value for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("sigsci-")}
    assert names == {"sigsci-waf-coverage", "sigsci-no-bypass-service", "sigsci-agent-hardened",
                     "sigsci-pinned-versions", "sigsci-no-unprotected-pods", "sigsci-no-bypass-ingress",
                     "sigsci-valid-image-digests", "sigsci-controller-module", "sigsci-no-bypass-route",
                     "sigsci-gateway-covered", "sigsci-extproc-fail-closed", "sigsci-no-bypass-network-policy",
                     "sigsci-controller-reaches-agents", "sigsci-module-kept"}


def test_the_pack_wires_each_policy_to_its_function():
    import ast

    source = (harness.ROOT / "policy" / "__main__.py").read_text()
    wired = {}
    for call in (n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)):
        keywords = {k.arg: k.value for k in call.keywords}
        if "name" in keywords and "validate" in keywords:
            wired[keywords["name"].value] = (call.func.id, keywords["validate"].id)
    assert wired == {
        "sigsci-no-bypass-service": ("StackValidationPolicy", "validate_no_bypass"),
        "sigsci-no-unprotected-pods": ("StackValidationPolicy", "validate_no_unprotected_pods"),
        "sigsci-no-bypass-network-policy": ("StackValidationPolicy", "validate_no_bypass_network_policy"),
        "sigsci-controller-reaches-agents": ("StackValidationPolicy", "validate_controller_reaches_agents"),
        "sigsci-no-bypass-ingress": ("StackValidationPolicy", "validate_no_bypass_ingress"),
        "sigsci-no-bypass-route": ("StackValidationPolicy", "validate_no_bypass_route"),
        "sigsci-gateway-covered": ("StackValidationPolicy", "validate_gateway_covered"),
        "sigsci-extproc-fail-closed": ("StackValidationPolicy", "validate_extproc_fail_closed"),
        "sigsci-module-kept": ("StackValidationPolicy", "validate_module_kept"),
        "sigsci-agent-hardened": ("ResourceValidationPolicy", "validate_agent_hardened"),
        "sigsci-pinned-versions": ("ResourceValidationPolicy", "validate_pinned_versions"),
        "sigsci-valid-image-digests": ("ResourceValidationPolicy", "validate_image_digests"),
        "sigsci-controller-module": ("ResourceValidationPolicy", "validate_controller_module"),
    }
    for _, function in wired.values():
        assert callable(globals()[function])
