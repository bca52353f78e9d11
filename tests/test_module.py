"""Placement module: an app whose image carries a Fastly module, with the agent beside it as a native sidecar.

The oracle is the vendor's shape and Kubernetes' rules, written here: the agent listens where the app is told
it listens (one socket path on both sides of a shared emptyDir, or 127.0.0.1:<rpcPort>), it starts before the
app and stops after it, the Service and the NetworkPolicy keep the app's port, and an existing Deployment gets
only new items that go again on removal (tests/ssa.py, DOMAIN.md's measured rules).
"""

from __future__ import annotations

import pytest

import harness
import schema_check
from harness import clean, unwrap_secrets
from sigsci_waf import ConfigError
from ssa import Cluster, Conflict

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG}
APP = {"name": "api", "image": "registry.example.com/shop/api:1.0", "port": 8080, "placement": "module"}
NS = "shop"


def _run(app: dict, mocks: harness.CaptureMocks | None = None, **config) -> harness.Run:
    return harness.run_config({**BASE, "sigsci:apps": [app], **config}, mocks=mocks)


def _objects(run: harness.Run) -> dict:
    return {(m["kind"], m["metadata"]["name"]): unwrap_secrets(m) for m in run.manifests()}


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_an_owned_module_app_gets_the_agent_as_a_native_sidecar_on_a_shared_socket():
    run = _run(APP)
    objects = _objects(run)
    pod = objects["Deployment", "api"]["spec"]["template"]["spec"]
    [agent] = pod["initContainers"]
    [app] = pod["containers"]
    assert agent["name"] == "sigsci-agent" and agent["restartPolicy"] == "Always"
    assert "lifecycle" not in agent  # Kubernetes stops a native sidecar after the app: no drain of its own
    # One socket path on both sides, in a volume both mount at the same place (the agent's tmpMountPath).
    socket = "/sigsci/tmp/sigsci.sock"
    assert _env(agent)["SIGSCI_RPC_ADDRESS"] == socket
    assert _env(app)["SIGSCI_RPC_ADDRESS"] == socket
    volume = {v["name"]: v for v in pod["volumes"]}["sigsci-tmp"]
    assert volume == {"name": "sigsci-tmp", "emptyDir": {}}
    for container in (agent, app):
        assert {"name": "sigsci-tmp", "mountPath": "/sigsci/tmp"} in container["volumeMounts"]
    # The agent creates the socket as the app's own user (the app's default UID, 10001).
    assert agent["securityContext"]["runAsUser"] == app["securityContext"]["runAsUser"] == 10001
    # No listener of its own: at most the startup probe's port (agent.startupProbe).
    assert "SIGSCI_REVPROXY_LISTENER" not in _env(agent)
    assert [p for p in agent.get("ports", []) if p.get("name") != "sigsci-startup"] == []
    # No listener, no targetPort move: the Service and the NetworkPolicy keep the app's port.
    service = objects["Service", "api"]["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in service] == [(8080, 8080)]
    policy = objects["NetworkPolicy", "api"]["spec"]["ingress"]
    assert policy == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    # The app drains itself (the agent's drain time, 30 s) and the pod's grace covers it plus 15 s.
    assert app["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "30"]
    assert pod["terminationGracePeriodSeconds"] == 45
    schema_check.validate_run(run)


def test_a_tcp_module_reaches_the_agent_on_localhost_only():
    run = _run({**APP, "rpcPort": 9999, "rpcAddressEnv": "SIGSCI_AGENT"})
    pod = _objects(run)["Deployment", "api"]["spec"]["template"]["spec"]
    [agent], [app] = pod["initContainers"], pod["containers"]
    assert _env(agent)["SIGSCI_RPC_ADDRESS"] == "127.0.0.1:9999"
    assert _env(app)["SIGSCI_AGENT"] == "127.0.0.1:9999" and "SIGSCI_RPC_ADDRESS" not in _env(app)
    # Nothing outside the pod reaches a localhost listener: no container port, and no kubelet probe on it.
    assert [p["containerPort"] for p in agent.get("ports", [])] in ([], [2024])  # the startup probe's, if on
    assert 9999 not in [p["containerPort"] for p in agent.get("ports", [])] and "readinessProbe" not in agent
    assert all(m["name"] != "sigsci-tmp" for m in app.get("volumeMounts", []))
    schema_check.validate_run(run)


EXISTING_NO_LIVE = {"name": "api", "port": 8080, "placement": "module", "deployment": "api"}


@pytest.mark.parametrize("app, key, fragment", [
    ({**APP, "listenerPort": 8001}, "listenerPort", "applies only to placement owned or patch or service"),
    ({k: v for k, v in APP.items() if k != "image"}, "image", "is required for placement module"),
    ({**APP, "container": "api"}, "container", "applies only with deployment"),
    ({**APP, "env": {"SIGSCI_RPC_ADDRESS": "/x"}}, "env", "rpcAddressEnv"),
    ({**APP, "rpcPort": 8080}, "rpcPort", "must differ from port"),
    ({**APP, "rpcPort": 9000, "agent": {"startupProbe": {"enabled": True, "port": 9000}}},
     "agent.startupProbe.port", "already used by rpcPort"),
    ({**APP, "writablePaths": ["/tmp", "/sigsci/tmp"]}, "writablePaths", "tmpMountPath"),
    ({**APP, "name": "sigsci-agent"}, "name", "reserved"),
    ({"name": "api", "port": 8080, "placement": "module", "deployment": "api", "image": "x:1"}, "image",
     "with deployment"),
    ({"name": "api", "port": 8080, "placement": "module", "deployment": "api", "replicas": 3}, "replicas",
     "with deployment"),
    ({"name": "api", "port": 8080, "placement": "module", "deployment": "api", "container": "sigsci-agent"},
     "container", "the agent's container"),
    ({**APP, "service": "api"}, "service", "applies only to placement patch"),
    ({**APP, "agent": {"runAsUser": 2000}}, "agent.runAsUser", "runs as the app's user (10001, runAsUser)"),
    ({**APP, "runAsUser": 3000, "agent": {"runAsUser": 10001}}, "agent.runAsUser", "app's user (3000"),
    ({**EXISTING_NO_LIVE, "agent": {"runAsUser": 5}}, "agent.runAsUser", "app's user (10001"),
])
def test_module_config_that_cannot_work_is_refused_naming_the_key(app, key, fragment):
    with pytest.raises(ConfigError) as err:
        _run(app)
    assert err.value.key == f"sigsci:apps[0].{key}", str(err.value)
    assert fragment in str(err.value)


EXISTING = {"name": "legacy", "namespace": NS, "port": 8080, "placement": "module", "deployment": "legacy-web",
            "container": "web"}


def owner_deployment() -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "legacy-web", "namespace": NS, "annotations": {"team": "shop"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "legacy"}},
                     "template": {"metadata": {"labels": {"app": "legacy"}},
                                  "spec": {"terminationGracePeriodSeconds": 60,
                                           "containers": [{"name": "web", "image": "shop/legacy:3",
                                                           "env": [{"name": "MODE", "value": "prod"}],
                                                           "volumeMounts": [{"name": "cache",
                                                                             "mountPath": "/cache"}]},
                                                          {"name": "logs", "image": "shop/shipper:1"}],
                                           "volumes": [{"name": "cache", "emptyDir": {}}]}}}}


def _patch(run: harness.Run) -> dict:
    [patch] = [unwrap_secrets(clean(r.inputs)) for r in run.resources if r.type.endswith("DeploymentPatch")]
    return patch


@pytest.mark.parametrize("tool", ["ssa", "csa"])
def test_an_existing_deployment_gets_the_module_shape_and_gets_it_back_whole(tool):
    run = _run(EXISTING)
    patch = _patch(run)
    assert not [r for r in run.resources if r.type.endswith("ServicePatch")]  # the Service stays its owner's
    assert "pulumi.com/patchForce" not in patch["metadata"].get("annotations", {})  # it takes nothing
    cluster = Cluster()
    owner = owner_deployment()
    if tool == "ssa":
        cluster.apply("helm", owner)
    else:
        cluster.create_or_update("helm", owner, last_applied=owner)
    before = cluster.get("Deployment", NS, "legacy-web").value()
    cluster.apply("pulumi-kubernetes-legacy", patch)
    pod = cluster.get("Deployment", NS, "legacy-web").value()["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert [c["name"] for c in pod["initContainers"]] == ["sigsci-agent"]
    assert pod["initContainers"][0]["restartPolicy"] == "Always"
    assert containers["web"]["image"] == "shop/legacy:3"  # the owner's container, merged by name
    assert _env(containers["web"]) == {"MODE": "prod", "SIGSCI_RPC_ADDRESS": "/sigsci/tmp/sigsci.sock"}
    assert {m["mountPath"] for m in containers["web"]["volumeMounts"]} == {"/cache", "/sigsci/tmp"}
    assert containers["logs"] == {"name": "logs", "image": "shop/shipper:1"}  # another container: untouched
    assert pod["terminationGracePeriodSeconds"] == 60  # the owner's
    # The owner redeploys as before: nothing of ours conflicts or goes.
    if tool == "ssa":
        cluster.apply("helm", owner)
    else:
        cluster.create_or_update("helm", owner, last_applied=owner)
    assert cluster.get("Deployment", NS, "legacy-web").value()["spec"]["template"]["spec"]["initContainers"]
    cluster.relinquish("pulumi-kubernetes-legacy", "Deployment", NS, "legacy-web")
    after = cluster.get("Deployment", NS, "legacy-web").value()
    # The checked-container annotation goes too: the Deployment is exactly the owner's again.
    assert after == before


def test_an_owner_who_already_sets_the_variable_otherwise_gets_a_conflict_not_a_silent_change():
    cluster = Cluster()
    owner = owner_deployment()
    owner["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "SIGSCI_RPC_ADDRESS",
                                                                      "value": "/var/run/sigsci.sock"})
    cluster.apply("helm", owner)
    with pytest.raises(Conflict):
        cluster.apply("pulumi-kubernetes-legacy", _patch(_run(EXISTING)))


def test_the_patch_carries_the_container_the_live_deployment_was_found_to_have():
    patch = _patch(_run(EXISTING))
    assert patch["metadata"]["annotations"]["sigsci.fastly.com/module-container"] == "web"
    assert [c["name"] for c in patch["spec"]["template"]["spec"]["containers"]] == ["web"]


@pytest.mark.parametrize("live, app, key, fragment", [
    (harness.existing_deployment("app", "logs"), EXISTING, "container", "has no container 'web'"),
    (harness.existing_deployment("web"), {k: v for k, v in EXISTING.items() if k != "container"}, "name",
     "has no container 'legacy'"),
    (harness.existing_deployment("web", run_as_user=1000), EXISTING, "runAsUser", "set runAsUser: 1000"),
])
def test_a_live_deployment_the_agent_cannot_serve_is_refused_at_preview(live, app, key, fragment):
    mocks = harness.CaptureMocks(live={f"{NS}/legacy-web": live})
    with pytest.raises(ConfigError) as err:
        _run(app, mocks=mocks)
    assert err.value.key == f"sigsci:apps[0].{key}", str(err.value)
    assert fragment in str(err.value) and "Deployment shop/legacy-web" in str(err.value)
    # Nothing was declared from the failed check: no patch without its container.
    assert not [r for r in mocks.resources if r.type.endswith("DeploymentPatch") and r.inputs.get("metadata", {})
                .get("annotations")]


def test_a_live_container_of_the_right_user_or_a_tcp_module_passes():
    mocks = harness.CaptureMocks(live={f"{NS}/legacy-web": harness.existing_deployment("web", run_as_user=1000)})
    _run({**EXISTING, "runAsUser": 1000}, mocks=mocks)
    mocks = harness.CaptureMocks(live={f"{NS}/legacy-web": harness.existing_deployment("web", run_as_user=1000)})
    _run({**EXISTING, "rpcPort": 9999}, mocks=mocks)  # TCP: no socket file, any user


def test_a_module_agent_runs_as_the_app_s_user_whatever_the_shared_settings_say():
    """The app's own agent.runAsUser may repeat the app's user; the shared one does not apply, and says so."""
    run = _run({**APP, "runAsUser": 2000, "agent": {"runAsUser": 2000}})
    deployment = _objects(run)[("Deployment", "api")]
    [agent] = deployment["spec"]["template"]["spec"]["initContainers"]
    assert agent["securityContext"]["runAsUser"] == 2000
    run = _run(APP, **{"sigsci:agent": {"runAsUser": 3000}})
    [agent] = _objects(run)[("Deployment", "api")]["spec"]["template"]["spec"]["initContainers"]
    assert agent["securityContext"]["runAsUser"] == 10001
    assert any("shared agent.runAsUser (3000) does not apply to this module app" in w for w in run.warnings)
    assert not any("runAsUser" in w for w in _run(APP, **{"sigsci:agent": {"runAsUser": 10001}}).warnings)


def test_an_existing_deployments_namespace_is_not_the_stacks():
    run = _run(EXISTING)
    assert not [r for r in run.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert run.outputs["apps"][f"{NS}/legacy"]["service"] is None


def _live_pod(*containers: dict, **pod) -> dict:
    return {"spec": {"template": {"metadata": {"labels": {"app": "legacy"}},
                                  "spec": {"containers": list(containers), **pod}}}}


WEB = {"name": "web", "image": "shop/legacy:3"}


@pytest.mark.parametrize("live, app, key, fragment", [
    # What the patch adds would merge into the owner's: a conflict (409) or an invalid pod (422) at up.
    (_live_pod({**WEB, "env": [{"name": "SIGSCI_RPC_ADDRESS", "value": "unix:/var/run/sigsci.sock"}]}), EXISTING,
     "rpcAddressEnv", "already sets SIGSCI_RPC_ADDRESS"),
    (_live_pod({**WEB, "volumeMounts": [{"name": "owner-tmp", "mountPath": "/sigsci/tmp"}]},
               volumes=[{"name": "owner-tmp", "emptyDir": {}}]), EXISTING, "agent.tmpMountPath", "'owner-tmp'"),
    (_live_pod(WEB, {"name": "sigsci-agent", "image": "signalsciences/sigsci-agent:4.60.0"}), EXISTING,
     "deployment", "already runs a container 'sigsci-agent' in its containers"),
    # Ports the agent would listen on, already the pod's.
    (_live_pod(WEB, {"name": "metrics", "image": "m:1", "ports": [{"containerPort": 9000}]}),
     {**EXISTING, "rpcPort": 9000}, "rpcPort", "container 'metrics'"),
    (_live_pod(WEB, {"name": "metrics", "image": "m:1", "ports": [{"containerPort": 2024}]}),
     {**EXISTING, "agent": {"startupProbe": {"enabled": True}}}, "agent.startupProbe.port", "container 'metrics'"),
])
def test_what_the_module_patch_adds_must_not_collide_with_the_live_pod(live, app, key, fragment):
    mocks = harness.CaptureMocks(live={f"{NS}/legacy-web": live})
    with pytest.raises(ConfigError) as err:
        _run(app, mocks=mocks)
    assert err.value.key == f"sigsci:apps[0].{key}", str(err.value)
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert not [r for r in mocks.resources if r.type.endswith("DeploymentPatch")]



def test_the_default_probe_port_on_the_live_pods_port_says_the_probe_is_on_by_default():
    """The probe is on unless turned off, so the existing Deployment's 2024 is refused with both ways out."""
    live = _live_pod(WEB, {"name": "metrics", "image": "m:1", "ports": [{"containerPort": 2024}]})
    with pytest.raises(ConfigError) as err:
        _run(EXISTING, mocks=harness.CaptureMocks(live={f"{NS}/legacy-web": live}))
    assert err.value.key == "sigsci:apps[0].agent.startupProbe.port"
    assert err.value.problem == (f"Deployment {NS}/legacy-web already declares port 2024 (container 'metrics'): "
                                 "the agent's startup probe listens there (on by default); pick another startupProbe.port or set "
        "startupProbe.enabled: false"), str(err.value)
    _run({**EXISTING, "agent": {"startupProbe": {"enabled": False}}},
         mocks=harness.CaptureMocks(live={f"{NS}/legacy-web": live}))


def test_the_same_variable_value_or_the_agents_own_sidecar_from_an_earlier_update_passes():
    """After an up the pod has our init container and the app's variable with our value: a preview again."""
    live = _live_pod({**WEB, "env": [{"name": "SIGSCI_RPC_ADDRESS", "value": "/sigsci/tmp/sigsci.sock"}],
                      "volumeMounts": [{"name": "sigsci-tmp", "mountPath": "/sigsci/tmp"}]},
                     initContainers=[{"name": "sigsci-agent", "image": "signalsciences/sigsci-agent:4.70.0",
                                      "ports": [{"containerPort": 2024, "name": "sigsci-startup"}]}],
                     volumes=[{"name": "sigsci-tmp", "emptyDir": {}}])
    run = _run(EXISTING, mocks=harness.CaptureMocks(live={f"{NS}/legacy-web": live}))
    assert len([r for r in run.resources if r.type.endswith("DeploymentPatch")]) == 1
