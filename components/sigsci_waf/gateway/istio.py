"""Istio sends the Gateway's traffic to the agents: an EnvoyFilter adds Envoy's ext_proc filter to every HTTP
listener of the Gateway's proxies.

Istio deploys a proxy for each Gateway of its class and labels its pods with the Gateway's name
(`gateway.networking.k8s.io/gateway-name`, Gateway API's own label), so the filter selects exactly the
Gateway's proxies and every route attached to it. The filter fails closed (`failure_mode_allow` false) unless
the config says `failOpen`; a second patch raises the listeners' per-connection buffer to the body limit, and a
third the HTTP/2 stream window (a stream's buffer) to it, so a larger buffered body is refused (413), never passed
uninspected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent import workloads
from ..config.gateway import duration_ms
from .build import AGENTS_NAME, POLICY_NAME, gateway_object

if TYPE_CHECKING:
    from ..resolve.gateway import ResolvedGateway

ISTIO_NETWORKING_API = "networking.istio.io/v1alpha3"
# Fastly's guides set a server flavor for Envoy Gateway only.
SERVER_FLAVOR = None
# The label Gateway API implementations put on a Gateway's generated workloads (GEP-1762); Istio does.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
EXT_PROC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"
HCM_FILTER = "envoy.filters.network.http_connection_manager"
HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def proxy_labels(gateway: ResolvedGateway) -> dict[str, str]:
    return {GATEWAY_NAME_LABEL: gateway.spec.gateway_name}


def proxy_peer(gateway: ResolvedGateway, namespace: str) -> dict[str, Any]:
    """The Gateway's own proxies, in the Gateway's namespace, as a NetworkPolicy in `namespace` names them."""
    return workloads.pod_peer(namespace, proxy_labels(gateway), from_namespace=gateway.spec.gateway_namespace)


def agents_network_policy(gateway: ResolvedGateway, labels: dict[str, str]) -> dict[str, Any]:
    """The agents admit the Gateway's own proxies only."""
    spec = gateway.spec
    return workloads.network_policy(AGENTS_NAME, spec.namespace, labels, labels, port=spec.agents.port,
                                    peers=[proxy_peer(gateway, spec.namespace)])


def agents_cluster(gateway: ResolvedGateway) -> str:
    """The Envoy cluster Istio makes for the agents' Service port."""
    spec = gateway.spec
    return f"outbound|{spec.agents.port}||{AGENTS_NAME}.{spec.namespace}.svc.{spec.istio.cluster_domain}"


def proto_duration(ms: int) -> str:
    """A duration as protobuf's JSON spells it: seconds, with the fraction ('1m30s' -> '90s', 500 ms ->
    '0.500s')."""
    seconds, rest = divmod(ms, 1000)
    return f"{seconds}.{rest:03d}s" if rest else f"{seconds}s"


def ext_proc_filter(gateway: ResolvedGateway) -> dict[str, Any]:
    """Envoy's ext_proc filter, as Envoy's API spells it: every request (headers, then the body buffered whole)
    and, with inspectResponses, every response to the agents."""
    spec = gateway.spec
    responses = spec.inspect_responses
    return {"name": EXT_PROC_FILTER, "typed_config": {
        "@type": EXT_PROC_TYPE,
        "grpc_service": {"envoy_grpc": {"cluster_name": agents_cluster(gateway)}},
        "failure_mode_allow": spec.fail_open,
        "message_timeout": proto_duration(duration_ms(spec.message_timeout)),
        "processing_mode": {"request_header_mode": "SEND", "request_body_mode": "BUFFERED",
                            "response_header_mode": "SEND" if responses else "SKIP",
                            "response_body_mode": "BUFFERED" if responses else "NONE"}}}


def inspection_objects(gateway: ResolvedGateway, created: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Gateway (of Istio's class) if the stack creates it, and the EnvoyFilter beside the Gateway."""
    spec = gateway.spec
    on_gateway = {"context": "GATEWAY"}
    envoy_filter = gateway_object(ISTIO_NETWORKING_API, "EnvoyFilter", POLICY_NAME, spec.gateway_namespace, {
        "workloadSelector": {"labels": proxy_labels(gateway)},
        "configPatches": [
            {"applyTo": "HTTP_FILTER",
             "match": {**on_gateway, "listener": {"filterChain": {"filter": {
                 "name": HCM_FILTER, "subFilter": {"name": "envoy.filters.http.router"}}}}},
             "patch": {"operation": "INSERT_BEFORE", "value": ext_proc_filter(gateway)}},
            {"applyTo": "LISTENER", "match": on_gateway,
             "patch": {"operation": "MERGE", "value": {"per_connection_buffer_limit_bytes": spec.body_limit_bytes}}},
            # Over HTTP/2 a stream buffers up to its window, not the connection's buffer.
            {"applyTo": "NETWORK_FILTER",
             "match": {**on_gateway, "listener": {"filterChain": {"filter": {"name": HCM_FILTER}}}},
             "patch": {"operation": "MERGE", "value": {"name": HCM_FILTER, "typed_config": {
                 "@type": HCM_TYPE,
                 "http2_protocol_options": {"initial_stream_window_size": spec.http2_stream_window}}}}},
        ]})
    return [*created, envoy_filter]
