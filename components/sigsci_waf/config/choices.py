"""Every closed choice of the configuration, declared once.

The settings models validate against these enums, the components' Args carry them (Pulumi's schema analyzer
turns each into an enum of the package schema, from these docstrings), and the docs list their values. They
are `StrEnum`s: a member is its value wherever a string is expected (manifests, messages, comparisons).
"""

from enum import StrEnum


class Placement(StrEnum):
    """Where the agent runs for an app."""

    OWNED = "owned"
    """The component creates the app's Deployment (with the agent) and Service."""
    PATCH = "patch"
    """The agent is added to an existing Deployment; the existing Service's targetPort moves to it."""
    SERVICE = "service"
    """The agents run as their own Deployment and Service in front of the app's Service."""
    MODULE = "module"
    """The app's image carries a Fastly module: the agent runs beside it as a native sidecar, reached over a
    socket (or localhost TCP); the app's own Deployment (created, or an existing one given by `deployment`)."""


class PullPolicy(StrEnum):
    """A container image pull policy."""

    ALWAYS = "Always"
    """Pull on every pod start."""
    IF_NOT_PRESENT = "IfNotPresent"
    """Pull when the node does not have the image."""
    NEVER = "Never"
    """Never pull: the image must be on the node."""


class ServiceType(StrEnum):
    """A Kubernetes Service type."""

    CLUSTER_IP = "ClusterIP"
    """Reachable inside the cluster."""
    NODE_PORT = "NodePort"
    """Also on a port of every node."""
    LOAD_BALANCER = "LoadBalancer"
    """Also through the cloud's load balancer."""


class TakeOver(StrEnum):
    """A field placement patch takes from its owner, named by the app to opt in."""

    SERVICE_TARGET_PORT = "service.targetPort"
    """The targetPort of the Service port clients use: it moves to the agent, and goes back on removal."""


class Flavour(StrEnum):
    """The ingress controller: a chart plus the Fastly build of its controller image."""

    INGRESS_NGINX = "ingress-nginx"
    """kubernetes/ingress-nginx (retired upstream; last release 4.15.1) with the Fastly module."""
    INGRESS_NGINX_CHAINGUARD = "ingress-nginx-chainguard"
    """The ingress-nginx chart with the maintained Chainguard-based Fastly controller image."""
    NGINX_INGRESS = "nginx-ingress"
    """F5 NGINX Ingress Controller with the Fastly module."""


class AgentLifetime(StrEnum):
    """How the controller's agent runs."""

    NATIVE_SIDECAR = "nativeSidecar"
    """In the controller pod, started before nginx and stopped after it (Kubernetes >= 1.29)."""
    CLASSIC_SIDECAR = "classicSidecar"
    """In the controller pod as an extra container, sleeping through the controller's drain."""
    SERVICE = "service"
    """As its own Deployment and Service, reached over TCP."""


class ExternalTrafficPolicy(StrEnum):
    """How the controller Service spreads external traffic."""

    CLUSTER = "Cluster"
    """Over every node (client addresses are hidden)."""
    LOCAL = "Local"
    """To nodes running a controller pod (client addresses are kept)."""


class PathType(StrEnum):
    """How an Ingress path matches."""

    PREFIX = "Prefix"
    """Path prefix, by segment."""
    EXACT = "Exact"
    """The exact path."""
    IMPLEMENTATION_SPECIFIC = "ImplementationSpecific"
    """As the controller reads it (regular expressions in ingress-nginx)."""


class GatewayImplementation(StrEnum):
    """Which Gateway API implementation sends the traffic to the agents."""

    ENVOY_GATEWAY = "envoyGateway"
    """Envoy Gateway: an EnvoyExtensionPolicy sends every request on the Gateway to the agents (ext_proc)."""
    ISTIO = "istio"
    """Istio's Gateway API gateway: an EnvoyFilter adds ext_proc to the Gateway's Envoy proxies."""
