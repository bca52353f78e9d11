"""The patch placement, step by step, against a model of server-side apply (tests/ssa.py, DOMAIN.md's rules):
on, the owner's redeploys, and off, for the owner shapes platform teams meet. The patches are the ones the
program really declares (captured under mocks), applied in the order their dependencies give, and the delete
hook is the product's own, writing to the model instead of a cluster."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pulumi
import pytest

import harness
from harness import clean, unwrap_secrets
from ssa import Cluster, Conflict
from sigsci_waf.apps.restore import HOOK_NAME, RESTORE_MANAGER, hook_callback

NS, NAME = "shop", "checkout"
LISTENER = 8081


def owner_deployment(port: int, *, port_name: str | None = None, grace: int | None = None) -> dict:
    container_port = {"containerPort": port, "protocol": "TCP", **({"name": port_name} if port_name else {})}
    spec = {"containers": [{"name": NAME, "image": "shop/checkout:1.0", "ports": [container_port]}],
            "volumes": [{"name": "cache", "emptyDir": {}}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NS, "annotations": {"team": "shop"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": NAME}},
                     "template": {"metadata": {"labels": {"app": NAME}, "annotations": {"owner/revision": "1"}},
                                  "spec": spec}}}


def owner_service(port: int, target) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": NS},
            "spec": {"selector": {"app": NAME}, "ports": [{"name": "web", "port": port, "protocol": "TCP",
                                                           "targetPort": target}]}}


@dataclass
class Shape:
    """How the owner deploys the app, and how the stack describes it."""

    tool: str  # "ssa" (Helm 4, Argo CD server-side) or "csa" (Helm 3, kubectl apply)
    app_port: int
    service_port: int
    target: int | str
    port_name: str | None = None
    grace: int | None = None
    app: dict = field(default_factory=dict)


SHAPES = {
    "helm-server-side-apply": Shape("ssa", 8080, 80, 8080),
    "helm3-three-way-merge": Shape("csa", 8080, 80, 8080),
    "named-target-port": Shape("ssa", 8080, 80, "http", port_name="http", app={"ownerTargetPort": "http"}),
    "chart-sets-grace-period": Shape("csa", 8080, 80, 8080, grace=60),
    "seed-example-8000": Shape("ssa", 8000, 8000, 8000),
}


class Owner:
    def __init__(self, cluster: Cluster, shape: Shape):
        self.cluster, self.shape = cluster, shape
        self.manifests = [owner_deployment(shape.app_port, port_name=shape.port_name, grace=shape.grace),
                          owner_service(shape.service_port, shape.target)]

    def deploy(self) -> None:
        for manifest in self.manifests:
            if self.shape.tool == "ssa":
                self.cluster.apply("helm", manifest)
            else:
                self.cluster.create_or_update("helm", manifest, last_applied=manifest)


def stack_patches(shape: Shape) -> tuple[list[tuple[str, dict]], dict]:
    """The patches the program declares for the app, in creation order, and the engine's options."""
    app = {"name": NAME, "namespace": NS, "placement": "patch", "deployment": NAME, "service": NAME,
           "port": shape.app_port, "servicePort": shape.service_port, "listenerPort": LISTENER,
           "takeOver": ["service.targetPort"], **shape.app}  # shape.app may move the listener
    run = harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [app]})
    patches = {r.name: unwrap_secrets(clean(r.inputs)) for r in run.resources if r.type.endswith("Patch")}
    order: list[str] = []
    while len(order) < len(patches):  # creation order: each after what it depends on
        order += [n for n in sorted(patches) if n not in order
                  and all(d in order for d in run.options[n]["dependsOn"] if d in patches)]
    return [(n, patches[n]) for n in order], run.options


def pod_ports(template_spec: dict) -> dict:
    ports = [p for c in template_spec.get("containers", []) for p in c.get("ports", [])]
    return {"numbers": {p["containerPort"] for p in ports}, "names": {p["name"]: p["containerPort"]
                                                                      for p in ports if "name" in p}}


def gaps(cluster: Cluster, templates: list[dict]) -> list[str]:
    """Service ports that some ready pod (of any template rolled out at this moment) does not serve."""
    service = cluster.get("Service", NS, NAME).value()
    found = []
    for template in templates:
        served = pod_ports(template["spec"])
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            number = served["names"].get(target) if isinstance(target, str) else target
            if number is None or number not in served["numbers"]:
                found.append(f"port {port['port']} -> {target!r}: not served by pods of {served}")
    return found


class Engine:
    """Pulumi's part: apply patches (force per annotation) in order, delete in reverse, run delete hooks."""

    def __init__(self, cluster: Cluster, patches: list[tuple[str, dict]], options: dict):
        self.cluster, self.patches, self.options = cluster, patches, options

    @staticmethod
    def manager(name: str) -> str:
        return f"pulumi-kubernetes-{name}"

    def template(self) -> dict:
        return copy.deepcopy(self.cluster.get("Deployment", NS, NAME).value()["spec"]["template"])

    def up(self) -> list[str]:
        problems = []
        for name, body in self.patches:
            force = (body["metadata"].get("annotations") or {}).get("pulumi.com/patchForce") == "true"
            before = self.template()
            self.cluster.apply(self.manager(name), body, force=force)
            problems += gaps(self.cluster, [before, self.template()])  # old and new pods during a rollout
        return problems

    def remove(self) -> list[str]:
        problems = []
        for name, body in reversed(self.patches):
            before = self.template()
            if HOOK_NAME in self.options[name]["beforeDelete"]:
                hook_callback(lambda: ModelWriter(self.cluster))(pulumi.ResourceHookArgs(
                    urn=f"urn:{name}", id=name, name=name, type="kubernetes:core/v1:ServicePatch",
                    old_inputs=body, old_outputs=body))
                problems += gaps(self.cluster, [before])
            self.cluster.relinquish(self.manager(name), body["kind"], NS, body["metadata"]["name"])
            problems += gaps(self.cluster, [before, self.template()])
        return problems


class ModelWriter:
    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def patch_service(self, namespace, name, body, *, field_manager):
        self.cluster.merge_patch(field_manager, "Service", namespace, name, body)


def _values(cluster: Cluster) -> dict:
    return {kind: cluster.get(kind, NS, NAME).value() for kind in ("Deployment", "Service")}


def _protected(cluster: Cluster) -> bool:
    service = cluster.get("Service", NS, NAME).value()
    served = pod_ports(cluster.get("Deployment", NS, NAME).value()["spec"]["template"]["spec"])
    return all(served["names"].get(p["targetPort"]) == LISTENER for p in service["spec"]["ports"])


def _setup(shape_name: str):
    shape = SHAPES[shape_name]
    cluster = Cluster()
    owner = Owner(cluster, shape)
    owner.deploy()
    patches, options = stack_patches(shape)
    return shape, cluster, owner, Engine(cluster, patches, options)


@pytest.mark.parametrize("shape_name", list(SHAPES))
def test_on_and_off_without_a_gap_and_the_app_comes_back_as_it_was(shape_name):
    shape, cluster, owner, engine = _setup(shape_name)
    original = _values(cluster)
    assert engine.up() == []  # no conflict, no moment without a serving port
    assert _protected(cluster)
    deployment = cluster.get("Deployment", NS, NAME).value()
    assert deployment["spec"]["template"]["spec"].get("terminationGracePeriodSeconds") == (shape.grace or 30)
    assert engine.remove() == []
    assert _values(cluster) == original
    # The owner deploys again as before, with no conflict (a server-side apply shares the restored field).
    owner.deploy()
    assert _values(cluster) == original


@pytest.mark.parametrize("shape_name", [n for n, s in SHAPES.items() if s.tool == "csa"])
def test_a_three_way_merge_redeploy_bypasses_the_waf_visibly_and_up_restores_it(shape_name):
    shape, cluster, owner, engine = _setup(shape_name)
    original = _values(cluster)
    engine.up()
    service_patch = next(name for name, body in engine.patches if body["kind"] == "Service")
    target = ("spec", ("ports", (shape.service_port, "TCP")), "targetPort")
    owner.deploy()
    # Silent in the cluster: the owner's value is back, and traffic goes around the agents ...
    assert not _protected(cluster)
    # ... but visible to Pulumi: after a refresh the patch no longer owns the field, so preview re-applies it.
    service = cluster.get("Service", NS, NAME)
    assert target not in service.owners[(engine.manager(service_patch), "Apply")]
    assert engine.up() == [] and _protected(cluster)
    assert engine.remove() == [] and _values(cluster) == original


@pytest.mark.parametrize("shape_name", [n for n, s in SHAPES.items() if s.tool == "ssa"])
def test_a_server_side_apply_redeploy_conflicts_instead_of_bypassing(shape_name):
    shape, cluster, owner, engine = _setup(shape_name)
    engine.up()
    with pytest.raises(Conflict) as err:
        owner.deploy()
    assert any(m.startswith("pulumi-kubernetes-") for m, _ in err.value.owners)
    assert _protected(cluster)


def test_a_patch_that_cannot_apply_moves_no_traffic():
    shape, cluster, owner, engine = _setup("helm-server-side-apply")
    # The owner already runs a container of the agent's name: the Deployment patch conflicts.
    clash = owner_deployment(8080)
    clash["spec"]["template"]["spec"]["containers"].append({"name": "sigsci-agent", "image": "other:1"})
    cluster.apply("helm", clash)
    before = cluster.get("Service", NS, NAME).value()
    with pytest.raises(Conflict):
        engine.up()
    assert cluster.get("Service", NS, NAME).value() == before


def test_the_restore_is_a_plain_update_of_the_recorded_value():
    shape, cluster, owner, engine = _setup("named-target-port")
    engine.up()
    _, service_patch = next((n, b) for n, b in engine.patches if b["kind"] == "Service")
    calls = []

    class Recorder:
        def patch_service(self, namespace, name, body, *, field_manager):
            calls.append((namespace, name, body, field_manager))

    hook_callback(Recorder)(pulumi.ResourceHookArgs(urn="u", id="i", name="n", type="t", old_inputs=service_patch))
    assert calls == [(NS, NAME, {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]}},
                      RESTORE_MANAGER)]


def test_the_model_reproduces_what_the_api_server_did_to_the_earlier_design():
    """DOMAIN.md's measurements, replayed on the model: a forced targetPort relinquished falls back to `port`,
    a forced grace period to 30; unforced, the grace period conflicts. If the model did not show these, the
    tests above would prove nothing."""
    cluster = Cluster()
    Owner(cluster, SHAPES["chart-sets-grace-period"]).deploy()
    service_patch = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": NS},
                     "spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": LISTENER}]}}
    grace_patch = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": NAME, "namespace": NS},
                   "spec": {"template": {"spec": {"terminationGracePeriodSeconds": 45}}}}
    with pytest.raises(Conflict):
        cluster.apply("patch", grace_patch)
    cluster.apply("patch", grace_patch, force=True)
    cluster.apply("patch", service_patch, force=True)
    cluster.relinquish("patch", "Service", NS, NAME)
    cluster.relinquish("patch", "Deployment", NS, NAME)
    assert cluster.get("Service", NS, NAME).value()["spec"]["ports"][0]["targetPort"] == 80
    assert cluster.get("Deployment", NS, NAME).value()["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30


def test_changing_the_listener_port_rolls_out_without_a_gap():
    shape, cluster, owner, engine = _setup("helm3-three-way-merge")
    engine.up()
    moved = copy.copy(shape)
    moved.app = {**shape.app, "listenerPort": 8091}
    patches, options = stack_patches(moved)
    changed = Engine(cluster, patches, options)
    # The same resources, new inputs: an update of each, Deployment first (old and new pods side by side).
    assert [n for n, _ in patches] == [n for n, _ in engine.patches]
    assert changed.up() == []
    served = pod_ports(cluster.get("Deployment", NS, NAME).value()["spec"]["template"]["spec"])
    assert served["names"]["sigsci-http"] == 8091


def _field(body: dict, path: str):
    for part in path.split("."):
        body = body.get(part) if isinstance(body, dict) else None
    return body


class Changes(Engine):
    """Pulumi's part in an update: a patch whose `replaceOnChanges` field changed is replaced (deleted first, its
    hook run, with `deleteBeforeReplace`; else created anew under a new field manager and the old one deleted
    after), any other change is applied in place by the same field manager."""

    def change(self, patches: list[tuple[str, dict]], options: dict) -> list[str]:
        old = dict(self.patches)
        problems = []
        for name, body in patches:
            before = self.template()
            force = (body["metadata"].get("annotations") or {}).get("pulumi.com/patchForce") == "true"
            replaced = any(_field(old[name], path) != _field(body, path)
                           for path in options[name].get("replaceOnChanges", []))
            if not replaced:
                self.cluster.apply(self.manager(name), body, force=force)
            elif options[name]["deleteBeforeReplace"]:
                problems += self._delete(name, old[name])
                self.cluster.apply(self.manager(name + "-new"), body, force=force)
            else:
                self.cluster.apply(self.manager(name + "-new"), body, force=force)
                problems += self._delete(name, old[name])
            problems += gaps(self.cluster, [before, self.template()])
        return problems

    def _delete(self, name: str, body: dict) -> list[str]:
        if HOOK_NAME in self.options[name]["beforeDelete"]:
            hook_callback(lambda: ModelWriter(self.cluster))(pulumi.ResourceHookArgs(
                urn=f"urn:{name}", id=name, name=name, type="kubernetes:core/v1:ServicePatch",
                old_inputs=body, old_outputs=body))
        self.cluster.relinquish(self.manager(name), body["kind"], NS, body["metadata"]["name"])
        return gaps(self.cluster, [self.template()])


def test_changing_the_service_port_gives_the_old_port_back_and_takes_the_new_one():
    """servicePort 80 -> 8080 on a Service with both ports (the owner moved its clients to 8080): the old port's
    targetPort goes back to the owner's value, never to the API server's default (80, where nothing listens)."""
    shape = Shape("ssa", 8080, 80, 8080)
    cluster = Cluster()
    owner = Owner(cluster, shape)
    owner.manifests[1]["spec"]["ports"].append({"name": "alt", "port": 8080, "protocol": "TCP", "targetPort": 8080})
    owner.deploy()
    patches, options = stack_patches(shape)
    engine = Changes(cluster, patches, options)
    assert engine.up() == []
    moved = copy.copy(shape)
    moved.service_port = 8080
    new_patches, new_options = stack_patches(moved)
    assert engine.change(new_patches, new_options) == []
    ports = {p["port"]: p["targetPort"] for p in cluster.get("Service", NS, NAME).value()["spec"]["ports"]}
    assert ports == {80: 8080, 8080: "sigsci-http"}
