"""What a stack protects, as the stack policies see it: its resources, the pods whose agent proxies to an app
beside it (and the labels they are known to carry), the Services in front of them, and the in-cluster upstreams
that agents proxy to.

A namespace the pack cannot know (no `metadata.namespace` and no namespace on the resource's provider:
the kubeconfig context decides) matches every namespace in the bypass checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from .common import (UNKNOWN, _env_value, _get, _kind, _list, _maps, _namespace, _plain, _Pod, _pod_containers,
                     _pods, _same_namespace, _walk, _who, is_agent)
from .constants import OWNER_TARGET_PORT_ANNOTATION, RELEASES, SERVICE, SERVICE_PATCH

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


# -- the revproxy listener -----------------------------------------------------------------------------------

@dataclass
class _Listener:
    port: int | None
    upstreams: list[str]


def _listeners(value: Any) -> list[_Listener]:
    """SIGSCI_REVPROXY_LISTENER: `name:{listener=http://0.0.0.0:8001,upstreams=http://a:1,http://b:1,...}; ...`."""
    if not isinstance(value, str):
        return []
    blocks = re.findall(r"\{([^}]*)\}", value) or [value]
    result = []
    for block in blocks:
        port, upstreams, current = None, [], None
        for part in (p.strip() for p in block.split(",")):
            option = re.match(r"([A-Za-z][\w-]*)=(.*)$", part)
            if option and not re.match(r"[a-z]+://", part):
                current, text = option.group(1), option.group(2).strip("'\"")
                if current == "listener":
                    port = _url_port(text)
                elif current == "upstreams" and text:
                    upstreams.append(text)
            elif current == "upstreams" and part:
                upstreams.append(part.strip("'\""))
        result.append(_Listener(port, upstreams))
    return result


def _url_port(url: str) -> int | None:
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


def _upstream_service(url: str, namespace: str | None) -> tuple[str | None, str] | None:
    """(namespace, Service) an in-cluster upstream URL names (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return _service_host(host, namespace)


def _service_host(host: str, namespace: str | None) -> tuple[str | None, str] | None:
    """(namespace, Service) an in-cluster host name names (`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`)."""
    host = host.lower().rstrip(".")
    if not host or host in _LOCAL_HOSTS or re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return None
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    if len(parts) == 2 or parts[2] == "svc":
        return parts[1], parts[0]
    return None


def _local_ports(upstreams: Iterable[str]) -> set[int]:
    ports = set()
    for url in upstreams:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        port = _url_port(url)
        if host in _LOCAL_HOSTS and port is not None:
            ports.add(port)
    return ports


# -- what the stack protects ---------------------------------------------------------------------------------

@dataclass(eq=False)
class _Resource:
    resource_type: str
    name: str
    urn: str | None
    props: Mapping[str, Any]
    namespace: str | None
    kind: str
    patch: bool
    parent: str | None = None  # the URN of the component that declares it

    @property
    def object_name(self) -> str | None:
        value = _get(self.props, "metadata", "name")
        return value if isinstance(value, str) else None

    @property
    def who(self) -> str:
        return _who(self.name, self.resource_type, self.props, self.namespace)


def _resources(args) -> list[_Resource]:
    result = []
    for r in args.resources:
        props = _plain(r.props)
        kind, patch = _kind(r.resource_type)
        path = ("namespace",) if r.resource_type in RELEASES else ("metadata", "namespace")
        parent = getattr(getattr(r, "parent", None), "urn", None)
        result.append(_Resource(r.resource_type, r.name, getattr(r, "urn", None), props,
                                _namespace(props, getattr(r, "provider", None), path), kind, patch,
                                parent if isinstance(parent, str) else None))
    return result


@dataclass(eq=False)
class _Protected:
    """A pod template whose agent proxies to an app in the same pod."""

    resource: _Resource
    labels: Mapping[str, Any] | None
    spec: Mapping[str, Any] | None  # None: the app's containers are not in the resource (a patch)
    app_ports: set[int]
    listener_ports: set[int]
    listener_names: set[str]

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace


def _protected_pods(resources: Iterable[_Resource]) -> list[_Protected]:
    found = []
    for resource in resources:
        for pod in _pods(resource.resource_type, resource.props):
            for agent in (c for c in _pod_containers(pod.spec) if is_agent(c)):
                listeners = _listeners(_env_value(agent, "SIGSCI_REVPROXY_LISTENER"))
                app_ports = _local_ports(u for listener in listeners for u in listener.upstreams)
                if not app_ports:
                    continue
                listener_ports = {listener.port for listener in listeners if listener.port is not None}
                names = {str(p.get("name")) for p in _maps(agent.get("ports"))
                         if p.get("name") and p.get("containerPort") in listener_ports}
                found.append(_Protected(resource, pod.labels, None if resource.patch else pod.spec,
                                        app_ports, listener_ports, names))
    return found


def _selects(selector: Any, labels: Mapping[str, Any] | None) -> bool:
    return isinstance(selector, Mapping) and bool(selector) and labels is not None \
        and all(labels.get(k) == v for k, v in selector.items())


def _named_port(spec: Mapping[str, Any], name: str) -> int | None:
    """The number of an app container's port of that name (the agent's own ports left out)."""
    for container in _pod_containers(spec):
        if is_agent(container):
            continue
        for port in _maps(container.get("ports")):
            if port.get("name") == name:
                return port.get("containerPort")
    return None


# -- selectors on labels the pack may know only in part ------------------------------------------------------
# True: selects; False: does not; None: turns on a label the pack does not know (the pods of a patched app carry
# their owner's labels, of which the pack knows at most a few).

def _all(results: Iterable[bool | None]) -> bool | None:
    results = list(results)
    return False if False in results else None if None in results else True


def _any(results: Iterable[bool | None]) -> bool | None:
    results = list(results)
    return True if True in results else None if None in results else False


def _computed(value: Any) -> bool:
    """Some of it is computed during the update (unknown during a preview)."""
    return any(v is UNKNOWN for _, v in _walk(value))


def _requirement(key: Any, operator: Any, values: list, labels: Mapping[str, Any], complete: bool) -> bool | None:
    if not isinstance(key, str) or not isinstance(operator, str):
        return None
    if key in labels:
        value = labels[key]
        return {"In": value in values, "NotIn": value not in values, "Exists": True, "DoesNotExist": False
                }.get(operator)
    if not complete:
        return None
    return {"In": False, "NotIn": True, "Exists": False, "DoesNotExist": True}.get(operator)


def _label_selector(selector: Any, labels: Mapping[str, Any], complete: bool = True) -> bool | None:
    """Whether a LabelSelector (`matchLabels`, `matchExpressions`; a NetworkPolicy's podSelector or
    namespaceSelector) selects what carries `labels` (all its labels when `complete`). Empty or absent: all."""
    if _computed(selector):
        return None
    if not isinstance(selector, Mapping):
        return True
    match, expressions = selector.get("matchLabels"), selector.get("matchExpressions")
    requirements = [_requirement(k, "In", [v], labels, complete)
                    for k, v in (match.items() if isinstance(match, Mapping) else ())]
    requirements += [_requirement(e.get("key"), e.get("operator"), _list(e.get("values")), labels, complete)
                     for e in _maps(expressions)]
    return _all(requirements)


def _service_selector(resource: _Resource, labels: Mapping[str, Any], complete: bool = True) -> bool | None:
    """Whether a Service's selector (a plain map) picks pods with `labels`. A Service without one picks no pods
    (its Endpoints are written by hand); a ServicePatch without one keeps its owner's, which the pack does not
    know."""
    selector = _get(resource.props, "spec", "selector")
    if _computed(selector) or (resource.patch and not selector):
        return None
    if not isinstance(selector, Mapping) or not selector:
        return False
    return _all(_requirement(k, "In", [v], labels, complete) for k, v in selector.items())


def _service_kind(resource: _Resource) -> bool:
    return resource.resource_type in (SERVICE, SERVICE_PATCH)


def _targets(port: Mapping[str, Any]) -> Any:
    target = port.get("targetPort")
    if isinstance(target, str) and target.isdigit():
        return int(target)
    return target


def _targets_listener(port: Mapping[str, Any], pod: _Protected) -> bool:
    target = _targets(port)
    return target in pod.listener_ports or target in pod.listener_names


def _protected_services(resources: list[_Resource], pods: list[_Protected]
                        ) -> list[tuple[_Resource, _Protected]]:
    """The Services clients use to reach protected pods: a Service (or ServicePatch) of the stack that sends a
    port to the agent's listener, selecting the pods where their labels are known, by namespace otherwise."""
    found = []
    for resource in resources:
        if not _service_kind(resource):
            continue
        selector = _get(resource.props, "spec", "selector")
        for pod in pods:
            if not _same_namespace(resource.namespace, pod.namespace):
                continue
            # A patched app's Service is one the stack patches (by name: the pods' labels are the owner's);
            # an app the stack declares is reached through the Services that select its pods.
            if not (_selects(selector, pod.labels) or (pod.resource.patch and resource.patch)):
                continue
            if any(_targets_listener(p, pod) for p in _maps(_get(resource.props, "spec", "ports"))):
                found.append((resource, pod))
    return found


def _guards(protected: list[tuple[_Resource, _Protected]], pod: _Protected) -> list[_Resource]:
    """The Services (and ServicePatches) that send clients to the agent's listener of `pod`."""
    return [s for s, p in protected if p is pod]


def _live_pod(resources: Iterable[_Resource], pod: _Protected) -> _Pod | None:
    """A patched app's pod template as its owner declares it, where the stack reads the object it patches (a
    workload of the stack of the same kind, name and namespace, e.g. `<app>-deployment-live`)."""
    if not pod.resource.patch:
        return None
    for resource in resources:
        if not resource.patch and resource.kind == pod.resource.kind and resource.object_name is not None \
                and resource.object_name == pod.resource.object_name \
                and resource.namespace == pod.resource.namespace:
            found = _pods(resource.resource_type, resource.props)
            if found:
                return found[0]
    return None


def _known_labels(resources: list[_Resource], pod: _Protected, protected: list[tuple[_Resource, _Protected]]
                  ) -> tuple[dict[str, Any], bool]:
    """The labels the protected pods are known to carry, and whether they are all of them. A pod template the stack
    declares has all its labels. A patched app's pods are its owner's: all of them are known where the stack reads
    the patched workload (see _live_pod); otherwise they carry what its DeploymentPatch sets, and what the
    selector of its Service selects, when the stack reads that Service (`<app>-service-live`: a Service of the stack
    with the name of the ServicePatch that guards the app), and others the pack does not know."""
    labels = dict(pod.labels or {})
    if not pod.resource.patch:
        return labels, True
    live = _live_pod(resources, pod)
    if live is not None and live.labels is not None and UNKNOWN not in live.labels.values():
        return {**live.labels, **labels}, True
    names = {s.object_name for s in _guards(protected, pod)}
    for resource in resources:
        selector = _get(resource.props, "spec", "selector")
        if resource.resource_type == SERVICE and resource.object_name in names \
                and _same_namespace(resource.namespace, pod.namespace) and isinstance(selector, Mapping) \
                and UNKNOWN not in selector.values():
            labels.update(selector)
    return labels, False


def _owner_target_ports(guards: Iterable[_Resource]) -> set[int | str]:
    """The owner's targetPort of a patched Service, as the stack's ServicePatch records it to give it back (the
    app's port, or the name of the app container's port)."""
    found: set[int | str] = set()
    for guard in guards:
        value = _get(guard.props, "metadata", "annotations", OWNER_TARGET_PORT_ANNOTATION)
        if isinstance(value, str) and value:
            found.add(int(value) if value.isdigit() else value)
    return found


def _app_ports(resources: list[_Resource], pod: _Protected, guards: list[_Resource]
               ) -> tuple[set[int], set[str], bool]:
    """The numbers and names of the app's ports in a protected pod, and whether the names are all of them: the app
    containers' named ports where the pack sees them (the pod template the stack declares, or its read of a patched
    app's workload), and for a patched app the owner's targetPort that its ServicePatch records."""
    owner = _owner_target_ports(guards) if pod.resource.patch else set()
    numbers = set(pod.app_ports) | {t for t in owner if isinstance(t, int)}
    names = {t for t in owner if isinstance(t, str)} - pod.listener_names
    live = _live_pod(resources, pod)
    spec = pod.spec if pod.spec is not None else live.spec if live is not None else None
    if spec is None:
        return numbers, names, False
    names |= {str(p.get("name")) for c in _pod_containers(spec) if not is_agent(c) for p in _maps(c.get("ports"))
              if p.get("name") and p.get("containerPort") in numbers}
    return numbers, names, True


def _shown_ports(numbers: Iterable[int], names: Iterable[str] = ()) -> str:
    """`8080`, `8080 ('http')`: ports for a message."""
    shown = ", ".join(str(n) for n in sorted(numbers))
    named = ", ".join(repr(n) for n in sorted(names))
    return f"{shown} ({named})" if shown and named else shown or named


def _upstream_services(resources: Iterable[_Resource]) -> dict[tuple[str | None, str], _Resource]:
    """The in-cluster Services that agents (the `service` placement) proxy to, with the agent's workload."""
    found: dict[tuple[str | None, str], _Resource] = {}
    for resource in resources:
        for pod in _pods(resource.resource_type, resource.props):
            for agent in (c for c in _pod_containers(pod.spec) if is_agent(c)):
                for listener in _listeners(_env_value(agent, "SIGSCI_REVPROXY_LISTENER")):
                    for url in listener.upstreams:
                        service = _upstream_service(url, resource.namespace)
                        if service is not None:
                            found.setdefault(service, resource)
    return found


def _agent_service_ports(resources: list[_Resource]) -> dict[tuple[str | None, str], set[int] | None]:
    """The agents' own Services: a Service (or ServicePatch) of the stack whose selector picks the pods of a
    workload that runs the agent (by the container's name or image, whatever the Service is called), each with
    its ports (None: not known, as in a patch that leaves them out or a port computed during the update)."""
    found: dict[tuple[str | None, str], set[int] | None] = {}
    for resource in resources:
        if not _service_kind(resource) or resource.object_name is None:
            continue
        selector = _get(resource.props, "spec", "selector")
        for workload in resources:
            if _same_namespace(workload.namespace, resource.namespace) and any(
                    _selects(selector, pod.labels) and any(is_agent(c) for c in _pod_containers(pod.spec))
                    for pod in _pods(workload.resource_type, workload.props)):
                ports = [p.get("port") for p in _maps(_get(resource.props, "spec", "ports"))]
                known = ports and all(isinstance(p, int) for p in ports)
                found[(resource.namespace, resource.object_name)] = set(ports) if known else None
    return found


def _agent_services(resources: list[_Resource]) -> set[tuple[str | None, str]]:
    """The agents' own Services (namespace, name): see _agent_service_ports."""
    return set(_agent_service_ports(resources))


def _fronted_services(resources: list[_Resource]) -> set[tuple[str | None, str]]:
    """The Services whose requests an agent inspects whatever routes to them: those in front of protected pods
    (the agent beside the app) and the agents' own Services."""
    pods = _protected_pods(resources)
    return {(s.namespace, s.object_name) for s, _ in _protected_services(resources, pods)} \
        | _agent_services(resources)


def _among(keys: Iterable[tuple[str | None, str | None]], namespace: str | None, name: str) -> bool:
    """(namespace, name) is one of `keys`, an unknown namespace matching every namespace."""
    return any(n == name and _same_namespace(ns, namespace) for ns, n in keys)
