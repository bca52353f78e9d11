"""Which Services the WAF inspects requests for, and why a route around the WAF must not reach one: the two
bypass policies (`sigsci-no-bypass-ingress`, `sigsci-no-bypass-route`) ask the same question of an Ingress
and of a Gateway API route.

A Service "the WAF routes to" is a backend of an Ingress of a WAF controller's class, or of an HTTPRoute or
GRPCRoute the WAF inspects on a Gateway (gateway.GatewayApi.waf_routes). Services with an agent in front of
them (stack._fronted_services) are left out: whatever reaches them is inspected. The agents' upstreams (the
Services that agents placed as their own Service proxy to) are reachable only through the agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .common import _get, _is_waf_controller, _layout, _list, _maps, _ns, _pods, _same_namespace
from .constants import (_DEFAULT_CLASS, _DEFAULT_CONTROLLER_VALUE, _LAYOUTS, F5_CONTROLLER_VALUE, INGRESS_CLASS,
                        RELEASES, SERVICE)
from .gateway import ENVOY_GATEWAY_API, GatewayApi, _api_group
from .stack import _among, _fronted_services, _Resource, _selects, _service_host, _upstream_services


@dataclass
class _WafClasses:
    names: set[str] = field(default_factory=set)
    default: bool = False
    # The controller values the WAF controllers' IngressClasses name (an ingress-nginx controller serves every
    # IngressClass that names its value), and, by class name, the value of the IngressClass a WAF release expects
    # where it does not create its own.
    controllers: set[str] = field(default_factory=set)
    uncreated: dict[str, str] = field(default_factory=dict)

    def inspects(self, cls: str | None) -> bool:
        return cls in self.names if cls is not None else self.default


def _served_classes(release: _Resource) -> tuple[set[str], str | None, bool]:
    """The IngressClass names an ingress chart's controller serves, the controller value its IngressClass names
    (ingress-nginx's controllerValue; F5's one fixed value), and whether the release creates that IngressClass."""
    controller = _get(release.props, "values", "controller") or {}
    layout = _layout(release.props)
    names: set[str] = set()
    value: str | None = None
    creates = True
    if layout in ("ingress-nginx", None):
        names.add(str(_get(controller, "ingressClassResource", "name") or _DEFAULT_CLASS))
        names.update(str(a) for a in _list(_get(controller, "ingressClassResource", "aliases")))
        if isinstance(controller.get("ingressClass"), str):
            names.add(controller["ingressClass"])
        path = _LAYOUTS["ingress-nginx"]["controller_value"]
        configured = _get(release.props, "values", *path)
        value = configured if isinstance(configured, str) and configured else _DEFAULT_CONTROLLER_VALUE
        creates = _get(controller, "ingressClassResource", "enabled") is not False
    if layout in ("nginx-ingress", None):
        ingress_class = controller.get("ingressClass")
        name = ingress_class.get("name") if isinstance(ingress_class, Mapping) else None
        names.add(str(name or _DEFAULT_CLASS))
        if layout is not None:
            value = F5_CONTROLLER_VALUE
            creates = _get(controller, "ingressClass", "create") is not False
    return names, value, creates


def _waf_classes(resources: Iterable[_Resource]) -> _WafClasses:
    """The IngressClass names the WAF controllers serve, whether one of them is the cluster default, and the
    controller values their IngressClasses name."""
    classes = _WafClasses()
    for resource in resources:
        if resource.resource_type not in RELEASES or not _is_waf_controller(resource.props):
            continue
        controller = _get(resource.props, "values", "controller") or {}
        names, value, creates = _served_classes(resource)
        classes.names |= names
        if value is not None:
            classes.controllers.add(value)
            if not creates:
                classes.uncreated.update(dict.fromkeys(names, value))
        classes.default |= _get(controller, "ingressClassResource", "default") is True \
            or _get(controller, "ingressClass", "setAsDefaultIngress") is True
    return classes


def class_claims(resources: list[_Resource], classes: _WafClasses) -> list[tuple[_Resource, str]]:
    """(resource, what it claims) for each controller release that is not a WAF controller but serves one of the WAF
    controllers' class names or controller values (a stock ingress-nginx serves every IngressClass naming its value;
    an F5 controller serves its class by name), and each IngressClass of the stack with a WAF class's name or a WAF
    ingress-nginx controller's value, other than the one a WAF release that creates none expects."""
    found = []
    for resource in resources:
        if resource.resource_type in RELEASES and _layout(resource.props) is not None \
                and not _is_waf_controller(resource.props):
            names, value, _ = _served_classes(resource)
            claims = [f"class {n!r}" for n in sorted(names & classes.names)]
            if _layout(resource.props) == "ingress-nginx" and value in classes.controllers:
                claims.append(f"controller value {value!r}")
            if claims:
                found.append((resource, " and ".join(claims)))
        elif resource.resource_type == INGRESS_CLASS and resource.object_name is not None:
            value = _get(resource.props, "spec", "controller")
            name = resource.object_name
            if name in classes.uncreated and value == classes.uncreated[name]:
                continue  # the class a WAF release serves without creating it
            ingress_nginx = classes.controllers - {F5_CONTROLLER_VALUE}
            if name in classes.names or value in ingress_nginx:
                found.append((resource, f"class {name!r} (controller {value!r})"))
    return found


def _ingress_class(resource: _Resource) -> str | None:
    name = _get(resource.props, "spec", "ingressClassName")
    if isinstance(name, str) and name:
        return name
    annotation = _get(resource.props, "metadata", "annotations", "kubernetes.io/ingress.class")
    return annotation if isinstance(annotation, str) and annotation else None


def _ingress_backends(resource: _Resource) -> list[tuple[str, str]]:
    """(Service, where) for every backend of an Ingress (networking.k8s.io/v1, and the v1beta1 shape)."""
    spec = resource.props.get("spec") or {}
    found = []

    def add(backend: Any, where: str) -> None:
        name = _get(backend, "service", "name") or _get(backend, "serviceName")
        if isinstance(name, str) and name:
            found.append((name, where))

    add(spec.get("defaultBackend") or spec.get("backend"), "the default backend")
    for rule in _maps(spec.get("rules")):
        for path in _maps(_get(rule, "http", "paths")):
            add(path.get("backend"), f"{rule.get('host') or '*'}{path.get('path') or ''}")
    return found


class WafRoutes:
    """What the WAF routes to in a stack, and what reaches the agents' upstreams only through them."""

    def __init__(self, resources: list[_Resource], api: GatewayApi | None = None) -> None:
        self.classes = _waf_classes(resources)
        self.upstreams = _upstream_services(resources)
        fronted = _fronted_services(resources)
        self.routed: dict[tuple[str | None, str], _Resource] = {}

        def add(namespace: str | None, service: str, route: _Resource) -> None:
            if not _among(fronted, namespace, service):
                self.routed.setdefault((namespace, service), route)

        for ingress in (r for r in resources if r.kind == "Ingress" and not r.patch):
            if self.classes.inspects(_ingress_class(ingress)):
                for service, _ in _ingress_backends(ingress):
                    add(ingress.namespace, service, ingress)
        for route, resource in (api or GatewayApi(resources)).waf_routes():
            for namespace, service, _ in route.backends():
                add(namespace, service, resource)
        self.aliases = _aliases(resources, {*self.routed, *self.upstreams})

    def _names(self, namespace: str | None, name: str, kind: str) -> list[tuple[str | None, str, str]]:
        """(namespace, Service, how) for the Service (or Envoy Gateway Backend) itself and each Service it is
        another name for."""
        found = [(namespace, name, "")] if kind == "Service" else []
        for (alias_namespace, alias_kind, alias), targets in self.aliases.items():
            if alias == name and alias_kind == kind and _same_namespace(alias_namespace, namespace):
                found += targets
        return found

    def bypass(self, namespace: str | None, service: str, original: _Resource | None = None, kind: str = "Service"
               ) -> str | None:
        """Why a route around the WAF must not reach Service (or Envoy Gateway Backend, `kind`) namespace/service
        (`original`: the stack's own route that the one judged patches), or None. A second name for a Service the
        WAF guards counts as that Service (see _aliases)."""
        for target_namespace, target, how in self._names(namespace, service, kind):
            reason = self._bypass(target_namespace, target, original if not how else None)
            if reason is not None:
                return f"{how}{_ns(target_namespace)}/{target}, {reason}" if how else reason
        return None

    def _bypass(self, namespace: str | None, service: str, original: _Resource | None) -> str | None:
        for (upstream_namespace, upstream), agents in self.upstreams.items():
            if upstream == service and _same_namespace(upstream_namespace, namespace):
                return (f"the upstream that the WAF agents of {agents.who} proxy to: requests reach the app "
                        "without passing the agents; route to the agents' Service instead")
        by = "the WAF controller" if original is None or original.kind == "Ingress" else "the WAF'd Gateway"
        for (routed_namespace, routed), route in self.routed.items():
            if routed != service or not _same_namespace(routed_namespace, namespace):
                continue
            if original is not None and route is original:
                return f"moving {route.who} off {by}"
            if route.kind == "Ingress":
                return f"which the WAF controller inspects through {route.who}: this route skips the WAF controller"
            return f"which the WAF inspects through {route.who}, on a Gateway the WAF covers: this route skips the WAF"
        return None


def _aliases(resources: list[_Resource], guarded: Iterable[tuple[str | None, str]]
             ) -> dict[tuple[str | None, str, str], list[tuple[str | None, str, str]]]:
    """Other names for the Services in `guarded`, by (namespace, kind, name): a Service of the stack that selects
    pods a guarded Service selects (pods of a workload of the stack that both select, or every pod it selects: a
    selector made of some of its selector's labels), an ExternalName Service whose host is a guarded Service's, and an
    Envoy Gateway `Backend` with an endpoint of that host. Each maps to (namespace, Service, how it names it)."""
    guarded = list(guarded)
    services = {(r.namespace, r.object_name): r for r in resources
                if r.resource_type == SERVICE and r.object_name is not None}
    pods = [(r.namespace, pod.labels) for r in resources for pod in _pods(r.resource_type, r.props)
            if pod.labels is not None]
    found: dict[tuple[str | None, str, str], list[tuple[str | None, str, str]]] = {}

    def add(resource: _Resource, kind: str, target: tuple[str | None, str], how: str) -> None:
        if resource.object_name is not None and (resource.namespace, resource.object_name) != target:
            found.setdefault((resource.namespace, kind, resource.object_name), []).append((*target, how))

    for resource in resources:
        spec = resource.props.get("spec") if isinstance(resource.props.get("spec"), Mapping) else {}
        if resource.resource_type == SERVICE:
            host = spec.get("externalName") if spec.get("type") == "ExternalName" else None
            target = _service_host(host, resource.namespace) if isinstance(host, str) else None
            for key in guarded:
                if target is not None and key[1] == target[1] and _same_namespace(key[0], target[0]):
                    add(resource, "Service", key, "an ExternalName for Service ")
                elif target is None and _second_selector(resource, services.get(key), pods):
                    add(resource, "Service", key, "a second name for the pods of Service ")
        elif resource.kind == "Backend" and _api_group(resource.resource_type) == ENVOY_GATEWAY_API:
            for endpoint in _maps(spec.get("endpoints")):
                host = _get(endpoint, "fqdn", "hostname")
                target = _service_host(host, resource.namespace) if isinstance(host, str) else None
                for key in guarded:
                    if target is not None and key[1] == target[1] and _same_namespace(key[0], target[0]):
                        add(resource, "Backend", key, "whose endpoint is Service ")
    return found


def _second_selector(service: _Resource, guarded: _Resource | None,
                     pods: list[tuple[str | None, Mapping[str, Any]]]) -> bool:
    """The Service selects pods that the guarded Service (declared by the stack) selects."""
    if guarded is None or service is guarded or not _same_namespace(service.namespace, guarded.namespace):
        return False
    mine, theirs = _get(service.props, "spec", "selector"), _get(guarded.props, "spec", "selector")
    if not isinstance(mine, Mapping) or not mine or not isinstance(theirs, Mapping) or not theirs:
        return False
    if all(theirs.get(k) == v for k, v in mine.items()):
        return True  # every pod the guarded Service selects
    return any(_same_namespace(namespace, service.namespace) and _selects(mine, labels) and _selects(theirs, labels)
               for namespace, labels in pods)
