"""What docs/configuration.md (the `sigsci:gateway` table) and docs/gateway.md say about the gateway, written
out from the docs, never taken from the package: its defaults, the sizes and durations its keys take, and the
rule between `bodyLimit` and `messageTimeout`. The fuzzing (tests/fuzz_configs.py) draws configs with it and
the invariants (tests/invariants.py) judge the objects with it, so a package that drifts from the docs cannot
hide behind its own constants.
"""

from __future__ import annotations

import math
import re
from typing import Any

ENVOY_GATEWAY, ISTIO = "envoyGateway", "istio"
IMPLEMENTATIONS = [ENVOY_GATEWAY, ISTIO]  # implementation; the first is the default
NAMESPACE = "sigsci-gateway"  # namespace: the agents', and the Gateway's when the stack creates it
NAME = "sigsci-gateway"  # name
# gatewayClass: "sigsci-envoy, which the stack creates for Envoy Gateway; istio, Istio's own, with implementation
# istio".
GATEWAY_CLASS = {ENVOY_GATEWAY: "sigsci-envoy", ISTIO: "istio"}
# The keys of one implementation only: "implementation envoyGateway only, as every envoyGateway key", "istio
# only"; agents.tls with Envoy Gateway ("with Istio, its mutual TLS").
ONLY_FOR = {"envoyGateway": ENVOY_GATEWAY, "istio": ISTIO, "agents.tls": ENVOY_GATEWAY}
CLUSTER_DOMAIN = "cluster.local"  # istio.clusterDomain
# docs/gateway.md: Istio labels a Gateway's proxies with its name, which the EnvoyFilter selects them by.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
ENVOY_GATEWAY_NAMESPACE = "envoy-gateway-system"  # envoyGateway.namespace
ENVOY_GATEWAY_VERSION = "v1.9.0"  # envoyGateway.version
HTTP_PORT, HTTPS_PORT = 80, 443  # listeners.httpPort, listeners.httpsPort
AGENTS_PORT = 9999  # agents.port
AGENTS_REPLICAS = 2  # agents.replicas
AGENTS_NAME = "sigsci-extproc"  # docs/gateway.md: the agents' Deployment and Service
BODY_LIMIT, MESSAGE_TIMEOUT = "1Mi", "2s"
BODY_LIMIT_MIN, BODY_LIMIT_MAX = 1 << 10, 64 << 20  # bodyLimit: 1Ki–64Mi
# messageTimeout: "at least 1 s per MiB of bodyLimit, at least 500 ms", "at most 1h".
TIMEOUT_MS_PER_MIB, MIN_TIMEOUT_MS = 1000, 500
MAX_TIMEOUT_MS = 3_600_000
# bodyLimit: "sets ... the HTTP/2 stream window (at least 65535 bytes)"; Envoy's bounds on the window.
MIN_HTTP2_WINDOW, MAX_HTTP2_WINDOW = 65535, 2 ** 31 - 1
# routes[].pathType: ImplementationSpecific "has no Gateway API equivalent and is refused".
PATH_TYPES = ["Prefix", "Exact"]
GATEWAY_API = "gateway.networking.k8s.io"
ENVOY_GATEWAY_API = "gateway.envoyproxy.io"

_SIZE = re.compile(r"([0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")
_SIZE_UNIT = {None: 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
              "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
# Gateway API's Duration (GEP-2257): one to four parts of a whole number and a unit.
_DURATION = re.compile(r"([0-9]{1,5}(h|ms|m|s)){1,4}")
_DURATION_PART = re.compile(r"([0-9]+)(h|ms|m|s)")
_DURATION_UNIT = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def size_bytes(value: Any) -> int | None:
    """Bytes of a whole size ('1Mi', '512Ki', '1500k', '65536' or a number of bytes); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    return int(match[1]) * _SIZE_UNIT[match[2]] if match else None


def duration_ms(value: Any) -> int | None:
    """Milliseconds of a Gateway API duration ('1m30s' -> 90000); None for anything else."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        return None
    return sum(int(n) * _DURATION_UNIT[unit] for n, unit in _DURATION_PART.findall(value))


def min_timeout_ms(body_bytes: int) -> float:
    """The shortest messageTimeout the docs allow for a body limit: 1 s per MiB, at least 500 ms (not rounded)."""
    return max(MIN_TIMEOUT_MS, TIMEOUT_MS_PER_MIB * body_bytes / (1 << 20))


def shortest_timeout(body_bytes: int) -> int:
    """The shortest whole-millisecond messageTimeout the docs allow."""
    return math.ceil(min_timeout_ms(body_bytes))


def http2_window(body_bytes: int) -> int:
    """The HTTP/2 stream window the docs say a body limit sets."""
    return min(MAX_HTTP2_WINDOW, max(MIN_HTTP2_WINDOW, body_bytes))


def implementation(gateway: dict) -> str:
    return gateway.get("implementation", IMPLEMENTATIONS[0])


def installs_envoy_gateway(gateway: dict) -> bool:
    """envoyGateway.enabled: "default true; false with existingGateway", implementation envoyGateway only."""
    enabled = (gateway.get("envoyGateway") or {}).get("enabled")
    return implementation(gateway) == ENVOY_GATEWAY and (
        enabled if enabled is not None else not gateway.get("existingGateway"))


def creates_gateway_class(gateway: dict) -> bool:
    """gatewayClass: the stack creates it for Envoy Gateway "when it installs Envoy Gateway, or unnamed"; a class
    named without the install, and Istio's, are read from the cluster and checked, not created."""
    return not gateway.get("existingGateway") and implementation(gateway) == ENVOY_GATEWAY and (
        installs_envoy_gateway(gateway) or "gatewayClass" not in gateway)


def home(gateway: dict) -> tuple[str, str]:
    """(namespace, name) of the Gateway the WAF is on: `existingGateway`'s, or the one the stack creates."""
    existing = gateway.get("existingGateway")
    if existing:
        return existing["namespace"], existing["name"]
    return gateway.get("namespace", NAMESPACE), gateway.get("name", NAME)


def app_backend(route: dict, apps: list[dict]) -> tuple[str, str, int] | None:
    """(namespace, Service, port) a route reaches: an app's own Service on the port clients use (`servicePort`,
    default `port`; a patched app's existing Service), or the named Service (namespace default `default`).
    None for a route to an app that no (or more than one) app of `apps` with a Service is."""
    if "service" in route:
        return route.get("namespace", "default"), route["service"]["name"], route["service"]["port"]
    found = [a for a in apps if a.get("name") == route.get("app") and app_service(a) is not None
             and route.get("namespace") in (None, a.get("namespace", "default"))]
    if len(found) != 1:
        return None
    app = found[0]
    return app.get("namespace", "default"), app_service(app), app.get("servicePort", app["port"])


def app_service(app: dict) -> str | None:
    """The Service clients use to reach an app: a patched app's existing one, none of ours for a module in an
    existing Deployment (docs/configuration.md's apps output: "`null` for a module in an existing Deployment"),
    else the app's own, its name."""
    if app.get("placement") == "module" and "deployment" in app:
        return None
    return app["service"] if app.get("placement") == "patch" else app["name"]
