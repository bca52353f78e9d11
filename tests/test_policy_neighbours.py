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
                              validate_module_kept, validate_no_bypass, validate_no_bypass_ingress,
                              validate_no_bypass_network_policy, validate_no_bypass_route, validate_no_unprotected_pods,
                              validate_pinned_versions)

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


# -- a second controller claiming the WAF controller's class ----------------------------------------------------

RELEASE = "kubernetes:helm.sh/v3:Release"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"


def _stock_release(chart, controller):
    return (RELEASE, "p-stock", {"name": "stock", "namespace": "other-ingress", "chart": chart, "version": "4.15.1",
                                 "values": {"controller": controller}})


@pytest.mark.parametrize("stack, release, words", [
    ("dev", _stock_release("ingress-nginx", {"ingressClassResource": {
        "enabled": False, "name": "other", "controllerValue": "k8s.io/sigsci-nginx"}, "ingressClass": "other"}),
     "controller value 'k8s.io/sigsci-nginx'"),
    ("dev", _stock_release("ingress-nginx", {"ingressClass": "sigsci-nginx"}), "class 'sigsci-nginx'"),
    ("staging", _stock_release("nginx-ingress", {"ingressClass": {"name": "sigsci-nginx", "create": False}}),
     "class 'sigsci-nginx'"),
    ("staging", _stock_release("ingress-nginx", {"ingressClassResource": {
        "name": "f5", "controllerValue": "nginx.org/ingress-controller"}, "ingressClass": "f5"}),
     "controller value 'nginx.org/ingress-controller'"),
])
def test_a_stock_controller_claiming_the_waf_class_is_reported(stacks, stack, release, words):
    found = violations(validate_no_bypass_ingress, [*stacks[stack], release])
    assert len(found) == 1 and "p-stock (Helm release other-ingress/stock)" in found[0] and words in found[0], found
    assert "without the WAF module" in found[0]


def test_a_stock_controller_of_its_own_class_passes(stacks):
    stock = _stock_release("ingress-nginx", {"ingressClassResource": {"name": "nginx", "default": True}})
    f5 = _stock_release("nginx-ingress", {"ingressClass": {"name": "nginx"}})
    assert violations(validate_no_bypass_ingress, [*stacks["dev"], stock]) == []
    assert violations(validate_no_bypass_ingress, [*stacks["staging"], (RELEASE, "p-f5", f5[2])]) == []


def _ingress_class(name, controller):
    return (INGRESS_CLASS, f"p-class-{name}", {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                                                "metadata": {"name": name}, "spec": {"controller": controller}})


@pytest.mark.parametrize("probe", [_ingress_class("sigsci-nginx", "k8s.io/ingress-nginx"),
                                   _ingress_class("other", "k8s.io/sigsci-nginx")])
def test_an_ingress_class_taking_the_waf_name_or_value_is_reported(stacks, probe):
    found = violations(validate_no_bypass_ingress, [*stacks["dev"], probe])
    assert len(found) == 1 and probe[1] in found[0] and "IngressClass" in found[0], found


def test_the_ingress_class_a_waf_release_serves_without_creating_it_passes(stacks):
    dev = stacks["dev"]
    release = _props(dev, "ingress-release")
    release["values"]["controller"]["ingressClassResource"]["enabled"] = False
    own = _ingress_class("sigsci-nginx", "k8s.io/sigsci-nginx")
    assert violations(validate_no_bypass_ingress, [*_replace(dev, "ingress-release", release), own]) == []
    assert len(violations(validate_no_bypass_ingress, [*dev, own])) == 1


# -- the module kept: the controller's ConfigMap, a module app's address ----------------------------------------

CONFIG_MAP_PATCH = "kubernetes:core/v1:ConfigMapPatch"


def _config_map(name, data, patch=True):
    return (CONFIG_MAP_PATCH if patch else "kubernetes:core/v1:ConfigMap", "p-cm", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "sigsci-ingress"},
        "data": data})


@pytest.mark.parametrize("stack, probe, words", [
    ("dev", _config_map("sigsci-ingress-nginx-controller", {"main-snippet": "", "http-snippet": ""}),
     "drops the module's 'main-snippet'"),
    ("dev", _config_map("sigsci-ingress-nginx-controller",
                        {"http-snippet": "sigsci_agent_host unix:/tmp/nowhere.sock;"}),
     "replaces the module's 'http-snippet'"),
    ("dev", _config_map("sigsci-ingress-nginx-controller", {"allow-snippet-annotations": "true"}),
     "'allow-snippet-annotations', which the release guards"),
    ("dev", _config_map("sigsci-ingress-nginx-controller", {"proxy-body-size": "8m"}, patch=False),
     "drops the module's 'main-snippet'"),
    ("staging", _config_map("sigsci-nginx-ingress", {"main-snippets": "# none"}), "drops the module's 'main-snippets'"),
    ("prod", _config_map("sigsci-nginx-ingress", {"main-template": "x"}), "'main-template', which the release"),
])
def test_a_controller_configmap_undoing_the_module_is_reported(stacks, stack, probe, words):
    found = violations(validate_module_kept, [*stacks[stack], probe])
    assert len(found) == 1 and "p-cm (ConfigMap" in found[0] and words in found[0], found


def test_a_controller_configmap_patch_of_other_keys_passes(stacks):
    patch = _config_map("sigsci-ingress-nginx-controller", {"proxy-body-size": "8m"})
    other = _config_map("sigsci-ingress-nginx-other", {"main-snippet": ""})
    assert violations(validate_module_kept, [*stacks["dev"], patch, other]) == []


def _search_patch(containers):
    return (DEPLOYMENT_PATCH, "p-search", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "search", "namespace": "shop"}, "spec": {"template": {"spec": {"containers": containers}}}})


@pytest.mark.parametrize("containers, words", [
    ([{"name": "search", "env": [{"name": "SIGSCI_RPC_ADDRESS", "value": "/tmp/nowhere.sock"}]}],
     "sets SIGSCI_RPC_ADDRESS='/tmp/nowhere.sock'"),
    ([{"name": "sigsci-agent", "env": [{"name": "SIGSCI_RPC_ADDRESS", "value": "/sigsci/tmp/other.sock"}]}],
     "moves the sigsci-agent's rpc-address"),
])
def test_a_patch_pointing_a_module_app_away_from_its_agent_is_reported(stacks, containers, words):
    found = violations(validate_module_kept, [*stacks["staging"], _search_patch(containers)])
    assert len(found) == 1 and "p-search (DeploymentPatch shop/search)" in found[0] and words in found[0], found


def test_a_module_app_keeping_its_address_passes(stacks):
    same = _search_patch([{"name": "search", "env": [{"name": "SIGSCI_RPC_ADDRESS",
                                                      "value": "unix:/sigsci/tmp/sigsci.sock"}]}])
    other = _search_patch([{"name": "search", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}])
    assert violations(validate_module_kept, [*stacks["staging"], same, other]) == []


def test_a_module_app_reading_another_address_is_reported(stacks):
    staging = stacks["staging"]
    workload = _props(staging, "search.shop-deployment")
    app = workload["spec"]["template"]["spec"]["containers"][0]
    next(e for e in app["env"] if e["name"] == "SIGSCI_RPC_ADDRESS")["value"] = "127.0.0.1:9"
    found = violations(validate_module_kept, _replace(staging, "search.shop-deployment", workload))
    assert len(found) == 1 and "search.shop-deployment" in found[0] and "'127.0.0.1:9'" in found[0], found


def test_a_module_app_on_a_local_port_keeps_its_address():
    from sigsci_policies.module_kept import _reaches

    assert _reaches("localhost:9000", "127.0.0.1:9000") and _reaches("127.0.0.1:9000", "0.0.0.0:9000")
    assert not _reaches("127.0.0.1:9001", "127.0.0.1:9000") and not _reaches("10.0.0.1:9000", "127.0.0.1:9000")
    assert not _reaches("/tmp/x.sock", "/sigsci/tmp/sigsci.sock")


# -- the agents' address, and the Gateway's class and proxies -----------------------------------------------------

def test_a_patch_moving_the_controller_agents_rpc_address_is_reported(stacks):
    patch = (DEPLOYMENT_PATCH, "p-agents", {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": AGENTS[0], "namespace": AGENTS[1]}, "spec": {"template": {"spec": {"containers": [
            {"name": "sigsci-agent", "env": [{"name": "SIGSCI_RPC_ADDRESS", "value": "0.0.0.0:9998"}]}]}}}})
    found = violations(validate_controller_reaches_agents, [*stacks["prod"], patch])
    assert len(found) == 1 and "p-agents" in found[0] and "rpc-address to '0.0.0.0:9998'" in found[0], found
    same = copy.deepcopy(patch)
    same[2]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "0.0.0.0:9999"
    assert violations(validate_controller_reaches_agents, [*stacks["prod"], same]) == []


WAF_GATEWAY = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "sigsci-gateway"}
GATEWAY_PATCH = "kubernetes:gateway.networking.k8s.io/v1:GatewayPatch"


def _gateway_patch(spec):
    return (GATEWAY_PATCH, "p-gwp", {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {
        "name": "sigsci-gateway", "namespace": "sigsci-gateway"}, "spec": spec})


@pytest.mark.parametrize("target", [WAF_GATEWAY, {"group": "gateway.networking.k8s.io", "kind": "GatewayClass",
                                                  "name": "sigsci-envoy"}])
def test_an_envoy_patch_policy_on_a_waf_gateway_is_reported(stacks, target):
    policy = ("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyPatchPolicy", "p-epp", {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyPatchPolicy",
        "metadata": {"name": "strip", "namespace": "sigsci-gateway"},
        "spec": {"targetRef": target, "type": "JSONPatch", "jsonPatches": [{
            "type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "sigsci-gateway/sigsci-gateway/http",
            "operation": {"op": "remove", "path": "/default_filter_chain/filters/0/typed_config/http_filters/0"}}]}})
    found = violations(validate_gateway_covered, [*stacks["dev"], policy])
    assert len(found) == 1 and "p-epp (EnvoyPatchPolicy" in found[0] and "sigsci-gateway" in found[0], found
    elsewhere = copy.deepcopy(policy)
    elsewhere[2]["spec"]["targetRef"] = {**WAF_GATEWAY, "name": "plain"}
    assert violations(validate_gateway_covered, [*stacks["dev"], elsewhere]) == []


@pytest.mark.parametrize("via", ["gateway", "class"])
def test_an_envoy_proxy_moving_ext_proc_on_a_waf_gateway_is_reported(stacks, via):
    proxy = ("kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy", "p-proxy", {
        "apiVersion": "gateway.envoyproxy.io/v1alpha1", "kind": "EnvoyProxy",
        "metadata": {"name": "proxy", "namespace": "sigsci-gateway"},
        "spec": {"filterOrder": [{"name": "envoy.filters.http.ext_proc", "after": "envoy.filters.http.router"}]}})
    ref = {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "proxy"}
    if via == "gateway":
        referrer = _gateway_patch({"infrastructure": {"parametersRef": ref}})
    else:
        referrer = ("kubernetes:gateway.networking.k8s.io/v1:GatewayClassPatch", "p-gcp", {
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "sigsci-envoy"},
            "spec": {"parametersRef": {**ref, "namespace": "sigsci-gateway"}}})
    found = violations(validate_gateway_covered, [*stacks["dev"], proxy, referrer])
    assert len(found) == 1 and "p-proxy (EnvoyProxy" in found[0] and "after: 'envoy.filters.http.router'" in found[0]
    assert violations(validate_gateway_covered, [*stacks["dev"], proxy]) == []


def test_a_patch_moving_a_waf_gateway_to_another_class_is_reported(stacks):
    found = violations(validate_gateway_covered, [*stacks["dev"], _gateway_patch({"gatewayClassName": "istio"})])
    assert len(found) == 1 and "p-gwp (GatewayPatch" in found[0] and "to 'istio'" in found[0], found
    same = _gateway_patch({"gatewayClassName": "sigsci-envoy"})
    assert violations(validate_gateway_covered, [*stacks["dev"], same]) == []
