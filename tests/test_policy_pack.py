"""The policy pack's checks, called as CrossGuard calls them, on resources the stacks really declare."""

import copy
import sys

import pytest
from pulumi_policy import PolicyResource, PolicyResourceOptions, ResourceValidationArgs, StackValidationArgs

import harness
from harness import clean, unwrap_secrets
from ingress_configs import ingress_config

sys.path.insert(0, str(harness.ROOT / "policy"))
from sigsci_policies import validate_agent_hardened, validate_no_bypass, validate_pinned_versions  # noqa: E402

OPTIONS = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                additional_secret_outputs=[], custom_timeouts=None)


def _resources(run) -> list[tuple[str, str, dict]]:
    return [(r.type, r.name, unwrap_secrets(clean(r.inputs))) for r in run.resources if not r.read]


def _resource_args(resource_type, name, props, config=None):
    return ResourceValidationArgs(resource_type, props, f"urn:{name}", name, OPTIONS, None, config or {})


def _stack_args(resources):
    return StackValidationArgs([PolicyResource(t, p, f"urn:{n}", n, OPTIONS, None, None, [], {})
                                for t, n, p in resources])


def violations(validate, resources, config=None) -> list[str]:
    found: list[str] = []
    report = lambda message, urn=None: found.append(message)  # noqa: E731
    if validate is validate_no_bypass:
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


def test_stacks_pass_every_policy(staging):
    prod = _resources(harness.run_stack("prod"))
    for resources in (staging, prod):
        for validate in (validate_no_bypass, validate_agent_hardened, validate_pinned_versions):
            assert violations(validate, resources) == []


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
    # dev follows the vendor's latest agent on purpose: the app's agent and the controller's agent.
    assert len(found) == 2 and all("not pinned" in f for f in found)
    assert violations(validate_pinned_versions, dev, {"requirePinnedVersions": False}) == []


def test_latest_controller_image_is_reported():
    run = harness.run_config(ingress_config(flavour="nginx-ingress", controller={"image": {"tag": "latest"}}))
    found = violations(validate_pinned_versions, _resources(run))
    assert found == ["ingress-release: controller image tag 'latest' is not pinned; set controller.image.tag to a "
                     "release or controller.image.digest"]


def test_the_pack_declares_the_three_policies():
    import ast

    source = (harness.ROOT / "policy" / "__main__.py").read_text()
    names = {node.value for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("sigsci-")}
    assert names == {"sigsci-waf-coverage", "sigsci-no-bypass-service", "sigsci-agent-hardened",
                     "sigsci-pinned-versions"}
