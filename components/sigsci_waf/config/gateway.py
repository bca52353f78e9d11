"""What users may type under `sigsci:gateway`: the WAF on Gateway API, the agents as Envoy's external processor."""

from __future__ import annotations

import math
import re

from typing import Annotated

from pydantic import Field, StrictBool, model_validator
from pydantic.alias_generators import to_camel

from .agent import AgentSettings
from .choices import GatewayImplementation, PathType
from .errors import Problem
from .sensitive import STRUCTURE
from .kube import (ChartNamespace, ChartRepository, DnsLabel, DnsSubdomain, Host, Port, UnprivilegedPort, _text, is_ip,
                   is_label_value, quantity_value)
from .model import Model
from .routes import RouteBase

DEFAULT_GATEWAY_NAMESPACE = "sigsci-gateway"
DEFAULT_GATEWAY_NAME = "sigsci-gateway"
DEFAULT_GATEWAY_CLASS = "sigsci-envoy"
# The GatewayClass Istio creates for its own Gateway API controller; the stack uses it, never creates it.
ISTIO_GATEWAY_CLASS = "istio"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"
# Envoy Gateway's Helm chart (its Gateway API CRDs come with it), pinned as the ingress charts are.
ENVOY_GATEWAY_CHART = "gateway-helm"
ENVOY_GATEWAY_REPOSITORY = "oci://docker.io/envoyproxy"
ENVOY_GATEWAY_VERSION = "v1.9.0"
ENVOY_GATEWAY_CONTROLLER = "gateway.envoyproxy.io/gatewayclass-controller"
ISTIO_CONTROLLER = "istio.io/gateway-controller"
DEFAULT_AGENT_REPLICAS = 2
DEFAULT_AGENT_GRPC_PORT = 9999  # Fastly's guide's port
# Bodies up to this size are buffered and inspected whole; Envoy Gateway's own buffer is 32 KiB.
DEFAULT_BODY_LIMIT = "1Mi"
# Envoy's ext_proc default is 200 ms, too short for a buffered body (envoyproxy/envoy#27260).
DEFAULT_MESSAGE_TIMEOUT = "2s"
# A message timeout must allow this much per MiB of body limit (and never less than MIN_MESSAGE_TIMEOUT_MS).
TIMEOUT_MS_PER_MIB = 1000
MIN_MESSAGE_TIMEOUT_MS = 500
# Envoy's ext_proc refuses a message_timeout above 1 h (its API's validation rule: lte 3600s).
MAX_MESSAGE_TIMEOUT_MS = 3_600_000
MAX_BODY_LIMIT = 64 * 2 ** 20
# An HTTP/2 stream's buffer is its flow-control window (initial_stream_window_size), which Envoy bounds so.
MIN_HTTP2_WINDOW, MAX_HTTP2_WINDOW = 65535, 2 ** 31 - 1

# Gateway API's Duration (GEP-2257), as the CRDs' pattern takes it: up to four number+unit parts.
_DURATION = re.compile(r"([0-9]{1,5}(h|m|s|ms)){1,4}")
Duration = _text(_DURATION, 40, "a Gateway API duration such as '500ms', '2s' or '1m30s' (whole numbers, units h, "
                                "m, s, ms)")
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


# A size Envoy Gateway's bufferLimit takes: a whole number of bytes, optionally with a unit.
_BODY_LIMIT = re.compile(r"[1-9][0-9]*([KMGT]i|[kMGT])?")
BodyLimit = _text(_BODY_LIMIT, 20, "a whole size such as '1Mi', '512Ki' or '65536' (bytes; units Ki, Mi, Gi, k, M, "
                                   "G)")


def duration_ms(text: str) -> int:
    """Milliseconds of a Gateway API duration ('1m30s' -> 90000)."""
    return sum(int(n) * _UNIT_MS[unit] for n, unit in re.findall(r"([0-9]+)(h|ms|m|s)", text))


# Gateway API's rule for Exact and PathPrefix paths: RFC 3986 path characters, or %XX escapes.
_GATEWAY_PATH = re.compile(r"(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+")
MAX_GATEWAY_PATH = 1024
# A listener's certificateRefs, as the Gateway CRD bounds them.
MAX_TLS_SECRETS = 64


class GatewayRoute(RouteBase):
    """One HTTPRoute rule: host and path to an app of `sigsci:apps` or to a named Service."""

    path_type: PathType = PathType.PREFIX

    @model_validator(mode="after")
    def _gateway_path_types(self):
        if self.path_type == PathType.IMPLEMENTATION_SPECIFIC:
            raise Problem("pathType", "ImplementationSpecific has no Gateway API equivalent: use Prefix or Exact")
        if len(self.path) > MAX_GATEWAY_PATH or not _GATEWAY_PATH.fullmatch(self.path):
            raise Problem("path", f"{self.path!r}: an HTTPRoute path takes letters, digits, -/._~!$&'()*+,;=:@ and "
                                  f"%XX escapes, up to {MAX_GATEWAY_PATH} characters (Gateway API's rule)")
        return self


class ExistingGateway(Model):
    """A Gateway the cluster already runs (of the implementation): the stack attaches its routes and the WAF to it."""

    namespace: DnsLabel
    name: DnsSubdomain


class EnvoyGatewayInstall(Model):
    """Envoy Gateway itself, installed with its Helm chart; off for a cluster that already runs it, and by default
    with an existing Gateway (which Envoy Gateway already serves)."""

    # None: the default, installed unless existingGateway is set (GatewaySpec.installs_envoy_gateway).
    enabled: StrictBool | None = None
    namespace: ChartNamespace = DEFAULT_ENVOY_GATEWAY_NAMESPACE
    version: Annotated[str, STRUCTURE] = Field(default=ENVOY_GATEWAY_VERSION, pattern=r"^v?[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?$")
    repository: ChartRepository = ENVOY_GATEWAY_REPOSITORY


class AgentTls(Model):
    """TLS between Envoy and the agents: the agents serve `secret`'s certificate on their gRPC listener, and
    Envoy verifies it against the CA in `caSecret` for the name `hostname`."""

    # A kubernetes.io/tls Secret (tls.crt, tls.key) in the agents' namespace.
    secret: DnsSubdomain
    # A Secret with the CA certificate under ca.crt, in the agents' namespace; by default `secret` itself,
    # where cert-manager writes ca.crt beside the certificate.
    ca_secret: DnsSubdomain | None = None
    # The name Envoy checks the certificate for; by default the agents' Service's DNS name.
    hostname: Host | None = None

    @model_validator(mode="after")
    def _precise_hostname(self):
        if self.hostname is not None and self.hostname.startswith("*"):
            raise Problem("hostname", f"{self.hostname!r} is a wildcard: Envoy checks the agents' certificate "
                                      "for one precise name")
        if self.hostname is not None and is_ip(self.hostname):
            raise Problem("hostname", f"{self.hostname!r} is an IP address: Envoy sends the name as the TLS server "
                                      "name (SNI), which takes DNS names only")
        return self

    @property
    def ca(self) -> str:
        return self.ca_secret or self.secret


class GatewayAgents(Model):
    """The agents: their own Deployment and Service, Envoy's external processor over gRPC."""

    replicas: int = Field(default=DEFAULT_AGENT_REPLICAS, ge=1, le=100, strict=True)
    port: UnprivilegedPort = DEFAULT_AGENT_GRPC_PORT
    # Plaintext gRPC inside the cluster unless set (the NetworkPolicy admits only Envoy's proxies).
    tls: AgentTls | None = None


class IstioSettings(Model):
    """What the EnvoyFilter needs to know of an Istio mesh."""

    # Istio names the agents' Envoy cluster after their Service's full DNS name.
    cluster_domain: DnsSubdomain = DEFAULT_CLUSTER_DOMAIN


class GatewayListeners(Model):
    """The listeners of a Gateway the stack creates: HTTP, and HTTPS when TLS Secrets are given."""

    http_port: Port = 80
    https_port: Port = 443
    tls_secrets: list[DnsSubdomain] = Field(default=[], max_length=MAX_TLS_SECRETS)

    @model_validator(mode="after")
    def _ports_differ(self):
        if self.tls_secrets and self.http_port == self.https_port:
            raise Problem("httpsPort", f"must differ from httpPort ({self.http_port})")
        return self


class GatewaySpec(Model):
    """`sigsci:gateway`: the agents as Envoy's external processor, the policy that sends every request on the
    Gateway to them, the Gateway (created or existing), its routes, and Envoy Gateway itself."""

    implementation: GatewayImplementation = GatewayImplementation.ENVOY_GATEWAY
    namespace: DnsLabel = DEFAULT_GATEWAY_NAMESPACE
    create_namespace: StrictBool = True
    envoy_gateway: EnvoyGatewayInstall = Field(default_factory=EnvoyGatewayInstall)
    istio: IstioSettings = Field(default_factory=IstioSettings)
    name: DnsSubdomain = DEFAULT_GATEWAY_NAME
    # Envoy Gateway: the GatewayClass the stack creates (DEFAULT_GATEWAY_CLASS); Istio: Istio's own.
    gateway_class: DnsSubdomain | None = None
    existing_gateway: ExistingGateway | None = None
    listeners: GatewayListeners = Field(default_factory=GatewayListeners)
    agents: GatewayAgents = Field(default_factory=GatewayAgents)
    # The agents' own settings, over sigsci:agent: checked whole once merged.
    agent: AgentSettings = Field(default_factory=AgentSettings)
    body_limit: BodyLimit = DEFAULT_BODY_LIMIT
    message_timeout: Duration = DEFAULT_MESSAGE_TIMEOUT
    inspect_responses: StrictBool = True
    fail_open: StrictBool = False
    routes: list[GatewayRoute] = []
    # Stack config: also serve every route of sigsci:ingress, for the move off ingress-nginx.
    ingress_routes: StrictBool = False

    @model_validator(mode="after")
    def _rules(self):
        fields = self.model_fields_set
        if self.existing_gateway is not None:
            for key in ("name", "gateway_class", "listeners"):
                if key in fields:
                    raise Problem(to_camel(key), "applies to a Gateway the stack creates, not to existingGateway")
            if self.envoy_gateway.enabled:
                raise Problem("envoyGateway.enabled", "true with existingGateway: an existing Gateway of Envoy "
                                                      "Gateway means it already runs in the cluster, and a second "
                                                      "install collides with it; leave envoyGateway.enabled out "
                                                      "(false with existingGateway)")
        istio = self.implementation == GatewayImplementation.ISTIO
        for key, for_istio in (("envoy_gateway", False), ("istio", True)):
            if key in fields and istio != for_istio:
                raise Problem(to_camel(key), f"applies to implementation {to_camel(key)}, not {self.implementation}")
        if not is_label_value(self.gateway_name):
            key = "existingGateway.name" if self.existing_gateway is not None else "name"
            raise Problem(key, f"{self.gateway_name!r} is longer than 63 characters: the Gateway's name is a label "
                               "value on the proxies its implementation deploys (Envoy Gateway's "
                               "owning-gateway-name, Istio's gateway-name, which the WAF's filter selects them by), "
                               "and Kubernetes refuses a longer one, so the Gateway would get no proxies")
        if istio and self.agents.tls is not None:
            raise Problem("agents.tls", "is not offered with implementation istio: the gateway reaches the agents "
                                        "through Istio's own cluster, so encrypt that hop with Istio's mutual TLS "
                                        "(a sidecar on the agents)")
        limit = quantity_value(str(self.body_limit))
        if limit < 1024 or limit > MAX_BODY_LIMIT:
            raise Problem("bodyLimit", f"{self.body_limit} must be between 1Ki and 64Mi: bodies up to it are "
                                       "buffered in Envoy and sent to the agent whole")
        if duration_ms(self.message_timeout) > MAX_MESSAGE_TIMEOUT_MS:
            raise Problem("messageTimeout", f"{self.message_timeout} is longer than 1h, the longest message timeout "
                                            "Envoy's ext_proc takes (Envoy would refuse the configuration)")
        needed = max(MIN_MESSAGE_TIMEOUT_MS, math.ceil(limit * TIMEOUT_MS_PER_MIB / 2 ** 20))
        if duration_ms(self.message_timeout) < needed:
            raise Problem("messageTimeout", f"{self.message_timeout} is too short for bodyLimit {self.body_limit}: "
                                            f"allow at least {needed} ms ({TIMEOUT_MS_PER_MIB} ms per MiB, at least "
                                            f"{MIN_MESSAGE_TIMEOUT_MS} ms), or the agent's answer arrives after "
                                            "Envoy has given up on it")
        return self

    @property
    def body_limit_bytes(self) -> int:
        return int(quantity_value(str(self.body_limit)))

    @property
    def http2_stream_window(self) -> int:
        """An HTTP/2 stream's initial window: the body limit, within Envoy's bounds. Over HTTP/2 the stream's
        window, not the connection's buffer, is what a buffered body must fit in."""
        return min(MAX_HTTP2_WINDOW, max(MIN_HTTP2_WINDOW, self.body_limit_bytes))

    @property
    def installs_envoy_gateway(self) -> bool:
        """Envoy Gateway's chart is installed: `envoyGateway.enabled`, by default unless existingGateway."""
        enabled = self.envoy_gateway.enabled
        return self.implementation == GatewayImplementation.ENVOY_GATEWAY and (
            enabled if enabled is not None else self.existing_gateway is None)

    @property
    def creates_gateway_class(self) -> bool:
        """The stack creates the created Gateway's class: Envoy Gateway's, when it installs Envoy Gateway or the
        class is its own default name. A class named without the install, and Istio's, exist in the cluster:
        they are read and checked (`reads_gateway_class`), never created over someone else's."""
        return (self.existing_gateway is None and self.implementation == GatewayImplementation.ENVOY_GATEWAY
                and (self.installs_envoy_gateway or self.gateway_class is None))

    @property
    def reads_gateway_class(self) -> bool:
        """The Gateway's class is one the cluster has: read at preview and checked for the implementation's
        controller (an existing Gateway's too)."""
        return not self.creates_gateway_class

    @property
    def gateway_class_name(self) -> str:
        if self.gateway_class is not None:
            return self.gateway_class
        return ISTIO_GATEWAY_CLASS if self.implementation == GatewayImplementation.ISTIO else DEFAULT_GATEWAY_CLASS

    @property
    def gateway_namespace(self) -> str:
        return self.existing_gateway.namespace if self.existing_gateway else self.namespace

    @property
    def gateway_name(self) -> str:
        return self.existing_gateway.name if self.existing_gateway else self.name

