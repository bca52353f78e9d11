"""No pods without the agent behind the selector of a protected Service or agent workload."""

from __future__ import annotations

from typing import Any, Mapping

from .common import Report, _get, _pod_containers, _pods, _same_namespace, is_agent
from .constants import AGENT
from .stack import _Resource, _resources, _selects, _service_kind


def validate_no_unprotected_pods(args, report_violation: Report) -> None:
    """No pod template without the agent carries the labels a protected Service or agent workload selects:
    the protected Service would send it a share of the traffic, uninspected."""
    resources = _resources(args)
    selectors: list[tuple[str | None, Mapping[str, Any], str]] = []
    agent_workloads: list[_Resource] = []
    for resource in resources:
        pods = _pods(resource.resource_type, resource.props)
        agent_pods = [pod for pod in pods if any(is_agent(c) for c in _pod_containers(pod.spec))]
        if not agent_pods:
            continue
        agent_workloads.append(resource)
        match = _get(resource.props, "spec", "selector", "matchLabels")
        if isinstance(match, Mapping) and match:
            selectors.append((resource.namespace, match, f"the selector of {resource.who}"))
        for pod in agent_pods:
            for service in resources:
                selector = _get(service.props, "spec", "selector")
                if _service_kind(service) and _same_namespace(service.namespace, resource.namespace) \
                        and _selects(selector, pod.labels):
                    selectors.append((service.namespace, selector, f"Service {service.who}"))
    for resource in resources:
        if resource in agent_workloads:
            continue
        if resource.patch and any(w.kind == resource.kind and w.object_name == resource.object_name
                                  and _same_namespace(w.namespace, resource.namespace) for w in agent_workloads):
            continue  # a patch of a workload that runs the agent: the merged pods keep it
        for pod in _pods(resource.resource_type, resource.props):
            if any(is_agent(c) for c in _pod_containers(pod.spec)):
                continue
            matches = [(selector, owner) for namespace, selector, owner in selectors
                       if _same_namespace(namespace, resource.namespace) and _selects(selector, pod.labels)]
            if matches:
                owners = "; ".join(dict.fromkeys(owner for _, owner in matches))
                report_violation(f"{resource.who}: its pods run no {AGENT} container but carry the labels "
                                 f"{dict(matches[0][0])} selected by {owners}: the protected Service sends them a "
                                 "share of the traffic, uninspected, around the WAF agent; give these pods labels "
                                 "of their own, or add the agent", resource.urn)
