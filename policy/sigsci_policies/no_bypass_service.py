"""No Service around the agent: none sends traffic straight to the app port an agent proxies to, and none
exposes the agents' upstream outside the cluster."""

from __future__ import annotations

from typing import Any, Mapping

from .common import Report, _get, _maps, _ns, _pod_containers, _same_namespace, is_agent
from .stack import (_protected_pods, _protected_services, _Resource, _resources, _selects, _service_kind, _targets,
                    _targets_listener, _upstream_services)


def _named_port(spec: Mapping[str, Any], name: str) -> int | None:
    for container in _pod_containers(spec):
        if is_agent(container):
            continue
        for port in _maps(container.get("ports")):
            if port.get("name") == name:
                return port.get("containerPort")
    return None


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
    _report_exposed_upstreams(resources, report_violation)


def _report_exposed_upstreams(resources: list[_Resource], report_violation: Report) -> None:
    upstreams = _upstream_services(resources)
    for resource in resources:
        if not _service_kind(resource):
            continue
        spec = resource.props.get("spec") or {}
        exposed = spec.get("type") in ("LoadBalancer", "NodePort") or bool(spec.get("externalIPs"))
        if not exposed:
            continue
        for (namespace, service), agents in upstreams.items():
            if service == resource.object_name and _same_namespace(namespace, resource.namespace):
                report_violation(f"{resource.who}: exposes {_ns(namespace)}/{service}, the upstream the WAF agents "
                                 f"of {agents.who} proxy to, outside the cluster (type {spec.get('type')}), around "
                                 "the WAF agent; keep the upstream ClusterIP and expose the agents' Service",
                                 resource.urn)
