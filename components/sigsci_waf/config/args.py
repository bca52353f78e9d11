"""The typed shape of the components' arguments: what other languages' SDKs are generated from.

Pulumi infers the package schema from these TypedDicts and enums (required keys, closed choices as enums,
nested objects as types) and copies the field docstrings into every SDK, so they are literal text. The values
are still validated by the settings models (agent.py, ingress.py), which give the error sentences and hold the
defaults. Tests keep both in step: each field's name and type (tests/test_typed_schema.py), and each default a
docstring states, always as its last sentence `Default: ...` (tests/test_defaults.py).
"""


from enum import Enum
from typing import Any, Mapping, NotRequired, TypedDict

from .choices import ExternalTrafficPolicy, PathType, PullPolicy, ServiceType


class QuantitiesArgs(TypedDict, total=False):
    cpu: str
    """CPU quantity (Kubernetes' syntax: '250m', '1', '0.5')."""
    memory: str
    """Memory quantity (Kubernetes' syntax: '256Mi', '1Gi')."""


class ResourcesArgs(TypedDict, total=False):
    requests: QuantitiesArgs
    """What the container is scheduled with."""
    limits: QuantitiesArgs
    """What the container may use at most."""


class StartupProbeArgs(TypedDict, total=False):
    enabled: bool
    """Hold traffic until the agent has loaded its rules (agent >= 4.51.0); `false` opts out. Default: `true`."""
    port: int
    """The probe's port (>= 1024). Default: `2024`."""
    failure_threshold: int
    """Failed probes before the container is restarted. Default: `90`."""
    period_seconds: int
    """Seconds between probes. Default: `2`."""


class AgentArgs(TypedDict, total=False):
    repository: str
    """The agent image repository. Default: `signalsciences/sigsci-agent`."""
    version: str
    """The agent image tag: a release, `latest`, or a custom tag with image_pull_policy. Default: `4.70.0`."""
    digest: str
    """Pin the image by digest (`sha256:<64 hex>`)."""
    image_pull_policy: PullPolicy
    """Pull policy; required for a custom tag. Default: `IfNotPresent` for a release, `Always` for `latest`."""
    resources: ResourcesArgs
    """The agent container's requests and limits. Default: requests `100m`/`256Mi`, limits `1`/`512Mi`."""
    options: dict[str, str]
    """Agent options by their names (`max-procs`, `log-out`, ...), checked against the known list."""
    unlisted_options: dict[str, str]
    """Options the known list lacks (a newer agent's); checked for spelling only, with a warning."""
    tmp_mount_path: str
    """Where the agent's temp volume (socket, cache) is mounted. Default: `/sigsci/tmp`."""
    pre_stop_sleep_seconds: int
    """The agent's preStop sleep, so it drains before it stops. Default: `30`."""
    startup_probe: StartupProbeArgs
    """The agent's startup probe."""
    run_as_user: int
    """UID (and GID) of the agent container. Default: `10001`."""
    access_log: bool
    """Log each proxied request to stdout. Default: `true`."""


class ChartArgs(TypedDict, total=False):
    version: str
    """The chart version. Default: per flavour."""
    repository: str
    """The chart repository URL (https:// or oci://), e.g. a private mirror. Default: the flavour's repository."""


class ControllerImageArgs(TypedDict, total=False):
    repository: str
    """The controller image repository, e.g. a private mirror. Default: the flavour's Fastly image."""
    tag: str
    """Its tag. Default: the Fastly build for `chart.version`."""
    digest: str
    """Pin the image by digest (`sha256:<64 hex>`)."""
    pull_policy: PullPolicy
    """Pull policy. Default: `IfNotPresent`."""


class ControllerArgs(TypedDict, total=False):
    image: ControllerImageArgs
    """The controller image."""
    replicas: int
    """Controller pods. Default: `2`."""
    resources: ResourcesArgs
    """The controller container's requests and limits. Default: requests `100m`/`128Mi`, memory limit `512Mi`, no CPU
    limit."""
    termination_grace_period_seconds: int
    """The controller's drain, 30-3600 s. Default: `300`."""


class AgentServiceArgs(TypedDict, total=False):
    replicas: int
    """Agent pods when the agents are their own Service. Default: `2`."""
    port: int
    """Their RPC port (>= 1024). Default: `9999`."""


class IngressClassArgs(TypedDict, total=False):
    name: str
    """The IngressClass this controller serves. Default: `sigsci-nginx`."""
    default: bool
    """Make it the cluster's default class. Default: `false`."""


class ControllerServiceArgs(TypedDict, total=False):
    type: ServiceType
    """The controller Service's type. Default: `LoadBalancer`."""
    external_traffic_policy: ExternalTrafficPolicy
    """`Local` keeps client addresses; `Cluster` spreads traffic over every node. Default: `Local`."""
    annotations: dict[str, str]
    """Annotations of the controller Service (e.g. the cloud's load balancer settings)."""


class ServiceBackendArgs(TypedDict):
    name: str
    """The Service's name."""
    port: int
    """Its port."""


class RouteArgs(TypedDict, total=False):
    name: str
    """The Ingress's name. Default: the backend Service's name."""
    host: str
    """The host it matches (a DNS name, `*.` wildcard allowed); required with flavour `nginx-ingress`, whose
    controller serves only rules with a host. Default: any host."""
    path: str
    """The path it matches. Default: `/`."""
    path_type: PathType
    """How the path matches. Default: `Prefix`."""
    app: str
    """Route to an app of `apps` by name (Python; other languages use service)."""
    service: ServiceBackendArgs
    """Route to a Service by name and port."""
    namespace: str
    """With service: the Service's namespace; with app: which app of that name. Default: `default` with service."""
    annotations: dict[str, str]
    """Annotations of the Ingress (the controller family's own prefix)."""
    tls_secret: str
    """The TLS Secret for host."""


class GatewayRouteArgs(TypedDict, total=False):
    name: str
    """The HTTPRoute's name. Default: the backend Service's name."""
    host: str
    """The host it matches (a DNS name, `*.` wildcard allowed). Default: any host."""
    path: str
    """The path it matches. Default: `/`."""
    path_type: PathType
    """How the path matches: `Prefix` or `Exact` (ImplementationSpecific has no Gateway API equivalent).
    Default: `Prefix`."""
    app: str
    """Route to an app of `apps` by name (Python; other languages use service)."""
    service: ServiceBackendArgs
    """Route to a Service by name and port."""
    namespace: str
    """With service: the Service's namespace; with app: which app of that name. Default: `default` with service."""


class ExistingGatewayArgs(TypedDict):
    namespace: str
    """The existing Gateway's namespace."""
    name: str
    """The existing Gateway's name."""


class EnvoyGatewayInstallArgs(TypedDict, total=False):
    enabled: bool
    """Install Envoy Gateway with its Helm chart; false for a cluster that already runs it (true is refused with
    an existing Gateway, which means Envoy Gateway runs). Default: `true`; `false` with `existingGateway`."""
    namespace: str
    """Envoy Gateway's namespace (it must exist). Default: `envoy-gateway-system`."""
    version: str
    """The gateway-helm chart version. Default: `v1.9.0`."""
    repository: str
    """The chart's repository, oci:// or a classic https:// one (a mirror works), without a user name or password.
    Default: `oci://docker.io/envoyproxy`."""


class IstioArgs(TypedDict, total=False):
    cluster_domain: str
    """The cluster's DNS domain: Istio names the agents' Envoy cluster after their Service's full name.
    Default: `cluster.local`."""


class GatewayListenersArgs(TypedDict, total=False):
    http_port: int
    """The HTTP listener's port. Default: `80`."""
    https_port: int
    """The HTTPS listener's port (with tls_secrets). Default: `443`."""
    tls_secrets: list[str]
    """TLS Secrets in the Gateway's namespace: an HTTPS listener serves them."""


class AgentTlsArgs(TypedDict):
    secret: str
    """A kubernetes.io/tls Secret (tls.crt, tls.key) in the agents' namespace: the agents serve it."""
    ca_secret: NotRequired[str]
    """A Secret with the CA certificate under ca.crt, in the agents' namespace. Default: `secret`."""
    hostname: NotRequired[str]
    """The name Envoy checks the agents' certificate for. Default: the agents' Service's name,
    `sigsci-extproc.<namespace>.svc`."""


class GatewayAgentsArgs(TypedDict, total=False):
    replicas: int
    """Agent pods (spread over nodes, with a PodDisruptionBudget above one). Default: `2`."""
    port: int
    """Their gRPC port (>= 1024): the listener, the container port, the Service and the probe. Default: `9999`."""
    tls: AgentTlsArgs
    """TLS between Envoy and the agents: {secret, ca_secret, hostname}; without it, plaintext gRPC."""


def plain_values(value: Any) -> Any:
    """Arguments as the config schema takes them: enum members as their values and whole floats as integers,
    at any depth. Other languages' numbers reach a component through the engine as floats (8080.0), and
    the schema takes ports and counts as strict integers."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(v) for v in value]
    return value
