"""The agent keys stay Pulumi secrets end to end, and rotating them rolls exactly the pods that use them."""

import json

import pytest

import harness
from invariants import plain_credentials
from harness import PLANTED_KEY_ID, PLANTED_SECRET, SECRET_MARKER, clean
from sigsci_waf.config.errors import ConfigError

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}
PATCHED = {"name": "legacy", "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "legacy", "service": "legacy", "port": 8080}
AGENTS = {"name": "edge", "placement": "service", "upstreamService": "edge-app", "port": 8080}


def _run(*apps, **extra):
    return harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": list(apps), **extra})


def test_the_scan_itself_finds_a_plain_credential():
    assert plain_credentials({"a": [{"b": f"x{PLANTED_SECRET}"}]}) == [".a[0].b"]
    assert plain_credentials({"a": {SECRET_MARKER: PLANTED_SECRET}}) == []


@pytest.mark.parametrize("stack", harness.stack_names())
def test_planted_credentials_only_inside_secret_wrappers(stack, stack_runs):
    run = stack_runs[stack]
    for resource in run.resources:
        assert plain_credentials(clean(resource.inputs)) == [], f"{resource.type} {resource.name}"
    serialized = json.dumps(run.outputs) + "".join(run.warnings)
    assert PLANTED_KEY_ID not in serialized and PLANTED_SECRET not in serialized


def test_created_secret_holds_the_keys_wrapped_as_secret():
    run = _run(APP, PATCHED, AGENTS)
    secret = clean(run.named("sigsci.default").inputs)
    assert secret["stringData"] == {SECRET_MARKER: {"accesskeyid": PLANTED_KEY_ID, "secretaccesskey": PLANTED_SECRET}}
    for resource in run.resources:
        assert plain_credentials(clean(resource.inputs)) == [], resource.name


def test_keys_in_plain_text_are_refused():
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [APP]}
    from sigsci_waf.program import main
    with pytest.raises(ConfigError) as err:
        harness.run(main, config, secret_keys=[])
    assert err.value.key == "sigsci:accessKeyId"
    assert "--secret" in str(err.value)
    assert PLANTED_KEY_ID not in str(err.value)


def _by_name(run) -> dict:
    return {r.name: clean(r.inputs) for r in run.resources}


def _diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def test_rotating_the_keys_rolls_the_pods_and_changes_nothing_else():
    before = _by_name(_run(APP, PATCHED, AGENTS))
    rotated = {**harness.KEY_CONFIG, "sigsci:secretAccessKey": PLANTED_SECRET + "-rotated"}
    after = _by_name(harness.run_config({"sigsci:site": "demo", **rotated, "sigsci:apps": [APP, PATCHED, AGENTS]}))
    assert before.keys() == after.keys()
    changes = {name: _diff(before[name], after[name]) for name in before if before[name] != after[name]}
    annotation = ".spec.template.metadata.annotations.sigsci.fastly.com/credentials-hash"
    assert changes == {
        "sigsci.default": [".stringData.__secret__.secretaccesskey"],
        "sigsci-rotation": [".keepers.__secret__.secretAccessKey"],
        "web.default-deployment": [annotation],
        "legacy.default-deployment-patch": [annotation],
        "edge.default-deployment": [annotation],
    }


def test_the_rotation_token_is_random_and_keyed_by_secret_keepers():
    run = _run(APP)
    rotation = clean(run.named("sigsci-rotation").inputs)
    # pulumi-random renews the token when a keeper changes; the keepers are the keys, as secrets.
    assert rotation["keepers"] == {SECRET_MARKER: {"accessKeyId": PLANTED_KEY_ID, "secretAccessKey": PLANTED_SECRET}}
    assert plain_credentials(rotation) == []
    annotations = clean(run.named("web.default-deployment").inputs)["spec"]["template"]["metadata"]["annotations"]
    value = annotations["sigsci.fastly.com/credentials-hash"]
    # The pod carries the random token itself (what the mock drew), never anything computed from a key.
    assert len(value) == 16 and all(c in "0123456789abcdef" for c in value)
    import hashlib
    for key in (PLANTED_KEY_ID, PLANTED_SECRET):
        assert value not in hashlib.sha256(key.encode()).hexdigest()


def _ingress_run(secret_key: str, **ingress):
    return _by_name(harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG,
                                        "sigsci:secretAccessKey": secret_key, "sigsci:ingress": ingress}))


@pytest.mark.parametrize("lifetime", ["nativeSidecar", "classicSidecar", "service"])
def test_ingress_keeps_keys_secret_and_rolls_on_rotation(lifetime):
    before = _ingress_run(PLANTED_SECRET, agentLifetime=lifetime)
    after = _ingress_run(PLANTED_SECRET + "-rotated", agentLifetime=lifetime)
    for name, inputs in before.items():
        assert plain_credentials(inputs) == [], name
    changes = {name: _diff(before[name], after[name]) for name in before if before[name] != after[name]}
    expected = {"sigsci.sigsci-ingress": [".stringData.__secret__.secretaccesskey"],
                "sigsci-rotation": [".keepers.__secret__.secretAccessKey"]}
    if lifetime == "service":
        expected["ingress-agent-deployment"] = [
            ".spec.template.metadata.annotations.sigsci.fastly.com/credentials-hash"]
    else:
        expected["ingress-release"] = [".values.controller.podAnnotations.sigsci.fastly.com/credentials-hash"]
    assert changes == expected
