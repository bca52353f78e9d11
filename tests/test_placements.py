"""SigsciRevProxyApp in its three placements, asserted on the resources the mocks received."""

import harness
from harness import clean, env_of

SEED_APP = {"name": "helloworld", "image": "signalsciences/example-helloworld:latest", "port": 8000,
            "args": ["localhost:8000"]}


def config(*apps, **extra):
    return {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": list(apps), **extra}


def containers(deployment) -> dict:
    return {c["name"]: c for c in clean(deployment.inputs)["spec"]["template"]["spec"]["containers"]}


def test_owned_deployment_and_service():
    run = harness.run_config(config(SEED_APP))
    deployment = run.named("helloworld.default-deployment")
    service = clean(run.named("helloworld.default-service").inputs)
    assert deployment.type == "kubernetes:apps/v1:Deployment"
    app, agent = containers(deployment)["helloworld"], containers(deployment)["sigsci-agent"]
    assert app["image"] == "signalsciences/example-helloworld:latest"
    assert app["args"] == ["localhost:8000"]
    assert app["ports"][0]["containerPort"] == 8000
    assert "http://127.0.0.1:8000" in env_of(agent)["SIGSCI_REVPROXY_LISTENER"]
    assert agent["ports"][0]["containerPort"] == 8001
    # Clients keep the app's port; the Service sends them to the agent.
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": 8001, "protocol": "TCP"}]
    assert service["spec"]["selector"] == clean(deployment.inputs)["spec"]["selector"]["matchLabels"]


def test_owned_termination_order():
    run = harness.run_config(config(SEED_APP))
    pod = clean(run.named("helloworld.default-deployment").inputs)["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in pod["containers"]}
    app_sleep = int(by_name["helloworld"]["lifecycle"]["preStop"]["exec"]["command"][1])
    agent_sleep = int(by_name["sigsci-agent"]["lifecycle"]["preStop"]["exec"]["command"][1])
    assert agent_sleep == 30
    assert app_sleep > agent_sleep, "the app must outlive the agent's drain"
    assert pod["terminationGracePeriodSeconds"] > max(app_sleep, agent_sleep)


def test_owned_app_gets_secure_defaults_and_resources():
    run = harness.run_config(config(SEED_APP))
    pod = clean(run.named("helloworld.default-deployment").inputs)["spec"]["template"]["spec"]
    app = {c["name"]: c for c in pod["containers"]}["helloworld"]
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["securityContext"]["runAsNonRoot"] is True
    assert app["resources"]["limits"]["memory"]
    assert pod["automountServiceAccountToken"] is False
    assert {"name": "app-writable-0", "mountPath": "/tmp"} in app["volumeMounts"]


def test_patch_adds_only_the_agent():
    app = {"name": "checkout", "namespace": "shop", "placement": "patch", "deployment": "checkout-v2",
           "service": "checkout", "port": 8080, "servicePort": 80, "listenerPort": 8081}
    run = harness.run_config(config(app))
    assert not run.of_type("kubernetes:apps/v1:Deployment") and not run.of_type("kubernetes:core/v1:Service")
    patch = clean(run.named("checkout.shop-deployment-patch").inputs)
    assert run.named("checkout.shop-deployment-patch").type == "kubernetes:apps/v1:DeploymentPatch"
    assert patch["metadata"] == {"name": "checkout-v2", "namespace": "shop"}
    pod = patch["spec"]["template"]["spec"]
    assert set(patch["spec"]) == {"template"}
    assert set(pod) == {"containers", "volumes", "terminationGracePeriodSeconds"}
    assert [c["name"] for c in pod["containers"]] == ["sigsci-agent"]
    assert pod["volumes"] == [{"name": "sigsci-tmp", "emptyDir": {}}]
    assert set(patch["spec"]["template"]["metadata"]) == {"annotations"}
    assert "http://127.0.0.1:8080" in env_of(pod["containers"][0])["SIGSCI_REVPROXY_LISTENER"]
    service = clean(run.named("checkout.shop-service-patch").inputs)
    assert run.named("checkout.shop-service-patch").type == "kubernetes:core/v1:ServicePatch"
    assert service["spec"] == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 8081}]}
    assert service["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}


def test_patch_force_is_opt_in_for_the_deployment():
    app = {"name": "checkout", "placement": "patch", "deployment": "checkout", "service": "checkout",
           "port": 8080, "patchForce": True}
    run = harness.run_config(config(app))
    patch = clean(run.named("checkout.default-deployment-patch").inputs)
    assert patch["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}


def test_agent_as_a_service():
    app = {"name": "payments", "namespace": "payments", "placement": "service", "upstreamService": "payments-api",
           "port": 9000, "servicePort": 80, "replicas": 3}
    run = harness.run_config(config(app))
    deployment = clean(run.named("payments.payments-deployment").inputs)
    service = clean(run.named("payments.payments-service").inputs)
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["sigsci-agent"]
    assert env_of(pod["containers"][0])["SIGSCI_REVPROXY_LISTENER"].startswith(
        "http:{listener=http://0.0.0.0:8001,upstreams=http://payments-api.payments.svc:9000")
    assert service["metadata"]["name"] == "payments"
    assert service["spec"]["ports"][0]["targetPort"] == 8001
    # The agents' labels must not match the app's own Service selector (app.kubernetes.io/name=payments...).
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "sigsci-agent",
                                           "app.kubernetes.io/instance": "payments",
                                           "app.kubernetes.io/component": "reverse-proxy"}
    assert pod["terminationGracePeriodSeconds"] > 30


def test_secret_in_every_namespace_that_runs_an_agent():
    apps = [SEED_APP, {**SEED_APP, "name": "other", "namespace": "team-a"}]
    run = harness.run_config(config(*apps))
    secrets = [clean(r.inputs) for r in run.of_type("kubernetes:core/v1:Secret")]
    assert sorted(s["metadata"]["namespace"] for s in secrets) == ["default", "team-a"]
    assert {s["metadata"]["name"] for s in secrets} == {"sigsci.demo"}
    assert all(s["type"] == "Opaque" for s in secrets)


def test_existing_secret_creates_nothing_and_is_referenced():
    cfg = {"sigsci:existingSecret": "waf-keys", "sigsci:apps": [SEED_APP]}
    run = harness.run_config(cfg)
    assert run.of_type("kubernetes:core/v1:Secret") == []
    agent = containers(run.named("helloworld.default-deployment"))["sigsci-agent"]
    assert env_of(agent)["SIGSCI_ACCESSKEYID"]["secretKeyRef"]["name"] == "waf-keys"
    annotations = clean(run.named("helloworld.default-deployment").inputs)["spec"]["template"]["metadata"]["annotations"]
    assert "sigsci.fastly.com/credentials-hash" not in annotations


def test_per_app_agent_settings_override_the_shared_ones():
    cfg = config(SEED_APP, {**SEED_APP, "name": "other", "agent": {"version": "4.69.0", "options": {"log-out": "x"}}},
                 **{"sigsci:agent": {"version": "4.70.0", "options": {"max-procs": 2}}})
    run = harness.run_config(cfg)
    first = containers(run.named("helloworld.default-deployment"))["sigsci-agent"]
    second = containers(run.named("other.default-deployment"))["sigsci-agent"]
    assert first["image"].endswith(":4.70.0") and second["image"].endswith(":4.69.0")
    assert env_of(second)["SIGSCI_MAX_PROCS"] == "2" and env_of(second)["SIGSCI_LOG_OUT"] == "x"
    assert "SIGSCI_LOG_OUT" not in env_of(first)


def test_latest_agent_warns_at_preview():
    run = harness.run_config(config(SEED_APP, **{"sigsci:agent": {"version": "latest"}}))
    assert any("latest" in w for w in run.warnings)


def test_children_are_named_after_the_component():
    run = harness.run_config(config(SEED_APP))
    names = {r.name for r in run.resources}
    assert {"sigsci", "sigsci-default", "sigsci-rotation", "helloworld.default", "helloworld.default-deployment",
            "helloworld.default-service", "helloworld.default-networkpolicy"} == names


def test_network_policy_admits_only_the_listener():
    run = harness.run_config(config(SEED_APP))
    policy = clean(run.named("helloworld.default-networkpolicy").inputs)
    deployment = clean(run.named("helloworld.default-deployment").inputs)
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8001, "protocol": "TCP"}]}]
    run = harness.run_config(config({**SEED_APP, "networkPolicy": False}))
    assert run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") == []
