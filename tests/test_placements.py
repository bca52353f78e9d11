"""SigsciRevProxyApp in its three placements, asserted on the resources the mocks received."""

import pytest

import harness
from sigsci_waf.config.errors import ConfigError
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
           "service": "checkout", "port": 8080, "servicePort": 80, "listenerPort": 8081,
           "takeOver": ["service.targetPort"]}
    run = harness.run_config(config(app))
    # The one Deployment and Service are reads of the live ones (to check what the patch assumes of them, and
    # see the Service's owner taking the field back), not declared ones.
    assert [(r.name, r.read) for r in run.of_type("kubernetes:apps/v1:Deployment")] == [
        ("checkout.shop-deployment-live", True)]
    assert [(r.name, r.read) for r in run.of_type("kubernetes:core/v1:Service")] == [
        ("checkout.shop-service-live", True)]
    patch = clean(run.named("checkout.shop-deployment-patch").inputs)
    assert run.named("checkout.shop-deployment-patch").type == "kubernetes:apps/v1:DeploymentPatch"
    # Not forced: it only adds a container, a volume and an annotation, and takes nothing from the owner.
    assert patch["metadata"] == {"name": "checkout-v2", "namespace": "shop",
                                 "annotations": {"sigsci.fastly.com/checked-live": "checkout:80 checkout-v2"}}
    pod = patch["spec"]["template"]["spec"]
    assert set(patch["spec"]) == {"template"}
    assert set(pod) == {"containers", "volumes"}
    assert [c["name"] for c in pod["containers"]] == ["sigsci-agent"]
    assert {"name": "sigsci-http", "containerPort": 8081, "protocol": "TCP"} in pod["containers"][0]["ports"]
    assert pod["volumes"] == [{"name": "sigsci-tmp", "emptyDir": {}}]
    assert set(patch["spec"]["template"]["metadata"]) == {"annotations"}
    assert "http://127.0.0.1:8080" in env_of(pod["containers"][0])["SIGSCI_REVPROXY_LISTENER"]
    service = clean(run.named("checkout.shop-service-patch").inputs)
    assert run.named("checkout.shop-service-patch").type == "kubernetes:core/v1:ServicePatch"
    # By name: each pod resolves the agent's port itself, so a listener change rolls out without a gap.
    assert service["spec"] == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": "sigsci-http"}]}
    assert service["metadata"]["annotations"] == {"pulumi.com/patchForce": "true",
                                                  "sigsci.fastly.com/owner-target-port": "8080",
                                                  "sigsci.fastly.com/checked-live": "checkout:80 checkout-v2"}
    # The Service moves only after the agents are rolled out, and is given back before they go.
    assert "checkout.shop-deployment-patch" in run.options["checkout.shop-service-patch"]["dependsOn"]
    assert "checkout.shop-service-patch" not in run.options["checkout.shop-deployment-patch"]["dependsOn"]
    assert run.options["checkout.shop-service-patch"]["beforeDelete"] == ["sigsci-restore-service-target-port"]
    assert run.options["checkout.shop-deployment-patch"]["beforeDelete"] == []


@pytest.mark.parametrize("extra, key, words", [
    ({}, "takeOver", "service.targetPort"),
    ({"takeOver": []}, "takeOver", "Opt in"),
    ({"takeOver": ["service.targetPort"], "patchForce": True}, "patchForce", "unknown key"),
    ({"takeOver": ["service.targetPort"], "terminationGracePeriodSeconds": 60}, "terminationGracePeriodSeconds",
     "owner"),
    ({"takeOver": ["service.targetPort"], "ownerTargetPort": "HTTP"}, "ownerTargetPort", "port name"),
    ({"takeOver": ["service.targetPort", "spec.selector"]}, "takeOver[1]", "service.targetPort"),
])
def test_patch_takes_nothing_unnamed_and_leaves_the_owners_fields(extra, key, words):
    app = {"name": "checkout", "placement": "patch", "deployment": "checkout", "service": "checkout",
           "port": 8080, **extra}
    with pytest.raises(ConfigError) as err:
        harness.run_config(config(app))
    assert err.value.key == f"sigsci:apps[0].{key}" and words in err.value.problem


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
    cfg = config(SEED_APP, {**SEED_APP, "name": "other", "agent": {"version": "4.69.0", "options": {"log-out": "/dev/stderr"}}},
                 **{"sigsci:agent": {"version": "4.70.0", "options": {"max-procs": 2}}})
    run = harness.run_config(cfg)
    first = containers(run.named("helloworld.default-deployment"))["sigsci-agent"]
    second = containers(run.named("other.default-deployment"))["sigsci-agent"]
    assert first["image"].endswith(":4.70.0") and second["image"].endswith(":4.69.0")
    assert env_of(second)["SIGSCI_MAX_PROCS"] == "2" and env_of(second)["SIGSCI_LOG_OUT"] == "/dev/stderr"
    assert "SIGSCI_LOG_OUT" not in env_of(first)


def test_latest_agent_warns_at_preview():
    run = harness.run_config(config(SEED_APP, **{"sigsci:agent": {"version": "latest"}}))
    assert any("latest" in w for w in run.warnings)


def test_children_are_named_after_the_component():
    run = harness.run_config(config(SEED_APP))
    names = {r.name for r in run.resources}
    assert {"sigsci", "sigsci.default", "sigsci-rotation", "helloworld.default", "helloworld.default-deployment",
            "helloworld.default-service", "helloworld.default-networkpolicy",
            "helloworld.default-poddisruptionbudget"} == names


def test_network_policy_admits_only_the_listener():
    run = harness.run_config(config(SEED_APP))
    policy = clean(run.named("helloworld.default-networkpolicy").inputs)
    deployment = clean(run.named("helloworld.default-deployment").inputs)
    assert policy["spec"]["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["ingress"] == [{"ports": [{"port": 8001, "protocol": "TCP"}]}]
    run = harness.run_config(config({**SEED_APP, "networkPolicy": False}))
    assert run.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy") == []


def _live_service(target):
    """The live Service (and, under the same id, the Deployment's template: the mocks answer reads by id)."""
    return {"shop/checkout": {"spec": {"ports": [{"port": 80, "protocol": "TCP", "targetPort": target}],
                                       "selector": {"app": "checkout"},
                                       "template": {"metadata": {"labels": {"app": "checkout"}},
                                                    "spec": {"containers": [{"name": "app", "image": "a:1"}]}}}}}


def test_preview_says_when_the_owner_took_the_target_port_back():
    app = {"name": "checkout", "namespace": "shop", "placement": "patch", "deployment": "checkout",
           "service": "checkout", "port": 8080, "servicePort": 80, "takeOver": ["service.targetPort"]}
    # Before the first up the port targets the app, as it should until then: nothing went around the WAF.
    fresh = harness.run_config(config(app), mocks=harness.CaptureMocks(live=_live_service(8080)))
    assert not [w for w in fresh.warnings if "not the agent" in w or "put its own targetPort back" in w]
    # Once the patch was applied, the Service carries its annotation; the owner's value back is a bypass.
    live = _live_service(8080)
    live["shop/checkout"]["metadata"] = {"annotations": {"sigsci.fastly.com/owner-target-port": "8080"}}
    taken_back = harness.run_config(config(app), mocks=harness.CaptureMocks(live=live))
    assert [w for w in taken_back.warnings if "not the agent" in w] == [
        "SigsciRevProxyApp 'checkout.shop': Service shop/checkout port 80 targets 8080, not the agent (sigsci-http): "
        "traffic goes around the WAF, typically because the owner's last deploy put its own targetPort back. "
        "`pulumi up` takes it again; docs/patched-apps.md says how the owner hands it over"]
    protected = harness.run_config(config(app), mocks=harness.CaptureMocks(live=_live_service("sigsci-http")))
    assert not [w for w in protected.warnings if "not the agent" in w]


def test_preview_names_who_the_target_port_is_taken_from():
    app = {"name": "checkout", "namespace": "shop", "placement": "patch", "deployment": "checkout",
           "service": "checkout", "port": 8080, "servicePort": 80, "takeOver": ["service.targetPort"]}
    port_key = 'k:{"port":80,"protocol":"TCP"}'
    live = _live_service(8080)
    live["shop/checkout"]["metadata"] = {"managedFields": [
        {"manager": "helm", "operation": "Update",
         "fieldsV1": {"f:spec": {"f:ports": {port_key: {"f:port": {}, "f:targetPort": {}}}}}},
        {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {}}}},
    ]}
    run = harness.run_config(config(app), mocks=harness.CaptureMocks(live=live))
    assert "SigsciRevProxyApp 'checkout.shop': Service shop/checkout: the patch takes targetPort of port 80 from " \
           "helm (Update) (takeOver)" in run.warnings


PDB = "kubernetes:policy/v1:PodDisruptionBudget"


@pytest.mark.parametrize("replicas, budget", [(None, True), (2, True), (5, True), (1, False), (0, False)])
def test_more_than_one_replica_gets_a_disruption_budget(replicas, budget):
    app = {**SEED_APP, **({"replicas": replicas} if replicas is not None else {})}
    run = harness.run_config(config(app))
    budgets = [clean(r.inputs) for r in run.of_type(PDB)]
    assert bool(budgets) is budget
    if budget:
        deployment = clean(run.named("helloworld.default-deployment").inputs)
        assert budgets[0]["spec"] == {"maxUnavailable": 1,
                                      "selector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]}}


def test_agents_as_a_service_get_a_disruption_budget_too():
    app = {"name": "payments", "namespace": "payments", "placement": "service", "upstreamService": "payments-api",
           "port": 9000, "replicas": 3}
    run = harness.run_config(config(app))
    budget = clean(run.named("payments.payments-poddisruptionbudget").inputs)
    deployment = clean(run.named("payments.payments-deployment").inputs)
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
AGENTS = {"name": "web-waf", "namespace": "shop", "placement": "service", "upstreamService": "web", "port": 80}


def _upstream(*ports, selector=None) -> harness.CaptureMocks:
    return harness.CaptureMocks(live={"shop/web": {"spec": {
        "selector": {"app": "web"} if selector is None else selector,
        "ports": list(ports) or [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]}}})


def test_agents_as_a_service_keep_everyone_else_off_the_apps_own_pods():
    run = harness.run_config(config(AGENTS), mocks=_upstream())
    assert sorted(r.name for r in run.of_type(NETWORK_POLICY)) == ["web-waf.shop-networkpolicy",
                                                                   "web-waf.shop-networkpolicy-upstream"]
    agents = clean(run.named("web-waf.shop-deployment").inputs)["spec"]["selector"]["matchLabels"]
    policy = clean(run.named("web-waf.shop-networkpolicy-upstream").inputs)
    assert policy["metadata"]["name"] == "web-waf-upstream"
    # The app's pods, as its Service selects them, admit only the agents, on the port the Service targets.
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "web"}}
    assert policy["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}],
                                          "from": [{"podSelector": {"matchLabels": agents}}]}]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    # Opted out: no policy on either side, and the preview says what stays open.
    run = harness.run_config(config({**AGENTS, "networkPolicy": False}), mocks=_upstream())
    assert run.of_type(NETWORK_POLICY) == []
    assert any("networkPolicy: false" in w and "around the WAF" in w for w in run.warnings), run.warnings


@pytest.mark.parametrize("mocks, app, key, words", [
    (lambda: _upstream({"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}), AGENTS, "port",
     "has no port 80"),
    (lambda: _upstream(selector={}), AGENTS, "upstreamService", "no selector"),
    # A selector the agents' own pods match: the agents would proxy to themselves.
    (lambda: _upstream(selector={"app.kubernetes.io/instance": AGENTS["name"]}), AGENTS, "upstreamService",
     "selects the agents' own pods"),
    (lambda: _upstream(selector={"app.kubernetes.io/part-of": "sigsci-waf"}), AGENTS, "upstreamService",
     "selects the agents' own pods"),
])
def test_an_upstream_service_the_agents_cannot_reach_or_guard_is_refused(mocks, app, key, words):
    captured = mocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(config(app), mocks=captured)
    assert err.value.key == f"sigsci:apps[0].{key}" and words in err.value.problem, str(err.value)
    assert not [r for r in captured.resources if r.type == NETWORK_POLICY and not r.read
                and "upstream" in r.name]
    # Without a policy to build, a Service without a selector (its endpoints kept by hand) is the team's to guard.
    if key == "upstreamService" and words == "no selector":
        harness.run_config(config({**app, "networkPolicy": False}), mocks=mocks())


def test_agents_as_a_service_may_listen_on_the_apps_port():
    """The agents' pods are their own: their listener and the app's port never share a pod."""
    run = harness.run_config(config({**AGENTS, "listenerPort": 8080}),
                             mocks=_upstream({"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}))
    assert run.named("web-waf.shop-deployment")


def test_network_policy_false_warns_for_owned_apps_too():
    run = harness.run_config(config({**SEED_APP, "networkPolicy": False}))
    assert any("port 8000 is reachable" in w for w in run.warnings), run.warnings


def test_agents_as_a_service_send_no_traffic_before_they_are_ready():
    """Clients reach the app only through the agents' Service, which selects nothing but the agents' pods, each
    ready only once its startup probe says its rules are loaded: before then the Service has no endpoint, and the
    app's own pods admit only the agents. Nothing to wait for: there is no window of uninspected traffic."""
    run = harness.run_config(config(AGENTS))
    deployment = clean(run.named("web-waf.shop-deployment").inputs)
    service = clean(run.named("web-waf.shop-service").inputs)
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert set(service["spec"]["selector"].items()) <= set(pod["metadata"]["labels"].items())
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "sigsci-agent"
    [agent] = pod["spec"]["containers"]
    assert agent["name"] == "sigsci-agent"
    assert agent["startupProbe"]["httpGet"]["path"] == "/startup" and "readinessProbe" in agent
    assert service["spec"]["ports"][0]["targetPort"] == agent["ports"][0]["containerPort"]
    assert not any(k.startswith("pulumi.com/skip") for k in deployment["metadata"].get("annotations", {}))
    upstream = clean(run.named("web-waf.shop-networkpolicy-upstream").inputs)["spec"]
    [rule] = upstream["ingress"]
    [peer] = rule["from"]
    assert set(peer["podSelector"]["matchLabels"].items()) <= set(pod["metadata"]["labels"].items())


def test_an_app_named_like_another_apps_upstream_policy_is_refused():
    # placement service puts NetworkPolicy <name>-upstream on the upstream's pods: an app of that name in the
    # namespace would declare a NetworkPolicy of the same name, and one would overwrite the other.
    apps = [{"name": "payments", "namespace": "shop", "placement": "service", "upstreamService": "pay", "port": 80},
            {"name": "payments-upstream", "namespace": "shop", "image": "x/y:1", "port": 8080}]
    with pytest.raises(ConfigError) as err:
        harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": apps})
    assert err.value.key == "sigsci:apps[1].name" and "NetworkPolicy shop/payments-upstream" in str(err.value)
