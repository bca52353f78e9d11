"""No NetworkPolicy reopens the app's port of a WAF'd pod: the stack admits traffic to pods whose agent proxies to an
app beside it on the agent's listener only, and NetworkPolicies add up, so one more policy admitting the app's port
from anywhere undoes it."""

from __future__ import annotations

from .common import Report, _same_namespace
from .network import _admits_port, _from_anywhere, _network_policies
from .stack import (_app_ports, _guards, _known_labels, _Protected, _protected_pods, _protected_services, _resources,
                    _shown_ports)


def validate_no_bypass_network_policy(args, report_violation: Report) -> None:
    """No NetworkPolicy selects pods whose agent proxies to an app beside it (by its podSelector on their labels,
    or an empty one) and admits the app's own port from anywhere: the pods would admit that port whatever the
    stack's listener-only policy says, and clients would reach the app around the agent."""
    resources = _resources(args)
    pods = _protected_pods(resources)
    if not pods:
        return
    protected = _protected_services(resources, pods)
    for policy in _network_policies(resources):
        reopened: list[tuple[_Protected, int, set[int], set[str]]] = []
        for pod in pods:
            if not _same_namespace(policy.namespace, pod.namespace):
                continue
            labels, complete = _known_labels(resources, pod, protected)
            if policy.selects(labels, complete) is not True:
                continue
            numbers, names, all_names = _app_ports(resources, pod, _guards(protected, pod))
            index = next((i for i, rule in enumerate(policy.rules("Ingress")) if _from_anywhere(rule.get("from"))
                          and _admits_port(rule.get("ports"), numbers, names, all_names) is True), None)
            if index is not None:
                reopened.append((pod, index, numbers, names))
        if not reopened:
            continue
        shown = "; ".join(
            f"ingress rule {index} admits traffic from anywhere to the app's port {_shown_ports(numbers, names)} of "
            f"{pod.resource.who}, whose WAF agent listens on {_shown_ports(pod.listener_ports, pod.listener_names)}"
            for pod, index, numbers, names in reopened)
        report_violation(f"{policy.who}: {shown}; NetworkPolicies add up, so this undoes the listener-only policy on "
                         "these pods and clients reach the app around the WAF agent; admit only the agent's listener "
                         "port, or leave these pods out of its podSelector", policy.resource.urn)
