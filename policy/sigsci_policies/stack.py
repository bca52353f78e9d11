"""What a stack protects, as the three stack policies see it: its resources, the pods whose agent proxies to
an app beside it, the Services in front of them, and the in-cluster upstreams that agents proxy to.

A namespace the pack cannot know (no `metadata.namespace` and no namespace on the resource's provider:
the kubeconfig context decides) matches every namespace in the bypass checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from .common import (_env_value, _get, _kind, _maps, _namespace, _plain, _pod_containers, _pods, _same_namespace,
                     _who, is_agent)
from .constants import RELEASES, SERVICE, SERVICE_PATCH

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
        result.append(_Resource(r.resource_type, r.name, getattr(r, "urn", None), props,
                                _namespace(props, getattr(r, "provider", None), path), kind, patch))
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
