"""Placement patch, checked against the live objects it patches: what the patch assumes of the existing Service
and Deployment is read at preview and refused there, naming the key to change, before either patch is applied.

The live objects are written here as a cluster holds them (a Service and a Deployment another tool created).
"""

from __future__ import annotations

import pytest

import harness
from sigsci_waf import ConfigError

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG}
NS = "shop"
APP = {"name": "checkout", "namespace": NS, "placement": "patch", "deployment": "checkout", "service": "checkout",
       "port": 8080, "takeOver": ["service.targetPort"]}


def service(*ports: dict, selector: dict | None = None) -> dict:
    return {"spec": {"selector": {"app": "checkout"} if selector is None else selector, "ports": list(ports)}}


def deployment(*containers: dict, labels: dict | None = None) -> dict:
    return {"spec": {"template": {"metadata": {"labels": {"app": "checkout"} if labels is None else labels},
                                  "spec": {"containers": list(containers) or [
                                      {"name": "app", "image": "shop/checkout:1",
                                       "ports": [{"name": "http", "containerPort": 8080}]}]}}}}


WEB_80 = {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}


def _run(app: dict, live_service: dict, live_deployment: dict | None = None):
    mocks = harness.CaptureMocks()
    # The mocks answer reads by id, and the Service and the Deployment share one (shop/checkout): one state holds
    # both specs, each read taking its own fields.
    mocks.live[f"{NS}/checkout"] = {"spec": {**live_service["spec"], **(live_deployment or deployment())["spec"]}}
    return mocks, harness.run_config({**BASE, "sigsci:apps": [app]}, mocks=mocks)


def _refused(app: dict, live_service: dict, live_deployment: dict | None = None) -> tuple[ConfigError, list]:
    mocks = harness.CaptureMocks()
    mocks.live[f"{NS}/checkout"] = {"spec": {**live_service["spec"], **(live_deployment or deployment())["spec"]}}
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:apps": [app]}, mocks=mocks)
    assert str(err.value).isprintable()
    return err.value, mocks.resources


def _no_patch(resources: list) -> None:
    assert not [r for r in resources if r.type.endswith("Patch")], "a patch was declared before the check passed"


def test_the_most_common_patch_config_against_a_service_on_80_is_refused_naming_service_port():
    err, resources = _refused(APP, service(WEB_80))
    assert err.key == "sigsci:apps[0].servicePort"
    assert "has no port 8080 (it has 80/TCP 'http')" in err.problem and "set servicePort" in err.problem
    _no_patch(resources)


def test_the_same_with_service_port_given_passes():
    _run({**APP, "servicePort": 80}, service(WEB_80))


def test_a_target_port_the_removal_would_not_give_back_is_refused_naming_owner_target_port():
    err, resources = _refused({**APP, "servicePort": 80}, service({**WEB_80, "targetPort": "http"}))
    assert err.key == "sigsci:apps[0].ownerTargetPort" and "set ownerTargetPort: 'http'" in err.problem
    _no_patch(resources)
    _run({**APP, "servicePort": 80, "ownerTargetPort": "http"}, service({**WEB_80, "targetPort": "http"}))


def test_a_service_that_does_not_select_the_deployments_pods_is_refused():
    err, resources = _refused({**APP, "servicePort": 80}, service(WEB_80, selector={"app": "checkout-v1"}))
    assert err.key == "sigsci:apps[0].service" and "does not select the pods" in err.problem
    _no_patch(resources)


def test_a_udp_port_is_refused():
    err, _ = _refused({**APP, "servicePort": 80}, service({**WEB_80, "protocol": "UDP"}))
    assert err.key == "sigsci:apps[0].servicePort" and "UDP" in err.problem


def test_a_listener_port_a_container_already_has_is_refused():
    app = {**APP, "servicePort": 80, "listenerPort": 9090}
    taken = deployment({"name": "app", "image": "a:1", "ports": [{"containerPort": 8080},
                                                                  {"name": "metrics", "containerPort": 9090}]})
    err, _ = _refused(app, service(WEB_80), taken)
    assert err.key == "sigsci:apps[0].listenerPort" and "container 'app'" in err.problem


def test_a_container_port_named_like_the_agents_listener_is_refused():
    taken = deployment({"name": "app", "image": "a:1", "ports": [{"name": "sigsci-http", "containerPort": 8080}]})
    err, _ = _refused({**APP, "servicePort": 80}, service(WEB_80), taken)
    assert err.key == "sigsci:apps[0].deployment" and "'sigsci-http'" in err.problem


def test_an_already_patched_app_previews_again_cleanly():
    """After an up: the port targets the agent by name, and the agent is in the pods."""
    agent = {"name": "sigsci-agent", "image": "signalsciences/sigsci-agent:4.70.0",
             "ports": [{"name": "sigsci-http", "containerPort": 8001}]}
    _, run = _run({**APP, "servicePort": 80}, service({**WEB_80, "targetPort": "sigsci-http"}),
                  deployment({"name": "app", "image": "a:1", "ports": [{"containerPort": 8080}]}, agent))
    patches = [r for r in run.resources if r.type.endswith("Patch")]
    assert len(patches) == 2


# Every path around the agent the patch would leave open is refused at preview, naming the key.
_APP_80 = {**APP, "servicePort": 80}


@pytest.mark.parametrize("live_service, live_deployment, key, words", [
    # Another port of the Service leads to the app: by number, or by the container port's name.
    (service(WEB_80, {"name": "alt", "port": 8080, "protocol": "TCP", "targetPort": 8080}), None, "servicePort",
     "port 8080 also leads to the app"),
    (service(WEB_80, {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "http"}), None, "servicePort",
     "port 443 also leads to the app"),
    # The app's port on the node.
    (service(WEB_80), deployment({"name": "app", "image": "a:1", "ports": [{"name": "http", "containerPort": 8080,
                                                                            "hostPort": 8080}]}),
     "deployment", "hostPort 8080"),
    (service(WEB_80), {"spec": {**deployment()["spec"], "template": {**deployment()["spec"]["template"], "spec": {
        **deployment()["spec"]["template"]["spec"], "hostNetwork": True}}}}, "deployment", "hostNetwork: true"),
    # Headless: clients reach the pods' addresses, whatever targetPort says.
    ({"spec": {**service(WEB_80)["spec"], "clusterIP": "None"}}, None, "service", "headless"),
    # servicePort moved off a port the agent has: removing the old patch gives that port back to the app.
    (service({"name": "old", "port": 8080, "protocol": "TCP", "targetPort": "sigsci-http"},
             {**WEB_80, "targetPort": 8080}), None, "servicePort", "port 8080 is on the agent"),
])
def test_a_path_around_the_agent_is_refused(live_service, live_deployment, key, words):
    err, resources = _refused(_APP_80, live_service, live_deployment)
    assert err.key == f"sigsci:apps[0].{key}" and words in err.problem, str(err)
    _no_patch(resources)


def test_a_second_port_to_another_container_port_passes():
    _run(_APP_80, service(WEB_80, {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090}),
         deployment({"name": "app", "image": "a:1", "ports": [{"name": "http", "containerPort": 8080},
                                                              {"name": "metrics", "containerPort": 9090}]}))


@pytest.mark.parametrize("app, live_service, live_deployment, key, words", [
    # The Service sends the app's traffic to 8080; port says 9090: the agent would proxy to a closed port.
    ({**_APP_80, "port": 9090, "ownerTargetPort": 8080}, service(WEB_80), None, "port", "set port: 8080"),
    # By name: 'http' is the container's port 9000.
    ({**_APP_80, "ownerTargetPort": "http"}, service({**WEB_80, "targetPort": "http"}),
     deployment({"name": "app", "image": "a:1", "ports": [{"name": "http", "containerPort": 9000}]}), "port",
     "set port: 9000"),
    # A name no container declares: the Service reaches nothing there.
    ({**_APP_80, "ownerTargetPort": "web"}, service({**WEB_80, "targetPort": "web"}), None, "ownerTargetPort",
     "no container"),
])
def test_port_must_be_where_the_service_sends_the_apps_traffic(app, live_service, live_deployment, key, words):
    err, resources = _refused(app, live_service, live_deployment)
    assert err.key == f"sigsci:apps[0].{key}" and words in err.problem, str(err)
    _no_patch(resources)


@pytest.mark.parametrize("pod_extra, app, key, words", [
    # The agent's startup probe port (as the agent settings resolve it) on a port a container has.
    ({"containers": [{"name": "app", "image": "a:1", "ports": [{"name": "http", "containerPort": 8080}]},
                     {"name": "metrics", "image": "m:1", "ports": [{"containerPort": 2024}]}]},
     {**_APP_80, "agent": {"startupProbe": {"enabled": True}}}, "agent.startupProbe.port", "container 'metrics'"),
    # The listener on a port a native sidecar (an init container) declares.
    ({"initContainers": [{"name": "proxy", "image": "envoy:1", "restartPolicy": "Always",
                          "ports": [{"containerPort": 8001}]}]}, _APP_80, "listenerPort", "container 'proxy'"),
    # An agent of the owner's own, as an init container: the name would be twice in the pod.
    ({"initContainers": [{"name": "sigsci-agent", "image": "signalsciences/sigsci-agent:4.60.0"}]}, _APP_80,
     "deployment", "already runs a container 'sigsci-agent'"),
    # A volume of the agent's volume's name that is not its emptyDir.
    ({"volumes": [{"name": "sigsci-tmp", "configMap": {"name": "x"}}]}, _APP_80, "deployment",
     "volume 'sigsci-tmp'"),
])
def test_what_the_agent_adds_must_not_collide_with_the_live_pod(pod_extra, app, key, words):
    live = deployment()
    live["spec"]["template"]["spec"].update(pod_extra)
    err, resources = _refused(app, service(WEB_80), live)
    assert err.key == f"sigsci:apps[0].{key}" and words in err.problem, str(err)
    _no_patch(resources)



def test_the_default_probe_port_on_a_live_containers_port_says_the_probe_is_on_by_default():
    """The probe is on unless turned off, so a live pod's 2024 is refused, with both ways out."""
    live = deployment()
    live["spec"]["template"]["spec"]["containers"].append({"name": "metrics", "image": "m:1",
                                                           "ports": [{"containerPort": 2024}]})
    err, resources = _refused(_APP_80, service(WEB_80), live)
    assert err.key == "sigsci:apps[0].agent.startupProbe.port"
    assert err.problem == ("2024 is already a port of container 'metrics': " + "the agent's startup probe listens there (on by default); pick another startupProbe.port or set "
        "startupProbe.enabled: false"), str(err)
    _no_patch(resources)


def test_two_patch_apps_on_one_deployment_name_the_deployment():
    other = {**_APP_80, "name": "checkout2", "service": "checkout2", "listenerPort": 8002}
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:apps": [_APP_80, other]})
    assert err.value.key == "sigsci:apps[1].deployment" and "sigsci:apps[0]" in err.value.problem
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:apps": [_APP_80, {**other, "deployment": "checkout2",
                                                              "service": "checkout"}]})
    assert err.value.key == "sigsci:apps[1].service"


def test_live_objects_as_the_engine_hands_them_over_are_read_without_sdk_key_warnings(monkeypatch):
    """The engine hands a read's spec over as pulumi_kubernetes' output types (the mocks give plain dicts): each
    camelCase key read with .get() makes the SDK warn on every preview."""
    import pulumi
    from pulumi_kubernetes.core.v1 import outputs as core

    from sigsci_waf.apps.live import bypass_problems
    from sigsci_waf.declare import field_of

    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: said.append(message))
    spec = core.ServiceSpec(ports=[core.ServicePort(port=80, protocol="TCP", target_port=8080)],
                            selector={"app": "checkout"})
    assert field_of(spec.ports[0], "targetPort", "target_port") == 8080
    assert [p for p in bypass_problems(spec, 80)] and said == []
