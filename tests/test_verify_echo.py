"""`sigsci:verify`: the echo backend that `make verify` proves the ingress controller and the Gateway with.

Its config (good values, and bad ones stopped with one line naming the key), the objects it makes (hardened, no
agent, a NetworkPolicy that admits the entries only), and its route: served by every entry from the same route
list as theirs, so the rules of routes hold for it and each entry inspects it as any other (the Gateway's
ext_proc covers its HTTPRoute; an Ingress of the controller's class); the policy pack passes on it and still
reports a policy that would take it out of the WAF.
"""

from __future__ import annotations

import copy
import json

import pytest

import harness
from gateway_objects import WAF_POLICY, WASM, eep, ref
from harness import clean, unwrap_secrets
from schema_check import as_applied, served_at, validate, validate_custom, versions
from sigsci_waf.config.verify import (DEFAULT_ECHO_HOST, DEFAULT_ECHO_IMAGE, DEFAULT_VERIFY_NAMESPACE, ECHO_PATH,
                                      ECHO_RESOURCES)
from test_bad_config import test_bad_config_names_the_key as names_the_key
from test_policy_pack import RESOURCE_POLICIES, STACK_POLICIES, _resources, violations
from test_policy_pack import validate_gateway_covered, validate_no_bypass_ingress

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}
BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [APP]}
ECHO = {"echo": True}


def config(verify=ECHO, **keys) -> dict:
    """A stack with an app, an ingress controller and a Gateway (unless a key says None), and `verify`."""
    result = {**BASE, "sigsci:ingress": {"routes": [{"app": "web", "host": "shop.example.com"}]},
              "sigsci:gateway": {"routes": [{"app": "web", "host": "shop.example.com"}]}, "sigsci:verify": verify}
    result.update({f"sigsci:{k}": v for k, v in keys.items()})
    return {k: v for k, v in result.items() if v is not None}


def objects(run) -> dict[str, dict]:
    return {r.name: unwrap_secrets(clean(r.inputs)) for r in run.resources if r.is_object}


def echo_objects(run) -> dict[str, dict]:
    return {o["kind"]: o for name, o in objects(run).items() if name.startswith("verify-echo-")}


@pytest.fixture(scope="module")
def both():
    return harness.run_config(config())


# -- config ----------------------------------------------------------------------------------------------------

BAD = [
    # (id, config, the key the error names, a fragment of the sentence)
    ("echo-not-a-switch", config({"echo": "yes"}), "sigsci:verify.echo", "must be true or false"),
    ("not-an-object", config(True), "sigsci:verify", "must be an object such as {echo: true}"),
    ("unknown-key", config({"echo": True, "hosts": "a.example.com"}), "sigsci:verify.hosts", "did you mean host?"),
    ("namespace-not-dns", config({"echo": True, "namespace": "Verify_NS"}), "sigsci:verify.namespace",
     "DNS-1123 label"),
    ("wildcard-host", config({"echo": True, "host": "*.example.com"}), "sigsci:verify.host", "no wildcard"),
    ("ip-host", config({"echo": True, "host": "10.0.0.1"}), "sigsci:verify.host", "no IP address"),
    ("upper-case-host", config({"echo": True, "host": "Verify.example.com"}), "sigsci:verify.host", "a host name"),
    ("untagged-image", config({"echo": True, "image": "mendhak/http-https-echo"}), "sigsci:verify.image",
     "is not pinned"),
    ("latest-image", config({"echo": True, "image": "mendhak/http-https-echo:latest"}), "sigsci:verify.image",
     "is not pinned"),
    ("registry-port-is-no-tag", config({"echo": True, "image": "registry.example.com:5000/echo"}),
     "sigsci:verify.image", "is not pinned"),
    ("bad-image", config({"echo": True, "image": "not an image"}), "sigsci:verify.image",
     "container image reference"),
    ("bad-quantity", config({"echo": True, "resources": {"requests": {"cpu": "lots"}}}),
     "sigsci:verify.resources.requests.cpu", "not a Kubernetes quantity"),
    ("limit-below-default-request", config({"echo": True, "resources": {"limits": {"memory": "32Mi"}}}),
     "sigsci:verify.resources.limits.memory", "below the default requests.memory 64Mi"),
    ("keys-without-echo", config({"namespace": "checks"}), "sigsci:verify.namespace", "applies only with echo: true"),
    ("echo-false-with-a-host", config({"echo": False, "host": "a.example.com"}), "sigsci:verify.host",
     "applies only with echo: true"),
    ("no-entry", config(ingress=None, gateway=None), "sigsci:verify.echo",
     "neither sigsci:ingress nor sigsci:gateway"),
    ("an-app-s-namespace", config({"echo": True, "namespace": "default"}), "sigsci:verify.namespace",
     "is already sigsci:apps[0].namespace"),
    ("the-ingress-namespace", config({"echo": True, "namespace": "sigsci-ingress"}), "sigsci:verify.namespace",
     "is already sigsci:ingress.namespace"),
    ("the-gateway-namespace", config({"echo": True, "namespace": "sigsci-gateway"}), "sigsci:verify.namespace",
     "is already sigsci:gateway.namespace"),
    ("envoy-gateway-s-namespace", config({"echo": True, "namespace": "envoy-gateway-system"}),
     "sigsci:verify.namespace", "is already sigsci:gateway.envoyGateway.namespace"),
    # The echo's route is one of the entries' routes: their rules hold, and name the user's route.
    ("your-ingress-route-on-its-host-and-path", config(ingress={"routes": [
        {"service": {"name": "other", "port": 80}, "host": DEFAULT_ECHO_HOST, "path": ECHO_PATH}]}),
     "sigsci:ingress.routes[0].path", "already routed by sigsci:verify on IngressClass sigsci-nginx"),
    ("your-ingress-route-of-its-name", config(ingress={"routes": [
        {"name": "sigsci-verify", "service": {"name": "other", "port": 80}, "namespace": "sigsci-verify"}]}),
     "sigsci:ingress.routes[0].name", "Ingress sigsci-verify/sigsci-verify is already made by sigsci:verify"),
    ("your-gateway-route-of-its-name", config(gateway={"routes": [
        {"name": "sigsci-verify", "service": {"name": "other", "port": 80}}]}),
     "sigsci:gateway.routes[0].name", "HTTPRoute sigsci-gateway/sigsci-verify is already made by sigsci:verify"),
    ("your-gateway-route-on-its-host-and-path", config(gateway={"routes": [
        {"service": {"name": "other", "port": 80}, "host": DEFAULT_ECHO_HOST, "path": ECHO_PATH}]}),
     "sigsci:gateway.routes[0].path", "already routed by sigsci:verify on Gateway sigsci-gateway/sigsci-gateway"),
]


@pytest.mark.parametrize("cfg,key,fragment", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_is_one_line_naming_the_key(cfg, key, fragment):
    names_the_key(cfg, key, fragment)  # one line, as every ConfigError is


GOOD = [
    ("defaults", ECHO),
    ("its-own-choices", {"echo": True, "namespace": "checks", "host": "verify.shop.example.com",
                         "image": "registry.example.com:5000/mirror/http-https-echo:41",
                         "resources": {"requests": {"cpu": "50m"}, "limits": {"memory": "256Mi"}}}),
    ("by-digest", {"echo": True, "image": f"{DEFAULT_ECHO_IMAGE.split(':')[0]}@sha256:{'ab' * 32}"}),
]


@pytest.mark.parametrize("verify", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_good_config(verify):
    run = harness.run_config(config(verify))
    echo = echo_objects(run)
    assert sorted(echo) == ["Deployment", "NetworkPolicy", "Service"]
    namespace = verify.get("namespace", DEFAULT_VERIFY_NAMESPACE)
    assert {o["metadata"]["namespace"] for o in echo.values()} == {namespace}
    container = echo["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == verify.get("image", DEFAULT_ECHO_IMAGE)
    assert clean(run.outputs["verify"]) == {"echo": {"host": verify.get("host", DEFAULT_ECHO_HOST), "path": ECHO_PATH,
                                                     "namespace": namespace, "service": "sigsci-echo"}}


@pytest.mark.parametrize("verify", [None, {"echo": False}], ids=["unset", "echo-false"])
def test_no_echo_makes_nothing(verify):
    run = harness.run_config(config(verify))
    assert echo_objects(run) == {} and "verify" not in run.outputs
    assert not [name for name, o in objects(run).items() if o["kind"] in ("Ingress", "HTTPRoute")
                and o["metadata"]["name"] == "sigsci-verify"]
    assert "namespace-sigsci-verify" not in [r.name for r in run.resources]


# -- the echo's objects ----------------------------------------------------------------------------------------

def test_the_echo_is_hardened_pinned_and_runs_no_agent(both):
    deployment = echo_objects(both)["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert "initContainers" not in pod and container["name"] == "sigsci-echo"
    assert container["image"] == DEFAULT_ECHO_IMAGE and container["imagePullPolicy"] == "IfNotPresent"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
        "readOnlyRootFilesystem": True, "runAsGroup": 10001, "runAsNonRoot": True, "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert container["resources"] == {"requests": {"cpu": ECHO_RESOURCES.requests.cpu,
                                                   "memory": ECHO_RESOURCES.requests.memory},
                                      "limits": {"cpu": ECHO_RESOURCES.limits.cpu, "memory": ECHO_RESOURCES.limits.memory}}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    # Its HTTP listener, and the echoes kept out of its log; nothing secret, no agent keys.
    assert container["env"] == [{"name": "HTTP_PORT", "value": "8080"}, {"name": "LOG_IGNORE_PATH", "value": ".*"}]
    assert "secretKeyRef" not in json.dumps(deployment) and "credentials-hash" not in json.dumps(deployment)
    assert deployment["spec"]["replicas"] == 1


def test_the_service_and_its_namespace(both):
    service = echo_objects(both)["Service"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert service["spec"]["selector"] == echo_objects(both)["Deployment"]["spec"]["selector"]["matchLabels"]
    namespace = both.named("namespace-sigsci-verify")
    assert clean(namespace.inputs)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    # No agent runs there, so no agent keys go there.
    assert not [r for r in both.of_type("kubernetes:core/v1:Secret")
                if clean(r.inputs)["metadata"]["namespace"] == DEFAULT_VERIFY_NAMESPACE]


def test_an_existing_namespace_is_not_created():
    run = harness.run_config({**config(), "sigsci:existingNamespaces": [DEFAULT_VERIFY_NAMESPACE]})
    assert "namespace-sigsci-verify" not in [r.name for r in run.resources]
    assert echo_objects(run)["Deployment"]["metadata"]["namespace"] == DEFAULT_VERIFY_NAMESPACE


def _peers(run) -> list[dict]:
    [rule] = echo_objects(run)["NetworkPolicy"]["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    return rule["from"]


def test_the_network_policy_admits_the_controller_and_envoy_gateway_s_proxies_only(both):
    policy = echo_objects(both)["NetworkPolicy"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["podSelector"]["matchLabels"] == echo_objects(both)["Service"]["spec"]["selector"]
    assert _peers(both) == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sigsci-ingress"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx",
                                         "app.kubernetes.io/instance": "sigsci-ingress-nginx",
                                         "app.kubernetes.io/component": "controller"}}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {
            "app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
            "app.kubernetes.io/managed-by": "envoy-gateway"}}}]


def test_the_network_policy_follows_the_flavour_and_istio():
    run = harness.run_config(config(ingress={"flavour": "nginx-ingress", "namespace": "edge-in"},
                                    gateway={"implementation": "istio", "namespace": "agents",
                                             "existingGateway": {"namespace": "edge", "name": "public"}}))
    assert _peers(run) == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge-in"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "nginx-ingress",
                                         "app.kubernetes.io/instance": "sigsci-nginx-ingress"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}},
         "podSelector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "public"}}}]
    # The agents' own policies are the same peers as before: one definition of each implementation's proxies.
    agents = objects(run)["gateway-agent-networkpolicy"]["spec"]["ingress"][0]["from"]
    assert agents == [_peers(run)[1]]


# -- its routes: every entry's, inspected like the rest -----------------------------------------------------

def test_the_ingress_of_the_controller_s_class(both):
    ingress = objects(both)["ingress-route-sigsci-verify.sigsci-verify"]
    assert ingress["metadata"]["namespace"] == DEFAULT_VERIFY_NAMESPACE
    assert ingress["spec"] == {"ingressClassName": "sigsci-nginx", "rules": [{"host": DEFAULT_ECHO_HOST, "http": {
        "paths": [{"path": ECHO_PATH, "pathType": "Prefix",
                   "backend": {"service": {"name": "sigsci-echo", "port": {"number": 80}}}}]}}]}
    other = harness.run_config(config(ingress={"ingressClass": {"name": "waf"}}))
    assert objects(other)["ingress-route-sigsci-verify.sigsci-verify"]["spec"]["ingressClassName"] == "waf"


def test_the_echo_route_comes_first_and_leaves_the_others_as_they_were(both):
    names = [r.name for r in both.resources if r.type.endswith((":Ingress", ":HTTPRoute"))]
    assert names == ["ingress-route-sigsci-verify.sigsci-verify", "ingress-route-default.web",
                     "gateway-httproute.sigsci-gateway.sigsci-verify", "gateway-httproute.sigsci-gateway.web"]
    without = harness.run_config(config(None))
    for name in ("ingress-route-default.web", "gateway-httproute.sigsci-gateway.web"):
        assert objects(without)[name] == objects(both)[name]


def test_the_httproute_is_on_the_gateway_with_its_grant(both):
    route = objects(both)["gateway-httproute.sigsci-gateway.sigsci-verify"]
    assert route["metadata"]["namespace"] == "sigsci-gateway"
    assert route["spec"] == {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "sigsci-gateway"}],
        "hostnames": [DEFAULT_ECHO_HOST],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": ECHO_PATH}}],
                   "backendRefs": [{"group": "", "kind": "Service", "name": "sigsci-echo", "port": 80,
                                    "namespace": DEFAULT_VERIFY_NAMESPACE}]}]}
    grant = objects(both)["gateway-referencegrant.sigsci-verify.sigsci-gateway.sigsci-gateway.sigsci-echo"]
    assert grant["metadata"]["namespace"] == DEFAULT_VERIFY_NAMESPACE
    assert grant["spec"] == {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
                                       "namespace": "sigsci-gateway"}],
                             "to": [{"group": "", "kind": "Service", "name": "sigsci-echo"}]}


def test_the_gateway_s_ext_proc_covers_the_echo_route_and_fails_closed(both):
    """The one EnvoyExtensionPolicy targets the whole Gateway the echo's HTTPRoute is attached to: no policy of
    its own, no exemption; it waits for that policy like every route."""
    found = objects(both)
    policies = [o for o in found.values() if o["kind"] == "EnvoyExtensionPolicy"]
    assert len(policies) == 1
    [policy] = policies
    assert policy["spec"]["targetRefs"] == found["gateway-httproute.sigsci-gateway.sigsci-verify"]["spec"]["parentRefs"]
    assert policy["spec"]["extProc"][0]["failOpen"] is False
    depends = both.options["gateway-httproute.sigsci-gateway.sigsci-verify"]["dependsOn"]
    assert "gateway-envoyextensionpolicy.sigsci-waf" in depends


def test_with_istio_the_filter_selects_the_gateway_the_echo_route_is_on():
    run = harness.run_config(config(gateway={"implementation": "istio", "namespace": "agents",
                                             "existingGateway": {"namespace": "edge", "name": "public"}}))
    found = objects(run)
    route = found["gateway-httproute.edge.sigsci-verify"]
    [envoy_filter] = [o for o in found.values() if o["kind"] == "EnvoyFilter"]
    assert route["spec"]["parentRefs"][0]["name"] == "public"
    assert envoy_filter["metadata"]["namespace"] == "edge"
    assert envoy_filter["spec"]["workloadSelector"]["labels"] == {"gateway.networking.k8s.io/gateway-name": "public"}
    assert envoy_filter["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["failure_mode_allow"] is False


def _waits_for(run, name: str) -> set[str]:
    """Everything `name` waits for, directly or through what it waits for (the engine's order of creation, and
    the reverse order of deletion)."""
    seen: set[str] = set()
    pending = [name]
    while pending:
        for dependency in run.options.get(pending.pop(), {}).get("dependsOn", []):
            if dependency not in seen:
                seen.add(dependency)
                pending.append(dependency)
    return seen


def test_the_entries_objects_in_the_echo_s_namespace_wait_for_it(both):
    in_echo = [r.name for r in both.resources if r.type.rsplit(":", 1)[-1] in ("Ingress", "HTTPRoute", "ReferenceGrant")
               and clean(r.inputs)["metadata"]["namespace"] == "sigsci-verify"]
    assert {name.split("-", 1)[0] for name in in_echo} == {"ingress", "gateway"}
    for name in [*in_echo, "verify-echo-deployment"]:
        assert "namespace-sigsci-verify" in _waits_for(both, name), name


# -- checked like every object of the stacks --------------------------------------------------------------------

SHAPES = {
    "both": config(),
    "nginx-ingress-and-istio": config(ingress={"flavour": "nginx-ingress", "routes": [{"app": "web",
                                                                                     "host": "shop.example.com"}]},
                                      gateway={"implementation": "istio", "namespace": "agents",
                                               "existingGateway": {"namespace": "edge", "name": "public"}}),
    "ingress-only": config(gateway=None),
    "gateway-only": config(ingress=None),
}


@pytest.fixture(scope="module")
def shapes() -> dict:
    return {name: harness.run_config(cfg) for name, cfg in SHAPES.items()}


def test_the_echo_s_objects_are_valid_for_kubernetes_and_their_crds(shapes):
    checked = 0
    for run in shapes.values():
        for resource in run.resources:
            obj = clean(resource.inputs)
            if not resource.is_object or "verify" not in json.dumps(obj.get("metadata", {})) + resource.name:
                continue
            if obj["apiVersion"].startswith("gateway.networking.k8s.io/"):
                validate_custom(unwrap_secrets(obj))
            else:
                for version in (versions()[0], versions()[-1]):
                    validate(as_applied(resource.type, obj), served_at(obj, version))
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_the_policy_pack_passes_on_the_echo(shape, shapes):
    resources = _resources(shapes[shape])
    assert any(name.startswith("verify-echo-") for _, name, _ in resources)
    for validate_policy in (*STACK_POLICIES, *RESOURCE_POLICIES):
        assert violations(validate_policy, resources) == [], validate_policy.__name__


def test_a_policy_that_takes_the_echo_route_out_of_the_waf_is_reported(both):
    """Fail-open is the worst bug: a route-level policy without the agents on the echo's HTTPRoute replaces the
    WAF's there, and the pack says so, as for any route."""
    resources = _resources(both)
    probe = eep("echo-exempt", refs=[ref("HTTPRoute", "sigsci-verify")], wasm=WASM)
    found = violations(validate_gateway_covered, [*resources, probe])
    assert len(found) == 1 and "targets HTTPRoute sigsci-gateway/sigsci-verify" in found[0]
    assert WAF_POLICY in found[0]


def test_an_ingress_of_another_class_to_the_echo_is_reported(both):
    resources = _resources(both)
    around = copy.deepcopy(next(r for r in resources if r[1] == "ingress-route-sigsci-verify.sigsci-verify"))
    around[2]["spec"]["ingressClassName"] = "nginx"
    found = violations(validate_no_bypass_ingress, [*resources, (around[0], "around", around[2])])
    assert len(found) == 1 and "straight to Service sigsci-verify/sigsci-echo" in found[0]
