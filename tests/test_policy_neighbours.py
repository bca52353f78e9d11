"""Neighbouring resources that undo WAF coverage: second names for a Service the WAF guards, look-alike pods, a
component's app without its agent, patches of the agents' side, sources meaning "anywhere", and a WAF policy
patched or emptied. Each probe is built from what the stacks emit and is reported; the stacks stay clean."""

import copy

import pytest
from pulumi_policy import PolicyResource, StackValidationArgs

import harness
from policy_probes import network_policy
from test_policy_coverage import DEPLOYMENT, DEPLOYMENT_PATCH, INGRESS, SERVICE, SERVICE_PATCH
from test_policy_pack import OPTIONS, STACK_CONFIG, _resources, violations
from test_policy_pack import (validate_agent_hardened, validate_controller_reaches_agents, validate_gateway_covered,
                              validate_no_bypass, validate_no_bypass_ingress, validate_no_bypass_network_policy,
                              validate_no_bypass_route, validate_no_unprotected_pods, validate_pinned_versions)

GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
EEP_PATCH = "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyExtensionPolicyPatch"


@pytest.fixture(scope="module")
def stacks():
    return {name: _resources(harness.run_stack(name)) for name in ("dev", "staging", "prod")}


def _props(resources, name):
    return copy.deepcopy(next(p for _, n, p in resources if n == name))


def _replace(resources, name, props):
    return [(t, n, props if n == name else p) for t, n, p in resources]


def _echo_alias(dev, name, **spec):
    service = _props(dev, "verify-echo-service")
    service["metadata"]["name"] = name
    service["spec"].update(spec)
    return (SERVICE, f"p-{name}", service)


def _ingress(name, service, cls="nginx", namespace="sigsci-verify"):
    return (INGRESS, f"p-{name}", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                   "metadata": {"name": name, "namespace": namespace},
                                   "spec": {"ingressClassName": cls, "rules": [{"http": {"paths": [{
                                       "path": "/", "pathType": "Prefix",
                                       "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}})


PLAIN_GATEWAY = (GATEWAY, "p-plain-gateway", {
    "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
    "metadata": {"name": "plain", "namespace": "sigsci-verify"},
    "spec": {"gatewayClassName": "sigsci-envoy", "listeners": [{"name": "http", "port": 8080, "protocol": "HTTP"}]}})


def _plain_route(name, ref):
    return (HTTP_ROUTE, f"p-{name}", {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                                      "metadata": {"name": name, "namespace": "sigsci-verify"},
                                      "spec": {"parentRefs": [{"name": "plain"}],
                                               "rules": [{"backendRefs": [{**ref, "port": 80}]}]}})


ECHO_FQDN = "sigsci-echo.sigsci-verify.svc.cluster.local"


# -- second names for a Service the WAF routes to --------------------------------------------------------------

def test_a_second_service_for_the_routed_pods_is_matched_by_its_pods(stacks):
    dev = stacks["dev"]
    alias = _echo_alias(dev, "echo-direct")
    found = violations(validate_no_bypass_ingress, [*dev, alias, _ingress("direct", "echo-direct")])
    assert len(found) == 1 and "echo-direct" in found[0] and "second name for the pods of Service " \
        "sigsci-verify/sigsci-echo" in found[0], found
    route = _plain_route("r", {"name": "echo-direct"})
    found = violations(validate_no_bypass_route, [*dev, alias, PLAIN_GATEWAY, route])
    assert len(found) == 1 and "p-r (HTTPRoute" in found[0] and "sigsci-echo" in found[0], found


def test_an_external_name_or_envoy_backend_for_the_routed_service_is_resolved(stacks):
    dev = stacks["dev"]
    external = _echo_alias(dev, "echo-alias", type="ExternalName", externalName=ECHO_FQDN)
    del external[2]["spec"]["selector"]
    found = violations(validate_no_bypass_ingress, [*dev, external, _ingress("alias", "echo-alias")])
    assert len(found) == 1 and "an ExternalName for Service sigsci-verify/sigsci-echo" in found[0], found
    backend = ("kubernetes:gateway.envoyproxy.io/v1alpha1:Backend", "p-backend", {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "Backend",
        "metadata": {"name": "echo-be", "namespace": "sigsci-verify"},
        "spec": {"endpoints": [{"fqdn": {"hostname": ECHO_FQDN, "port": 80}}]}})
    route = _plain_route("r-be", {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": "echo-be"})
    found = violations(validate_no_bypass_route, [*dev, PLAIN_GATEWAY, backend, route])
    assert len(found) == 1 and "Backend sigsci-verify/echo-be" in found[0] and "sigsci-echo" in found[0], found


def test_exposing_the_routed_service_or_its_pods_is_reported(stacks):
    dev = stacks["dev"]
    load_balancer = (SERVICE_PATCH, "p-echo-lb", {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": "sigsci-echo", "namespace": "sigsci-verify"}, "spec": {"type": "LoadBalancer"}})
    node_port = _echo_alias(dev, "echo-np", type="NodePort")
    found = violations(validate_no_bypass, [*dev, load_balancer, node_port])
    assert len(found) == 2 and "p-echo-lb" in found[0] and "type LoadBalancer" in found[0], found
    assert "p-echo-np" in found[1] and "type NodePort" in found[1] and "sigsci-echo" in found[1]
    assert violations(validate_no_bypass, [*dev, _echo_alias(dev, "echo-internal")]) == []


# -- look-alike pods, workloads of other kinds, the host's network -------------------------------------------

def _storefront_copy(staging, name):
    workload = _props(staging, "storefront.shop-deployment")
    workload["metadata"]["name"] = name
    containers = workload["spec"]["template"]["spec"]["containers"]
    return workload, next(c for c in containers if c["name"] == "sigsci-agent"), \
        next(c for c in containers if c["name"] != "sigsci-agent")


def test_look_alike_agents_outside_the_traffic_path_are_reported(stacks):
    staging = stacks["staging"]
    rpc, agent, _ = _storefront_copy(staging, "storefront-rpc")
    agent["env"] = [e for e in agent["env"] if e["name"] != "SIGSCI_REVPROXY_LISTENER"]
    busybox, agent, _ = _storefront_copy(staging, "storefront-busybox")
    agent.update(image="busybox:1.36", command=["sleep", "inf"], env=[])
    moved, agent, app = _storefront_copy(staging, "storefront-moved")
    next(e for e in agent["env"] if e["name"] == "SIGSCI_REVPROXY_LISTENER")["value"] = \
        "http:{listener=http://0.0.0.0:9001,upstreams=http://127.0.0.1:8080}"
    agent["ports"] = [{"containerPort": 9001, "name": "sigsci-http"}]
    app["ports"] = [{"containerPort": 8080, "name": "http"}, {"containerPort": 8001, "name": "alt"}]
    for probe in (rpc, busybox, moved):
        found = violations(validate_no_unprotected_pods, [*staging, (DEPLOYMENT, f"p-{probe['metadata']['name']}",
                                                                     probe)])
        assert len(found) == 1 and "does not listen on 8001" in found[0], found
        assert "storefront.shop-service" in found[0]


@pytest.mark.parametrize("workload", [
    ("kubernetes:argoproj.io/v1alpha1:Rollout", "argoproj.io/v1alpha1", "Rollout", "shop", "storefront"),
    ("kubernetes:serving.knative.dev/v1:Service", "serving.knative.dev/v1", "Service", "default", "helloworld"),
])
def test_workloads_of_other_kinds_carrying_protected_labels_are_reported(stacks, workload):
    resource_type, api, kind, namespace, app = workload
    stack = stacks["staging" if namespace == "shop" else "dev"]
    probe = (resource_type, "p-crd", {"apiVersion": api, "kind": kind, "metadata": {"name": app + "-x",
                                                                                  "namespace": namespace},
                                      "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/name": app}},
                                                            "spec": {"containers": [{"name": app,
                                                                                     "image": "x/app:1"}]}}}})
    found = violations(validate_no_unprotected_pods, [*stack, probe])
    assert len(found) == 1 and "p-crd" in found[0] and "run no sigsci-agent" in found[0], found


@pytest.mark.parametrize("spec, words", [
    ({"hostNetwork": True}, "hostNetwork: true"),
    ({"containers": [{"name": "storefront", "ports": [{"containerPort": 8080, "hostPort": 8080}]}]}, "hostPort 8080"),
])
def test_protected_pods_on_the_hosts_network_are_reported(stacks, spec, words):
    patch = (DEPLOYMENT_PATCH, "p-host", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "storefront", "namespace": "shop"}, "spec": {"template": {"spec": spec}}})
    found = violations(validate_no_unprotected_pods, [*stacks["staging"], patch])
    assert len(found) == 1 and "p-host" in found[0] and words in found[0], found


def test_a_host_port_on_the_agents_listener_is_not_reported(stacks):
    patch = (DEPLOYMENT_PATCH, "p-host", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "storefront", "namespace": "shop"}, "spec": {"template": {"spec": {"containers": [
            {"name": "sigsci-agent", "ports": [{"containerPort": 8001, "hostPort": 8001}]}]}}}})
    assert violations(validate_no_unprotected_pods, [*stacks["staging"], patch]) == []


# -- a component's app without the agent it promises ------------------------------------------------------------

def _with_parents(resources):
    """Stack arguments as the engine passes them: each component's children name it as their parent (the stack's
    resources are named after their component: `<component>-<what>`)."""
    components = {n: PolicyResource(t, p, f"urn:{n}", n, OPTIONS, None, None, [], {})
                  for t, n, p in resources if t.startswith("sigsci:index:")}
    built = []
    for t, n, p in resources:
        if n in components:
            built.append(components[n])
            continue
        parent = next((c for name, c in components.items() if n.startswith(name + "-")), None)
        built.append(PolicyResource(t, p, f"urn:{n}", n, OPTIONS, None, parent, [], {}))
    return StackValidationArgs(built)


def _parented_violations(validate, resources):
    found = []
    validate(_with_parents(resources), lambda message, urn=None: found.append(message))
    return found


def test_the_stacks_components_keep_what_they_promise(stacks):
    for resources in stacks.values():
        for validate in (validate_no_unprotected_pods, validate_gateway_covered):
            assert _parented_violations(validate, resources) == []


def test_an_app_component_without_its_agent_is_reported(stacks):
    dev = stacks["dev"]
    workload = _props(dev, "helloworld.default-deployment")
    spec = workload["spec"]["template"]["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "sigsci-agent"]
    spec["initContainers"] = [c for c in spec.get("initContainers", []) if c["name"] != "sigsci-agent"]
    service = _props(dev, "helloworld.default-service")
    service["spec"]["ports"][0]["targetPort"] = 8000
    edited = _replace(_replace(dev, "helloworld.default-deployment", workload), "helloworld.default-service", service)
    found = _parented_violations(validate_no_unprotected_pods, edited)
    assert len(found) == 1 and "helloworld.default-deployment" in found[0] and "runs no sigsci-agent" in found[0]
    assert "declared by helloworld.default" in found[0]

    staging = stacks["staging"]
    module = _props(staging, "search.shop-deployment")
    module["spec"]["template"]["spec"]["initContainers"] = []
    found = _parented_violations(validate_no_unprotected_pods, _replace(staging, "search.shop-deployment", module))
    assert len(found) == 1 and "search.shop-deployment" in found[0] and "runs no sigsci-agent" in found[0]


def test_an_app_components_agent_without_listener_or_module_is_reported(stacks):
    staging = stacks["staging"]
    workload = _props(staging, "storefront.shop-deployment")
    agent = next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == "sigsci-agent")
    agent["env"] = [e for e in agent["env"] if e["name"] != "SIGSCI_REVPROXY_LISTENER"]
    found = _parented_violations(validate_no_unprotected_pods,
                                 _replace(staging, "storefront.shop-deployment", workload))
    assert any("storefront.shop-deployment" in f and "neither listens" in f for f in found), found


# -- the controller cut off on the agents' side ---------------------------------------------------------------

AGENTS = ("sigsci-nginx-ingress-sigsci-agent", "sigsci-ingress")


@pytest.mark.parametrize("probe, words", [
    (network_policy("p-np-empty", *AGENTS, ingress=[], patch=True), "admits no TCP connection on port 9999"),
    (network_policy("p-np-other", *AGENTS, ingress=[{"from": [{"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "elsewhere"}}}], "ports": [{"port": 9999}]}], patch=True),
     "admits no TCP connection"),
    ((SERVICE_PATCH, "p-sp-target", {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": AGENTS[0], "namespace": AGENTS[1]}, "spec": {"ports": [{"port": 9999, "targetPort": 9998}]}}),
     "targetPort 9998"),
    ((SERVICE_PATCH, "p-sp-selector", {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": AGENTS[0], "namespace": AGENTS[1]}, "spec": {"selector": {"app": "nobody"}}}),
     "picks none of the agents' pods"),
])
def test_the_agents_side_cutting_the_controller_off_is_reported(stacks, probe, words):
    found = violations(validate_controller_reaches_agents, [*stacks["prod"], probe])
    assert len(found) == 1 and probe[1] in found[0] and words in found[0], found


def test_the_agents_own_ingress_policy_and_a_port_preserving_patch_pass(stacks):
    prod = stacks["prod"]
    same = (SERVICE_PATCH, "p-sp-same", {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": AGENTS[0], "namespace": AGENTS[1]}, "spec": {"ports": [{"port": 9999, "targetPort": "sigsci-rpc"}]}})
    extra = network_policy("p-np-metrics", "metrics", "sigsci-ingress", {}, ingress=[{"ports": [{"port": 9090}]}])
    assert violations(validate_controller_reaches_agents, [*prod, same, extra]) == []


# -- sources that mean "anywhere" -----------------------------------------------------------------------------

@pytest.mark.parametrize("peers", [
    [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}}],
    [{"namespaceSelector": {"matchExpressions": [{"key": "unused", "operator": "DoesNotExist"}]}}],
    [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                  "values": ["kube-system"]}]}}],
    [{"ipBlock": {"cidr": "0.0.0.0/1"}}, {"ipBlock": {"cidr": "128.0.0.0/1"}}],
    [{"ipBlock": {"cidr": "::/1"}}, {"ipBlock": {"cidr": "8000::/1"}}],
])
def test_sources_meaning_anywhere_are_reported(stacks, peers):
    probe = network_policy("p-np-anywhere", "anywhere", "shop", {}, ingress=[{"from": peers,
                                                                              "ports": [{"port": 8080}]}])
    found = violations(validate_no_bypass_network_policy, [*stacks["staging"], probe])
    assert len(found) == 1 and "p-np-anywhere" in found[0], found


@pytest.mark.parametrize("peers", [
    [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                  "values": ["monitoring"]}]}}],
    [{"ipBlock": {"cidr": "0.0.0.0/1"}}],
    [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "scraper"}}}],
])
def test_narrower_sources_are_not_reported(stacks, peers):
    probe = network_policy("p-np-narrow", "narrow", "shop", {}, ingress=[{"from": peers, "ports": [{"port": 8080}]}])
    assert violations(validate_no_bypass_network_policy, [*stacks["staging"], probe]) == []


# -- the WAF policy patched or emptied ------------------------------------------------------------------------

def _gateway_only(dev):
    return [r for r in dev if r[1] != "ingress-route-sigsci-verify.sigsci-verify"]


@pytest.mark.parametrize("spec", [
    {"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "elsewhere"}]},
    {"extProc": [{"backendRefs": [{"name": "echo-ish", "namespace": "sigsci-verify", "port": 80}],
                  "messageTimeout": "2s", "processingMode": {"request": {"body": "Buffered"}}}]},
])
def test_a_patch_taking_the_waf_policy_off_its_gateway_is_reported(stacks, spec):
    dev = _gateway_only(stacks["dev"])
    patch = (EEP_PATCH, "p-eep", {"apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyExtensionPolicy",
                                  "metadata": {"name": "sigsci-waf", "namespace": "sigsci-gateway"}, "spec": spec})
    found = violations(validate_gateway_covered, [*dev, patch])
    assert len(found) == 1 and "p-eep (EnvoyExtensionPolicyPatch" in found[0] and "uninspected" in found[0], found


def test_a_gateway_components_policy_emptied_is_reported(stacks):
    dev = _gateway_only(stacks["dev"])
    policy = _props(dev, "gateway-envoyextensionpolicy.sigsci-waf")
    policy["spec"]["extProc"] = []
    found = _parented_violations(validate_gateway_covered,
                                 _replace(dev, "gateway-envoyextensionpolicy.sigsci-waf", policy))
    assert len(found) == 1 and "gateway-envoyextensionpolicy.sigsci-waf" in found[0], found


# -- patches are judged on the fields they set ----------------------------------------------------------------

def test_a_patch_raising_the_agents_memory_limit_is_not_reported(stacks):
    staging = stacks["staging"]
    patch = (DEPLOYMENT_PATCH, "p-memory", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "storefront", "namespace": "shop"}, "spec": {"template": {"spec": {"containers": [
            {"name": "sigsci-agent", "resources": {"limits": {"memory": "1Gi"}}}]}}}})
    for validate in (validate_agent_hardened, validate_pinned_versions):
        assert violations(validate, [*staging, patch], STACK_CONFIG.get("staging")) == []
    writable = copy.deepcopy(patch)
    writable[2]["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"readOnlyRootFilesystem": False}
    found = violations(validate_agent_hardened, [writable])
    assert len(found) == 1 and "readOnlyRootFilesystem" in found[0]
