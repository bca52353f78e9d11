"""The policy pack on Istio: the Gateway API policies (`sigsci-gateway-covered`, `sigsci-extproc-fail-closed`,
`sigsci-no-bypass-route`) also read the EnvoyFilter that WAFs a Gateway on Istio, on what the package emits with
`implementation: istio` (run under mocks) and on hand-made neighbours. Expectations are written by hand: which
resource is reported, for what, how many times.
"""

from __future__ import annotations

import copy

import pytest
from google.protobuf import json_format

import envoy_api
import harness
from envoy.config.route.v3 import route_components_pb2, route_pb2
from gateway_objects import (EXT_PROC, EXT_PROC_PER_ROUTE, FILTER_CONFIG, GATEWAY_NAME_LABEL, HOME, ISTIO_ROOT,
                             PUBLIC, WAF_FILTER, WASM, backend, cluster, eep, envoy_filter, ext_proc_value, http_filter,
                             listener_buffer, parent, per_route, ref, route)
from test_policy_coverage import _engine_violations, _ingress, _props, _replace
from test_policy_gateway import BASE, GATEWAY_POLICIES, found
from test_policy_pack import (_resources, validate_extproc_fail_closed, validate_gateway_covered,
                              validate_no_bypass_ingress, validate_no_bypass_route)

ISTIO = {"implementation": "istio"}
DOCS = {"service": {"name": "docs", "port": 8080}, "namespace": "docs"}
# The Gateway with an HTTP (80) and an HTTPS (443) listener; routes to an app with its agent, to the agents of an
# app placed as its own Service, and to a plain Service in another namespace (which only the WAF inspects).
WIDE = {**BASE, "sigsci:gateway": {**ISTIO, "listeners": {"tlsSecrets": ["shop-tls"]}, "routes": [
    {"app": "web", "host": "shop.example.com"}, {"app": "payments", "host": "pay.example.com"}, DOCS]}}
EXISTING = {"namespace": "edge", "name": "public"}
PACKAGE_SHAPES = {
    "wide": WIDE,
    "existing-gateway": {**BASE, "sigsci:gateway": {**ISTIO, "existingGateway": EXISTING, "routes": [DOCS]}},
    "requests-only-8Mi": {**BASE, "sigsci:gateway": {**ISTIO, "inspectResponses": False, "bodyLimit": "8Mi",
                                                     "messageTimeout": "8s", "routes": [{"app": "web"}]}},
    "agents-elsewhere": {**BASE, "sigsci:gateway": {**ISTIO, "namespace": "waf", "agents": {"port": 7443},
                                                    "istio": {"clusterDomain": "corp.internal"},
                                                    "existingGateway": EXISTING, "routes": [{"app": "web"}]}},
}
GATEWAYS = {"wide": (HOME, HOME), "existing-gateway": ("edge", "public"), "requests-only-8Mi": (HOME, HOME),
            "agents-elsewhere": ("edge", "public")}
# A route on the Gateway no one WAFs (edge/public) to the Service the WAF'd Gateway routes to.
DOCS_DIRECT = route("docs-direct", "edge", [parent("public")], [backend("docs", namespace="docs")])
TCP = route("l4", parents=[parent()], backends=[backend("db", 5432)], kind="TCPRoute", version="v1alpha2")


@pytest.fixture(scope="module")
def istio():
    return _resources(harness.run_config(WIDE))


def _filter(resources):
    return _props(resources, WAF_FILTER)


def _edit(resources, change):
    """The package's EnvoyFilter, `change`d (called with its spec)."""
    props = _filter(resources)
    change(props["spec"])
    return _replace(resources, WAF_FILTER, props)


def _ext_proc(change):
    """An edit of the typed_config of the package's ext_proc filter."""
    return lambda spec: change(spec["configPatches"][0]["patch"]["value"]["typed_config"])


def _without_filter(resources):
    return [r for r in resources if r[1] != WAF_FILTER]


# -- what the package emits passes, and is read as WAF'ing its Gateway ------------------------------------------

@pytest.mark.parametrize("shape", sorted(PACKAGE_SHAPES))
def test_every_istio_shape_of_the_package_passes(shape):
    resources = _resources(harness.run_config(PACKAGE_SHAPES[shape]))
    assert any(t.endswith(":EnvoyFilter") for t, _, _ in resources)
    assert not any(t.endswith(":EnvoyExtensionPolicy") for t, _, _ in resources)
    for validate in GATEWAY_POLICIES:
        assert found(validate, resources) == [], validate.__name__
    # ... because its Gateway is WAF'd by the filter (the agents found by their cluster), not unseen: a TCPRoute on
    # it is reported, and none is without the filter.
    namespace, name = GATEWAYS[shape]
    tcp = route("l4", namespace, [parent(name)], [backend("db", 5432)], kind="TCPRoute", version="v1alpha2")
    assert len(found(validate_gateway_covered, [*resources, tcp])) == 1
    assert found(validate_gateway_covered, [*_without_filter(resources), tcp]) == []


@pytest.mark.parametrize("limit", ["1Ki", "512Ki", "1Mi", "1536Ki", "8Mi", "64Mi"])
def test_the_pack_needs_the_timeout_the_package_needs_of_its_filter(limit):
    """The package's shortest messageTimeout for a bodyLimit passes; a millisecond less in its filter does not."""
    from sigsci_policies.common import _quantity
    from sigsci_policies.gateway import needed_timeout_ms
    from sigsci_waf.gateway.istio import proto_duration

    needed = needed_timeout_ms(_quantity(limit))
    resources = _resources(harness.run_config({**BASE, "sigsci:gateway": {
        **ISTIO, "bodyLimit": limit, "messageTimeout": f"{needed}ms", "routes": [{"app": "web"}]}}))
    assert found(validate_extproc_fail_closed, resources) == []
    shorter = _edit(resources, _ext_proc(lambda c: c.update(message_timeout=proto_duration(needed - 1))))
    messages = found(validate_extproc_fail_closed, shorter)
    assert len(messages) == 1 and f"shorter than the {needed} ms" in messages[0]


def test_the_filter_is_what_makes_the_gateways_routes_the_wafs(istio):
    """docs/docs is a Service the WAF routes to because the filter WAFs the Gateway its route is on."""
    assert len(found(validate_no_bypass_route, [*istio, PUBLIC, DOCS_DIRECT])) == 1
    assert found(validate_no_bypass_route, [*_without_filter(istio), PUBLIC, DOCS_DIRECT]) == []


# -- which proxies an EnvoyFilter applies to, and whether its ext_proc reaches the agents ---------------------

def _waf_on_public(namespace="edge", selector=None, target_refs=None, context=None, value=None):
    """A hand-made WAF filter meant for the proxies of edge/public."""
    selector = {GATEWAY_NAME_LABEL: "public"} if selector is None and target_refs is None else selector
    patch = http_filter(value or ext_proc_value(), **({"context": context} if context is not None else {}))
    return envoy_filter("public-waf", namespace, [patch], selector=selector, target_refs=target_refs)


@pytest.mark.parametrize("namespace, selector, target_refs, context, waf_d", [
    ("edge", None, None, None, True),
    ("edge", {}, None, None, True),  # no workloadSelector: every proxy of its namespace
    (ISTIO_ROOT, {}, None, None, True),  # the root namespace: every proxy
    (ISTIO_ROOT, None, None, None, True),  # ... with a selector, those that carry its labels, in every namespace
    ("tenant", {}, None, None, False),
    ("tenant", None, None, None, False),  # a selector looks in its own namespace only
    ("edge", {GATEWAY_NAME_LABEL: "other"}, None, None, False),
    ("edge", {"gateway.networking.k8s.io/gateway-class-name": "public"}, None, None, True),
    ("edge", {GATEWAY_NAME_LABEL: "public", "team": "edge"}, None, None, False),  # a label the pack cannot know
    ("edge", None, [ref("Gateway", "public")], None, True),
    ("tenant", None, [ref("Gateway", "public")], None, False),  # targetRefs name a Gateway of its namespace
    ("edge", {}, [ref("GatewayClass", "public")], None, False),  # not read: not every proxy of the namespace either
    ("edge", None, None, {"context": "ANY"}, True),
    ("edge", None, None, {}, True),  # no context: any
    ("edge", None, None, {"context": "SIDECAR_INBOUND"}, False),  # never on a gateway's proxies
], ids=str)
def test_which_proxies_a_filter_applies_to(istio, namespace, selector, target_refs, context, waf_d):
    """A route on edge/public to what the WAF'd Gateway routes to is a bypass unless a filter WAFs edge/public."""
    probe = _waf_on_public(namespace, selector, target_refs, context)
    assert len(found(validate_no_bypass_route, [*istio, PUBLIC, DOCS_DIRECT, probe])) == int(not waf_d)


def test_the_proxies_carry_the_gateways_infrastructure_labels_else_its_own(istio):
    labelled = copy.deepcopy(PUBLIC)
    labelled[2]["metadata"]["labels"] = {"team": "edge"}
    probe = _waf_on_public(selector={"team": "edge"})
    assert found(validate_no_bypass_route, [*istio, labelled, DOCS_DIRECT, probe]) == []  # Istio copies them
    infrastructure = copy.deepcopy(labelled)
    infrastructure[2]["spec"]["infrastructure"] = {"labels": {"tier": "front"}}
    assert len(found(validate_no_bypass_route, [*istio, infrastructure, DOCS_DIRECT, probe])) == 1
    assert found(validate_no_bypass_route, [*istio, infrastructure, DOCS_DIRECT,
                                            _waf_on_public(selector={"tier": "front"})]) == []


@pytest.mark.parametrize("name, waf_d", [
    (cluster(), True),
    (cluster(subset="v1"), True),
    (cluster(domain="corp.internal"), True),
    (cluster(port=9998), False),  # the agents' Service has no such port: Istio has no such cluster
    (cluster("authz"), False),
    (cluster(namespace="waf"), True),  # a Service named as the gateway's agents, not in the stack
    ("outbound|9999||sigsci-extproc.sigsci-gateway", False),  # not a Service's full name
    ("inbound|9999||sigsci-extproc.sigsci-gateway.svc.cluster.local", False),
    ("outbound|grpc||sigsci-extproc.sigsci-gateway.svc.cluster.local", False),
    ("sigsci-extproc", False),
], ids=str)
def test_the_agents_by_their_cluster(istio, name, waf_d):
    probe = _waf_on_public(value=ext_proc_value(name))
    assert len(found(validate_no_bypass_route, [*istio, PUBLIC, DOCS_DIRECT, probe])) == int(not waf_d)


def test_the_agents_are_known_by_the_pods_behind_their_service(istio):
    service = copy.deepcopy(_props(istio, "gateway-agent-service"))
    service["metadata"]["name"] = "waf-grpc"
    agents = ("kubernetes:core/v1:Service", "waf-grpc", service)
    probe = _waf_on_public(value=ext_proc_value(cluster("waf-grpc")))
    assert found(validate_no_bypass_route, [*istio, agents, PUBLIC, DOCS_DIRECT, probe]) == []
    assert len(found(validate_no_bypass_route, [*istio, PUBLIC, DOCS_DIRECT, probe])) == 1  # without that Service


@pytest.mark.parametrize("value, waf_d", [
    (ext_proc_value(camel=True), True),  # typedConfig, grpcService.envoyGrpc.clusterName
    ({"name": EXT_PROC, "typed_config": {"grpcService": {"envoy_grpc": {"clusterName": cluster()}}}}, True),
    ({"name": "sigsci", "typed_config": ext_proc_value()["typed_config"]}, True),  # known by its type, any name
    ({"name": EXT_PROC, "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
        "grpc_service": {"envoy_grpc": {"cluster_name": cluster()}}}}, False),
], ids=["camel", "no-type-by-name", "named-otherwise", "ext-authz"])
def test_spellings_of_the_ext_proc_filter(istio, value, waf_d):
    probe = _waf_on_public(value=value)
    assert len(found(validate_no_bypass_route, [*istio, PUBLIC, DOCS_DIRECT, probe])) == int(not waf_d)


def test_an_ingress_of_another_class_to_what_the_istio_gateway_routes_to_is_reported(istio):
    probe = _ingress("docs-nginx", "docs-nginx", "docs", "docs", 8080, "nginx")
    messages = found(validate_no_bypass_ingress, [*istio, probe])
    assert len(messages) == 1 and "which the WAF inspects through gateway-httproute.sigsci-gateway.docs" in messages[0]
    assert found(validate_no_bypass_ingress, [*_without_filter(istio), probe]) == []


def test_an_eep_on_an_istio_gateways_route_is_not_judged(istio):
    """Envoy Gateway's policies do nothing on Istio's proxies: one on a route of the Istio-WAF'd Gateway neither
    replaces the WAF nor makes the route inspected."""
    probe = eep("route-wasm", refs=[ref("HTTPRoute", "docs")], wasm=WASM)
    assert found(validate_gateway_covered, [*istio, probe]) == []


# -- sigsci-extproc-fail-closed ---------------------------------------------------------------------------------

def test_fail_open_and_observability_mode(istio):
    fail_open = _edit(istio, _ext_proc(lambda c: c.update(failure_mode_allow=True)))
    assert len(found(validate_extproc_fail_closed, fail_open)) == 1
    assert found(validate_extproc_fail_closed, fail_open, {"allowFailOpen": True}) == []
    observing = _edit(istio, _ext_proc(lambda c: c.update(observability_mode=True)))
    messages = found(validate_extproc_fail_closed, observing, {"allowFailOpen": True})
    assert len(messages) == 1 and "sets observability_mode: true: Envoy does not wait for the agents' answer" \
        in messages[0]


def test_camel_case_settings_count_alike(istio):
    def camel(spec):
        value = spec["configPatches"][0]["patch"]["value"]
        value["typedConfig"] = {**value.pop("typed_config"), "failureModeAllow": True, "messageTimeout": "0.5s"}
        value["typedConfig"].pop("failure_mode_allow")
        value["typedConfig"].pop("message_timeout")
        spec["configPatches"][1]["patch"]["value"] = {"perConnectionBufferLimitBytes": 4 * 2 ** 20}
    messages = found(validate_extproc_fail_closed, _edit(istio, camel))
    assert len(messages) == 2 and "failure_mode_allow: true" in messages[0]
    assert "message_timeout '0.5s', shorter than the 4000 ms that bodies up to 4Mi" in messages[1]


def _buffer(limit):
    def change(spec):
        if limit is None:
            spec["configPatches"].pop(1)
        else:
            spec["configPatches"][1]["patch"]["value"]["per_connection_buffer_limit_bytes"] = limit
    return change


@pytest.mark.parametrize("limit, timeout, needed", [
    (2 ** 20, "1s", None), (2 ** 20, "0.999s", 1000), (2 ** 20, "1.000s", None), (2 ** 20, "0.9999s", 1000),
    (8 * 2 ** 20, "2s", 8000), (8 * 2 ** 20, "8s", None), (8 * 2 ** 20, "7.999s", 8000),
    ("8388608", "2s", 8000),  # a uint32 as a string, as protobuf's JSON takes it
    (65536, "0.499s", 500), (65536, "0.5s", None),  # never less than 500 ms
    (None, "0.999s", 1000), (None, "1s", None),  # no LISTENER patch: Envoy's own 1 MiB
    (2 ** 20, "1000ms", 1000), (2 ** 20, "1m", 1000),  # not durations Envoy takes
], ids=str)
def test_the_message_timeout_must_fit_the_proxies_buffer(istio, limit, timeout, needed):
    resources = _edit(_edit(istio, _buffer(limit)), _ext_proc(lambda c: c.update(message_timeout=timeout)))
    messages = found(validate_extproc_fail_closed, resources)
    if needed is None:
        assert messages == []
    else:
        assert len(messages) == 1 and f"message_timeout {timeout!r}, shorter than the {needed} ms" in messages[0]
        assert ("Envoy's default for the listeners of Gateway sigsci-gateway/sigsci-gateway" if limit is None
                else f"the per_connection_buffer_limit_bytes {WAF_FILTER}") in messages[0]


def test_a_missing_message_timeout_is_envoys_200_ms(istio):
    messages = found(validate_extproc_fail_closed, _edit(istio, _ext_proc(lambda c: c.pop("message_timeout"))))
    assert len(messages) == 1 and "sets no message_timeout, so Envoy's 200 ms applies" in messages[0]


def test_a_buffer_another_filter_sets_on_the_same_proxies_counts(istio):
    raised = envoy_filter("raise-buffer", patches=[listener_buffer(4 * 2 ** 20)])
    messages = found(validate_extproc_fail_closed, [*istio, raised])
    assert len(messages) == 1 and "the 4000 ms that bodies up to 4Mi (the per_connection_buffer_limit_bytes " \
                                  "raise-buffer (EnvoyFilter sigsci-gateway/raise-buffer)" in messages[0]
    elsewhere = envoy_filter("raise-buffer", "edge", [listener_buffer(64 * 2 ** 20)],
                             selector={GATEWAY_NAME_LABEL: "public"})
    assert found(validate_extproc_fail_closed, [*istio, elsewhere]) == []
    sidecars = envoy_filter("raise-buffer", patches=[{**listener_buffer(4 * 2 ** 20),
                                                      "match": {"context": "SIDECAR_INBOUND"}}])
    assert found(validate_extproc_fail_closed, [*istio, sidecars]) == []


@pytest.mark.parametrize("mode, words", [
    (None, "has no processing_mode, so Envoy sends the agents the request's headers but not its body"),
    ({}, "sends the request body not at all (processing_mode.request_body_mode), not BUFFERED"),
    ({"request_body_mode": "STREAMED"}, "sends the request body STREAMED"),
    ({"requestBodyMode": "BUFFERED_PARTIAL"}, "sends the request body BUFFERED_PARTIAL"),
    ({"request_body_mode": "NONE", "response_body_mode": "BUFFERED"}, "sends the request body NONE"),
    ({"request_header_mode": "SKIP", "request_body_mode": "BUFFERED"},
     "skips the request headers (processing_mode.request_header_mode: SKIP)"),
], ids=str)
def test_the_request_must_go_to_the_agents_whole(istio, mode, words):
    def change(config):
        config.pop("processing_mode")
        if mode is not None:
            config["processing_mode"] = mode
    messages = found(validate_extproc_fail_closed, _edit(istio, _ext_proc(change)))
    assert len(messages) == 1 and words in messages[0]


def test_responses_are_the_configs_choice(istio):
    requests_only = {"request_header_mode": "SEND", "request_body_mode": "BUFFERED", "response_header_mode": "SKIP",
                     "response_body_mode": "NONE"}
    assert found(validate_extproc_fail_closed, _edit(istio, _ext_proc(
        lambda c: c.update(processing_mode=requests_only)))) == []
    assert found(validate_extproc_fail_closed, _edit(istio, _ext_proc(
        lambda c: c.update(processing_mode={"requestBodyMode": "BUFFERED"})))) == []


def test_every_problem_of_one_filter_is_reported(istio):
    def change(config):
        config.update(failure_mode_allow=True)
        config.pop("message_timeout")
        config.pop("processing_mode")
    assert len(found(validate_extproc_fail_closed, _edit(istio, _ext_proc(change)))) == 3


def test_a_hand_made_waf_filter_is_held_to_the_same_rules(istio):
    """Anywhere: in the root namespace for every proxy, or for proxies no Gateway of the stack runs on."""
    for probe in (envoy_filter("mesh-waf", ISTIO_ROOT, [http_filter(ext_proc_value(failure_mode_allow=True))],
                               selector={}),
                  _waf_on_public(value=ext_proc_value(failure_mode_allow=True))):
        messages = found(validate_extproc_fail_closed, [*istio, probe])
        assert len(messages) == 1 and messages[0].startswith(f"{probe[1]} (EnvoyFilter ")
        assert "configPatches[0] (ext_proc to the WAF agents) sets failure_mode_allow: true" in messages[0]


@pytest.mark.parametrize("config, words", [
    ({"failure_mode_allow": True}, "sets failure_mode_allow: true"),
    ({"failureModeAllow": True}, "sets failure_mode_allow: true"),
    ({"observability_mode": True}, "sets observability_mode: true"),
    ({"message_timeout": "0.2s"}, "has message_timeout '0.2s', shorter than the 1000 ms"),
    ({"processing_mode": {"request_body_mode": "STREAMED"}}, "sends the request body STREAMED"),
    ({"processing_mode": {"request_header_mode": "SKIP"}}, "skips the request headers"),
    ({"processing_mode": {"request_body_mode": "NONE"}}, None),  # a default value: a proto merge changes nothing
    ({"failure_mode_allow": False, "message_timeout": "5s"}, None),
    ({"stat_prefix": "waf"}, None),  # it sets no timeout: the WAF's own stays
], ids=str)
def test_a_merge_into_the_wafs_filter_is_held_to_the_same_rules(istio, config, words):
    value = {"name": EXT_PROC, "typed_config": {"@type": ext_proc_value()["typed_config"]["@type"], **config}}
    probe = envoy_filter("merge", patches=[http_filter(value, "MERGE", EXT_PROC)])
    messages = found(validate_extproc_fail_closed, [*istio, probe])
    if words is None:
        assert messages == []
    else:
        assert len(messages) == 1 and messages[0].startswith(
            "merge (EnvoyFilter sigsci-gateway/merge): configPatches[0] (MERGE into the ext_proc filter "
            f"'{EXT_PROC}' to the WAF agents on Gateway sigsci-gateway/sigsci-gateway) {words}")


def test_a_merge_elsewhere_changes_nothing_of_the_wafs(istio):
    value = {"name": EXT_PROC, "typed_config": {"@type": ext_proc_value()["typed_config"]["@type"],
                                                "failure_mode_allow": True}}
    other_filter = envoy_filter("merge", patches=[http_filter(value, "MERGE", "envoy.filters.http.cors")])
    other_proxies = envoy_filter("merge", "edge", [http_filter(value, "MERGE", EXT_PROC)],
                                 selector={GATEWAY_NAME_LABEL: "public"})
    assert found(validate_extproc_fail_closed, [*istio, other_filter]) == []
    assert found(validate_extproc_fail_closed, [*istio, PUBLIC, other_proxies]) == []


# -- sigsci-gateway-covered -------------------------------------------------------------------------------------

def test_a_filter_removing_the_wafs_ext_proc_is_reported(istio):
    probe = envoy_filter("no-waf", patches=[http_filter(None, "REMOVE", EXT_PROC)])
    messages = found(validate_gateway_covered, [*istio, probe])
    assert messages == ["no-waf (EnvoyFilter sigsci-gateway/no-waf): configPatches[0] (HTTP_FILTER REMOVE) removes the "
                        f"ext_proc filter '{EXT_PROC}' on the proxies of Gateway sigsci-gateway/sigsci-gateway, which "
                        f"the WAF covers through {WAF_FILTER} (EnvoyFilter sigsci-gateway/sigsci-waf): their requests "
                        "skip the WAF agents; remove the patch, or match another filter"]


@pytest.mark.parametrize("namespace, selector, context, reported", [
    (ISTIO_ROOT, {}, None, True),  # every proxy, whichever is applied first
    ("tenant", {}, None, False),
    (HOME, {GATEWAY_NAME_LABEL: "public"}, None, False),
    (HOME, None, {"context": "SIDECAR_OUTBOUND"}, False),
    (HOME, None, {"context": "ANY"}, True),
], ids=str)
def test_which_removals_reach_the_gateways_proxies(istio, namespace, selector, context, reported):
    probe = envoy_filter("no-waf", namespace, [http_filter(None, "REMOVE", EXT_PROC, **(
        {"context": context} if context is not None else {}))], selector=selector)
    assert len(found(validate_gateway_covered, [*istio, probe])) == int(reported)


def test_a_filter_reaches_a_gateway_another_filter_names(istio):
    """A Gateway known only from a filter's selector (not in the stack, no route on it) gets every filter that
    applies to it, whichever comes first."""
    removal = envoy_filter("no-waf", ISTIO_ROOT, [http_filter(None, "REMOVE", EXT_PROC)], selector={})
    waf = envoy_filter("lonely-waf", "edge", [http_filter(ext_proc_value())], selector={GATEWAY_NAME_LABEL: "lonely"})
    messages = found(validate_gateway_covered, [*_without_filter(istio), removal, waf])
    assert len(messages) == 1 and messages[0].startswith("no-waf (EnvoyFilter istio-system/no-waf): configPatches[0] "
                                                         "(HTTP_FILTER REMOVE) removes the ext_proc filter")
    assert "Gateway edge/lonely" in messages[0]


def test_removing_another_filter_is_fine(istio):
    probe = envoy_filter("no-cors", patches=[http_filter(None, "REMOVE", "envoy.filters.http.cors")])
    assert found(validate_gateway_covered, [*istio, probe]) == []


@pytest.mark.parametrize("value, words", [
    ({"name": "envoy.filters.http.ext_authz", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
        "grpc_service": {"envoy_grpc": {"cluster_name": cluster("authz", port=9000)}}}},
     "replaces with 'envoy.filters.http.ext_authz' the ext_proc filter"),
    (ext_proc_value(cluster("authz", port=9000)), "replaces with an ext_proc filter to other servers"),
    (ext_proc_value(), None),  # the agents' filter again: judged by sigsci-extproc-fail-closed
], ids=["ext-authz", "other-ext-proc", "agents"])
def test_a_filter_replacing_the_wafs_ext_proc(istio, value, words):
    probe = envoy_filter("replace", patches=[http_filter(value, "REPLACE", EXT_PROC)])
    messages = found(validate_gateway_covered, [*istio, probe])
    if words is None:
        assert messages == []
    else:
        assert len(messages) == 1 and words in messages[0]


def test_a_replacement_by_the_agents_filter_is_held_to_the_fail_closed_rules(istio):
    probe = envoy_filter("replace", patches=[http_filter(ext_proc_value(failure_mode_allow=True), "REPLACE",
                                                         EXT_PROC)])
    messages = found(validate_extproc_fail_closed, [*istio, probe])
    assert len(messages) == 1 and messages[0].startswith("replace (EnvoyFilter sigsci-gateway/replace): "
                                                         "configPatches[0] (ext_proc to the WAF agents) sets "
                                                         "failure_mode_allow: true")


DISABLED = {"@type": EXT_PROC_PER_ROUTE, "disabled": True}


@pytest.mark.parametrize("patch, reported", [
    (per_route(DISABLED), True),
    (per_route(DISABLED, "VIRTUAL_HOST"), True),
    (per_route(DISABLED, "ROUTE_CONFIGURATION"), True),
    (per_route(DISABLED, key="typedPerFilterConfig"), True),
    (per_route({"@type": FILTER_CONFIG, "disabled": True}), True),  # Envoy's own FilterConfig
    (per_route({"@type": FILTER_CONFIG, "config": DISABLED}), True),  # ... around ext_proc's
    (per_route({"@type": FILTER_CONFIG, "isOptional": True, "config": {**DISABLED, "disabled": False}}), False),
    (per_route({**DISABLED, "disabled": False}), False),
    (per_route({"@type": EXT_PROC_PER_ROUTE, "overrides": {"processing_mode": {"request_body_mode": "BUFFERED"}}}),
     False),
    (per_route(DISABLED, name="envoy.filters.http.cors"), False),
    ({**per_route(DISABLED), "match": {"context": "SIDECAR_INBOUND"}}, False),
], ids=str)
def test_a_route_level_override_that_turns_the_filter_off(istio, patch, reported):
    probe = envoy_filter("route-off", patches=[patch])
    messages = found(validate_gateway_covered, [*istio, probe])
    assert len(messages) == int(reported)
    if reported:
        assert messages[0].startswith(f"route-off (EnvoyFilter sigsci-gateway/route-off): configPatches[0] "
                                      f"({patch['applyTo']} MERGE) turns the ext_proc filter '{EXT_PROC}' off")


@pytest.mark.parametrize("kind, version", [("TCPRoute", "v1alpha2"), ("TLSRoute", "v1"), ("UDPRoute", "v1")])
def test_a_layer_4_route_on_an_istio_waf_d_gateway_is_reported(istio, kind, version):
    probe = route("l4", parents=[parent()], backends=[backend("db", 5432)], kind=kind, version=version)
    messages = found(validate_gateway_covered, [*istio, probe])
    assert len(messages) == 1 and messages[0].startswith(f"l4 ({kind} sigsci-gateway/l4): a {kind} attached to "
                                                         "Gateway sigsci-gateway/sigsci-gateway, which the WAF covers "
                                                         f"through {WAF_FILTER}")
    assert found(validate_no_bypass_route, [*istio, probe]) == []  # one mistake, one report


def _port(port):
    def change(spec):
        spec["configPatches"][0]["match"]["listener"]["portNumber"] = port
    return change


def test_a_waf_filter_on_some_listeners_only_is_reported(istio):
    messages = found(validate_gateway_covered, _edit(istio, _port(443)))
    assert messages == [f"{WAF_FILTER} (EnvoyFilter sigsci-gateway/sigsci-waf): gives only the listeners on port(s) "
                        "443 of Gateway sigsci-gateway/sigsci-gateway the ext_proc filter to the WAF agents "
                        "(match.listener.portNumber): listener(s) 'http' carry requests uninspected; leave portNumber "
                        "out"]
    # Another filter for the other port covers the rest.
    other = envoy_filter("port-80", patches=[http_filter(ext_proc_value(), port=80)])
    assert found(validate_gateway_covered, [*_edit(istio, _port(443)), other]) == []


def test_a_waf_filter_on_some_listeners_of_a_gateway_not_in_the_stack_is_reported():
    resources = _resources(harness.run_config(PACKAGE_SHAPES["existing-gateway"]))
    messages = found(validate_gateway_covered, _edit(resources, _port(443)))
    assert len(messages) == 1 and "Gateway edge/public" in messages[0]
    assert "its other listeners (the Gateway is not in this stack), and any added later," in messages[0]


def test_a_patch_of_the_waf_filter_is_read_over_it(istio):
    spec = copy.deepcopy(_filter(istio)["spec"])
    spec["configPatches"][0]["patch"]["value"]["typed_config"]["failure_mode_allow"] = True
    patch = envoy_filter("waf-patch", patch=True, name="sigsci-waf", patches=spec["configPatches"])
    messages = found(validate_extproc_fail_closed, [*istio, patch])
    assert len(messages) == 1 and messages[0].startswith("waf-patch (EnvoyFilterPatch sigsci-gateway/sigsci-waf)")


# -- values unknown during a preview ----------------------------------------------------------------------------

def test_values_unknown_during_preview_are_left_to_the_update(istio):
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    unknown = _edit(istio, _ext_proc(lambda c: c.update(message_timeout=UNKNOWN_STRING_VALUE,
                                                        processing_mode=UNKNOWN_STRING_VALUE,
                                                        failure_mode_allow=UNKNOWN_STRING_VALUE)))
    for validate in GATEWAY_POLICIES:
        assert _engine_violations(validate, unknown) == [], validate.__name__
    short = _edit(_edit(istio, _buffer(UNKNOWN_STRING_VALUE)), _ext_proc(lambda c: c.update(message_timeout="0.5s")))
    assert _engine_violations(validate_extproc_fail_closed, short) == []
    assert len(_engine_violations(validate_extproc_fail_closed, _edit(istio, _ext_proc(
        lambda c: c.update(message_timeout="0.5s"))))) == 1


# -- the neighbours are configuration Envoy takes ---------------------------------------------------------------

# What each applyTo patches, beyond the two the package writes (tests/envoy_api.py).
PATCHED = {**envoy_api.PATCHED, "HTTP_ROUTE": route_components_pb2.Route,
           "VIRTUAL_HOST": route_components_pb2.VirtualHost, "ROUTE_CONFIGURATION": route_pb2.RouteConfiguration}
SAMPLES = {
    "ext-proc-camel": http_filter(ext_proc_value(camel=True)),
    "ext-proc-port": http_filter(ext_proc_value(cluster(subset="v1", domain="corp.internal")), port=443),
    "merge": http_filter({"name": EXT_PROC, "typed_config": {"@type": ext_proc_value()["typed_config"]["@type"],
                                                             "failureModeAllow": True}}, "MERGE", EXT_PROC),
    "buffer-camel": listener_buffer(4 * 2 ** 20, "perConnectionBufferLimitBytes"),
    "buffer-string": listener_buffer("8388608"),
    **{f"route-{kind.lower()}": per_route(DISABLED, kind) for kind in PATCHED if kind not in envoy_api.PATCHED},
    "route-camel": per_route(DISABLED, key="typedPerFilterConfig"),
    "route-filter-config": per_route({"@type": FILTER_CONFIG, "config": DISABLED}),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_neighbours_patch_values_are_envoys_own(name):
    patch = SAMPLES[name]
    json_format.ParseDict(patch["patch"]["value"], PATCHED[patch["applyTo"]]())
