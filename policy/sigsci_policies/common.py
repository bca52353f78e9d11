"""What the policies share: resource properties as plain data (sizes and durations as numbers), image
references, the pods and containers a resource declares, and which ingress chart a release installs.

Properties are first copied to plain dicts and lists (`_plain`): CrossGuard hands over proxies that raise on
values unknown during a preview, and numbers as floats.

What counts as an agent: a container named `sigsci-agent` or running an image whose repository ends in
`sigsci-agent` (any registry, tag or digest), in `containers`, `initContainers` or `ephemeralContainers`
of any pod template, or anywhere in a Helm release's values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from .constants import _LAYOUTS, AGENT, DEFAULT_RPC_ADDRESS, RELEASE, RELEASES

Report = Callable[..., None]


class _Unknown:
    """A value computed during the update, unknown during a preview (a Secret's generated name, a hash)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN = _Unknown()


# -- plain data ----------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    """Proxies to plain dicts and lists; a value unknown during preview becomes UNKNOWN; 8080.0 becomes 8080."""
    if isinstance(value, Mapping):
        result = {}
        for key in list(value):
            result[key] = _plain(_item(value, key))
        return result
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, Sequence):
        return [_plain(_item(value, i)) for i in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except Exception as error:  # pulumi_policy's UnknownValueError: the value is computed during the update
        if type(error).__name__ == "UnknownValueError":
            return UNKNOWN
        raise


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _list(value: Any) -> list:
    return [v for v in value if v is not None] if isinstance(value, list) else []


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in _list(value) if isinstance(v, Mapping)]


# A Kubernetes quantity (resource.Quantity), and Gateway API's Duration (GEP-2257) as the CRDs' pattern has it.
_QUANTITY = re.compile(r"\+?(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                       r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
_QUANTITY_SUFFIX = {"n": Decimal(10) ** -9, "u": Decimal(10) ** -6, "m": Decimal(10) ** -3,
                    **{s: Decimal(10) ** (3 * (i + 1)) for i, s in enumerate("kMGTPE")},
                    **{s + "i": Decimal(2) ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")}}
_DURATION = re.compile(r"(?:[0-9]{1,5}(?:h|m|s|ms)){1,4}")
_DURATION_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
# A google.protobuf.Duration in protobuf's JSON, as Envoy reads it: seconds, up to nine fractional digits, "s".
_PROTO_DURATION = re.compile(r"(?P<sign>-?)(?P<seconds>[0-9]+)(?:\.(?P<fraction>[0-9]{1,9}))?s")


def _quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity's value ('1Mi' -> 1048576, 65536 -> 65536); None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    match = _QUANTITY.fullmatch(str(value))
    if match is None:
        return None
    number, suffix = Decimal(match["number"]), match["suffix"]
    if suffix is None:
        return number
    if suffix in _QUANTITY_SUFFIX:
        return number * _QUANTITY_SUFFIX[suffix]
    exponent = int(suffix[1:])  # 1e3; "E" alone is exa
    if abs(exponent) > 100:  # far beyond any size
        return Decimal("Infinity") if exponent > 0 else Decimal(0)
    return number.scaleb(exponent)


def _duration_ms(value: Any) -> int | None:
    """Milliseconds of a Gateway API duration ('1m30s' -> 90000); None when it is not one."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        return None
    return sum(int(n) * _DURATION_MS[unit] for n, unit in re.findall(r"([0-9]+)(h|ms|m|s)", value))


def _proto_duration_ms(value: Any) -> int | None:
    """Whole milliseconds of a protobuf JSON duration ('2s' -> 2000, '0.500s' -> 500); None when it is not one."""
    match = _PROTO_DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    ms = int(match["seconds"]) * 1000 + int((match["fraction"] or "0").ljust(3, "0")[:3])
    return -ms if match["sign"] else ms


def _kind(resource_type: str) -> tuple[str, bool]:
    """`kubernetes:apps/v1:DeploymentPatch` -> ("Deployment", True)."""
    if not resource_type.startswith("kubernetes:"):
        return "", False
    kind = resource_type.rsplit(":", 1)[-1]
    if kind.endswith("Patch"):
        return kind[:-len("Patch")], True
    return kind, False


def _namespace(props: Mapping[str, Any], provider: Any = None, path: tuple[str, ...] = ("metadata", "namespace")
               ) -> str | None:
    """The object's namespace; else its provider's; else None (the kubeconfig context's: unknown here)."""
    namespace = _get(props, *path)
    if isinstance(namespace, str) and namespace:
        return namespace
    provider_namespace = _get(_plain(getattr(provider, "props", None)), "namespace")
    if isinstance(provider_namespace, str) and provider_namespace:
        return provider_namespace
    return None


def _same_namespace(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _ns(namespace: str | None) -> str:
    return namespace if namespace is not None else "<namespace unknown>"


def _who(name: str, resource_type: str, props: Mapping[str, Any], namespace: str | None = None) -> str:
    """How messages name a resource: its Pulumi name and the object it declares."""
    if resource_type in RELEASES:
        release = props.get("name") or name
        what = "Helm release" if resource_type == RELEASE else "Helm chart"
        return f"{name} ({what} {_ns(namespace or _namespace(props, path=('namespace',)))}/{release})"
    kind, patch = _kind(resource_type)
    object_name = _get(props, "metadata", "name")
    if not kind or not object_name:
        return name
    namespace = namespace or _get(props, "metadata", "namespace")
    return f"{name} ({kind}{'Patch' if patch else ''} {_ns(namespace)}/{object_name})"


# -- images --------------------------------------------------------------------------------------------------

def _image_text(image: Any) -> str:
    """An image reference from a string, or from a Helm-style map {registry, repository|image, tag, digest}."""
    if isinstance(image, str):
        return image
    if not isinstance(image, Mapping):
        return ""
    repository = image.get("repository") or image.get("image") or image.get("name") or ""
    registry = image.get("registry")
    if isinstance(registry, str) and registry and isinstance(repository, str) and repository \
            and not repository.startswith(registry + "/"):
        repository = f"{registry}/{repository}"
    text = str(repository)
    if image.get("tag"):
        text += f":{image['tag']}"
    if image.get("digest"):
        text += f"@{image['digest']}"
    return text


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    """(repository with registry, tag or None, digest or None) of an image reference."""
    reference, at, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        repository, tag = reference.rsplit(":", 1)
        return repository, tag, digest if at else None
    return reference, None, digest if at else None


def is_agent_image(image: Any) -> bool:
    return _split_image(_image_text(image))[0].lower().endswith(AGENT)


def is_fastly_controller_image(image: Any) -> bool:
    """The Fastly builds of both controllers: sigsci-nginx-ingress-controller(-chainguard), sigsci-nginxinc-..."""
    return "sigsci-nginx" in _split_image(_image_text(image))[0].lower()


def is_agent(container: Any) -> bool:
    return isinstance(container, Mapping) and (container.get("name") == AGENT or is_agent_image(container.get("image")))


# -- pods and containers -------------------------------------------------------------------------------------

# Where each workload kind keeps its pod template; any other kind with a `spec.template` of containers (an Argo
# Rollout, a Knative Service, ...) keeps it there.
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "PodTemplate": ("template",),
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@dataclass
class _Pod:
    labels: Mapping[str, Any] | None  # None: the pod template's labels are not in the resource
    spec: Mapping[str, Any]


def _pods(resource_type: str, props: Mapping[str, Any]) -> list[_Pod]:
    """The pod templates a Kubernetes resource declares (a Pod is its own template; *List kinds hold items)."""
    kind, _ = _kind(resource_type)
    return _pods_of_kind(kind, props)


def _pods_of_kind(kind: str, props: Mapping[str, Any]) -> list[_Pod]:
    if kind.endswith("List"):
        return [pod for item in _maps(props.get("items")) for pod in _pods_of_kind(kind[:-len("List")], item)]
    if kind == "Pod":
        template: Any = props
    elif kind in _TEMPLATE_PATHS:
        template = _get(props, *_TEMPLATE_PATHS[kind])
    elif isinstance(_get(props, "spec", "template", "spec", "containers"), list):
        template = _get(props, "spec", "template")  # a workload of another kind: Argo Rollout, Knative Service...
    else:
        return []
    if not isinstance(template, Mapping):
        return []
    labels = _get(template, "metadata", "labels")
    spec = template.get("spec")
    return [_Pod(labels if isinstance(labels, Mapping) and labels else None,
                 spec if isinstance(spec, Mapping) else {})]


def _pod_containers(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for key in _CONTAINER_LISTS for c in _maps(spec.get(key))]


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every value in a tree with its path, e.g. `values.controller.extraContainers[0]`."""
    yield path, value
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _looks_like_container(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("name"), str) \
        and any(key in value for key in ("image", "env", "envFrom", "args", "command"))


def _containers(resource_type: str, props: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, container) for every container a resource runs: in its pod templates, or in a Helm release's
    values (any list item that looks like a container: the charts' extraContainers, initContainers, ...)."""
    if resource_type in RELEASES:
        return [(path, v) for path, v in _walk(props.get("values"), "values")
                if path.endswith("]") and _looks_like_container(v)]
    return [(f"container {c.get('name')!r}", c) for pod in _pods(resource_type, props)
            for c in _pod_containers(pod.spec)]


def agent_containers(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The agent containers a resource runs: in a pod template, or handed to a chart."""
    return [c for _, c in _containers(resource_type, _plain(props)) if is_agent(c)]


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {e.get("name"): e for e in _maps(container.get("env"))}


def _env_value(container: Mapping[str, Any], name: str) -> str | None:
    value = _get(_env(container), name, "value")
    return value if isinstance(value, str) else None


def _rpc_address(container: Mapping[str, Any]) -> str | None:
    """Where an agent listens for a module (None when set from something the pack cannot read)."""
    entry = _env(container).get("SIGSCI_RPC_ADDRESS")
    if entry is None:
        words = " ".join(str(w) for key in ("command", "args") for w in _list(container.get(key)))
        flag = re.search(r"-{1,2}rpc-address(?:=|\s+)(\S+)", words)
        return flag.group(1).strip("'\"") if flag else DEFAULT_RPC_ADDRESS
    value = entry.get("value")
    return value if isinstance(value, str) else None


def _mount_for(path: str, mounts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The mount whose directory holds `path` (the deepest one)."""
    best = None
    for mount in mounts:
        root = str(mount.get("mountPath") or "").rstrip("/")
        if root and path.startswith(root + "/") and (best is None or len(root) > len(best["mountPath"].rstrip("/"))):
            best = mount
    return best


# -- ingress charts ------------------------------------------------------------------------------------------

_LOAD_MODULE = re.compile(r"\bload_module\s+(\S+?)\s*;")
_AGENT_HOST = re.compile(r"\bsigsci_agent_host\s+(\S+?)\s*;")


def _directives(snippet: Any, pattern: re.Pattern) -> list[str]:
    """The arguments of every uncommented directive matching `pattern` in an nginx snippet."""
    if not isinstance(snippet, str):
        return []
    return [m.group(1) for line in snippet.splitlines() for m in pattern.finditer(line.split("#", 1)[0])]


def _chart_name(props: Mapping[str, Any]) -> str:
    chart = props.get("chart")
    return str(chart).rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(chart, str) else ""


def _layout(props: Mapping[str, Any]) -> str | None:
    """Which chart's values layout a release uses: by chart name, else by the Fastly image it runs."""
    chart = _chart_name(props)
    if "ingress-nginx" in chart:
        return "ingress-nginx"
    if "nginx-ingress" in chart:
        return "nginx-ingress"
    repository = _split_image(_image_text(_get(props, "values", "controller", "image")))[0].lower()
    if "sigsci-nginxinc" in repository:
        return "nginx-ingress"
    if "sigsci-nginx" in repository:
        return "ingress-nginx"
    return None


def _chart_name_text(name: str) -> str:
    """The charts' `trunc 63 | trimSuffix "-"`."""
    name = name[:63]
    return name[:-1] if name.endswith("-") else name


def _controller_configmap(props: Mapping[str, Any]) -> str | None:
    """The name of the ConfigMap the release's controller reads (where the chart renders controller.config): the
    chart's fullname (fullnameOverride, else the release's name when it holds the chart's name or nameOverride, else
    both joined) followed, for ingress-nginx, by `-<controller.name>`; F5's controller.config.name replaces it. None
    when the release is auto-named."""
    layout_name = _layout(props)
    if layout_name is None:
        return None
    layout, values = _LAYOUTS[layout_name], props.get("values") or {}
    named = _get(values, *layout["configmap_name"]) if layout["configmap_name"] else None
    if isinstance(named, str) and named:
        return named
    release, override = props.get("name"), _get(values, "fullnameOverride")
    if isinstance(override, str) and override:
        fullname = _chart_name_text(override)
    elif isinstance(release, str) and release:
        chart = _get(values, "nameOverride")
        chart = chart if isinstance(chart, str) and chart else layout_name
        fullname = _chart_name_text(release if chart in release else f"{release}-{chart}")
    else:
        return None
    if layout["configmap_suffix"] is None:
        return fullname
    suffix = _get(values, *layout["configmap_suffix"])
    return _chart_name_text(f"{fullname}-{suffix if isinstance(suffix, str) and suffix else 'controller'}")


def _is_waf_controller(props: Mapping[str, Any]) -> bool:
    """A release that runs the Fastly controller image, or an ingress chart handed an agent to serve a module."""
    if is_fastly_controller_image(_get(props, "values", "controller", "image")):
        return True
    return _layout(props) is not None and any(
        is_agent(c) and not _env_value(c, "SIGSCI_REVPROXY_LISTENER")
        for _, c in _containers(RELEASE, props))
