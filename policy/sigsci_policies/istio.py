"""What an Istio EnvoyFilter says, read from its plain data: its configPatches, Envoy's ext_proc filter in them, the
Envoy cluster that filter calls, and the per-route configs that turn it off.

The EnvoyFilter's own fields are Istio's CRD's, in camelCase (`configPatches`, `applyTo`, `subFilter`,
`portNumber`). A patch's `value` is Envoy configuration in protobuf's JSON, which takes a field in either spelling,
`failure_mode_allow` or `failureModeAllow`, `typed_config` or `typedConfig`: `_field` reads both.

A patch applies to a gateway's proxies when its `match.context` is absent, `ANY` or `GATEWAY` (the sidecar
contexts never reach a gateway). Istio names the Envoy cluster of a Service port `outbound|<port>|<subset>|<host>`,
the host being the Service's full name, `<service>.<namespace>.svc.<cluster domain>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .common import UNKNOWN, _get, _list
from .constants import EXT_PROC_FILTER, EXT_PROC_TYPE

ISTIO_API = "networking.istio.io"
_GATEWAY_CONTEXTS = (None, "ANY", "GATEWAY")
# The patches whose value may carry a per-route filter config (typed_per_filter_config).
ROUTE_LEVEL = ("HTTP_ROUTE", "VIRTUAL_HOST", "ROUTE_CONFIGURATION")
# The operations that put a filter in the chain: ADD and the INSERT_*s, and REPLACE in place of another.
_INSERTS = ("ADD", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE")
_FILTER_CONFIG_TYPE = "type.googleapis.com/envoy.config.route.v3.FilterConfig"


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _field(value: Any, *path: str) -> Any:
    """A field of an Envoy message in protobuf's JSON, by its snake_case name, in either spelling."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value[key] if key in value else value.get(_camel(key))
    return value


@dataclass(eq=False)
class Patch:
    """One of an EnvoyFilter's configPatches."""

    index: int
    apply_to: Any
    operation: Any
    match: Mapping[str, Any]
    value: Mapping[str, Any]

    @property
    def port(self) -> int | None:
        """The listener port it is limited to (match.listener.portNumber), or None for every listener."""
        port = _get(self.match, "listener", "portNumber")
        return port if isinstance(port, int) and not isinstance(port, bool) and port else None

    @property
    def sub_filter(self) -> str | None:
        """The HTTP filter it matches (match.listener.filterChain.filter.subFilter.name)."""
        name = _get(self.match, "listener", "filterChain", "filter", "subFilter", "name")
        return name if isinstance(name, str) else None

    @property
    def inserts(self) -> bool:
        return self.apply_to == "HTTP_FILTER" and self.operation in _INSERTS

    @property
    def takes_out(self) -> bool:
        """It takes an HTTP filter out of the chain: REMOVE, or REPLACE (by its value)."""
        return self.apply_to == "HTTP_FILTER" and self.operation in ("REMOVE", "REPLACE")


def gateway_patches(spec: Mapping[str, Any]) -> list[Patch]:
    """The configPatches that apply to gateways' proxies."""
    found = []
    for index, patch in enumerate(_list(spec.get("configPatches"))):
        if not isinstance(patch, Mapping):
            continue
        match = patch.get("match") if isinstance(patch.get("match"), Mapping) else {}
        if match.get("context") not in _GATEWAY_CONTEXTS:
            continue
        value = _get(patch, "patch", "value")
        found.append(Patch(index, patch.get("applyTo"), _get(patch, "patch", "operation"), match,
                           value if isinstance(value, Mapping) else {}))
    return found


def ext_proc_config(value: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ExternalProcessor config of an HTTP filter (`name`, `typed_config`), or None for another filter."""
    config = _field(value, "typed_config")
    if not isinstance(config, Mapping):
        return None
    kind = config.get("@type")
    return config if kind == EXT_PROC_TYPE or kind is None and value.get("name") == EXT_PROC_FILTER else None


def cluster_service(config: Mapping[str, Any]) -> tuple[int, str, str] | None:
    """(port, namespace, Service) of the Istio cluster an ext_proc config calls (grpc_service.envoy_grpc), else
    None: another kind of cluster, or a host that is not a Service's full name."""
    name = _field(config, "grpc_service", "envoy_grpc", "cluster_name")
    parts = name.split("|") if isinstance(name, str) else []
    if len(parts) != 4 or parts[0] != "outbound" or not parts[1].isdigit():
        return None
    labels = parts[3].split(".")
    if len(labels) < 4 or labels[2] != "svc" or not all(labels):
        return None
    return int(parts[1]), labels[1], labels[0]


def disabled_on_routes(value: Mapping[str, Any], names: set[str]) -> list[str]:
    """The filters of `names` a route-level patch's value turns off: typed_per_filter_config entries with
    `disabled: true` (ext_proc's own ExtProcPerRoute, or Envoy's FilterConfig, also around it)."""
    per_filter = _field(value, "typed_per_filter_config")
    found = []
    for name in sorted(names):
        config = per_filter.get(name) if isinstance(per_filter, Mapping) else None
        inner = _field(config, "config") if _get(config, "@type") == _FILTER_CONFIG_TYPE else None
        if any(_field(c, "disabled") is True for c in (config, inner)):
            found.append(name)
    return found


def listener_buffers(patches: list[Patch]) -> list[Any]:
    """The per_connection_buffer_limit_bytes that LISTENER patches merge in (a number, or a string of digits as
    protobuf's JSON takes a uint32; anything else is left out)."""
    found = []
    for patch in (p for p in patches if p.apply_to == "LISTENER" and p.operation == "MERGE"):
        limit = _field(patch.value, "per_connection_buffer_limit_bytes")
        if isinstance(limit, str) and limit.isdigit():
            limit = int(limit)
        if limit is UNKNOWN or isinstance(limit, int) and not isinstance(limit, bool):
            found.append(limit)
    return found
