"""The invariant checks themselves: silent on the real stacks, and each one speaks up on a planted break."""

import copy

import pytest

import harness
import invariants
from harness import PLANTED_SECRET, Run


@pytest.mark.parametrize("stack", harness.stack_names())
def test_the_stacks_keep_every_invariant(stack, stack_runs):
    assert invariants.violations(stack_runs[stack], harness.stack_config(stack)) == []


def _broken(run: Run, name: str, edit) -> Run:
    """A copy of `run` with the inputs of resource `name` changed by `edit`."""
    resources = copy.deepcopy(run.resources)
    edit(next(r for r in resources if r.name == name).inputs)
    return Run(resources=resources, outputs=run.outputs, warnings=run.warnings, options=run.options)


def _pod(inputs):
    return inputs["spec"]["template"]["spec"]


def _agent(inputs):
    return next(c for c in _pod(inputs)["containers"] if c["name"] == "sigsci-agent")


def _env(container, name, value):
    next(e for e in container["env"] if e["name"] == name)["value"] = value


def _controller_values(inputs):
    return inputs["values"]["controller"]


BREAKS = [
    # (stack, resource, edit, a fragment of the violation)
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["volumeMounts"].append({"name": "gone", "mountPath": "/gone"}), "not a volume of its pod"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["env"][0]["valueFrom"]["secretKeyRef"].update(name="other"), "does not create"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["env"][1]["valueFrom"]["secretKeyRef"].update(key="password"), "missing from Secret"),
    ("dev", "helloworld.default-service",
     lambda i: i["spec"]["ports"][0].update(targetPort=8080), "the agent listens on"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["ports"][0].update(containerPort=9001), "not one of its containerPorts"),
    ("dev", "helloworld.default-deployment",
     lambda i: _env(_agent(i), "SIGSCI_REVPROXY_LISTENER", "http:{listener=http://0.0.0.0:8001,upstreams="
                                                          "http://127.0.0.1:9090}"), "the app's port is"),
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["ports"].append({"containerPort": _pod(i)["containers"][0]["ports"][0]["containerPort"]}),
     "both use port"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"]["labels"].update({"bad label": "x"}), "is not valid"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"].update(name="Hello_World"), "name is not"),
    ("dev", "helloworld.default-deployment",
     lambda i: i["metadata"].update(annotations={"note": PLANTED_SECRET}), "plain text"),
    ("dev", "ingress-release",
     lambda i: _controller_values(i)["config"].update({"http-snippet": "sigsci_agent_host unix:/elsewhere.sock;"}),
     "the module dials /elsewhere.sock"),
    ("dev", "ingress-release",
     lambda i: _controller_values(i)["extraVolumeMounts"][0].update(mountPath="/other"), "do not share"),
    ("dev", "ingress-route-default.helloworld",
     lambda i: i["spec"]["rules"][0]["http"]["paths"][0].update(path="/a//b"), "contains '//'"),
    ("prod", "ingress-agent-service",
     lambda i: i["spec"]["ports"][0].update(targetPort=9998), "the agent's rpc-address"),
    ("prod", "ingress-release",
     lambda i: _controller_values(i)["config"]["entries"].update(
         {"http-snippets": "sigsci_agent_host elsewhere.sigsci-ingress.svc:9999;"}), "no Service of the stack"),
    ("prod", "checkout.shop-service-patch",
     lambda i: i["spec"]["ports"][0].update(targetPort=8080), "the agent listens on"),
    ("prod", "payments.payments-deployment",
     lambda i: _env(_agent(i), "SIGSCI_REVPROXY_LISTENER", "http:{listener=http://0.0.0.0:8001,upstreams="
                                                          "http://payments-api.payments.svc:9001}"),
     "the app's port is 9000"),
    ("prod", "payments.payments-service",
     lambda i: i["metadata"].update(name="storefront", namespace="shop"), "Service shop/storefront is declared twice"),
    ("prod", "ingress-agent-service",
     lambda i: i["spec"].update(selector={"app.kubernetes.io/instance": i["spec"]["selector"]["app.kubernetes.io/instance"]}),
     "also selects the pods of ['release"),
]


# Gateways beside the stacks' (dev has one): the agents with TLS and a PodDisruptionBudget, HTTPS, routes into other
# namespaces; and an existing Gateway, which the policy reaches the agents from.
CONFIGS = {
    "gateway": {"sigsci:site": "demo", **harness.KEY_CONFIG,
                "sigsci:apps": [{"name": "web", "image": "example/web:1.0", "port": 8080, "namespace": "shop"}],
                "sigsci:gateway": {"agents": {"tls": {"secret": "agents-tls"}}, "inspectResponses": False,
                                   "listeners": {"tlsSecrets": ["shop-tls"]},
                                   "routes": [{"app": "web", "host": "shop.example.com"},
                                              {"service": {"name": "docs", "port": 8080}, "namespace": "docs",
                                               "path": "/docs", "pathType": "Exact"}]}},
    "existing-gateway": {"sigsci:existingSecret": "keys", "sigsci:gateway": {
        "existingGateway": {"namespace": "edge", "name": "public"}, "envoyGateway": {"enabled": False}}},
    # Istio on an existing Gateway, serving the ingress's routes too.
    # Placement module in both forms, on the socket and on TCP, beside injection by label.
    "module": {"sigsci:site": "demo", **harness.KEY_CONFIG,
               "sigsci:apps": [{"name": "api", "image": "example/api:1.0", "port": 8080, "placement": "module",
                                "namespace": "shop"},
                               {"name": "legacy", "port": 8080, "placement": "module", "namespace": "shop",
                                "deployment": "legacy-web", "container": "web"},
                               {"name": "search", "image": "example/search:3.2.0", "port": 8080,
                                "placement": "module", "namespace": "search", "rpcPort": 9000,
                                "rpcAddressEnv": "SIGSCI_AGENT"}],
               "sigsci:injection": {"namespaces": ["shop", "reviews"]}},
    "istio": {"sigsci:existingSecret": "keys",
              "sigsci:apps": [{"name": "web", "image": "example/web:1.0", "port": 8080}],
              "sigsci:ingress": {"routes": [{"app": "web", "host": "shop.example.com"}]},
              "sigsci:gateway": {"implementation": "istio", "namespace": "agents", "ingressRoutes": True,
                                 "existingGateway": {"namespace": "edge", "name": "public"},
                                 "routes": [{"service": {"name": "docs", "port": 80}, "namespace": "docs"}]},
              # The echo of sigsci:verify on a host and in a namespace of its own choosing.
              "sigsci:verify": {"echo": True, "namespace": "verify", "host": "verify.example.com"}},
}


@pytest.fixture(scope="module")
def runs(stack_runs) -> dict:
    return {**stack_runs, **{name: harness.run_config(config) for name, config in CONFIGS.items()}}


def _config(name: str) -> dict:
    return CONFIGS[name] if name in CONFIGS else harness.stack_config(name)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_configs_keep_every_invariant(name, runs):
    assert invariants.violations(runs[name], CONFIGS[name]) == []


def _container(inputs):
    return _pod(inputs)["containers"][0]


def _ext_proc(inputs):
    return inputs["spec"]["extProc"][0]


GATEWAY_BREAKS = [
    ("dev", "gateway-agent-deployment", lambda i: _env(_container(i), "SIGSCI_ENVOY_GRPC_ADDRESS", "0.0.0.0:9998"),
     "the agents listen on 0.0.0.0:9998"),
    ("dev", "gateway-agent-deployment", lambda i: _container(i)["ports"][0].update(containerPort=9998),
     "containerPorts [2024, 9998] lack 9999"),  # 2024: the startup probe's, on by default
    ("dev", "gateway-agent-deployment", lambda i: _container(i)["readinessProbe"].update(grpc={"port": 9998}),
     "not grpc on 9999"),
    ("dev", "gateway-agent-deployment", lambda i: i["spec"].update(replicas=2), "2 replicas, agents.replicas is 1"),
    ("dev", "gateway-agent-deployment",
     lambda i: _container(i)["env"][0]["valueFrom"]["secretKeyRef"].update(name="other"), "of the stack's Secret"),
    ("gateway", "gateway-agent-poddisruptionbudget", lambda i: i["spec"]["selector"].update(matchLabels={"a": "b"}),
     "0 PodDisruptionBudgets for 2 replicas"),
    ("dev", "gateway-agent-service", lambda i: i["spec"]["ports"][0].update(targetPort=9998), "not one named grpc"),
    ("dev", "gateway-agent-networkpolicy", lambda i: i["spec"]["ingress"][0]["ports"][0].update(port=8080),
     "not only chosen clients on port 9999"),
    ("dev", "gateway-envoyextensionpolicy.sigsci-waf", lambda i: i["spec"]["targetRefs"][0].update(sectionName="http"),
     "not the whole Gateway"),
    ("dev", "gateway-envoyextensionpolicy.sigsci-waf", lambda i: _ext_proc(i)["backendRefs"][0].update(port=9998),
     "not the agents' Service"),
    ("dev", "gateway-envoyextensionpolicy.sigsci-waf", lambda i: _ext_proc(i).update(failOpen=True),
     "failOpen True"),
    ("dev", "gateway-envoyextensionpolicy.sigsci-waf", lambda i: _ext_proc(i).update(messageTimeout="200ms"),
     "waits 200 ms, under 1 s per MiB"),
    ("dev", "gateway-envoyextensionpolicy.sigsci-waf", lambda i: _ext_proc(i)["processingMode"].pop("response"),
     "processingMode"),
    ("gateway", "gateway-envoyextensionpolicy.sigsci-waf",
     lambda i: _ext_proc(i)["processingMode"].update(response={"body": "Buffered"}), "inspectResponses False"),
    ("dev", "gateway-clienttrafficpolicy.sigsci-waf", lambda i: i["spec"]["connection"].update(bufferLimit="2Mi"),
     "buffers 2097152 bytes"),
    ("dev", "gateway-gatewayclass.sigsci-envoy", lambda i: i["spec"].update(controllerName="example.com/other"),
     "class sigsci-envoy"),
    ("gateway", "gateway-gateway.sigsci-gateway", lambda i: i["spec"]["listeners"][1].update(port=8443),
     "Gateway sigsci-gateway: listeners"),
    ("gateway", "gateway-gateway.sigsci-gateway",
     lambda i: i["spec"]["listeners"][0]["allowedRoutes"]["namespaces"].update({"from": "All"}),
     "admits routes from other namespaces"),
    ("dev", "gateway-httproute.sigsci-gateway.helloworld", lambda i: i["spec"]["parentRefs"][0].update(name="other"),
     "not attached to the Gateway"),
    ("dev", "gateway-httproute.sigsci-gateway.helloworld",
     lambda i: i["spec"]["rules"][0]["backendRefs"][0].update(port=8001), "and rules"),
    ("gateway", "gateway-httproute.sigsci-gateway.docs",
     lambda i: i["spec"]["rules"][0]["matches"][0]["path"].update(type="PathPrefix"), "and rules"),
    ("dev", "gateway-httproute.sigsci-gateway.helloworld", lambda i: i["metadata"].update(name="other"),
     "no HTTPRoute"),
    ("dev", "gateway-referencegrant.default.sigsci-gateway.sigsci-gateway.helloworld",
     lambda i: i["spec"]["from"][0].update(namespace="other"), "with no ReferenceGrant there"),
    ("existing-gateway", "gateway-referencegrant.sigsci-waf.edge", lambda i: i["spec"]["to"][0].update(name="other"),
     "EnvoyExtensionPolicy edge/sigsci-waf: reaches Service sigsci-gateway/sigsci-extproc with no ReferenceGrant"),
    ("gateway", "gateway-agent-deployment",
     lambda i: next(v for v in _pod(i)["volumes"] if "secret" in v)["secret"].update(secretName="other"),
     "not tls.crt of agents.tls.secret"),
    ("gateway", "gateway-agent-deployment", lambda i: _container(i).update(readinessProbe={"grpc": {"port": 9999}}),
     "not tcpSocket on 9999"),
    ("gateway", "gateway-backendtlspolicy.sigsci-extproc", lambda i: i["spec"]["validation"].update(hostname="x.example"),
     "validates"),
    ("dev", "gateway-envoy-gateway", lambda i: i.update(version="v1.8.0"), "Envoy Gateway releases"),
    ("existing-gateway", "gateway-envoyextensionpolicy.sigsci-waf",
     lambda i: i["metadata"]["annotations"].update({"sigsci.fastly.com/gateway-controller": "istio.io/x"}),
     "checked for 'istio.io/x'"),
    ("istio", "gateway-envoyfilter.sigsci-waf",
     lambda i: i["spec"]["workloadSelector"]["labels"].update({"gateway.networking.k8s.io/gateway-name": "other"}),
     "not the proxies of Gateway public"),
    ("istio", "gateway-envoyfilter.sigsci-waf", lambda i: _typed_config(i).update(failure_mode_allow=True),
     "failOpen True"),
    ("istio", "gateway-envoyfilter.sigsci-waf", lambda i: _typed_config(i).update(message_timeout="0.200s"),
     "waits 200 ms, under 1 s per MiB"),
    ("istio", "gateway-envoyfilter.sigsci-waf",
     lambda i: _typed_config(i)["processing_mode"].update(request_body_mode="STREAMED"), "processing_mode"),
    ("istio", "gateway-envoyfilter.sigsci-waf",
     lambda i: _typed_config(i)["grpc_service"]["envoy_grpc"].update(cluster_name="outbound|9999||x.agents.svc"),
     "not the agents' Service's outbound|9999||sigsci-extproc.agents.svc.cluster.local"),
    ("istio", "gateway-envoyfilter.sigsci-waf",
     lambda i: i["spec"]["configPatches"][0]["match"]["listener"]["filterChain"]["filter"]["subFilter"].update(
         name="envoy.filters.http.cors"), "not ext_proc before the router"),
    ("istio", "gateway-envoyfilter.sigsci-waf",
     lambda i: i["spec"]["configPatches"][1]["patch"]["value"].update(per_connection_buffer_limit_bytes=32768),
     "listener buffers [32768]"),
    ("istio", "gateway-agent-networkpolicy",
     lambda i: i["spec"]["ingress"][0]["from"][0].update(namespaceSelector={}), "not only {'podSelector'"),
    ("istio", "gateway-httproute.edge.web", lambda i: i["spec"].update(hostnames=["other.example.com"]),
     "and rules"),
]


def _typed_config(inputs):
    return inputs["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]


def _sidecar(inputs):
    return next(c for c in _pod(inputs)["initContainers"] if c["name"] == "sigsci-agent")


def _mount(container, name):
    return next(m for m in container["volumeMounts"] if m["name"] == name)


def _selector(inputs):
    return inputs["spec"]["matchResources"]


MODULE_BREAKS = [
    # Every agent's startup probe asks its own probe listener.
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["startupProbe"]["httpGet"].update(port=2025), "at startup, its probe listener is"),
    ("module", "legacy.shop-deployment-patch",
     lambda i: _env(_sidecar(i), "SIGSCI_STARTUP_PROBE_LISTENER", "0.0.0.0:3024"), "not one port"),
    # Every agent, of every shape: hardened, its keys from a Secret.
    ("dev", "helloworld.default-deployment",
     lambda i: _agent(i)["securityContext"].update(allowPrivilegeEscalation=True), "may escalate its privileges"),
    ("dev", "helloworld.default-deployment", lambda i: _agent(i)["securityContext"].pop("capabilities"),
     "keeps capabilities"),
    ("module", "legacy.shop-deployment-patch",
     lambda i: _sidecar(i)["securityContext"].update(readOnlyRootFilesystem=False), "writable root filesystem"),
    ("dev", "ingress-release", lambda i: _controller_values(i)["extraInitContainers"][0].pop("restartPolicy"),
     "release ingress-release: the agent (initContainers) has restartPolicy None"),
    ("dev", "ingress-release",
     lambda i: _controller_values(i)["extraInitContainers"][0]["securityContext"].update(
         seccompProfile={"type": "Unconfined"}), "runs with seccomp profile {'type': 'Unconfined'}"),
    ("module", "api.shop-deployment", lambda i: _sidecar(i)["securityContext"].update(runAsUser=0),
     "may run as root"),
    ("module", "api.shop-deployment", lambda i: _sidecar(i)["resources"].pop("limits"),
     "not requests and limits of cpu and memory"),
    ("module", "api.shop-deployment",
     lambda i: _sidecar(i)["env"].__setitem__(0, {"name": "SIGSCI_ACCESSKEYID", "value": "plain"}),
     "does not read SIGSCI_ACCESSKEYID from a Secret"),
    # A module's pod: one native sidecar, linked to the app's containers.
    ("module", "api.shop-deployment", lambda i: _sidecar(i).pop("restartPolicy"), "not a native sidecar's Always"),
    ("module", "api.shop-deployment",
     lambda i: _pod(i)["containers"].append({**_sidecar(i), "restartPolicy": None}), "not one native sidecar"),
    ("module", "api.shop-deployment",
     lambda i: _sidecar(i).update(lifecycle={"preStop": {"exec": {"command": ["sleep", "30"]}}}),
     "has a preStop of its own"),
    ("module", "api.shop-deployment",
     lambda i: _env(_pod(i)["containers"][0], "SIGSCI_RPC_ADDRESS", "/elsewhere/sigsci.sock"),
     "api's SIGSCI_RPC_ADDRESS is '/elsewhere/sigsci.sock', the agent listens on '/sigsci/tmp/sigsci.sock'"),
    ("module", "api.shop-deployment", lambda i: _mount(_pod(i)["containers"][0], "sigsci-tmp").update(
        mountPath="/other"), "api does not mount sigsci-tmp at /sigsci/tmp"),
    ("module", "legacy.shop-deployment-patch", lambda i: _pod(i)["containers"][0].update(env=[]),
     "the module's container web has no SIGSCI_RPC_ADDRESS"),
    ("module", "api.shop-deployment", lambda i: _sidecar(i)["securityContext"].update(runAsUser=1000),
     "the module could not open its socket"),
    ("module", "search.search-deployment", lambda i: _env(_sidecar(i), "SIGSCI_RPC_ADDRESS", "0.0.0.0:9000"),
     "on localhost only"),
    ("module", "search.search-deployment", lambda i: _env(_pod(i)["containers"][0], "SIGSCI_AGENT", "127.0.0.1:9999"),
     "search's SIGSCI_AGENT is '127.0.0.1:9999'"),
    ("module", "api.shop-service", lambda i: i["spec"]["ports"][0].update(targetPort=8001),
     "the module inspects on the app's port"),
    ("module", "api.shop-networkpolicy", lambda i: i["spec"]["ingress"][0]["ports"][0].update(port=8001),
     "NetworkPolicies admit [8001]"),
    ("module", "api.shop-deployment", lambda i: _pod(i).update(terminationGracePeriodSeconds=30),
     "a grace period of 30 s, not 45"),
    ("module", "legacy.shop-deployment-patch", lambda i: _pod(i).update(terminationGracePeriodSeconds=30),
     "the patch sets the grace period"),
    # Injection: fail-closed on both sides, the agent added in the opted-in namespaces, required in all.
    ("module", "injection-mutatingadmissionpolicy", lambda i: i["spec"].update(failurePolicy="Ignore"),
     "MutatingAdmissionPolicy /sigsci-agent-injection: failurePolicy 'Ignore', not Fail"),
    ("module", "injection-mutatingadmissionpolicybinding",
     lambda i: i["spec"]["paramRef"].update(parameterNotFoundAction="Allow"), "parameterNotFoundAction 'Allow'"),
    ("module", "injection-mutatingadmissionpolicybinding",
     lambda i: _selector(i)["namespaceSelector"]["matchExpressions"][0].update(values=["shop"]),
     "adds the agent in ['shop'], the opted-in namespaces are ['reviews', 'shop']"),
    ("module", "injection-mutatingadmissionpolicybinding", lambda i: _selector(i).pop("objectSelector"),
     "not the label"),
    ("module", "injection-validatingadmissionpolicy", lambda i: i["spec"].update(failurePolicy="Ignore"),
     "ValidatingAdmissionPolicy /sigsci-agent-required: failurePolicy 'Ignore', not Fail"),
    ("module", "injection-validatingadmissionpolicybinding", lambda i: i["spec"].update(validationActions=["Warn"]),
     "validationActions ['Warn'], not [Deny]"),
    ("module", "injection-validatingadmissionpolicybinding", lambda i: _selector(i).update(namespaceSelector={
        "matchLabels": {"kubernetes.io/metadata.name": "shop"}}), "not in every namespace"),
    ("module", "injection-configmap", lambda i: i["metadata"].update(namespace="shop"),
     "not a ConfigMap of the stack in sigsci-injection"),
    ("module", "injection-configmap", lambda i: i["data"].update(secretName="other"),
     "the keys' Secret is 'other'"),
    ("module", "sigsci.reviews", lambda i: i["metadata"].update(namespace="elsewhere"),
     "no Secret sigsci.demo in ['reviews']"),
]



ECHO_BREAKS = [
    # The echo of sigsci:verify: reached only by the entries, hardened, routed on the controller's class.
    ("dev", "verify-echo-networkpolicy", lambda i: i["spec"]["ingress"][0].pop("from"),
     "admits traffic from pods it does not name"),
    ("istio", "verify-echo-networkpolicy", lambda i: i["spec"]["ingress"][0]["from"].append({}),
     "admits traffic from pods it does not name"),
    ("dev", "verify-echo-deployment",
     lambda i: _pod(i)["containers"][0]["securityContext"].update(readOnlyRootFilesystem=False), "not a hardened echo"),
    ("dev", "verify-echo-deployment", lambda i: _pod(i)["containers"][0].pop("livenessProbe"), "not a hardened echo"),
    ("dev", "verify-echo-service", lambda i: i["spec"].update(type="LoadBalancer"), "not a ClusterIP Service"),
    ("dev", "verify-echo-service", lambda i: i["metadata"].update(namespace="default"), "the echo's objects are"),
    ("dev", "ingress-route-sigsci-verify.sigsci-verify", lambda i: i["spec"].update(ingressClassName="nginx"),
     "the echo's Ingress is"),
    ("istio", "ingress-route-verify.sigsci-verify", lambda i: i["spec"]["rules"][0].pop("host"),
     "the echo's Ingress is"),
    ("dev", "gateway-httproute.sigsci-gateway.sigsci-verify",
     lambda i: i["spec"].update(hostnames=["shop.example.com"]), "sigsci-gateway/sigsci-verify: hostnames"),
    ("istio", "gateway-httproute.edge.sigsci-verify", lambda i: i["spec"]["rules"][0]["matches"][0]["path"].update(
        value="/"), "edge/sigsci-verify: hostnames"),
]


@pytest.mark.parametrize("stack,name,edit,fragment", BREAKS + GATEWAY_BREAKS + MODULE_BREAKS + ECHO_BREAKS,
                         ids=[f"{b[0]}-{b[3]}" for b in BREAKS + GATEWAY_BREAKS + MODULE_BREAKS + ECHO_BREAKS])
def test_each_check_reports_a_planted_break(stack, name, edit, fragment, runs):
    problems = invariants.violations(_broken(runs[stack], name, edit), _config(stack))
    assert any(fragment in p for p in problems), problems


@pytest.mark.parametrize("output,edit,fragment", [
    ("apps", lambda o: o["shop/legacy"].update(service="legacy"), "stack output apps"),
    ("injection", lambda o: o.update(paramsNamespace="shop"), "stack output injection"),
])
def test_the_outputs_are_checked(output, edit, fragment, runs):
    run = runs["module"]
    outputs = {**run.outputs, output: copy.deepcopy(harness.clean(run.outputs[output]))}
    edit(outputs[output])
    broken = Run(resources=run.resources, outputs=outputs, warnings=run.warnings, options=run.options)
    assert any(fragment in p for p in invariants.violations(broken, CONFIGS["module"]))


def test_the_verify_output_is_checked(runs):
    run = runs["dev"]
    outputs = {**run.outputs, "verify": {"echo": {**harness.clean(run.outputs["verify"])["echo"], "host": "x.io"}}}
    broken = Run(resources=run.resources, outputs=outputs, warnings=run.warnings, options=run.options)
    assert any("stack output verify" in p for p in invariants.violations(broken, _config("dev")))


def test_echo_objects_without_the_echo_are_reported(runs):
    echo = [r for r in runs["dev"].resources if r.name.startswith("verify-echo-")]
    config = {k: v for k, v in _config("dev").items() if k != "sigsci:verify"}
    problems = invariants.violations(Run(resources=[*copy.deepcopy(runs["dev"].resources)], outputs=runs["dev"].outputs,
                                         warnings=[], options={}), config)
    assert len([p for p in problems if "declared without sigsci:verify echo" in p]) == len(echo) == 3
    assert any(p.startswith("stack output verify is") for p in problems)


def test_injection_objects_without_injection_are_reported(runs):
    policy = next(r for r in runs["module"].resources if r.name == "injection-mutatingadmissionpolicy")
    alone = Run(resources=[*copy.deepcopy(runs["dev"].resources), copy.deepcopy(policy)],
                outputs=runs["dev"].outputs, warnings=[], options={})
    assert any("declared without sigsci:injection" in p for p in invariants.violations(alone, _config("dev")))


@pytest.mark.parametrize("selector,labels,chosen", [
    (None, {"a": "b"}, True), ({}, {}, True), ({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"}, True),
    ({"matchLabels": {"a": "b"}}, {"a": "c"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["b", "c"]}]}, {"a": "c"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}, {"a": "b"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {}, True),
])
def test_label_selectors(selector, labels, chosen):
    assert invariants.selects(selector, labels) is chosen


def test_gateway_objects_without_a_gateway_are_reported(runs):
    gateway = next(r for r in runs["dev"].resources if r.name == "gateway-envoyextensionpolicy.sigsci-waf")
    alone = Run(resources=[*copy.deepcopy(runs["prod"].resources), copy.deepcopy(gateway)],
                outputs=runs["prod"].outputs, warnings=[], options={})
    assert any("declared without sigsci:gateway" in p for p in invariants.violations(alone, _config("prod")))


@pytest.mark.parametrize("value,ok", [("web", True), ("a" * 63, True), ("a" * 64, False), ("Web", False),
                                      ("1web", False), ("web-", False)])
def test_dns_1035(value, ok):
    assert invariants.is_dns_1035(value) is ok


@pytest.mark.parametrize("key,ok", [("app.kubernetes.io/name", True), ("owner", True), ("a/b/c", False),
                                    ("Example.com/x", False), ("x" * 64, False), ("-x", False)])
def test_qualified_names(key, ok):
    assert invariants.is_qualified_name(key) is ok


@pytest.mark.parametrize("path,kind,ok", [("/", "Prefix", True), ("/a/b", "Exact", True), ("/a//b", "Prefix", False),
                                          ("/a/..", "Prefix", False), ("/a/./b", "Exact", False),
                                          ("/a/./b", "ImplementationSpecific", True), ("a", "Prefix", False)])
def test_ingress_paths(path, kind, ok):
    assert (invariants.ingress_path_problem(path, kind) is None) is ok


def test_a_resource_registered_twice_is_reported(stack_runs):
    run = stack_runs["dev"]
    twice = Run(resources=[*copy.deepcopy(run.resources), copy.deepcopy(run.resources[-1])], outputs=run.outputs,
                warnings=run.warnings, options=run.options)
    assert any("registered twice" in p for p in invariants.violations(twice, harness.stack_config("dev")))
