"""The policy pack guards coverage for real: hostile probes built from what the stacks emit are each reported,
and what the stacks and the supported shapes emit is not.

Every probe is a resource (or an edit of one) that would send traffic around the WAF, run the agent
unhardened, or leave the controller without its module. Assertions are on the collected violations.
"""

import copy
import runpy

import pytest
from pulumi_policy import PolicyProviderResource, PolicyResource, StackValidationArgs

import harness
from ingress_configs import INGRESS_CONFIGS
from gateway_objects import OTHER_EXT_PROC, PUBLIC, agents_ext_proc, backend, eep, parent, ref, route
from policy_probes import DNS, PROD_AGENTS, PROD_CONTROLLER, egress_policy, live_deployment, network_policy, to_agents
from test_policy_pack import (OPTIONS, RESOURCE_POLICIES, STACK_CONFIG, STACK_POLICIES, _resources, violations,
                              validate_agent_hardened, validate_controller_module, validate_controller_reaches_agents,
                              validate_extproc_fail_closed, validate_gateway_covered, validate_image_digests,
                              validate_no_bypass, validate_no_bypass_ingress, validate_no_bypass_network_policy,
                              validate_no_bypass_route, validate_no_unprotected_pods, validate_pinned_versions)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DEPLOYMENT_PATCH = "kubernetes:apps/v1:DeploymentPatch"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_PATCH = "kubernetes:networking.k8s.io/v1:IngressPatch"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART_V4 = "kubernetes:helm.sh/v4:Chart"
GOOD_DIGEST = "sha256:" + "0123456789abcdef" * 4
AGENT_MIRROR = "registry.internal:5000/mirror/signalsciences/sigsci-agent"
SEED_APP = {"name": "helloworld", "image": "signalsciences/example-helloworld:latest", "port": 8000,
            "args": ["localhost:8000"]}


def placement_config(*apps, **extra):
    return {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": list(apps), **extra}


@pytest.fixture(scope="module")
def stacks():
    return {name: _resources(harness.run_stack(name)) for name in ("dev", "staging", "prod")}


# -- building probes from what the stacks emit ---------------------------------------------------------------

def _find(resources, name):
    return copy.deepcopy(next(r for r in resources if r[1] == name))


def _props(resources, name):
    return _find(resources, name)[2]


def _replace(resources, name, props):
    return [(t, n, props if n == name else p) for t, n, p in resources]


def _agent(workload_props):
    return next(c for c in workload_props["spec"]["template"]["spec"]["containers"] if c["name"] == "sigsci-agent")


def _template_without_agent(workload_props):
    template = copy.deepcopy(workload_props["spec"]["template"])
    spec = template["spec"]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "sigsci-agent"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "sigsci-tmp"]
    return template


def _metadata(name, namespace):
    return {"name": name, **({"namespace": namespace} if namespace else {})}


def _workload(kind, name, namespace, template, labels=None):
    """A workload of `kind` around a pod template, shaped as the Kubernetes API wants it."""
    if labels:
        template = {**template, "metadata": {**template.get("metadata", {}), "labels": labels}}
    labels = template.get("metadata", {}).get("labels") or {"app": name}
    api = {"Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}.get(kind, "apps/v1")
    group = {"Job": "batch/v1", "CronJob": "batch/v1", "Pod": "core/v1"}.get(kind, "apps/v1")
    body = {"apiVersion": api, "kind": kind, "metadata": _metadata(name, namespace)}
    if kind == "Pod":
        body["metadata"]["labels"] = labels
        body["spec"] = template["spec"]
    elif kind == "Job":
        body["spec"] = {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}
    elif kind == "CronJob":
        body["spec"] = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
            "template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}}}
    else:
        body["spec"] = {"selector": {"matchLabels": labels}, "template": template}
        if kind == "StatefulSet":
            body["spec"]["serviceName"] = name
    return (f"kubernetes:{group}:{kind}", f"probe-{kind.lower()}-{name}", body)


def _service_patch(pulumi_name, name, namespace, ports, **spec):
    return (SERVICE_PATCH, pulumi_name, {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(name, namespace),
                                         "spec": {"ports": ports, **spec}})


def _service(pulumi_name, name, namespace, selector, ports, **spec):
    return (SERVICE, pulumi_name, {"apiVersion": "v1", "kind": "Service", "metadata": _metadata(name, namespace),
                                   "spec": {"selector": selector, "ports": ports, **spec}})


def _ingress(pulumi_name, name, namespace, service, port, ingress_class=None, annotations=None, default=False):
    backend = {"service": {"name": service, "port": {"number": port}}}
    spec = {"defaultBackend": backend} if default else {
        "rules": [{"host": f"{name}.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                                      "backend": backend}]}}]}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    metadata = _metadata(name, namespace)
    if annotations:
        metadata["annotations"] = annotations
    return (INGRESS, pulumi_name, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata,
                                   "spec": spec})


def _with_literal_keys(template):
    template = copy.deepcopy(template)
    for container in template["spec"]["containers"]:
        if container["name"] == "sigsci-agent":
            container["env"][0] = {"name": "SIGSCI_ACCESSKEYID", "value": harness.PLANTED_KEY_ID}
    return template


# -- 1. a ServicePatch (or Service) that moves a protected Service back to the app port ----------------------

def test_a_service_patch_moving_the_patched_app_back_to_its_port_is_reported(stacks):
    prod = stacks["prod"]
    by_number = _service_patch("checkout-revert", "checkout", "shop", [{"port": 80, "targetPort": 8080}])
    by_name = _service_patch("checkout-revert-named", "checkout", "shop", [{"port": 80, "targetPort": "http"}])
    found = violations(validate_no_bypass, [*prod, by_number, by_name])
    assert len(found) == 2, found
    assert "checkout-revert (ServicePatch shop/checkout)" in found[0] and "8080" in found[0]
    assert "checkout-revert-named" in found[1] and "'http'" in found[1]
    assert all("around the WAF agent" in f and "checkout.shop-deployment-patch" in f for f in found)


def test_a_service_patch_on_an_owned_apps_service_is_reported(stacks):
    patch = _service_patch("storefront-revert", "storefront", "shop", [{"port": 8080, "targetPort": 8080,
                                                                        "name": "http"}])
    found = violations(validate_no_bypass, [*stacks["staging"], patch])
    assert len(found) == 1 and "storefront-revert" in found[0] and "target the agent's listener port 8001" in found[0]


def test_the_stacks_own_service_patch_with_an_extra_app_port_is_reported(stacks):
    prod = stacks["prod"]
    patch = _props(prod, "checkout.shop-service-patch")
    patch["spec"]["ports"].append({"port": 8080, "protocol": "TCP", "targetPort": 8080})
    found = violations(validate_no_bypass, _replace(prod, "checkout.shop-service-patch", patch))
    assert len(found) == 1 and "checkout.shop-service-patch" in found[0] and "port 8080" in found[0]


# -- 2. pods without the agent behind a protected selector ---------------------------------------------------

@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"])
def test_pods_without_the_agent_behind_a_protected_selector_are_reported(stacks, kind):
    staging = stacks["staging"]
    template = _template_without_agent(_props(staging, "storefront.shop-deployment"))
    probe = _workload(kind, "storefront-canary", "shop", template)
    found = violations(validate_no_unprotected_pods, [*staging, probe])
    assert found and all(probe[1] in f and "run no sigsci-agent" in f for f in found), found
    assert len(found) == 1
    assert any("storefront.shop-service" in f for f in found)


def test_pods_behind_the_agents_own_service_are_reported(stacks):
    prod = stacks["prod"]
    template = _template_without_agent(_props(prod, "storefront.shop-deployment"))
    template["metadata"]["labels"] = copy.deepcopy(
        _props(prod, "payments.payments-deployment")["spec"]["template"]["metadata"]["labels"])
    probe = _workload("Deployment", "payments-shadow", "payments", template)
    found = violations(validate_no_unprotected_pods, [*prod, probe])
    assert found and all("payments-shadow" in f for f in found)
    assert any("payments.payments-service" in f for f in found)


def test_a_same_labelled_workload_in_another_namespace_is_not_reported(stacks):
    staging = stacks["staging"]
    template = _template_without_agent(_props(staging, "storefront.shop-deployment"))
    probe = _workload("Deployment", "storefront", "shop-preview", template)
    assert violations(validate_no_unprotected_pods, [*staging, probe]) == []


def test_a_patch_of_the_protected_deployment_itself_is_not_reported(stacks):
    staging = stacks["staging"]
    labels = _props(staging, "storefront.shop-deployment")["spec"]["template"]["metadata"]["labels"]
    patch = (DEPLOYMENT_PATCH, "storefront-annotate", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "storefront", "namespace": "shop"},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [
            {"name": "storefront", "image": "registry.example.com/shop/storefront:2.14.4"}]}}}})
    assert violations(validate_no_unprotected_pods, [*staging, patch]) == []


# -- 3. an Ingress of another class around the agents or the WAF controller ----------------------------------

def test_an_ingress_of_another_class_to_the_agents_upstream_is_reported(stacks):
    prod = stacks["prod"]
    probe = _ingress("payments-direct", "payments-direct", "payments", "payments-api", 9000, "nginx")
    found = violations(validate_no_bypass_ingress, [*prod, probe])
    assert len(found) == 1
    assert "payments-direct (Ingress payments/payments-direct)" in found[0]
    assert "payments-api" in found[0] and "payments.payments-deployment" in found[0] and "'sigsci-nginx'" in found[0]


def test_an_ingress_of_another_class_to_a_service_the_waf_controller_routes_to_is_reported(stacks):
    staging = stacks["staging"]
    probe = _ingress("catalog-direct", "catalog-direct", "shop", "catalog", 80, "public-nginx")
    found = violations(validate_no_bypass_ingress, [*staging, probe])
    assert len(found) == 1 and "catalog-direct" in found[0] and "ingress-route-shop.catalog" in found[0]


def test_an_ingress_of_the_waf_class_or_to_an_agent_fronted_service_is_not_reported(stacks):
    prod = stacks["prod"]
    through_waf = _ingress("payments-waf", "payments-waf", "payments", "payments-api", 9000, "sigsci-nginx")
    through_agents = _ingress("payments-public", "payments-public", "payments", "payments", 80, "nginx")
    to_owned_app = _ingress("storefront-public", "storefront-public", "shop", "storefront", 8080, "nginx")
    assert violations(validate_no_bypass_ingress, [*prod, through_waf, through_agents, to_owned_app]) == []


def test_a_classless_ingress_is_fine_when_the_waf_class_is_the_default():
    run = harness.run_config(placement_config(
        {"name": "payments", "placement": "service", "upstreamService": "payments-api", "port": 9000},
        **{"sigsci:ingress": {"ingressClass": {"default": True}}}))
    resources = _resources(run)
    probe = _ingress("payments-classless", "payments-classless", "default", "payments-api", 9000)
    assert violations(validate_no_bypass_ingress, [*resources, probe]) == []
    release = _props(resources, "ingress-release")
    release["values"]["controller"]["ingressClassResource"]["default"] = False
    found = violations(validate_no_bypass_ingress, [*_replace(resources, "ingress-release", release), probe])
    assert len(found) == 1 and "payments-classless" in found[0] and "no class" in found[0]


# -- 4. a Service without a namespace ------------------------------------------------------------------------

def _direct_service_without_namespace(staging) -> dict:
    """A copy of the protected storefront Service, straight to the app's port, with no namespace."""
    service = _props(staging, "storefront.shop-service")
    del service["metadata"]["namespace"]
    service["metadata"]["name"] = "storefront-direct"
    service["spec"]["ports"][0]["targetPort"] = 8080
    return service


def test_a_service_without_a_namespace_is_matched_in_every_namespace(stacks):
    staging = stacks["staging"]
    service = _direct_service_without_namespace(staging)
    found = violations(validate_no_bypass, [*staging, (SERVICE, "storefront-direct", service)])
    assert len(found) == 1 and "<namespace unknown>/storefront-direct" in found[0]


def _stack_violations(validate, resources, providers):
    found = []
    args = StackValidationArgs([PolicyResource(t, p, f"urn:{n}", n, OPTIONS, providers.get(n), None, [], {})
                                for t, n, p in resources])
    validate(args, lambda message, urn=None: found.append(message))
    return found


def test_the_providers_namespace_stands_in_for_a_missing_one(stacks):
    staging = stacks["staging"]
    service = _direct_service_without_namespace(staging)
    resources = [*staging, (SERVICE, "storefront-direct", service)]

    def provider(namespace):
        return {"storefront-direct": PolicyProviderResource("pulumi:providers:kubernetes", {"namespace": namespace},
                                                            "urn:provider", "k8s")}

    assert _stack_violations(validate_no_bypass, resources, provider("elsewhere")) == []
    found = _stack_violations(validate_no_bypass, resources, provider("shop"))
    assert len(found) == 1 and "shop/storefront-direct" in found[0]


# -- 5. the agent under another container name ---------------------------------------------------------------

def _renamed_agent_staging(stacks, image=AGENT_MIRROR + ":4.70.0@" + GOOD_DIGEST):
    staging = stacks["staging"]
    deployment = _props(staging, "storefront.shop-deployment")
    agent = _agent(deployment)
    agent["name"], agent["image"] = "waf-proxy", image
    return _replace(staging, "storefront.shop-deployment", deployment), deployment


def test_an_agent_recognised_by_its_image_is_protected_and_checked(stacks):
    resources, deployment = _renamed_agent_staging(stacks)
    bypass = _service("storefront-direct", "storefront-direct", "shop", {"app.kubernetes.io/name": "storefront"},
                      [{"port": 80, "targetPort": 8080}])
    assert violations(validate_no_bypass, resources) == []
    found = violations(validate_no_bypass, [*resources, bypass])
    assert len(found) == 1 and "storefront-direct" in found[0]
    container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "waf-proxy")
    container["securityContext"]["readOnlyRootFilesystem"] = False
    found = violations(validate_agent_hardened, [(DEPLOYMENT, "storefront.shop-deployment", deployment)])
    assert len(found) == 1 and "'waf-proxy'" in found[0] and "readOnlyRootFilesystem" in found[0]


def test_an_agent_in_init_containers_and_in_chart_values_is_recognised_by_its_image(stacks):
    resources, deployment = _renamed_agent_staging(stacks, AGENT_MIRROR + ":latest")
    spec = deployment["spec"]["template"]["spec"]
    spec["initContainers"] = [next(c for c in spec["containers"] if c["name"] == "waf-proxy")]
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "waf-proxy"]
    found = violations(validate_pinned_versions, [(DEPLOYMENT, "storefront.shop-deployment", deployment)])
    assert len(found) == 1 and "not pinned" in found[0]
    release = _props(stacks["staging"], "ingress-release")
    release["values"]["controller"]["initContainers"][0].update(name="agent", image="signalsciences/sigsci-agent")
    found = violations(validate_pinned_versions, [(RELEASE, "ingress-release", release)])
    assert len(found) == 1 and "'signalsciences/sigsci-agent'" in found[0]


# -- 6. credentials as literals on any workload kind ---------------------------------------------------------

@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"])
def test_literal_keys_are_reported_on_every_workload_kind(stacks, kind):
    template = _with_literal_keys(_props(stacks["staging"], "storefront.shop-deployment")["spec"]["template"])
    probe = _workload(kind, "storefront", "shop", template)
    found = violations(validate_agent_hardened, [probe])
    assert len(found) == 1 and "SIGSCI_ACCESSKEYID as a literal" in found[0] and probe[1] in found[0]


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"])
def test_literal_keys_are_reported_on_patches_of_every_kind(stacks, kind):
    template = _with_literal_keys(_props(stacks["prod"], "checkout.shop-deployment-patch")["spec"]["template"])
    type_, name, body = _workload(kind, "checkout", "shop", template)
    found = violations(validate_agent_hardened, [(type_ + "Patch", name, body)])
    assert len(found) == 1 and "SIGSCI_ACCESSKEYID as a literal" in found[0]


@pytest.mark.parametrize("field, words", [
    ("args", ["--accesskeyid=0f6a3c1e", "--secretaccesskey", "PLANTED"]),
    ("command", ["sh", "-c", "exec sigsci-agent --secretaccesskey PLANTED"]),
    ("command", ["sh", "-c", "SIGSCI_ACCESSKEYID=0f6a3c1e exec sigsci-agent"]),
])
def test_literal_keys_in_command_or_args_are_reported(stacks, field, words):
    deployment = _props(stacks["staging"], "storefront.shop-deployment")
    _agent(deployment)[field] = words
    found = violations(validate_agent_hardened, [(DEPLOYMENT, "storefront", deployment)])
    assert found and all("command/args" in f for f in found)


def test_literal_keys_in_chart_values_are_reported(stacks):
    release = _props(stacks["dev"], "ingress-release")
    release["values"]["controller"]["extraEnvs"] = [{"name": "SIGSCI_SECRETACCESSKEY", "value": "PLANTED"}]
    release["values"]["controller"]["extraContainers"] = [
        {"name": "sidecar", "image": "busybox:1.36", "args": ["--accesskeyid=PLANTED"]}]
    found = violations(validate_agent_hardened, [(RELEASE, "ingress-release", release)])
    assert len(found) == 2
    assert "values.controller.extraEnvs[0] sets SIGSCI_SECRETACCESSKEY" in "".join(found)
    assert "values.controller.extraContainers[0]" in "".join(found)


def test_keys_from_a_secret_through_env_from_are_not_reported(stacks):
    deployment = _props(stacks["staging"], "storefront.shop-deployment")
    agent = _agent(deployment)
    agent["env"] = [e for e in agent["env"] if not e["name"].endswith(("ACCESSKEYID", "SECRETACCESSKEY"))]
    agent["envFrom"] = [{"secretRef": {"name": "sigsci.example-staging"}}]
    assert violations(validate_agent_hardened, [(DEPLOYMENT, "storefront", deployment)]) == []
    agent["envFrom"] = [{"prefix": "SIGSCI_", "secretRef": {"name": "sigsci-keys"}}]
    agent["args"] = ["--accesskeyid=$(SIGSCI_ACCESSKEYID)"]
    assert violations(validate_agent_hardened, [(DEPLOYMENT, "storefront", deployment)]) == []
    # A ConfigMap is not a Secret; no source at all is no key.
    agent["envFrom"] = [{"configMapRef": {"name": "sigsci-keys"}}]
    found = violations(validate_agent_hardened, [(DEPLOYMENT, "storefront", deployment)])
    assert len(found) == 2 and all("is not set" in f for f in found)


def test_keys_in_a_config_map_are_reported():
    config_map = ("kubernetes:core/v1:ConfigMap", "agent-env", {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "agent-env", "namespace": "shop"},
                  "data": {"SIGSCI_ACCESSKEYID": "x", "SIGSCI_LOG_OUT": "/dev/stdout"}})
    found = violations(validate_agent_hardened, [config_map])
    assert len(found) == 1 and "'SIGSCI_ACCESSKEYID'" in found[0]


# -- 7. malformed digests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("digest", ["sha256:abc", "sha256:" + "AB" * 32, "sha256:" + "ab" * 33, "sha256:",
                                    "md5:" + "ab" * 16, "sha512:" + "ab" * 32, GOOD_DIGEST + "@" + GOOD_DIGEST])
def test_a_malformed_agent_digest_is_reported(stacks, digest):
    deployment = _props(stacks["staging"], "storefront.shop-deployment")
    _agent(deployment)["image"] = f"signalsciences/sigsci-agent:4.70.0@{digest}"
    found = violations(validate_image_digests, [(DEPLOYMENT, "storefront", deployment)])
    assert len(found) == 1 and "malformed digest" in found[0]


def test_a_correct_digest_is_not_reported(stacks):
    deployment = _props(stacks["staging"], "storefront.shop-deployment")
    for image in (f"signalsciences/sigsci-agent:4.70.0@{GOOD_DIGEST}", f"signalsciences/sigsci-agent@{GOOD_DIGEST}",
                  f"{AGENT_MIRROR}@sha512:{'ab' * 64}"):
        _agent(deployment)["image"] = image
        assert violations(validate_image_digests, [(DEPLOYMENT, "storefront", deployment)]) == []
    release = _props(stacks["staging"], "ingress-release")
    release["values"]["controller"]["image"]["digest"] = GOOD_DIGEST
    assert violations(validate_image_digests, [(RELEASE, "ingress-release", release)]) == []
    dev_release = _props(stacks["dev"], "ingress-release")
    assert dev_release["values"]["controller"]["image"]["digest"] == ""  # ingress-nginx's trap, cleared
    assert violations(validate_image_digests, [(RELEASE, "ingress-release", dev_release)]) == []


def test_a_malformed_controller_digest_is_reported(stacks):
    release = _props(stacks["dev"], "ingress-release")
    release["values"]["controller"]["image"]["digest"] = "sha256:deadbeef"
    release["values"]["controller"]["image"]["digestChroot"] = "sha256:" + "G" * 64
    found = violations(validate_image_digests, [(RELEASE, "ingress-release", release)])
    assert len(found) == 2 and "controller.image.digest " in found[0] and "digestChroot" in found[1]


# -- 8. the controller release drops the module --------------------------------------------------------------

def test_the_stacks_controllers_keep_the_module(stacks):
    for name in ("dev", "staging", "prod"):
        assert violations(validate_controller_module, stacks[name]) == [], name


def test_a_release_without_the_module_lines_is_reported(stacks):
    release = _props(stacks["staging"], "ingress-release")
    entries = release["values"]["controller"]["config"]["entries"]
    entries["main-snippets"] = "# load_module /usr/lib/nginx/modules/ngx_http_sigsci_module.so;"
    del entries["http-snippets"]
    found = violations(validate_controller_module, [(RELEASE, "ingress-release", release)])
    assert len(found) == 2
    assert "main-snippets" in found[0] and "load_module" in found[0]
    assert "http-snippets" in found[1] and "fails open" in found[1]


@pytest.mark.parametrize("stack, key, value", [
    ("dev", "configMapNamespace", "kube-system"),
    ("dev", "extraArgs", {"configmap": "kube-system/plain-nginx"}),
    ("dev", "customTemplate", {"configMapName": "my-nginx-tmpl", "configMapKey": "nginx.tmpl"}),
    ("staging", "customConfigMap", "plain-nginx-config"),
])
def test_a_release_reading_another_config_is_reported(stacks, stack, key, value):
    release = _props(stacks[stack], "ingress-release")
    release["values"]["controller"][key] = value
    found = violations(validate_controller_module, [(RELEASE, "ingress-release", release)])
    assert len(found) == 1 and "another ConfigMap or template" in found[0]


def test_a_socket_path_the_agent_does_not_listen_on_is_reported(stacks):
    release = _props(stacks["dev"], "ingress-release")
    agent = release["values"]["controller"]["extraInitContainers"][0]
    next(e for e in agent["env"] if e["name"] == "SIGSCI_RPC_ADDRESS")["value"] = "/var/run/sigsci/sigsci.sock"
    found = violations(validate_controller_module, [(RELEASE, "ingress-release", release)])
    assert len(found) == 1 and "does not match the agent's SIGSCI_RPC_ADDRESS" in found[0]


def test_moved_temp_volume_passes_when_both_ends_move():
    run = harness.run_config(INGRESS_CONFIGS["chainguard-native"])
    for validate in RESOURCE_POLICIES:
        assert violations(validate, _resources(run)) == []


# -- 9. NetworkPolicies that reopen the app's port ----------------------------------------------------------------

STOREFRONT = {"matchLabels": {"app.kubernetes.io/name": "storefront"}}


@pytest.mark.parametrize("selector, rule, types", [
    ({}, {}, None),
    (STOREFRONT, {"ports": [{"port": 8080}]}, ["Ingress"]),
    (STOREFRONT, {"ports": [{"port": "http", "protocol": "TCP"}]}, None),
    (STOREFRONT, {"ports": [{"port": 8000, "endPort": 8100}]}, ["Ingress", "Egress"]),
    (STOREFRONT, {"ports": [{"protocol": "TCP"}]}, None),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["storefront", "x"]}]},
     {"ports": [{"port": 8080}]}, None),
    ({"matchExpressions": [{"key": "app.kubernetes.io/part-of", "operator": "Exists"}]}, {}, None),
    (STOREFRONT, {"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080}]}, None),
    (STOREFRONT, {"from": [{"namespaceSelector": {}, "podSelector": {}}]}, None),
    (STOREFRONT, {"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}, None),
    (STOREFRONT, {"from": [], "ports": [{"port": "8080"}]}, None),
], ids=["empty-selector-every-port", "app-port", "app-port-name", "port-range", "every-tcp-port", "in-expression",
        "exists-expression", "every-namespace", "every-pod-of-every-namespace", "every-address", "port-as-digits"])
def test_a_network_policy_reopening_the_app_port_is_reported(stacks, selector, rule, types):
    staging = stacks["staging"]
    probe = network_policy("storefront-open", "storefront-open", "shop", selector, ingress=[rule], types=types)
    found = violations(validate_no_bypass_network_policy, [*staging, probe])
    assert len(found) == 1, found
    assert found[0].startswith("storefront-open (NetworkPolicy shop/storefront-open): ingress rule 0 admits traffic "
                               "from anywhere to the app's port 8080 ('http') of storefront.shop-deployment "
                               "(Deployment shop/storefront), whose WAF agent listens on 8001 ('sigsci-http')")
    assert "around the WAF agent" in found[0] and "admit only the agent's listener port" in found[0]


def test_a_patch_of_the_stacks_listener_policy_is_read_over_it(stacks):
    staging = stacks["staging"]
    reopen = network_policy("storefront-np-patch", "storefront", "shop", ingress=[{}], patch=True)
    found = violations(validate_no_bypass_network_policy, [*staging, reopen])
    assert len(found) == 1 and "storefront-np-patch (NetworkPolicyPatch shop/storefront)" in found[0]
    # The patch keeps the policy's podSelector; one that narrows it to other pods reopens nothing of the app's.
    elsewhere = network_policy("storefront-np-patch", "storefront", "shop", {"matchLabels": {"app": "other"}},
                               ingress=[{}], patch=True)
    assert violations(validate_no_bypass_network_policy, [*staging, elsewhere]) == []
    listener = network_policy("storefront-np-patch", "storefront", "shop", ingress=[{"ports": [{"port": 8001}]}],
                              patch=True)
    assert violations(validate_no_bypass_network_policy, [*staging, listener]) == []


@pytest.mark.parametrize("selector, rule, types, namespace", [
    (STOREFRONT, {"ports": [{"port": 8001, "protocol": "TCP"}]}, None, "shop"),
    ({}, {"ports": [{"port": "sigsci-http"}, {"port": 2024}]}, None, "shop"),
    ({"matchLabels": {"app.kubernetes.io/name": "legacy-web"}}, {}, None, "shop"),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["storefront"]}]}, {},
     None, "shop"),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, None, "shop"),
    (STOREFRONT, {}, ["Egress"], "shop"),
    (STOREFRONT, {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sigsci-ingress"}}}],
                  "ports": [{"port": 8080}]}, None, "shop"),
    (STOREFRONT, {"from": [{"podSelector": {}}]}, None, "shop"),
    (STOREFRONT, {"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}, None, "shop"),
    (STOREFRONT, {"ports": [{"port": 8080, "protocol": "UDP"}]}, None, "shop"),
    (STOREFRONT, {"ports": [{"port": 8081, "endPort": 9000}]}, None, "shop"),
    ({}, {}, None, "shop-preview"),
    ({"matchLabels": {"app.kubernetes.io/name": "search"}}, {}, None, "shop"),
], ids=["listener-port", "listener-name-and-startup-port", "other-pods", "not-in-expression", "label-they-lack",
        "egress-only", "from-one-namespace", "from-the-namespaces-pods", "from-a-cidr", "udp", "range-above",
        "other-namespace", "module-app"])
def test_a_network_policy_that_does_not_reopen_the_app_port_is_not_reported(stacks, selector, rule, types,
                                                                             namespace):
    probe = network_policy("np-probe", "np-probe", namespace, selector, ingress=[rule], types=types)
    assert violations(validate_no_bypass_network_policy, [*stacks["staging"], probe]) == []


def test_a_network_policy_reopening_a_patched_apps_port(stacks):
    """A patched app's pods carry their owner's labels: an empty podSelector selects them, and so does one the
    stack's read of the Deployment decides; one the pack cannot decide is not matched."""
    prod = stacks["prod"]
    every_pod = network_policy("shop-open", "shop-open", "shop", {}, ingress=[{}])
    found = violations(validate_no_bypass_network_policy, [*prod, every_pod])
    assert len(found) == 1 and "shop-open" in found[0]
    assert "checkout.shop-deployment-patch (DeploymentPatch shop/checkout), whose WAF agent listens on 8081" in found[0]
    assert "storefront.shop-deployment" in found[0]
    by_labels = network_policy("checkout-open", "checkout-open", "shop", {"matchLabels": {"app": "checkout"}},
                               ingress=[{"ports": [{"port": "http"}]}])
    assert violations(validate_no_bypass_network_policy, [*prod, by_labels]) == []
    live = live_deployment("checkout.shop-deployment-live", "checkout", "shop", {"app": "checkout"})
    assert violations(validate_no_bypass_network_policy, [*prod, live]) == []
    found = violations(validate_no_bypass_network_policy, [*prod, live, by_labels])
    assert len(found) == 1 and "checkout-open" in found[0] and "port 8080 ('http') of checkout" in found[0]
    other = live_deployment("checkout.shop-deployment-live", "checkout", "shop", {"app": "checkout-v2"})
    assert violations(validate_no_bypass_network_policy, [*prod, other, by_labels]) == []


# -- 10. an egress policy that cuts the controller off from its agents ---------------------------------------------

@pytest.mark.parametrize("probe", [
    egress_policy("controller-egress", DNS),
    network_policy("controller-egress", "controller-egress", "sigsci-ingress", {}, types=["Egress"]),
    network_policy("controller-egress", "controller-egress", "sigsci-ingress", {}, egress=[DNS]),
    network_policy("controller-egress", "controller-egress", "sigsci-ingress",
                   {"matchLabels": {"app.kubernetes.io/name": "nginx-ingress"}}, egress=[],
                   types=["Ingress", "Egress"]),
    egress_policy("controller-egress", DNS, to_agents(port=9998)),
    egress_policy("controller-egress", to_agents(protocol="UDP")),
    egress_policy("controller-egress", to_agents(port="sigsci-startup")),
    egress_policy("controller-egress", to_agents(port=80)),  # the Service's port is not the pods'
    egress_policy("controller-egress", to_agents(peer={"podSelector": {"matchLabels": {"app": "agents"}}})),
    egress_policy("controller-egress", to_agents(peer={"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "payments"}}})),
    egress_policy("controller-egress", to_agents(peer={"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "payments"}}, "podSelector": {"matchLabels": PROD_AGENTS}})),
], ids=["dns-only", "deny-all", "egress-implied-by-rules", "no-egress-rules", "other-port", "udp", "other-port-name",
        "service-port", "other-pods", "other-namespace", "agents-labels-in-other-namespace"])
def test_an_egress_policy_without_the_agents_port_is_reported(stacks, probe):
    prod = stacks["prod"]
    if probe[2]["spec"].get("egress") and to_agents(port=80)["ports"] == probe[2]["spec"]["egress"][0]["ports"]:
        service = _props(prod, "ingress-agent-service")
        service["spec"]["ports"][0]["port"] = 80  # the Service's port, 80, sends to the pods' 9999
        release = _props(prod, "ingress-release")
        entries = release["values"]["controller"]["config"]["entries"]
        entries["http-snippets"] = entries["http-snippets"].replace(":9999;", ":80;")
        prod = _replace(_replace(prod, "ingress-agent-service", service), "ingress-release", release)
    assert violations(validate_controller_reaches_agents, prod) == []
    found = violations(validate_controller_reaches_agents, [*prod, probe])
    assert len(found) == 1, found
    assert found[0].startswith("controller-egress (NetworkPolicy sigsci-ingress/controller-egress): limits the egress "
                               "of the controller pods of ingress-release (Helm release "
                               "sigsci-ingress/sigsci-nginx-ingress)")
    assert "port 9999 of the WAF agents' pods behind Service sigsci-ingress/sigsci-nginx-ingress-sigsci-agent" \
        in found[0]
    assert "fails open" in found[0]


@pytest.mark.parametrize("rules", [
    [DNS, to_agents()],
    [to_agents(port="sigsci-rpc")],
    [to_agents(peer={"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sigsci-ingress"}}})],
    [to_agents(peer={"namespaceSelector": {"matchLabels": {"pod-security.kubernetes.io/enforce": "baseline"}},
                     "podSelector": {"matchLabels": {"app.kubernetes.io/component": "ingress-agent"}}})],
    [to_agents(peer={"ipBlock": {"cidr": "0.0.0.0/0"}})],
    [to_agents(peer={"ipBlock": {"cidr": "10.0.0.0/8"}})],  # the pods' addresses are not known: may be
    [{"ports": [{"port": 9000, "endPort": 10000}]}],
    [{"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "sigsci-agent"}}}]}],
    [{}],
], ids=["to-the-agents", "by-port-name", "to-their-namespace", "namespace-and-pod-labels", "every-address",
        "a-cidr", "port-range", "every-port-of-the-agents", "everything"])
def test_an_egress_policy_that_lets_the_controller_reach_its_agents_is_not_reported(stacks, rules):
    probe = egress_policy("controller-egress", *rules)
    assert violations(validate_controller_reaches_agents, [*stacks["prod"], probe]) == []


def test_egress_policies_add_up_and_only_those_on_the_controller_count(stacks):
    prod = stacks["prod"]
    deny = network_policy("deny-egress", "deny-egress", "sigsci-ingress", {}, types=["Egress"])
    allow = egress_policy("controller-to-agents", to_agents())
    assert violations(validate_controller_reaches_agents, [*prod, deny, allow]) == []
    # An allowing policy on other pods, or in another namespace, does not help the controller.
    for other in (egress_policy("controller-to-agents", to_agents(), pod_selector={"matchLabels": {
                      "app.kubernetes.io/name": "sigsci-agent"}}),
                  egress_policy("controller-to-agents", to_agents(), namespace="payments")):
        found = violations(validate_controller_reaches_agents, [*prod, deny, other])
        assert len(found) == 1 and "deny-egress" in found[0]
    # Two policies on the controller that allow nothing: each is named.
    dns = egress_policy("controller-dns", DNS)
    found = violations(validate_controller_reaches_agents, [*prod, deny, dns])
    assert len(found) == 2 and "deny-egress" in found[0] and "controller-dns" in found[1]
    assert all("nor does any other egress policy on them" in f for f in found)


def test_egress_policies_the_pack_cannot_place_on_the_controller_are_not_reported(stacks):
    """Not on the controller pods: other pods, an Ingress-only policy, another namespace; and a selector on labels
    the chart's selector labels do not decide (podLabels, the chart's version) is given the benefit of the doubt."""
    prod = stacks["prod"]
    for probe in (egress_policy("np", DNS, pod_selector={"matchLabels": {"app.kubernetes.io/name": "sigsci-agent"}}),
                  network_policy("np", "np", "sigsci-ingress", {}, ingress=[{}], types=["Ingress"]),
                  egress_policy("np", DNS, namespace="shop", pod_selector={}),
                  egress_policy("np", DNS, pod_selector={"matchLabels": {"team": "edge"}}),
                  egress_policy("np", DNS, pod_selector={"matchLabels": {**PROD_CONTROLLER,
                                                                         "app.kubernetes.io/component": "x"}})):
        assert violations(validate_controller_reaches_agents, [*prod, probe]) == [], probe


def test_a_peer_without_namespace_selector_is_in_the_policys_namespace(stacks):
    """With the agents in a namespace of their own, a rule to their pods' labels alone stays in the controller's."""
    prod = stacks["prod"]
    moved = []
    for name in ("ingress-agent-service", "ingress-agent-deployment"):
        props = _props(prod, name)
        props["metadata"]["namespace"] = "waf-agents"
        moved.append((name, props))
    release = _props(prod, "ingress-release")
    entries = release["values"]["controller"]["config"]["entries"]
    entries["http-snippets"] = entries["http-snippets"].replace(".sigsci-ingress.svc", ".waf-agents.svc")
    for name, props in [*moved, ("ingress-release", release)]:
        prod = _replace(prod, name, props)
    same_namespace = egress_policy("controller-egress", to_agents())
    found = violations(validate_controller_reaches_agents, [*prod, same_namespace])
    assert len(found) == 1 and "Service waf-agents/sigsci-nginx-ingress-sigsci-agent" in found[0]
    their_namespace = egress_policy("controller-egress", to_agents(peer={
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "waf-agents"}},
        "podSelector": {"matchLabels": PROD_AGENTS}}))
    assert violations(validate_controller_reaches_agents, [*prod, their_namespace]) == []


def test_sidecar_agents_need_no_egress(stacks):
    """Beside nginx (dev, staging) the module reaches its agent over a Unix socket: egress policies do not matter."""
    for stack in ("dev", "staging"):
        deny = network_policy("deny-egress", "deny-egress", "sigsci-ingress", {}, types=["Egress"])
        assert violations(validate_controller_reaches_agents, [*stacks[stack], deny]) == []


def test_an_egress_policy_on_ingress_nginx_controller_pods_is_reported():
    """ingress-nginx's controller pods also carry app.kubernetes.io/component=controller."""
    resources = _resources(harness.run_config(INGRESS_CONFIGS["ingress-nginx-service"]))
    controller = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "sigsci-ingress-nginx",
                  "app.kubernetes.io/component": "controller"}
    agents = {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": "sigsci-ingress-nginx"}
    cut = egress_policy("controller-egress", DNS, pod_selector={"matchLabels": controller})
    found = violations(validate_controller_reaches_agents, [*resources, cut])
    assert len(found) == 1 and "sigsci-ingress-nginx-sigsci-agent" in found[0]
    fixed = egress_policy("controller-egress", DNS, to_agents(peer={"podSelector": {"matchLabels": agents}}),
                          pod_selector={"matchLabels": controller})
    assert violations(validate_controller_reaches_agents, [*resources, fixed]) == []
    webhook = egress_policy("controller-egress", DNS, pod_selector={"matchLabels": {
        **controller, "app.kubernetes.io/component": "admission-webhook"}})
    assert violations(validate_controller_reaches_agents, [*resources, webhook]) == []


# -- 11. a second Service to a patched app's port -------------------------------------------------------------------

@pytest.mark.parametrize("probe", [
    _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": 8080}]),
    _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 8080}]),
    _service("second", "checkout-direct", "shop", {"app": "checkout"},
             [{"port": 80, "targetPort": "sigsci-http"}, {"port": 81, "targetPort": "8080"}]),
    _service("second", "checkout-direct", None, {"app.kubernetes.io/name": "checkout"},
             [{"port": 80, "targetPort": 8080}]),
    _service_patch("second", "checkout-internal", "shop", [{"port": 80, "targetPort": 8080}]),
], ids=["app-port", "port-without-target", "second-port", "without-namespace", "patch-of-another-service"])
def test_a_second_service_to_a_patched_apps_port_is_reported(stacks, probe):
    prod = stacks["prod"]
    found = violations(validate_no_bypass, [*prod, probe])
    assert len(found) == 1, found
    assert found[0].startswith("second (Service")
    assert "targets the app's port 8080 of the patched checkout.shop-deployment-patch (DeploymentPatch " \
           "shop/checkout) and may select its pods" in found[0]
    assert "checkout.shop-service-patch (ServicePatch shop/checkout)" in found[0]
    assert "target the agent's listener port 8081 ('sigsci-http') instead" in found[0]


def test_a_second_service_is_matched_by_the_labels_the_stack_reads():
    """The stack's read of the patched Deployment (or of its Service) says which pods the app has: a Service that
    selects them is reported on the app's port by number or name, one that does not is not."""
    config = placement_config({"name": "checkout", "placement": "patch", "takeOver": ["service.targetPort"],
                               "deployment": "checkout", "service": "checkout", "port": 8080, "namespace": "shop"})
    resources = _resources(harness.run_config(config))
    live = live_deployment("checkout.shop-deployment-live", "checkout", "shop", {"app": "checkout", "tier": "web"})
    by_name = _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": "http"}])
    found = violations(validate_no_bypass, [*resources, live, by_name])
    assert len(found) == 1 and "targets the app's port 'http'" in found[0] and "and selects its pods" in found[0]
    other = _service("second", "checkout-v2", "shop", {"app": "checkout-v2"}, [{"port": 80, "targetPort": 8080}])
    assert violations(validate_no_bypass, [*resources, live, other]) == []
    # Without the Deployment, the Service's read selector tells one label of the pods.
    service_read = _live_checkout("sigsci-http")
    assert violations(validate_no_bypass, [*resources, service_read, other]) == []
    found = violations(validate_no_bypass, [*resources, service_read, _service(
        "second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": 8080}])])
    assert len(found) == 1 and "and selects its pods" in found[0]


def test_a_second_service_to_the_owners_named_target_port_is_reported():
    """The owner's targetPort (recorded on the stack's ServicePatch to give it back) may be the app port's name."""
    config = placement_config({"name": "checkout", "placement": "patch", "takeOver": ["service.targetPort"],
                               "deployment": "checkout", "service": "checkout", "port": 8080, "namespace": "shop",
                               "ownerTargetPort": "web"})
    resources = _resources(harness.run_config(config))
    assert violations(validate_no_bypass, resources) == []
    probe = _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": "web"}])
    found = violations(validate_no_bypass, [*resources, probe])
    assert len(found) == 1 and "targets the app's port 'web'" in found[0]


@pytest.mark.parametrize("probe", [
    _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": 8081}]),
    _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": "sigsci-http"}]),
    _service("second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 2024, "targetPort": 2024}]),
    _service("second", "checkout-direct", "shop-preview", {"app": "checkout"}, [{"port": 80, "targetPort": 8080}]),
    _service("second", "checkout-direct", "shop", {}, [{"port": 80, "targetPort": 8080}]),
    _service_patch("second", "checkout-internal", "shop", [{"port": 80, "targetPort": "sigsci-http"}]),
], ids=["listener-port", "listener-name", "startup-port", "other-namespace", "no-selector", "patch-to-the-listener"])
def test_a_second_service_to_the_listener_is_not_reported(stacks, probe):
    assert violations(validate_no_bypass, [*stacks["prod"], probe]) == []


def test_a_service_of_another_workload_on_the_same_port_is_not_reported(stacks):
    """In the patched app's namespace, a Service that selects the pods of another workload the stack declares is
    that workload's, even on the same port number."""
    prod = stacks["prod"]
    reports = _workload("Deployment", "reports", "shop", {"metadata": {"labels": {"app": "reports"}}, "spec": {
        "containers": [{"name": "reports", "image": "registry.example.com/shop/reports:1.0",
                        "ports": [{"containerPort": 8080}]}]}})
    service = _service("reports", "reports", "shop", {"app": "reports"}, [{"port": 80, "targetPort": 8080}])
    assert violations(validate_no_bypass, [*prod, reports, service]) == []
    assert len(violations(validate_no_bypass, [*prod, service])) == 1  # without it, the pack cannot tell


# -- negative: what the product emits passes the whole pack --------------------------------------------------

@pytest.mark.parametrize("name", sorted(INGRESS_CONFIGS))
def test_every_ingress_shape_passes_the_pack(name):
    resources = _resources(harness.run_config(INGRESS_CONFIGS[name]))
    for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert violations(validate, resources) == [], validate.__name__


@pytest.mark.parametrize("app", [
    SEED_APP,
    {"name": "checkout", "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "checkout", "service": "checkout", "port": 8080},
    {"name": "payments", "placement": "service", "upstreamService": "payments-api", "port": 9000},
    {"name": "api", "placement": "module", "image": "registry.example.com/shop/api:1.0", "port": 8080},
    {"name": "api", "placement": "module", "image": "registry.example.com/shop/api:1.0", "port": 8080,
     "rpcPort": 9999},
    {"name": "legacy", "placement": "module", "deployment": "legacy", "port": 8080},
], ids=["owned", "patch", "service", "module", "module-tcp", "module-existing"])
def test_every_placement_passes_the_pack(app):
    # Injection beside them: its parameters and policies are objects of the stack too.
    resources = _resources(harness.run_config(placement_config(app, **{"sigsci:injection": {"namespaces": ["shop"]}})))
    config = {"requirePinnedVersions": False}  # the seed app follows latest
    for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert violations(validate, resources, config) == [], validate.__name__


def test_the_python_example_passes_the_pack():
    config = {"sigsci:site": "demo", "sigsci:agentKeyId": harness.PLANTED_KEY_ID,
              "sigsci:agentSecret": harness.PLANTED_SECRET}
    run = harness.run(lambda: runpy.run_path(str(harness.ROOT / "examples" / "python" / "__main__.py")), config,
                      secret_keys=["sigsci:agentKeyId", "sigsci:agentSecret"])
    resources = _resources(run)
    for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert violations(validate, resources) == [], validate.__name__


# -- the probe table: every hostile probe is reported ---------------------------------------------------------

def _prod_patch(stacks, name, ports, namespace="shop", **spec):
    return "prod", [_service_patch(name, "checkout", namespace, ports, **spec)]


def _staging_pods(stacks, kind, name, namespace="shop", labels=None):
    template = _template_without_agent(_props(stacks["staging"], "storefront.shop-deployment"))
    if labels:
        template["metadata"]["labels"] = labels
    return "staging", [_workload(kind, name, namespace, template)]


def _edited(stack, stacks, name, edit, type_=None, new_name=None):
    """The stack with one of its resources edited (and, with new_name, added as another resource)."""
    resources = stacks[stack]
    original_type, _, props = _find(resources, name)
    edit(props)
    if new_name:
        return stack, [(type_ or original_type, new_name, props)]
    return stack, _replace(resources, name, props), name


def _agent_release(props, key="extraInitContainers"):
    return props["values"]["controller"][key][0]


def _with_env(container, name, value):
    next(e for e in container["env"] if e["name"] == name)["value"] = value


def _drop_module(props):
    del props["values"]["controller"]["config"]["main-snippet"]


PROBES = {
    # 1. Services and ServicePatches back to the app port.
    "servicepatch-app-port-number": (validate_no_bypass, lambda s: _prod_patch(s, "p-sp-number", [
        {"port": 80, "targetPort": 8080}])),
    "servicepatch-app-port-name": (validate_no_bypass, lambda s: _prod_patch(s, "p-sp-name", [
        {"port": 80, "targetPort": "http"}])),
    "servicepatch-app-port-digit-string": (validate_no_bypass, lambda s: _prod_patch(s, "p-sp-digits", [
        {"port": 80, "targetPort": "8080"}])),
    "servicepatch-without-namespace": (validate_no_bypass, lambda s: _prod_patch(s, "p-sp-nons", [
        {"port": 80, "targetPort": 8080}], namespace=None)),
    "servicepatch-new-port-defaults-to-app-port": (validate_no_bypass, lambda s: _prod_patch(s, "p-sp-default", [
        {"port": 8080, "protocol": "TCP"}])),
    "service-redeclared-with-app-port": (validate_no_bypass, lambda s: ("prod", [_service(
        "p-svc-redeclared", "checkout", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": 8080}])])),
    "servicepatch-owned-app": (validate_no_bypass, lambda s: ("staging", [_service_patch(
        "p-sp-owned", "storefront", "shop", [{"name": "http", "port": 8080, "targetPort": 8080}])])),
    "servicepatch-owned-app-selector": (validate_no_bypass, lambda s: ("staging", [_service_patch(
        "p-sp-selector", "storefront", "shop", [], selector={"app.kubernetes.io/name": "storefront-legacy"})])),
    "service-without-namespace-selecting-app": (validate_no_bypass, lambda s: ("staging", [_service(
        "p-svc-nons", "storefront-direct", None, {"app.kubernetes.io/name": "storefront"},
        [{"port": 80, "targetPort": "http"}])])),
    "service-exposing-agents-upstream": (validate_no_bypass, lambda s: ("prod", [_service(
        "p-svc-upstream-lb", "payments-api", "payments", {"app": "payments-api"}, [{"port": 9000}],
        type="LoadBalancer")])),
    # 2. Pods without the agent behind a protected selector.
    "deployment-canary-without-agent": (validate_no_unprotected_pods,
                                        lambda s: _staging_pods(s, "Deployment", "p-canary")),
    "cronjob-with-app-labels": (validate_no_unprotected_pods, lambda s: _staging_pods(s, "CronJob", "p-cron")),
    "pod-without-namespace-with-app-labels": (validate_no_unprotected_pods,
                                              lambda s: _staging_pods(s, "Pod", "p-pod", namespace=None)),
    "deploymentpatch-adding-app-labels": (validate_no_unprotected_pods, lambda s: ("staging", [(
        DEPLOYMENT_PATCH, "p-relabel", {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "metadata": {"name": "legacy-web", "namespace": "shop"},
                                        "spec": {"template": {"metadata": {"labels": {
                                            "app.kubernetes.io/name": "storefront"}}}}})])),
    "statefulset-behind-agents-service": (validate_no_unprotected_pods, lambda s: ("prod", [_workload(
        "StatefulSet", "p-shadow", "payments", _template_without_agent(_props(s["prod"], "storefront.shop-deployment")),
        labels=_props(s["prod"], "payments.payments-deployment")["spec"]["template"]["metadata"]["labels"])])),
    # 3. Ingresses of another class.
    "ingress-other-class-to-upstream": (validate_no_bypass_ingress, lambda s: ("prod", [_ingress(
        "p-ing-class", "pay", "payments", "payments-api", 9000, "nginx")])),
    "ingress-no-class-to-upstream": (validate_no_bypass_ingress, lambda s: ("prod", [_ingress(
        "p-ing-noclass", "pay", "payments", "payments-api", 9000)])),
    "ingress-default-backend-to-upstream": (validate_no_bypass_ingress, lambda s: ("prod", [_ingress(
        "p-ing-default", "pay", "payments", "payments-api", 9000, "traefik", default=True)])),
    "ingress-without-namespace-to-upstream": (validate_no_bypass_ingress, lambda s: ("prod", [_ingress(
        "p-ing-nons", "pay", None, "payments-api", 9000, "nginx")])),
    "ingress-annotation-class-to-waf-route": (validate_no_bypass_ingress, lambda s: ("staging", [_ingress(
        "p-ing-annotation", "cat", "shop", "catalog", 80, annotations={"kubernetes.io/ingress.class": "nginx"})])),
    "ingresspatch-moving-waf-route": (validate_no_bypass_ingress, lambda s: ("staging", [(
        INGRESS_PATCH, "p-ing-patch", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                       "metadata": {"name": "catalog", "namespace": "shop"},
                                       "spec": {"ingressClassName": "nginx"}})])),
    # 5. The agent under another name.
    "renamed-agent-writable-root": (validate_agent_hardened, lambda s: _edited(
        "staging", s, "storefront.shop-deployment", lambda p: _agent(p).update(
            name="waf", securityContext={"readOnlyRootFilesystem": False}), new_name="p-renamed-agent")),
    "renamed-agent-latest-in-chart": (validate_pinned_versions, lambda s: _edited(
        "staging", s, "ingress-release", lambda p: _agent_release(p, "initContainers").update(
            name="waf", image=AGENT_MIRROR + ":latest"), new_name="p-chart-latest")),
    # 6. Literal keys.
    "cronjob-literal-key": (validate_agent_hardened, lambda s: ("staging", [_workload(
        "CronJob", "p-cron-key", "shop", _with_literal_keys(_props(s["staging"], "storefront.shop-deployment")[
            "spec"]["template"]))])),
    "job-args-literal-key": (validate_agent_hardened, lambda s: _edited(
        "staging", s, "storefront.shop-deployment", lambda p: _agent(p).update(args=["--secretaccesskey", "x1"]),
        type_="kubernetes:batch/v1:Job", new_name="p-job-args")),
    "statefulsetpatch-literal-key": (validate_agent_hardened, lambda s: _edited(
        "prod", s, "checkout.shop-deployment-patch", lambda p: _with_env(_agent(p), "SIGSCI_SECRETACCESSKEY", "x"),
        type_="kubernetes:apps/v1:StatefulSetPatch", new_name="p-sts-patch")),
    "chart-extra-envs-literal-key": (validate_agent_hardened, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"].update(
            extraEnvs=[{"name": "SIGSCI_ACCESSKEYID", "value": "x"}]), new_name="p-chart-env")),
    "agent-key-from-config-map": (validate_agent_hardened, lambda s: _edited(
        "staging", s, "storefront.shop-deployment", lambda p: _agent(p)["env"].__setitem__(0, {
            "name": "SIGSCI_ACCESSKEYID", "valueFrom": {"configMapKeyRef": {"name": "k", "key": "k"}}}),
        new_name="p-configmap-ref")),
    "config-map-with-keys": (validate_agent_hardened, lambda s: ("staging", [(
        "kubernetes:core/v1:ConfigMap", "p-configmap", {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "env", "namespace": "shop"},
                                                        "data": {"secretaccesskey": "x"}})])),
    # 7. Malformed digests.
    "agent-digest-too-short": (validate_image_digests, lambda s: _edited(
        "staging", s, "storefront.shop-deployment", lambda p: _agent(p).update(
            image="signalsciences/sigsci-agent:4.70.0@sha256:abc123"), new_name="p-digest-short")),
    "controller-digest-upper-case": (validate_image_digests, lambda s: _edited(
        "staging", s, "ingress-release", lambda p: p["values"]["controller"]["image"].update(
            digest="sha256:" + "AB" * 32), new_name="p-digest-upper")),
    "ingress-nginx-default-digest-kept": (validate_image_digests, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"]["image"].pop("digest"),
        new_name="p-digest-kept")),
    # 8. The controller without its module.
    "main-snippet-dropped": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", _drop_module, new_name="p-no-main")),
    "http-snippet-dropped": (validate_controller_module, lambda s: _edited(
        "staging", s, "ingress-release", lambda p: p["values"]["controller"]["config"]["entries"].pop(
            "http-snippets"), new_name="p-no-http")),
    "config-map-namespace": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"].update(configMapNamespace="other"),
        new_name="p-cm-namespace")),
    "extra-args-configmap": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"].update(
            extraArgs={"configmap": "other/nginx"}), new_name="p-extra-args")),
    "custom-template": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"].update(
            customTemplate={"configMapName": "tmpl", "configMapKey": "nginx.tmpl"}), new_name="p-template")),
    "f5-custom-config-map": (validate_controller_module, lambda s: _edited(
        "prod", s, "ingress-release", lambda p: p["values"]["controller"].update(customConfigMap="plain"),
        new_name="p-f5-cm")),
    "socket-path-mismatch": (validate_controller_module, lambda s: _edited(
        "staging", s, "ingress-release", lambda p: p["values"]["controller"]["config"]["entries"].update({
            "http-snippets": "sigsci_agent_host unix:/tmp/sigsci.sock;"}), new_name="p-socket")),
    "helm-v4-chart-without-module": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", _drop_module, type_=CHART_V4, new_name="p-v4-chart")),
    "stock-controller-image-with-agent": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: p["values"]["controller"]["image"].update(
            repository="registry.k8s.io/ingress-nginx/controller", tag="v1.15.1"), new_name="p-stock-image")),
    "revproxy-agent-in-controller-pod": (validate_controller_module, lambda s: _edited(
        "dev", s, "ingress-release", lambda p: _agent_release(p)["env"].append({
            "name": "SIGSCI_REVPROXY_LISTENER",
            "value": "http:{listener=http://0.0.0.0:8001,upstreams=http://127.0.0.1:80}"}),
        new_name="p-revproxy")),
    # 9. Gateway API: around the WAF'd Gateway, inside it, and its policy failing open.
    "httproute-other-gateway-to-upstream": (validate_no_bypass_route, lambda s: ("prod", [route(
        "p-route-upstream", "payments", [parent("public", "edge")], [backend("payments-api", 9000)]), PUBLIC])),
    "tcproute-other-gateway-to-waf-route": (validate_no_bypass_route, lambda s: ("staging", [route(
        "p-tcp-catalog", "shop", [parent("public", "edge")], [backend("catalog", 80)], kind="TCPRoute",
        version="v1alpha2"), PUBLIC])),
    "route-level-policy-replacing-the-waf": (validate_gateway_covered, lambda s: ("dev", [eep(
        "p-eep-route", refs=[ref("HTTPRoute", "helloworld")], ext_proc=[OTHER_EXT_PROC])])),
    "route-selector-policy-replacing-the-waf": (validate_gateway_covered, lambda s: ("dev", [eep(
        "p-eep-selector", selectors=[{"kind": "HTTPRoute", "matchLabels": {"app.kubernetes.io/name": "sigsci-waf"}}],
        ext_proc=[OTHER_EXT_PROC])])),
    "second-gateway-level-policy": (validate_gateway_covered, lambda s: ("dev", [eep(
        "p-eep-gateway", refs=[ref("Gateway", "sigsci-gateway")], ext_proc=[OTHER_EXT_PROC])])),
    "tlsroute-on-waf-gateway": (validate_gateway_covered, lambda s: ("dev", [route(
        "p-tls", parents=[parent()], backends=[backend("helloworld", 8000, "default")], kind="TLSRoute")])),
    "extproc-fail-open-patch": (validate_extproc_fail_closed, lambda s: ("dev", [eep(
        "p-eep-fail-open", patch=True, name="sigsci-waf", ext_proc=[agents_ext_proc(failOpen=True)])])),
    "extproc-route-level-short-timeout": (validate_extproc_fail_closed, lambda s: ("dev", [eep(
        "p-eep-timeout", refs=[ref("HTTPRoute", "helloworld")],
        ext_proc=[agents_ext_proc(messageTimeout="200ms")])])),
    # 10. NetworkPolicies: one more reopening the app's port, an egress policy cutting the controller off.
    "networkpolicy-admitting-all-to-waf-pods": (validate_no_bypass_network_policy, lambda s: ("staging", [
        network_policy("p-np-open", "allow-all", "shop", {}, ingress=[{}])])),
    "networkpolicy-app-port-from-every-namespace": (validate_no_bypass_network_policy, lambda s: ("prod", [
        network_policy("p-np-namespaces", "storefront-metrics", "shop", STOREFRONT,
                       ingress=[{"from": [{"namespaceSelector": {}}], "ports": [{"port": "http"}]}])])),
    "networkpolicypatch-reopening-app-port": (validate_no_bypass_network_policy, lambda s: ("prod", [
        network_policy("p-np-patch", "storefront", "shop", ingress=[{"ports": [{"port": 8001}, {"port": 8080}]}],
                       patch=True)])),
    "default-deny-egress-on-controller": (validate_controller_reaches_agents, lambda s: ("prod", [
        network_policy("p-egress-deny", "default-deny-egress", "sigsci-ingress", {}, types=["Egress"])])),
    "controller-egress-dns-only": (validate_controller_reaches_agents, lambda s: ("prod", [
        egress_policy("p-egress-dns", DNS)])),
    # 11. A second Service to a patched app's port.
    "second-service-to-patched-app-port": (validate_no_bypass, lambda s: ("prod", [_service(
        "p-svc-second", "checkout-direct", "shop", {"app": "checkout"}, [{"port": 80, "targetPort": 8080}])])),
    "servicepatch-of-another-service-to-patched-app-port": (validate_no_bypass, lambda s: ("staging", [
        _service_patch("p-sp-other", "checkout-internal", "shop", [{"port": 8080}])])),
}


def _probe(stacks, builder):
    built = builder(stacks)
    if len(built) == 3:  # the stack with a resource edited in place
        stack, resources, name = built
        return stack, resources, name
    stack, extra = built
    return stack, [*stacks[stack], *extra], extra[0][1]


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_each_hostile_probe_is_reported(stacks, probe):
    validate, builder = PROBES[probe]
    stack, resources, name = _probe(stacks, builder)
    config = STACK_CONFIG.get(stack)
    assert violations(validate, stacks[stack], config) == []  # the stack alone is clean
    found = violations(validate, resources, config)
    assert found, f"{probe} passes {validate.__name__}"
    assert all(name in f for f in found), found  # every message names the probe's resource


def test_every_hostile_probe_is_reported(stacks):
    """The whole table in one go: at least twenty probes, none passing the pack."""
    missed = []
    for probe, (validate, builder) in sorted(PROBES.items()):
        stack, resources, name = _probe(stacks, builder)
        if not [f for f in violations(validate, resources, STACK_CONFIG.get(stack)) if name in f]:
            missed.append(probe)
    assert len(PROBES) >= 20
    assert missed == []


# -- as CrossGuard really calls the pack: proxies, numbers as floats, values unknown during preview ----------

def _as_the_engine_sends(value):
    """Props as pulumi_policy hands them over: numbers as floats (protobuf Struct), wrapped in the proxy that
    raises UnknownValueError on a value the preview cannot know."""
    from pulumi_policy.proxy import unknown_checking_proxy

    def floats(v):
        if isinstance(v, dict):
            return {k: floats(x) for k, x in v.items()}
        if isinstance(v, list):
            return [floats(x) for x in v]
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    return unknown_checking_proxy(floats(value))


def _engine_violations(validate, resources, config=None):
    from pulumi_policy import ResourceValidationArgs

    found = []
    report = lambda message, urn=None: found.append(message)  # noqa: E731
    if validate in STACK_POLICIES:
        validate(StackValidationArgs([PolicyResource(t, _as_the_engine_sends(p), f"urn:{n}", n, OPTIONS, None, None,
                                                     [], {}) for t, n, p in resources]), report)
    else:
        for t, n, p in resources:
            validate(ResourceValidationArgs(t, _as_the_engine_sends(p), f"urn:{n}", n, OPTIONS, None, config or {}),
                     report)
    return found


def test_through_the_engines_proxies_the_stacks_pass_and_the_probes_are_reported(stacks):
    for stack, resources in stacks.items():
        for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
            assert _engine_violations(validate, resources, STACK_CONFIG.get(stack)) == [], (stack, validate.__name__)
    missed = []
    for probe, (validate, builder) in sorted(PROBES.items()):
        stack, resources, name = _probe(stacks, builder)
        if not [f for f in _engine_violations(validate, resources, STACK_CONFIG.get(stack)) if name in f]:
            missed.append(probe)
    assert missed == []


def test_values_unknown_during_preview_neither_crash_nor_pass_a_literal(stacks):
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    deployment = _props(stacks["staging"], "storefront.shop-deployment")
    deployment["spec"]["template"]["metadata"]["annotations"]["sigsci.fastly.com/credentials-hash"] = \
        UNKNOWN_STRING_VALUE
    for entry in _agent(deployment)["env"][:2]:
        entry["valueFrom"]["secretKeyRef"]["name"] = UNKNOWN_STRING_VALUE  # a Secret the stack creates
    resources = _replace(stacks["staging"], "storefront.shop-deployment", deployment)
    for validate in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert _engine_violations(validate, resources) == [], validate.__name__
    _agent(deployment)["env"][0] = {"name": "SIGSCI_ACCESSKEYID", "value": UNKNOWN_STRING_VALUE}
    found = _engine_violations(validate_agent_hardened, [(DEPLOYMENT, "storefront", deployment)])
    assert len(found) == 1 and "SIGSCI_ACCESSKEYID as a literal" in found[0]



def test_network_policies_and_selectors_computed_during_the_update(stacks):
    """A selector or peer unknown during a preview decides nothing: no report that the update could prove wrong; a
    Service whose selector is unknown is matched by its port, as one the pack cannot decide."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    staging, prod = stacks["staging"], stacks["prod"]
    unknown = {"matchLabels": {"app.kubernetes.io/name": UNKNOWN_STRING_VALUE}}
    assert _engine_violations(validate_no_bypass_network_policy, [
        *staging, network_policy("np", "np", "shop", unknown, ingress=[{}])]) == []
    assert len(_engine_violations(validate_no_bypass_network_policy, [
        *staging, network_policy("np", "np", "shop", STOREFRONT, ingress=[{}])])) == 1
    assert _engine_violations(validate_controller_reaches_agents, [
        *prod, egress_policy("np", DNS, to_agents(peer={"podSelector": unknown}))]) == []
    assert len(_engine_violations(validate_controller_reaches_agents, [
        *prod, egress_policy("np", DNS, to_agents(peer={"podSelector": {"matchLabels": {"app": "x"}}}))])) == 1
    service = _service("second", "checkout-direct", "shop", {"app": UNKNOWN_STRING_VALUE},
                       [{"port": 80, "targetPort": 8080}])
    found = _engine_violations(validate_no_bypass, [*prod, service])
    assert len(found) == 1 and "may select its pods" in found[0]


# -- the owner took the field back -----------------------------------------------------------------------------

def _live_checkout(target) -> tuple[str, str, dict]:
    """The stack's read of the patched Service (`<app>-service-live`), as the cluster holds it."""
    return (SERVICE, "checkout.shop-service-live",
            {"metadata": {"name": "checkout", "namespace": "shop"},
             "spec": {"selector": {"app": "checkout"},
                      "ports": [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": target}]}})


@pytest.mark.parametrize("target, reported", [(8080, True), ("http", True), ("sigsci-http", False)])
def test_a_patched_service_read_back_around_the_waf_is_reported(stacks, target, reported):
    """The owner's redeploy put its own targetPort back: the next preview reads it, and the pack says so."""
    prod = stacks["prod"]
    found = violations(validate_no_bypass, [*prod, _live_checkout(target)])
    assert bool(found) is reported, found
