"""No Ingress of another class than the WAF controller's to a Service whose only inspection is the WAF."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .common import (UNKNOWN, Report, _get, _is_waf_controller, _layout, _list, _maps, _ns, _pod_containers, _pods,
                     _same_namespace, is_agent)
from .constants import _DEFAULT_CLASS, RELEASES
from .stack import (_protected_pods, _protected_services, _Resource, _resources, _selects, _service_kind,
                    _upstream_services)


@dataclass
class _WafClasses:
    names: set[str] = field(default_factory=set)
    default: bool = False


def _waf_classes(resources: Iterable[_Resource]) -> _WafClasses:
    """The IngressClass names the WAF controllers serve, and whether one of them is the cluster default."""
    classes = _WafClasses()
    for resource in resources:
        if resource.resource_type not in RELEASES or not _is_waf_controller(resource.props):
            continue
        controller = _get(resource.props, "values", "controller") or {}
        layout = _layout(resource.props)
        if layout in ("ingress-nginx", None):
            classes.names.add(str(_get(controller, "ingressClassResource", "name") or _DEFAULT_CLASS))
            classes.names.update(str(a) for a in _list(_get(controller, "ingressClassResource", "aliases")))
            if isinstance(controller.get("ingressClass"), str):
                classes.names.add(controller["ingressClass"])
            classes.default |= _get(controller, "ingressClassResource", "default") is True
        if layout in ("nginx-ingress", None):
            ingress_class = controller.get("ingressClass")
            name = ingress_class.get("name") if isinstance(ingress_class, Mapping) else None
            classes.names.add(str(name or _DEFAULT_CLASS))
            classes.default |= _get(controller, "ingressClass", "setAsDefaultIngress") is True
    return classes


def _ingress_class(resource: _Resource) -> str | None:
    name = _get(resource.props, "spec", "ingressClassName")
    if isinstance(name, str) and name:
        return name
    annotation = _get(resource.props, "metadata", "annotations", "kubernetes.io/ingress.class")
    return annotation if isinstance(annotation, str) and annotation else None


def _backends(resource: _Resource) -> list[tuple[str, str]]:
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


def validate_no_bypass_ingress(args, report_violation: Report) -> None:
    """No Ingress outside the WAF controller's class routes to a Service whose only inspection is the WAF:
    the upstream Service of agents placed as their own Service, or a Service the WAF controller routes to."""
    resources = _resources(args)
    classes = _waf_classes(resources)
    ingresses = [r for r in resources if r.kind == "Ingress"]

    def is_waf(cls: str | None) -> bool:
        return cls in classes.names if cls is not None else classes.default

    pods = _protected_pods(resources)
    fronted = {(s.namespace, s.object_name) for s, _ in _protected_services(resources, pods)}
    for resource in resources:  # Services in front of agent pods (the agents' own Services)
        if _service_kind(resource):
            selector = _get(resource.props, "spec", "selector")
            for workload in resources:
                if _same_namespace(workload.namespace, resource.namespace) and any(
                        _selects(selector, pod.labels) and any(is_agent(c) for c in _pod_containers(pod.spec))
                        for pod in _pods(workload.resource_type, workload.props)):
                    fronted.add((resource.namespace, resource.object_name))
    upstreams = _upstream_services(resources)
    waf_routes: dict[tuple[str | None, str], _Resource] = {}
    for ingress in ingresses:
        if not ingress.patch and is_waf(_ingress_class(ingress)):
            for service, _ in _backends(ingress):
                if not any(s == service and _same_namespace(ns, ingress.namespace) for ns, s in fronted):
                    waf_routes.setdefault((ingress.namespace, service), ingress)

    for ingress in ingresses:
        if UNKNOWN in (_get(ingress.props, "spec", "ingressClassName"),
                       _get(ingress.props, "metadata", "annotations", "kubernetes.io/ingress.class")):
            continue  # decided during the update, when the class is known
        cls = _ingress_class(ingress)
        original = None
        if ingress.patch:
            original = next((i for i in ingresses if not i.patch and i.object_name == ingress.object_name
                             and _same_namespace(i.namespace, ingress.namespace)), None)
            if cls is None and original is not None:
                cls = _ingress_class(original)
        if is_waf(cls):
            continue
        backends = _backends(ingress) + (_backends(original) if original is not None else [])
        shown_class = f"class {cls!r}" if cls else "no class"
        waf = ", ".join(repr(c) for c in sorted(classes.names)) or "none in this stack"
        done: set[str] = set()
        for service, where in backends:
            if service in done:
                continue
            reason = None
            for (namespace, upstream), agents in upstreams.items():
                if upstream == service and _same_namespace(namespace, ingress.namespace):
                    reason = (f"the upstream that the WAF agents of {agents.who} proxy to: requests reach the app "
                              "without passing the agents; route to the agents' Service instead")
                    break
            if reason is None:
                for (namespace, routed), route in waf_routes.items():
                    if routed == service and _same_namespace(namespace, ingress.namespace) and route is not original:
                        reason = (f"which the WAF controller inspects through {route.who}: this route skips the WAF "
                                  "controller")
                        break
                    if routed == service and route is original:
                        reason = f"moving {route.who} off the WAF controller's class"
                        break
            if reason is not None:
                done.add(service)
                report_violation(f"{ingress.who}: Ingress of {shown_class} (the WAF controller's: {waf}) sends "
                                 f"{where} straight to Service {_ns(ingress.namespace)}/{service}, {reason}; set "
                                 "ingressClassName to the WAF controller's class", ingress.urn)
