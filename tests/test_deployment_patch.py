"""The DeploymentPatch of an existing Deployment, in the two placements that add to one (patch, and module with
`deployment`): one rule for both, asserted on what the engine receives and against the model of server-side
apply (tests/ssa.py, DOMAIN.md's measured rules): only items merged by name and map keys, never forced, given
back whole."""

from __future__ import annotations

import pytest

import harness
from harness import clean, unwrap_secrets
from ssa import Cluster

NS, NAME = "shop", "legacy-web"
SHAPES = {
    "patch": ({"name": "legacy", "namespace": NS, "placement": "patch", "deployment": NAME, "service": NAME,
               "port": 8080, "servicePort": 80, "listenerPort": 8081, "takeOver": ["service.targetPort"]},
              "sigsci.fastly.com/checked-live", {"containers", "volumes"}),
    "module": ({"name": "legacy", "namespace": NS, "placement": "module", "deployment": NAME, "container": "app",
                "port": 8080},
               "sigsci.fastly.com/module-container", {"initContainers", "volumes", "containers"}),
}


def _owner() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NS, "annotations": {"team": "shop"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": NAME}},
                     "template": {"metadata": {"labels": {"app": NAME}, "annotations": {"owner/revision": "1"}},
                                  "spec": {"terminationGracePeriodSeconds": 60,
                                           "containers": [{"name": "app", "image": "shop/legacy:3",
                                                           "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
                                           "volumes": [{"name": "cache", "emptyDir": {}}]}}}}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_deployment_patch_adds_only_what_goes_again_on_its_removal(shape):
    app, checked, lists = SHAPES[shape]
    run = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [app]})
    [patch] = [unwrap_secrets(clean(r.inputs)) for r in run.resources if r.type.endswith("DeploymentPatch")]
    assert set(patch) == {"apiVersion", "kind", "metadata", "spec"}
    assert (patch["apiVersion"], patch["kind"]) == ("apps/v1", "Deployment")
    assert (patch["metadata"]["name"], patch["metadata"]["namespace"]) == (NAME, NS)
    assert list(patch["metadata"]["annotations"]) == [checked]  # no patchForce: it takes nothing
    template = patch["spec"]["template"]
    assert set(patch["spec"]) == {"template"} and set(template["spec"]) == lists
    assert list(template["metadata"]["annotations"]) == ["sigsci.fastly.com/credentials-hash"]
    cluster = Cluster()
    cluster.apply("helm", _owner())
    before = cluster.get("Deployment", NS, NAME).value()
    cluster.apply("pulumi-kubernetes-patch", patch)
    pod = cluster.get("Deployment", NS, NAME).value()["spec"]["template"]["spec"]
    assert "sigsci-agent" in {c["name"] for c in pod.get("initContainers", []) + pod["containers"]}
    assert pod["terminationGracePeriodSeconds"] == 60
    cluster.relinquish("pulumi-kubernetes-patch", "Deployment", NS, NAME)
    assert cluster.get("Deployment", NS, NAME).value() == before
