"""Envoy Gateway sends the Gateway's traffic to the agents: an EnvoyExtensionPolicy on the whole Gateway.

The policy sits in the Gateway's own namespace (a policy may only target its own namespace) and reaches the
agents elsewhere through a ReferenceGrant; a ClientTrafficPolicy lets Envoy buffer bodies up to the body limit
(Envoy Gateway's own buffer is 32 KiB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent import workloads
from ..config.gateway import ENVOY_GATEWAY_CONTROLLER
from .build import (AGENTS_NAME, GATEWAY_API, POLICY_NAME, agents_tls_policy, gateway_object, gateway_ref,
                    service_grant)

if TYPE_CHECKING:
    from ..resolve.gateway import ResolvedGateway

ENVOY_GATEWAY_API = "gateway.envoyproxy.io"
# Fastly's Envoy Gateway guide sets it.
SERVER_FLAVOR = "envoy-gateway"
# Pulumi waits until Envoy Gateway has accepted the WAF's policy on the Gateway before it counts the policy
# created (and makes the routes): a policy that is not accepted is not applied.
ACCEPTED = {"pulumi.com/waitFor": 'jsonpath={.status.ancestors[0].conditions[?(@.type=="Accepted")].status}=True'}
# The Envoy proxies Envoy Gateway runs (its data plane), the only clients the agents admit.
ENVOY_PROXY_LABELS = {"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy",
                      "app.kubernetes.io/managed-by": "envoy-gateway"}


def proxy_peer(gateway: ResolvedGateway, namespace: str) -> dict[str, Any]:
    """Envoy Gateway's proxies, in whichever namespace its controller runs them, as a NetworkPolicy in
    `namespace` names them."""
    return workloads.pod_peer(namespace, ENVOY_PROXY_LABELS, any_namespace=True)


def agents_network_policy(gateway: ResolvedGateway, labels: dict[str, str]) -> dict[str, Any]:
    """The agents admit Envoy Gateway's proxies only."""
    spec = gateway.spec
    return workloads.network_policy(AGENTS_NAME, spec.namespace, labels, labels, port=spec.agents.port,
                                    peers=[proxy_peer(gateway, spec.namespace)])


def inspection_objects(gateway: ResolvedGateway, created: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The GatewayClass (with a Gateway the stack creates, unless the class exists), the WAF's
    EnvoyExtensionPolicy, the ClientTrafficPolicy that lets Envoy buffer bodies up to the body limit (over HTTP/1
    and HTTP/2), the ReferenceGrant that lets the policy reach the agents in another namespace, and with
    agents.tls the BackendTLSPolicy (a Gateway API kind: after Envoy Gateway's install, which brings the CRDs)."""
    spec = gateway.spec
    home = spec.gateway_namespace
    objects: list[dict[str, Any]] = []
    if spec.creates_gateway_class:
        objects.append(gateway_object(f"{GATEWAY_API}/v1", "GatewayClass", spec.gateway_class_name, None,
                                      {"controllerName": ENVOY_GATEWAY_CONTROLLER}))
    objects.extend(created)
    backend: dict[str, Any] = {"group": "", "kind": "Service", "name": AGENTS_NAME, "port": spec.agents.port}
    if spec.namespace != home:
        backend["namespace"] = spec.namespace
        objects.append(service_grant(f"{POLICY_NAME}.{home}", spec.namespace, ENVOY_GATEWAY_API,
                                     "EnvoyExtensionPolicy", home, AGENTS_NAME))
    # Headers go to the agent only where a phase is named (Envoy Gateway skips them otherwise); bodies are
    # buffered up to the body limit and sent whole.
    mode: dict[str, Any] = {"request": {"body": "Buffered"}}
    if spec.inspect_responses:
        mode["response"] = {"body": "Buffered"}
    policy = gateway_object(f"{ENVOY_GATEWAY_API}/v1alpha1", "EnvoyExtensionPolicy", POLICY_NAME, home, {
        "targetRefs": [gateway_ref(gateway)],
        "extProc": [{"backendRefs": [backend], "processingMode": mode, "messageTimeout": spec.message_timeout,
                     "failOpen": spec.fail_open}]})
    policy["metadata"]["annotations"] = dict(ACCEPTED)
    objects.append(policy)
    # Over HTTP/2 a stream buffers up to its window (Envoy Gateway's default 64 KiB), not the connection's buffer.
    objects.append(gateway_object(f"{ENVOY_GATEWAY_API}/v1alpha1", "ClientTrafficPolicy", POLICY_NAME, home, {
        "targetRefs": [gateway_ref(gateway)], "connection": {"bufferLimit": spec.body_limit},
        "http2": {"initialStreamWindowSize": spec.http2_stream_window}}))
    if spec.agents.tls is not None:
        objects.append(agents_tls_policy(gateway))
    return objects
