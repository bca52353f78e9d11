"""Kubernetes objects for the WAF on Gateway API: the agents as Envoy's external processor, the Gateway and its
routes, and (from the implementation's module, `envoy_gateway` or `istio`) what sends every request on the
Gateway to the agents.

Pure functions of a resolved gateway; the component only turns them into resources. Fail-closed by
construction: what sends traffic to the agents covers the whole Gateway (every route attached to it, every
listener), its backend is the agents' Service on the one port that also sets their listener, and it does not
fail open unless the config says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent import workloads
from ..agent.container import GRPC_PORT_NAME, TLS_VOLUME, ExtProc, build_agent
from ..config.choices import GatewayImplementation, PathType, ServiceType
from ..config.refs import GATEWAY_CONTROLLER
from ..resolve.gateway import GatewayObjects
from .existing import CHECKED_ANNOTATION

if TYPE_CHECKING:
    from ..resolve.gateway import ResolvedGateway
    from ..resolve.routes import ResolvedRoute

GATEWAY_API = "gateway.networking.k8s.io"
# The agents' Deployment and Service in the gateway's namespace, and the WAF's policies beside the Gateway.
AGENTS_NAME = "sigsci-extproc"
POLICY_NAME = "sigsci-waf"
_PATH_MATCH = {PathType.PREFIX: "PathPrefix", PathType.EXACT: "Exact"}
# Where the agents find their gRPC listener's certificate and key (agents.tls).
TLS_MOUNT = "/etc/sigsci/grpc-tls"


def agent_labels(gateway: ResolvedGateway) -> dict[str, str]:
    """Told apart from the ingress's agents and an app's agents by component."""
    # One gateway's agents per namespace (they take AGENTS_NAME there): the name, not the Gateway's (a DNS
    # subdomain up to 253 characters, where a label value holds 63).
    return {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": AGENTS_NAME,
            "app.kubernetes.io/component": "gateway-agent"}


def agents(gateway: ResolvedGateway, secret_name: Any, credentials_hash: Any | None) -> tuple[list[dict], list[str]]:
    """The agents' Deployment (spread over nodes), Service, NetworkPolicy and PodDisruptionBudget."""
    spec = gateway.spec
    tls = spec.agents.tls
    mode = ExtProc(port=spec.agents.port, flavor=implementation(gateway).SERVER_FLAVOR,
                   tls_mount=TLS_MOUNT if tls else None)
    parts = build_agent(gateway.agent, secret_name, mode, secret=gateway.secret)
    name, namespace, labels = AGENTS_NAME, spec.namespace, agent_labels(gateway)
    volumes = [parts.volume]
    if tls is not None:  # the certificate and key only: the CA stays with Envoy
        volumes.append({"name": TLS_VOLUME, "secret": {"secretName": tls.secret, "items": [
            {"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}]}})
    deployment = workloads.deployment(
        name, namespace, labels, replicas=spec.agents.replicas,
        grace_period=parts.pre_stop_seconds + workloads.SHUTDOWN_MARGIN_SECONDS, containers=[parts.container],
        volumes=volumes, annotations=workloads.pod_annotations(parts.container["name"], credentials_hash),
        spread=True)
    # One port value: the listener, the container port, the Service and the readiness probe.
    service = workloads.service(name, namespace, labels, labels, service_type=ServiceType.CLUSTER_IP,
                                port=spec.agents.port, target_port=spec.agents.port, port_name=GRPC_PORT_NAME)
    policy = implementation(gateway).agents_network_policy(gateway, labels)
    objects = [deployment, service, policy,
               *workloads.disruption_budget(name, namespace, labels, labels, spec.agents.replicas)]
    return objects, parts.warnings


def agents_hostname(gateway: ResolvedGateway) -> str:
    """The name Envoy checks the agents' certificate for: `agents.tls.hostname`, else their Service's."""
    tls = gateway.spec.agents.tls
    return (tls.hostname if tls and tls.hostname else None) or f"{AGENTS_NAME}.{gateway.spec.namespace}.svc"


def agents_tls_policy(gateway: ResolvedGateway) -> dict[str, Any]:
    """Envoy speaks TLS to the agents' gRPC port and verifies their certificate against the CA Secret, for the
    agents' name (Gateway API's BackendTLSPolicy, beside the Service it targets)."""
    spec = gateway.spec
    assert spec.agents.tls is not None
    return gateway_object(f"{GATEWAY_API}/v1", "BackendTLSPolicy", AGENTS_NAME, spec.namespace, {
        "targetRefs": [{"group": "", "kind": "Service", "name": AGENTS_NAME, "sectionName": GRPC_PORT_NAME}],
        "validation": {"caCertificateRefs": [{"group": "", "kind": "Secret", "name": spec.agents.tls.ca}],
                       "hostname": agents_hostname(gateway)}})


def gateway_object(api_version: str, kind: str, name: str, namespace: str | None,
                   spec: dict[str, Any]) -> dict[str, Any]:
    metadata = workloads.metadata(name, namespace or "", {"app.kubernetes.io/name": "sigsci-waf"})
    if namespace is None:  # cluster-scoped
        del metadata["namespace"]
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def gateway_ref(gateway: ResolvedGateway) -> dict[str, str]:
    return {"group": GATEWAY_API, "kind": "Gateway", "name": gateway.spec.gateway_name}


def service_grant(name: str, namespace: str, from_group: str, from_kind: str, from_namespace: str,
                  service: str) -> dict[str, Any]:
    """Lets objects of one kind in `from_namespace` reference one Service in `namespace`."""
    return gateway_object(f"{GATEWAY_API}/v1beta1", "ReferenceGrant", name, namespace, {
        "from": [{"group": from_group, "kind": from_kind, "namespace": from_namespace}],
        "to": [{"group": "", "kind": "Service", "name": service}]})


def the_gateway(gateway: ResolvedGateway) -> dict[str, Any]:
    """The Gateway the stack creates: an HTTP listener, and an HTTPS one serving the TLS Secrets; its listeners
    admit only HTTPRoutes of its own namespace, the stack's."""
    spec = gateway.spec
    same = {"namespaces": {"from": "Same"}}
    listeners = [{"name": "http", "protocol": "HTTP", "port": spec.listeners.http_port, "allowedRoutes": same}]
    if spec.listeners.tls_secrets:
        listeners.append({"name": "https", "protocol": "HTTPS", "port": spec.listeners.https_port,
                          "tls": {"mode": "Terminate", "certificateRefs": [
                              {"group": "", "kind": "Secret", "name": secret}
                              for secret in spec.listeners.tls_secrets]},
                          "allowedRoutes": same})
    return gateway_object(f"{GATEWAY_API}/v1", "Gateway", spec.name, spec.gateway_namespace,
                          {"gatewayClassName": spec.gateway_class_name, "listeners": listeners})


def implementation(gateway: ResolvedGateway):
    """The module that knows how the implementation sends the Gateway's traffic to the agents."""
    from . import envoy_gateway, istio

    return {GatewayImplementation.ENVOY_GATEWAY: envoy_gateway,
            GatewayImplementation.ISTIO: istio}[gateway.spec.implementation]


def gateway_objects(gateway: ResolvedGateway) -> list[dict[str, Any]]:
    """The Gateway (unless it exists), and what makes the implementation send its traffic to the agents."""
    created = [the_gateway(gateway)] if gateway.spec.existing_gateway is None else []
    return implementation(gateway).inspection_objects(gateway, created)


def route_objects(gateway: ResolvedGateway, routes: tuple[ResolvedRoute, ...]) -> list[dict[str, Any]]:
    """One HTTPRoute per route, in the Gateway's namespace and attached to it; a ReferenceGrant in each other
    namespace whose Service a route reaches."""
    spec = gateway.spec
    home = spec.gateway_namespace
    objects: list[dict[str, Any]] = []
    granted: set[tuple[str, str]] = set()
    for route in routes:
        backend: dict[str, Any] = {"group": "", "kind": "Service", "name": route.service, "port": route.port}
        if route.namespace != home:
            backend["namespace"] = route.namespace
            if (route.namespace, route.service) not in granted:
                granted.add((route.namespace, route.service))
                objects.append(service_grant(f"sigsci-gateway.{home}.{route.service}", route.namespace,
                                              GATEWAY_API, "HTTPRoute", home, route.service))
        rule = {"matches": [{"path": {"type": _PATH_MATCH[route.route.path_type], "value": route.route.path}}],
                "backendRefs": [backend]}
        body: dict[str, Any] = {"parentRefs": [gateway_ref(gateway)],
                                "rules": [rule]}
        if route.route.host is not None:
            body["hostnames"] = [route.route.host]
        objects.append(gateway_object(f"{GATEWAY_API}/v1", "HTTPRoute", route.name, home, body))
    return objects


def build_gateway(gateway: ResolvedGateway, secret_name: Any, credentials_hash: Any | None) -> GatewayObjects:
    agent_objects, warnings = agents(gateway, secret_name, credentials_hash)
    inspection, routes = gateway_objects(gateway), route_objects(gateway, gateway.routes)
    if gateway.spec.reads_gateway_class:
        # None of them is created before the Gateway's class (an existing Gateway's) is read and checked.
        for obj in (*inspection, *routes):
            obj["metadata"].setdefault("annotations", {})[CHECKED_ANNOTATION] = GATEWAY_CONTROLLER
    return GatewayObjects(agents=agent_objects, gateway=inspection, routes=routes, warnings=warnings)
