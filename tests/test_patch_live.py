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
