"""No Service around the agent: none sends traffic straight to the app port an agent proxies to, and none
exposes the agents' upstream outside the cluster."""

from __future__ import annotations

from typing import Mapping

from .common import Report, _get, _maps, _ns, _pods, _same_namespace
from .routes import WafRoutes
from .stack import (_app_ports, _guards, _known_labels, _named_port, _Protected, _protected_pods,
                    _protected_services, _Resource, _resources, _selects, _service_kind, _service_selector,
                    _shown_ports, _targets, _targets_listener)


def validate_no_bypass(args, report_violation: Report) -> None:
    """No Service or ServicePatch sends traffic straight to an app port that an agent sits in front of: by
    selecting the protected pods, or by being (or patching) the protected Service itself."""
    resources = _resources(args)
    pods = _protected_pods(resources)
    protected = _protected_services(resources, pods)
    reported: set[tuple[int, int]] = set()
    for resource in resources:
        if not _service_kind(resource):
            continue
        selector = _get(resource.props, "spec", "selector")
        ports = _maps(_get(resource.props, "spec", "ports"))
        for pod in pods:
            if not _same_namespace(resource.namespace, pod.namespace):
                continue
            selected = pod.labels is not None and _selects(selector, pod.labels)
            guards = [s for s, p in protected if p is pod and s.object_name == resource.object_name
                      and _same_namespace(s.namespace, resource.namespace)]
            if not selected and not guards:
                continue
            guarded_ports = {p.get("port") for s in guards for p in _maps(_get(s.props, "spec", "ports"))
                             if _targets_listener(p, pod)}
            workload = pod.resource.who
            for index, port in enumerate(ports):
                target = _targets(port)
                if target is None:
                    if resource.patch and port.get("port") in guarded_ports:
                        continue  # the patch leaves the guarded port's targetPort to its owner
                    target = port.get("port")
                problem = None
                if isinstance(target, int) and target in pod.app_ports:
                    problem = f"targets the app's port {target} directly"
                elif isinstance(target, str) and target not in pod.listener_names:
                    if pod.spec is not None:
                        number = _named_port(pod.spec, target)
                        if number in pod.app_ports:
                            problem = f"targets the app's port {target!r} ({number}) directly"
                    elif guards:
                        problem = (f"targets the port named {target!r}, which is not the agent's listener "
                                   f"({', '.join(sorted(pod.listener_names)) or 'unnamed'}): the app's port")
                if problem and (id(resource), index) not in reported:
                    reported.add((id(resource), index))
                    listener = ", ".join(str(p) for p in sorted(pod.listener_ports))
                    report_violation(f"{resource.who}: Service port {port.get('port')} {problem}, around the WAF "
                                     f"agent of {workload} (it listens on {listener} and proxies to "
                                     f"{', '.join(str(p) for p in sorted(pod.app_ports))}); target the agent's "
                                     f"listener port {listener} instead", resource.urn)
            # Only a patch can change a protected Service's selector: a Service in the stack of the same name is
            # the stack's read of the live object (its owner's selector), which the pack checks for its ports.
            if guards and resource.patch and resource not in guards and isinstance(selector, Mapping) and selector \
                    and not (pod.labels is not None and _selects(selector, pod.labels)) \
                    and (id(resource), -1) not in reported:
                reported.add((id(resource), -1))
                report_violation(f"{resource.who}: sets the selector {dict(selector)} on the Service the WAF agent of "
                                 f"{workload} guards, so it may send traffic to pods without the agent, around the "
                                 "WAF agent; leave the protected Service's selector alone", resource.urn)
    _report_around_patched_apps(resources, pods, protected, reported, report_violation)
    _report_exposed_upstreams(resources, report_violation)


def _report_around_patched_apps(resources: list[_Resource], pods: list[_Protected],
                                protected: list[tuple[_Resource, _Protected]], reported: set[tuple[int, int]],
                                report_violation: Report) -> None:
    """No second Service reaches a patched app's port: clients reach the app through its owner's Service, whose
    targetPort the stack moves to the agent's listener, and any other Service (or ServicePatch) of the stack in that
    namespace that picks the app's pods and sends a port to the app's own port goes around the agent. The pods'
    labels are their owner's: a Service whose selector the known ones (stack._known_labels) decide is matched by it;
    one they cannot decide is matched by the port it targets, the app's number or the owner's targetPort (a name of
    the app container's port); one whose selector picks the pods of another workload of the stack is that one's."""
    for pod in (p for p in pods if p.resource.patch):
        guards = _guards(protected, pod)
        if not guards:
            continue
        labels, complete = _known_labels(resources, pod, protected)
        app_ports, app_names, _ = _app_ports(resources, pod, guards)
        for resource in resources:
            if not _service_kind(resource) or not _same_namespace(resource.namespace, pod.namespace) \
                    or any(g.object_name == resource.object_name for g in guards):
                continue  # a guard, or the stack's read of one, is judged with the app's Service above
            selects = _service_selector(resource, labels, complete)
            if selects is False or (selects is None and _selects_another_workload(resources, resource, pod)):
                continue
            for index, port in enumerate(_maps(_get(resource.props, "spec", "ports"))):
                target = _targets(port)
                target = port.get("port") if target is None else target
                if (id(resource), index) in reported or not (target in app_ports or target in app_names):
                    continue
                reported.add((id(resource), index))
                how = "selects its pods" if selects else (
                    "may select its pods (their labels are its owner's, which the pack does not know: it matches "
                    "the app's port in the namespace)")
                listener = _shown_ports(pod.listener_ports, pod.listener_names)
                report_violation(f"{resource.who}: Service port {port.get('port')} targets the app's port {target!r} "
                                 f"of the patched {pod.resource.who} and {how}, so it reaches the app around the WAF "
                                 f"agent that its Service {', '.join(sorted({g.who for g in guards}))} sends clients "
                                 f"to (it listens on {listener} and proxies to {_shown_ports(pod.app_ports)}); target "
                                 f"the agent's listener port {listener} instead, or remove it", resource.urn)


def _selects_another_workload(resources: list[_Resource], service: _Resource, pod: _Protected) -> bool:
    """The Service picks the pods of a workload the stack declares in full (not the patched app's, nor the stack's
    read of it)."""
    return any(not workload.patch and not (workload.kind == pod.resource.kind
                                           and workload.object_name == pod.resource.object_name)
               and _same_namespace(workload.namespace, service.namespace)
               and any(_service_selector(service, p.labels or {}) for p in _pods(workload.resource_type,
                                                                                   workload.props))
               for workload in resources)


def _report_exposed_upstreams(resources: list[_Resource], report_violation: Report) -> None:
    """No Service (or ServicePatch) exposes outside the cluster (LoadBalancer, NodePort, externalIPs) a Service whose
    only inspection is the WAF: the agents' upstream, or a Service the WAF routes to, by its name or as a second
    name for its pods (routes.WafRoutes)."""
    waf = WafRoutes(resources)
    for resource in resources:
        if not _service_kind(resource) or resource.object_name is None:
            continue
        spec = resource.props.get("spec") or {}
        exposed = spec.get("type") in ("LoadBalancer", "NodePort") or bool(spec.get("externalIPs"))
        if not exposed:
            continue
        reason = waf.bypass(resource.namespace, resource.object_name)
        if reason is not None:
            how = f"type {spec.get('type')}" if spec.get("type") in ("LoadBalancer", "NodePort") else "externalIPs"
            what = reason.split(": ")[0]
            what = f"a Service {what}" if what.startswith("which") else what
            report_violation(f"{resource.who}: exposes {_ns(resource.namespace)}/{resource.object_name} outside the "
                             f"cluster ({how}), {what}: clients reach it around the WAF; keep it ClusterIP and "
                             "expose the agents' Service or the WAF controller", resource.urn)
