"""The policy pack on Gateway API and Envoy Gateway: `sigsci-gateway-covered`, `sigsci-extproc-fail-closed` and
`sigsci-no-bypass-route` (and `sigsci-no-bypass-ingress` where an Ingress reaches a Service the WAF'd Gateway
routes to), on what the package emits (the dev stack and gateway configs run under mocks) with hand-made
neighbours. Expectations are written by hand: which resource is reported, for what, how many times.
"""

from __future__ import annotations

import copy

import pytest
from pulumi_policy import PolicyResource, StackValidationArgs

import crd_schema
import harness
from gateway_objects import (BUFFER_POLICY, GATEWAY_API, HOME, OTHER_EXT_PROC, PACKAGE_LABELS, PUBLIC, WAF_FILTER,
                             WAF_POLICY, WASM, custom_object, agents_ext_proc, backend, ctp, eep, parent, ref, route)
from test_policy_coverage import _engine_violations, _ingress, _props, _replace, _service
from test_policy_pack import (OPTIONS, _resources, validate_extproc_fail_closed, validate_gateway_covered,
                              validate_no_bypass_ingress, validate_no_bypass_route)

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG,
        "sigsci:apps": [{"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080},
                        {"name": "payments", "placement": "service", "upstreamService": "payments-api",
                         "port": 9000}]}
# The Gateway with an HTTP and an HTTPS listener; routes to an app with its agent, to the agents of an app
# placed as its own Service, and to a plain Service in another namespace (which only the WAF inspects).
WIDE = {**BASE, "sigsci:gateway": {"listeners": {"tlsSecrets": ["shop-tls"]}, "routes": [
    {"app": "web", "host": "shop.example.com"}, {"app": "payments", "host": "pay.example.com"},
    {"service": {"name": "docs", "port": 8080}, "namespace": "docs"}]}}
EXISTING = {**BASE, "sigsci:gateway": {"existingGateway": {"namespace": "edge", "name": "public"},
                                       "envoyGateway": {"enabled": False},
                                       "routes": [{"service": {"name": "docs", "port": 8080}, "namespace": "docs"}]}}
PACKAGE_SHAPES = {
    "wide": WIDE,
    "existing-gateway": EXISTING,
    "requests-only-8Mi": {**BASE, "sigsci:gateway": {"inspectResponses": False, "bodyLimit": "8Mi",
                                                     "messageTimeout": "8s", "routes": [{"app": "web"}]}},
    "agents-elsewhere": {**BASE, "sigsci:gateway": {"namespace": "waf", "agents": {"port": 7443},
                                                    "existingGateway": {"namespace": "edge", "name": "public"},
                                                    "envoyGateway": {"enabled": False}, "routes": [{"app": "web"}]}},
}


@pytest.fixture(scope="module")
def dev():
    return _resources(harness.run_stack("dev"))


@pytest.fixture(scope="module")
def wide():
    return _resources(harness.run_config(WIDE))


@pytest.fixture(scope="module")
def existing():
    return _resources(harness.run_config(EXISTING))


def found(validate, resources, config=None) -> list[str]:
    """What a stack policy reports, called as CrossGuard calls it (with the policy's config)."""
    messages: list[str] = []
    validate(StackValidationArgs([PolicyResource(t, p, f"urn:{n}", n, OPTIONS, None, None, [], {})
                                  for t, n, p in resources], config or {}),
             lambda message, urn=None: messages.append(message))
    return messages


def _edit(resources, name, change):
    props = _props(resources, name)
    change(props)
    return _replace(resources, name, props)


# Every kind of neighbour the tests build, checked against its CRD (below): a neighbour the API server would
# refuse would prove nothing.
SAMPLES = {
    "eep-route-refs": eep("r", refs=[ref("HTTPRoute", "helloworld", "rule-1")], ext_proc=[OTHER_EXT_PROC]),
    "eep-route-selectors": eep("s", selectors=[{
        "kind": "HTTPRoute", "matchLabels": PACKAGE_LABELS, "namespaces": {"from": "All"},
        "matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}], wasm=WASM),
    "eep-route-merge": eep("m", refs=[ref("GRPCRoute", "g")], wasm=WASM, mergeType="StrategicMerge"),
    "eep-gateway-listener": eep("l", refs=[ref("Gateway", HOME, "http")], ext_proc=[agents_ext_proc()]),
    "ctp-selector": ctp("c", selectors=[{"kind": "Gateway", "matchLabels": PACKAGE_LABELS}], buffer=8388608),
    "httproute": route("h", "edge", [parent("public", explicit=False)], [backend("docs", namespace="docs")],
                       rule={"filters": [{"type": "RequestMirror", "requestMirror": {"backendRef": backend("x")}}]}),
    "grpcroute": route("g", parents=[parent(section="http")], backends=[backend("grpc")], kind="GRPCRoute"),
    "tcproute-v1alpha2": route("t", parents=[parent(port=80)], backends=[backend("db", 5432)], kind="TCPRoute",
                               version="v1alpha2"),
    "tlsroute-v1": custom_object(f"{GATEWAY_API}/v1", "TLSRoute", "tls", "tls", HOME,
                           {"parentRefs": [parent()], "hostnames": ["tls.example.com"],
                            "rules": [{"backendRefs": [backend("tls", 443)]}]}),
    "udproute-v1": route("u", parents=[parent()], backends=[backend("dns", 53)], kind="UDPRoute"),
    "gateway": PUBLIC,
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_neighbours_are_objects_the_api_server_takes(name):
    if crd_schema.missing():
        pytest.skip(crd_schema.missing())
    assert crd_schema.validate(SAMPLES[name][2]) == []


# -- what the package emits passes ------------------------------------------------------------------------------

GATEWAY_POLICIES = (validate_gateway_covered, validate_extproc_fail_closed, validate_no_bypass_route,
                    validate_no_bypass_ingress)


@pytest.mark.parametrize("shape", sorted(PACKAGE_SHAPES))
def test_every_gateway_shape_of_the_package_passes(shape):
    resources = _resources(harness.run_config(PACKAGE_SHAPES[shape]))
    assert any(t.endswith(":EnvoyExtensionPolicy") for t, _, _ in resources)
    for validate in GATEWAY_POLICIES:
        assert found(validate, resources) == [], validate.__name__


def test_the_dev_gateway_is_waf_d_so_the_checks_are_not_vacuous(dev):
    """The dev stack passes because its Gateway is covered, not because the pack does not see it: a route-level
    policy on its route is reported; without the WAF's policy the Gateway is not WAF'd and the same one is not."""
    probe = eep("replace", refs=[ref("HTTPRoute", "helloworld")], wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, probe])) == 1
    without_waf = [r for r in dev if r[1] != WAF_POLICY]
    assert found(validate_gateway_covered, [*without_waf, probe]) == []


# -- sigsci-gateway-covered: a policy on a route or listener replaces the WAF's --------------------------------

def test_a_route_level_policy_without_the_agents_is_reported(dev):
    probe = eep("route-authz", refs=[ref("HTTPRoute", "helloworld")], ext_proc=[OTHER_EXT_PROC])
    messages = found(validate_gateway_covered, [*dev, probe])
    assert len(messages) == 1
    assert messages[0].startswith("route-authz (EnvoyExtensionPolicy sigsci-gateway/route-authz): targets HTTPRoute "
                                  "sigsci-gateway/helloworld, attached to Gateway sigsci-gateway/sigsci-gateway, which "
                                  f"the WAF covers through {WAF_POLICY}")
    assert "replaces the WAF's on that route" in messages[0]


def test_a_policy_on_one_rule_of_the_route_is_route_level_too(dev):
    probe = eep("rule-wasm", refs=[ref("HTTPRoute", "helloworld", "rule-0")], wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, probe])) == 1


@pytest.mark.parametrize("selector, reported", [
    ({"matchLabels": {"app.kubernetes.io/name": "sigsci-waf"}}, True),
    ({"matchLabels": {"app.kubernetes.io/name": "sigsci-waf", "tier": "edge"}}, False),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["sigsci-waf", "x"]}]}, True),
    ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["sigsci-waf"]}]}, False),
    ({"matchExpressions": [{"key": "app.kubernetes.io/managed-by", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "app.kubernetes.io/managed-by", "operator": "DoesNotExist"}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["edge"]}]}, True),
    ({}, True),  # an empty selector selects every route of the kind
], ids=lambda v: str(v))
def test_route_level_policies_by_label_selector(dev, selector, reported):
    probe = eep("by-labels", selectors=[{"kind": "HTTPRoute", **selector}], wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, probe])) == (len(_package_routes(dev)) if reported else 0)


def _package_routes(resources) -> list[str]:
    """The HTTPRoutes the package puts on the dev stack's Gateway (its route and the echo's of sigsci:verify): a
    selector that takes one takes them all, and each is reported."""
    routes = [props["metadata"]["name"] for t, _, props in resources if t.endswith(":HTTPRoute")]
    assert sorted(routes) == ["helloworld", "sigsci-verify"]
    return routes


def test_a_selector_of_another_kind_does_not_select_the_route(dev):
    probe = eep("grpc-only", selectors=[{"kind": "GRPCRoute", "matchLabels": PACKAGE_LABELS}], wasm=WASM)
    assert found(validate_gateway_covered, [*dev, probe]) == []


@pytest.mark.parametrize("target, source, reported", [
    ("refs", None, False),  # targetRefs are local: a policy elsewhere names a route of its own namespace
    ("selectors", None, False),  # selectors look in the policy's namespace unless told otherwise
    ("selectors", "Same", False),
    ("selectors", "All", True),
    ("selectors", "Selector", True),  # namespaces by their labels: the pack takes every namespace
])
def test_a_policy_in_another_namespace(dev, target, source, reported):
    namespaces = {"namespaces": {"from": source, **({"selector": {"matchLabels": {"team": "edge"}}}
                                                    if source == "Selector" else {})}} if source else {}
    probe = eep("elsewhere", "tenant", refs=[ref("HTTPRoute", "helloworld")] if target == "refs" else (),
                selectors=[{"kind": "HTTPRoute", "matchLabels": PACKAGE_LABELS, **namespaces}]
                if target == "selectors" else (), wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, probe])) == (len(_package_routes(dev)) if reported else 0)


@pytest.mark.parametrize("spec, reported", [
    ({"ext_proc": [agents_ext_proc()]}, False),  # it sends the route's requests to the agents itself
    ({"ext_proc": [OTHER_EXT_PROC, agents_ext_proc()]}, False),
    ({"wasm": WASM, "mergeType": "StrategicMerge"}, False),  # merged into the Gateway's: the WAF's extProc stays
    ({"wasm": WASM, "mergeType": "JSONMerge"}, False),
    ({"ext_proc": [OTHER_EXT_PROC], "mergeType": "StrategicMerge"}, True),  # its own extProc list replaces ours
    ({"ext_proc": [], "wasm": WASM, "mergeType": "JSONMerge"}, False),  # an empty list is left out of the patch
    ({"ext_proc": [], "wasm": WASM}, True),
    ({"wasm": WASM}, True),
])
def test_what_a_route_level_policy_must_carry(dev, spec, reported):
    probe = eep("route-level", refs=[ref("HTTPRoute", "helloworld")], **spec)
    assert len(found(validate_gateway_covered, [*dev, probe])) == int(reported)


def test_a_second_gateway_level_policy_is_reported(dev):
    other = eep("gateway-wasm", refs=[ref("Gateway", HOME)], wasm=WASM)
    messages = found(validate_gateway_covered, [*dev, other])
    assert len(messages) == 1 and messages[0].startswith("gateway-wasm (EnvoyExtensionPolicy sigsci-gateway/"
                                                         "gateway-wasm): a second EnvoyExtensionPolicy on Gateway")
    assert "older" in messages[0] and "Conflicted" in messages[0]
    # Two WAF policies: one of them is Conflicted, and which settings apply depends on creation order.
    twin = copy.deepcopy(_props(dev, WAF_POLICY))
    twin["metadata"]["name"] = "sigsci-waf-twin"
    messages = found(validate_gateway_covered, [*dev, (_type(dev, WAF_POLICY), "twin", twin)])
    assert len(messages) == 1 and messages[0].startswith("twin (EnvoyExtensionPolicy sigsci-gateway/sigsci-waf-twin): "
                                                         "a second WAF EnvoyExtensionPolicy")


def _type(resources, name):
    return next(t for t, n, _ in resources if n == name)


def test_one_policy_naming_the_gateway_twice_is_one_policy(dev):
    twice = copy.deepcopy(_props(dev, WAF_POLICY))
    twice["spec"]["targetRefs"].append(dict(twice["spec"]["targetRefs"][0]))
    twice["spec"]["targetSelectors"] = [{"kind": "Gateway", "matchLabels": PACKAGE_LABELS}]
    assert found(validate_gateway_covered, _replace(dev, WAF_POLICY, twice)) == []


def test_a_second_policy_by_selector_on_the_gateway_is_reported(dev):
    probe = eep("gateway-selector", selectors=[{"kind": "Gateway", "matchLabels": PACKAGE_LABELS}], wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, probe])) == 1
    elsewhere = eep("gateway-selector", "tenant", selectors=[{"kind": "Gateway", "matchLabels": PACKAGE_LABELS}],
                    wasm=WASM)
    assert found(validate_gateway_covered, [*dev, elsewhere]) == []


def test_a_listener_level_policy_replaces_the_gateways(dev):
    probe = eep("listener-wasm", refs=[ref("Gateway", HOME, "http")], wasm=WASM)
    messages = found(validate_gateway_covered, [*dev, probe])
    assert len(messages) == 1 and "targets listener 'http' of Gateway sigsci-gateway/sigsci-gateway" in messages[0]
    # A listener-level policy that sends requests to the agents keeps the listener covered.
    assert found(validate_gateway_covered, [*dev, eep("listener-waf", refs=[ref("Gateway", HOME, "http")],
                                                      ext_proc=[agents_ext_proc()])]) == []


def _sections(*sections):
    def change(props):
        props["spec"]["targetRefs"] = [ref("Gateway", HOME, s) for s in sections]
    return change


def test_a_waf_policy_on_some_listeners_only_is_reported(wide):
    messages = found(validate_gateway_covered, _edit(wide, WAF_POLICY, _sections("https")))
    assert messages == [f"{WAF_POLICY} (EnvoyExtensionPolicy sigsci-gateway/sigsci-waf): sends only listener(s) "
                        "'https' of Gateway sigsci-gateway/sigsci-gateway to the WAF agents (sectionName): listener(s) "
                        "'http' carry requests uninspected; target the whole Gateway (no sectionName)"]
    assert found(validate_gateway_covered, _edit(wide, WAF_POLICY, _sections("http", "https"))) == []


def test_a_policy_on_the_whole_gateway_yields_to_waf_policies_on_every_listener(wide):
    """Every listener has a WAF policy of its own: a policy on the whole Gateway applies on none of them."""
    resources = _edit(wide, WAF_POLICY, _sections("http", "https"))
    other = eep("gateway-wasm", refs=[ref("Gateway", HOME)], wasm=WASM)
    assert found(validate_gateway_covered, [*resources, other]) == []
    assert len(found(validate_gateway_covered, _edit(wide, WAF_POLICY, _sections("http")) + [other])) == 1


def test_two_policies_on_one_listener_leave_it_to_creation_order(dev):
    """A WAF and another policy on the same listener: either may apply, so a route's policy that merges into
    the listener's is reported with the other one."""
    extra = [eep("listener-waf", refs=[ref("Gateway", HOME, "http")], ext_proc=[agents_ext_proc()]),
             eep("listener-wasm", refs=[ref("Gateway", HOME, "http")], wasm=WASM),
             eep("route-merge", refs=[ref("HTTPRoute", "helloworld")], wasm=WASM, mergeType="StrategicMerge")]
    messages = found(validate_gateway_covered, [*dev, *extra])
    assert sorted(m.split(" ", 1)[0] for m in messages) == ["listener-wasm", "route-merge"]
    assert found(validate_gateway_covered, [*dev, extra[0], extra[2]]) == []


def test_a_waf_policy_on_a_listener_of_a_gateway_not_in_the_stack_is_reported(existing):
    def change(props):
        props["spec"]["targetRefs"][0]["sectionName"] = "https"
    messages = found(validate_gateway_covered, _edit(existing, WAF_POLICY, change))
    assert len(messages) == 1 and "Gateway edge/public" in messages[0]
    assert "its other listeners (the Gateway is not in this stack), and any added later," in messages[0]


@pytest.mark.parametrize("port, reported", [(443, False), (80, True), (None, True)])
def test_a_route_attached_by_port_to_an_uncovered_listener(wide, port, reported):
    """The WAF covers only the HTTPS listener: a route-level policy that merges into its parent's keeps the
    route inspected through 443, not through 80 (nor through both, with no port)."""
    resources = _edit(wide, WAF_POLICY, _sections("https"))
    extra = [route("by-port", parents=[parent(port=port)], backends=[backend("web", namespace="default")]),
             eep("by-port-merge", refs=[ref("HTTPRoute", "by-port")], wasm=WASM, mergeType="StrategicMerge")]
    messages = [m for m in found(validate_gateway_covered, [*resources, *extra]) if m.startswith("by-port-merge")]
    assert len(messages) == int(reported)


@pytest.mark.parametrize("kind, version", [("TCPRoute", "v1alpha2"), ("TCPRoute", "v1"), ("TLSRoute", "v1"),
                                           ("UDPRoute", "v1"), ("TLSRoute", "v1alpha3")])
def test_a_layer_4_route_on_a_waf_d_gateway_is_reported(dev, kind, version):
    probe = route("l4", parents=[parent()], backends=[backend("db", 5432)], kind=kind, version=version)
    messages = found(validate_gateway_covered, [*dev, probe])
    assert len(messages) == 1
    assert messages[0].startswith(f"l4 ({kind} sigsci-gateway/l4): a {kind} attached to Gateway sigsci-gateway/"
                                  "sigsci-gateway")
    assert "ext_proc is an HTTP filter" in messages[0]


def test_a_grpc_route_is_inspected_like_an_http_route(dev):
    """gRPC is HTTP/2 through the same filter chain: the Gateway's policy covers it, and a route-level policy on it
    replaces the WAF's as on an HTTPRoute."""
    grpc = route("grpc", parents=[parent()], backends=[backend("grpc", 9090)], kind="GRPCRoute")
    assert found(validate_gateway_covered, [*dev, grpc]) == []
    probe = eep("grpc-wasm", refs=[ref("GRPCRoute", "grpc")], wasm=WASM)
    assert len(found(validate_gateway_covered, [*dev, grpc, probe])) == 1


@pytest.mark.parametrize("namespace, parent_namespace, explicit, reported", [
    (HOME, None, False, True),  # group and kind default to Gateway API's Gateway
    (HOME, None, True, True),
    ("tenant", None, True, False),  # the parent's namespace defaults to the route's: another Gateway
    ("tenant", HOME, False, True),
])
def test_parent_refs_and_their_defaults(dev, namespace, parent_namespace, explicit, reported):
    extra = [route("tenant-route", namespace, [parent(namespace=parent_namespace, explicit=explicit)],
                   [backend("web")]),
             eep("tenant-policy", namespace, refs=[ref("HTTPRoute", "tenant-route")], wasm=WASM)]
    assert len(found(validate_gateway_covered, [*dev, *extra])) == int(reported)


def test_a_parent_ref_to_something_else_than_a_gateway_is_not_an_attachment(dev):
    mesh = route("mesh", parents=[{"group": "", "kind": "Service", "name": HOME}], backends=[backend("web")])
    listener_set = route("set", parents=[{"group": GATEWAY_API, "kind": "ListenerSet", "name": HOME}],
                         backends=[backend("web")], kind="TCPRoute")
    assert found(validate_gateway_covered, [*dev, mesh, listener_set,
                                            eep("mesh-policy", refs=[ref("HTTPRoute", "mesh")], wasm=WASM)]) == []


# -- sigsci-extproc-fail-closed ---------------------------------------------------------------------------------

@pytest.mark.parametrize("implementation, source, entry, setting, what", [
    ("envoyGateway", f"{WAF_POLICY} (EnvoyExtensionPolicy", "extProc[0] (to the WAF agents)", "failOpen", "policy"),
    ("istio", f"{WAF_FILTER} (EnvoyFilter", "configPatches[0] (ext_proc to the WAF agents)", "failure_mode_allow",
     "filter"),
])
def test_fail_open_from_the_stacks_own_config_is_reported_unless_allowed(implementation, source, entry, setting,
                                                                          what):
    resources = _resources(harness.run_config({**WIDE, "sigsci:gateway": {
        **WIDE["sigsci:gateway"], "implementation": implementation, "failOpen": True}}))
    messages = found(validate_extproc_fail_closed, resources)
    assert messages == [f"{source} sigsci-gateway/sigsci-waf): {entry} sets {setting}: true: when the agents cannot "
                        f"answer in time, or the {what} is invalid, requests pass uninspected; set {setting}: false (a "
                        "stack that fails open on purpose sets allowFailOpen in its policy/config.<stack>.json)"]
    assert found(validate_extproc_fail_closed, resources, {"allowFailOpen": True}) == []
    assert found(validate_extproc_fail_closed, resources, {"allowFailOpen": False}) == messages


def _ext_proc(change):
    def edit(props):
        change(props["spec"]["extProc"][0])
    return edit


def _buffer(value):
    def edit(props):
        props["spec"]["connection"]["bufferLimit"] = value
    return edit


@pytest.mark.parametrize("buffer, timeout, needed", [
    ("1Mi", "1s", None), ("1Mi", "999ms", 1000), ("1Mi", "1s0ms", None),
    ("8Mi", "2s", 8000), ("8Mi", "8s", None), ("8Mi", "7s999ms", 8000),
    ("1536Ki", "1500ms", None), ("1536Ki", "1499ms", 1500),
    (1048576, "999ms", 1000), ("1048576", "1s", None), ("64Mi", "1m4s", None), ("64Mi", "1m3s", 64000),
    ("1Gi", "17m", 1024000), ("1Gi", "1h", None),
    ("65536", "499ms", 500), ("65536", "500ms", None),  # never less than 500 ms
    (None, "499ms", 500), (None, "500ms", None),  # no ClientTrafficPolicy: Envoy Gateway's 32Ki
    ("1Mi", "2 seconds", 1000),  # not a duration Envoy Gateway takes
], ids=lambda v: str(v))
def test_the_message_timeout_must_fit_the_gateways_buffer(dev, buffer, timeout, needed):
    resources = _edit(dev, WAF_POLICY, _ext_proc(lambda e: e.update(messageTimeout=timeout)))
    if buffer is None:
        resources = [r for r in resources if r[1] != BUFFER_POLICY]
    else:
        resources = _edit(resources, BUFFER_POLICY, _buffer(buffer))
    messages = found(validate_extproc_fail_closed, resources)
    if needed is None:
        assert messages == []
    else:
        assert len(messages) == 1 and f"messageTimeout {timeout!r}, shorter than the {needed} ms" in messages[0]
        assert ("Envoy Gateway's default" if buffer is None else BUFFER_POLICY) in messages[0]


def test_a_missing_message_timeout_is_envoys_200_ms(dev):
    resources = _edit(dev, WAF_POLICY, _ext_proc(lambda e: e.pop("messageTimeout")))
    messages = found(validate_extproc_fail_closed, resources)
    assert len(messages) == 1 and "sets no messageTimeout, so Envoy's 200 ms applies" in messages[0]


def test_the_largest_buffer_of_the_gateway_counts(dev):
    """A listener's ClientTrafficPolicy, or one that selects the Gateway by its labels, raises the buffer."""
    for extra in (ctp("listener-buffer", refs=[ref("Gateway", HOME, "http")], buffer="4Mi"),
                  ctp("selected-buffer", selectors=[{"kind": "Gateway", "matchLabels": PACKAGE_LABELS}],
                      buffer="4Mi")):
        messages = found(validate_extproc_fail_closed, [*dev, extra])
        assert len(messages) == 1 and "4000 ms that bodies up to 4Mi" in messages[0] and extra[1] in messages[0]
    elsewhere = ctp("other-gateway", refs=[ref("Gateway", "public")], buffer="64Mi")
    assert found(validate_extproc_fail_closed, [*dev, elsewhere]) == []


@pytest.mark.parametrize("mode, words", [
    (None, "has no processingMode.request"),
    ({"response": {"body": "Buffered"}}, "has no processingMode.request"),
    ({"request": {}}, "sends the request body not at all"),
    ({"request": {"body": "Streamed"}}, "sends the request body Streamed"),
    ({"request": {"body": "BufferedPartial"}}, "sends the request body BufferedPartial"),
    ({"request": {"body": "FullDuplexStreamed"}, "response": {"body": "Buffered"}}, "FullDuplexStreamed"),
])
def test_the_request_body_must_go_to_the_agents_buffered(dev, mode, words):
    def change(entry):
        entry.pop("processingMode")
        if mode is not None:
            entry["processingMode"] = mode
    messages = found(validate_extproc_fail_closed, _edit(dev, WAF_POLICY, _ext_proc(change)))
    assert len(messages) == 1 and words in messages[0]


def test_responses_are_the_configs_choice(dev):
    resources = _edit(dev, WAF_POLICY, _ext_proc(lambda e: e.update(processingMode={"request": {"body": "Buffered"}})))
    assert found(validate_extproc_fail_closed, resources) == []


def test_shadow_mode_is_reported(dev):
    messages = found(validate_extproc_fail_closed, _edit(dev, WAF_POLICY, _ext_proc(
        lambda e: e.update(shadowMode=True))), {"allowFailOpen": True})
    assert len(messages) == 1 and "shadowMode: true" in messages[0]


def test_every_problem_of_one_entry_is_reported(dev):
    resources = _edit(dev, WAF_POLICY, _ext_proc(lambda e: (e.update(failOpen=True), e.pop("messageTimeout"),
                                                            e.pop("processingMode"))))
    assert len(found(validate_extproc_fail_closed, resources)) == 3


def test_a_route_level_policy_to_the_agents_is_held_to_its_gateways_buffer(dev):
    probe = eep("route-waf", refs=[ref("HTTPRoute", "helloworld")], ext_proc=[
        OTHER_EXT_PROC, agents_ext_proc(namespace=HOME, messageTimeout="999ms", failOpen=True)])
    messages = found(validate_extproc_fail_closed, [*dev, probe])
    assert len(messages) == 2 and all(m.startswith("route-waf (EnvoyExtensionPolicy sigsci-gateway/route-waf): "
                                                   "extProc[1] (to the WAF agents)") for m in messages)
    assert "failOpen: true" in messages[0] and "1000 ms that bodies up to 1Mi" in messages[1]
    assert found(validate_gateway_covered, [*dev, probe]) == []  # it does send requests to the agents


def test_the_agents_are_known_by_the_pods_behind_their_service(dev):
    """A Service called otherwise in front of the agent pods is the agents; one in front of other pods is not."""
    service = copy.deepcopy(_props(dev, "gateway-agent-service"))
    service["metadata"]["name"] = "waf-grpc"
    renamed = eep("renamed", refs=[ref("Gateway", HOME)], ext_proc=[agents_ext_proc("waf-grpc", failOpen=True)])
    messages = found(validate_extproc_fail_closed, [*dev, ("kubernetes:core/v1:Service", "waf-grpc", service),
                                                    renamed])
    assert len(messages) == 1 and messages[0].startswith("renamed") and "failOpen: true" in messages[0]
    plain = _service("authz", "authz", HOME, {"app": "authz"}, [{"port": 9000, "targetPort": 9000}])
    other = eep("renamed", refs=[ref("Gateway", HOME)], ext_proc=[agents_ext_proc("authz", failOpen=True)])
    assert found(validate_extproc_fail_closed, [*dev, plain, other]) == []
    # ... and on the Gateway, where it is a second policy that does not send requests to the agents.
    assert len(found(validate_gateway_covered, [*dev, plain, other])) == 1


def test_backend_refs_with_group_and_kind_left_to_their_defaults(dev):
    probe = eep("defaults", refs=[ref("Gateway", HOME)], ext_proc=[{
        **agents_ext_proc(failOpen=True), "backendRefs": [{"name": "sigsci-extproc", "port": 9999}]}])
    assert len(found(validate_extproc_fail_closed, [*dev, probe])) == 1
    assert len(found(validate_gateway_covered, [*dev, probe])) == 1  # a second WAF policy on the Gateway


def test_a_patch_of_the_waf_policy_is_read_over_it(wide):
    patch = eep("waf-patch", patch=True, name="sigsci-waf", ext_proc=[agents_ext_proc(failOpen=True)])
    messages = found(validate_extproc_fail_closed, [*wide, patch])
    assert len(messages) == 1 and messages[0].startswith("waf-patch (EnvoyExtensionPolicyPatch sigsci-gateway/"
                                                         "sigsci-waf)")
    # A patch that moves it onto the HTTPS listener: the policy no longer covers the whole Gateway.
    moved = eep("waf-moved", patch=True, name="sigsci-waf", refs=[ref("Gateway", HOME, "https")])
    messages = found(validate_gateway_covered, [*wide, moved])
    assert len(messages) == 1 and messages[0].startswith("waf-moved (EnvoyExtensionPolicyPatch sigsci-gateway/"
                                                         "sigsci-waf): sends only listener(s) 'https'")
    # A patch of a policy the stack does not declare is read as it stands.
    assert len(found(validate_extproc_fail_closed, [*wide, eep("lone-patch", patch=True, name="edge-waf",
                                                               ext_proc=[agents_ext_proc(failOpen=True)])])) == 1


def test_values_unknown_during_preview_are_left_to_the_update(dev):
    """As the engine hands them over (behind the proxy that raises on unknown values, numbers as floats)."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    unknown = _edit(dev, WAF_POLICY, _ext_proc(lambda e: e.update(messageTimeout=UNKNOWN_STRING_VALUE,
                                                                   processingMode=UNKNOWN_STRING_VALUE)))
    assert _engine_violations(validate_extproc_fail_closed, unknown) == []
    # The buffer known only during the update: a timeout cannot be judged yet.
    short = _edit(_edit(dev, BUFFER_POLICY, _buffer(UNKNOWN_STRING_VALUE)), WAF_POLICY,
                  _ext_proc(lambda e: e.update(messageTimeout="999ms")))
    assert _engine_violations(validate_extproc_fail_closed, short) == []
    known = ctp("known", refs=[ref("Gateway", HOME)], buffer="64Ki")  # and another one that is known
    assert _engine_violations(validate_extproc_fail_closed, [*short, known]) == []
    # Known values still count behind the proxy.
    assert len(_engine_violations(validate_extproc_fail_closed, _edit(
        dev, WAF_POLICY, _ext_proc(lambda e: e.update(messageTimeout="999ms"))))) == 1
    for validate in GATEWAY_POLICIES:
        assert _engine_violations(validate, unknown) == [], validate.__name__


# -- sigsci-no-bypass-route: a route on a Gateway the WAF does not cover ---------------------------------------

def test_a_route_on_another_gateway_to_a_service_the_waf_d_gateway_routes_to_is_reported(wide):
    probe = route("docs-direct", "edge", [parent("public")], [backend("docs", namespace="docs")])
    messages = found(validate_no_bypass_route, [*wide, PUBLIC, probe])
    assert messages == ["docs-direct (HTTPRoute edge/docs-direct): HTTPRoute on Gateway edge/public, which the WAF "
                        "does not cover, sends rule 0 straight to Service docs/docs, which the WAF inspects through "
                        "gateway-httproute.sigsci-gateway.docs (HTTPRoute sigsci-gateway/docs), on a Gateway the WAF "
                        "covers: this route skips the WAF; attach it to a Gateway the WAF covers"]


@pytest.mark.parametrize("kind, version", [("HTTPRoute", "v1"), ("GRPCRoute", "v1"), ("TCPRoute", "v1alpha2"),
                                           ("TLSRoute", "v1"), ("UDPRoute", "v1")])
def test_a_route_of_any_kind_to_the_agents_upstream_is_reported(wide, kind, version):
    probe = route("upstream-direct", "default", [parent("public", "edge")], [backend("payments-api", 9000)],
                  kind=kind, version=version)
    messages = found(validate_no_bypass_route, [*wide, PUBLIC, probe])
    assert len(messages) == 1 and messages[0].startswith(f"upstream-direct ({kind} default/upstream-direct)")
    assert "the upstream that the WAF agents of payments.default-deployment" in messages[0]


def test_routes_to_services_an_agent_fronts_are_fine(wide):
    """An app's own Service (its agent beside it) and the agents' Service inspect whatever routes to them."""
    probes = [route("web-direct", "default", [parent("public", "edge")], [backend("web", explicit=False)]),
              route("payments-direct", "default", [parent("public", "edge")], [backend("payments", 80)])]
    assert found(validate_no_bypass_route, [*wide, PUBLIC, *probes]) == []


def test_a_route_with_a_policy_of_its_own_to_the_agents_is_inspected(wide):
    probe = route("docs-own-waf", "edge", [parent("public")], [backend("docs", namespace="docs")])
    own = eep("docs-own-waf", "edge", refs=[ref("HTTPRoute", "docs-own-waf")],
              ext_proc=[agents_ext_proc(namespace=HOME)])
    assert found(validate_no_bypass_route, [*wide, PUBLIC, probe, own]) == []
    other = eep("docs-own-waf", "edge", refs=[ref("HTTPRoute", "docs-own-waf")], ext_proc=[OTHER_EXT_PROC])
    assert len(found(validate_no_bypass_route, [*wide, PUBLIC, probe, other])) == 1


@pytest.mark.parametrize("namespace, backend_namespace, reported", [
    ("docs", None, True),  # the backend's namespace defaults to the route's, its group and kind to Service
    ("edge", None, False),  # edge/docs: not the Service the WAF routes to
    ("edge", "docs", True),
])
def test_backend_refs_and_their_namespace(wide, namespace, backend_namespace, reported):
    probe = route("docs-ns", namespace, [parent("public", "edge")],
                  [backend("docs", namespace=backend_namespace, explicit=False)])
    assert len(found(validate_no_bypass_route, [*wide, PUBLIC, probe])) == int(reported)


def test_a_mirror_to_a_waf_d_service_is_reported(wide):
    probe = route("mirror", "default", [parent("public", "edge")], [backend("web")], rule={"filters": [
        {"type": "RequestMirror", "requestMirror": {"backendRef": backend("docs", namespace="docs")}}]})
    messages = found(validate_no_bypass_route, [*wide, PUBLIC, probe])
    assert len(messages) == 1 and "sends rule 0 (mirror) straight to Service docs/docs" in messages[0]


def test_a_gateway_whose_only_policy_skips_the_agents_is_not_waf_d(wide):
    authz = eep("public-authz", "edge", refs=[ref("Gateway", "public")], ext_proc=[OTHER_EXT_PROC])
    probe = route("docs-direct", "edge", [parent("public")], [backend("docs", namespace="docs")])
    assert len(found(validate_no_bypass_route, [*wide, PUBLIC, authz, probe])) == 1
    waf = eep("public-waf", "edge", refs=[ref("Gateway", "public")], ext_proc=[agents_ext_proc(namespace=HOME)])
    assert found(validate_no_bypass_route, [*wide, PUBLIC, waf, probe]) == []


def test_a_route_to_a_service_the_waf_controller_routes_to_is_reported():
    staging = _resources(harness.run_stack("staging"))
    probe = route("catalog-direct", "shop", [parent("public", "edge")], [backend("catalog", 80)])
    messages = found(validate_no_bypass_route, [*staging, PUBLIC, probe])
    assert len(messages) == 1 and "which the WAF controller inspects through ingress-route-shop.catalog" in messages[0]


def test_an_ingress_of_another_class_to_a_service_the_waf_d_gateway_routes_to_is_reported(wide):
    probe = _ingress("docs-nginx", "docs-nginx", "docs", "docs", 8080, "nginx")
    messages = found(validate_no_bypass_ingress, [*wide, probe])
    assert len(messages) == 1 and messages[0].startswith("docs-nginx (Ingress docs/docs-nginx): Ingress of class "
                                                         "'nginx'")
    assert "which the WAF inspects through gateway-httproute.sigsci-gateway.docs" in messages[0]


def test_a_patch_moving_the_stacks_route_off_the_waf_d_gateway_is_reported(wide):
    patch = route("docs", parents=[parent("public", "edge")], patch=True)
    messages = found(validate_no_bypass_route, [*wide, PUBLIC, (patch[0], "docs-moved", patch[2])])
    assert len(messages) == 1 and messages[0].startswith("docs-moved (HTTPRoutePatch sigsci-gateway/docs)")
    assert "moving gateway-httproute.sigsci-gateway.docs (HTTPRoute sigsci-gateway/docs) off the WAF'd Gateway" \
        in messages[0]


def test_routes_on_a_waf_d_gateway_are_left_to_the_coverage_policy(wide):
    """A TCPRoute on the WAF'd Gateway to the agents' upstream: one report, from sigsci-gateway-covered."""
    probe = route("tcp-upstream", parents=[parent()], backends=[backend("payments-api", 9000, "default")],
                  kind="TCPRoute", version="v1alpha2")
    assert found(validate_no_bypass_route, [*wide, probe]) == []
    assert len(found(validate_gateway_covered, [*wide, probe])) == 1
