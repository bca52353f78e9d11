"""No pods around the agent behind the selector of a protected Service or agent workload: none without the agent,
none whose agent is not the listener the Service sends clients to, none on the host's network, and no app of the
stack's components without the agent its component promises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .common import (Report, _env_value, _get, _maps, _pod_containers, _pods, _same_namespace, is_agent)
from .constants import AGENT, APP_COMPONENT, MODULE_ADDRESS_ENV
from .stack import (_listeners, _protected_pods, _Resource, _resources, _selects, _service_kind, _shown_ports,
                    _targets)


@dataclass
class _Requirement:
    namespace: str | None
    selector: Mapping[str, Any]
    owner: str
    targets: set[int | str]  # the agent's listener ports (numbers, names) the owner sends clients to; empty: any agent


def _pod_listeners(spec: Mapping[str, Any]) -> tuple[set[int], set[str]]:
    """The ports (numbers, and the names of the agent's ports with those numbers) the pod's agents listen on as a
    reverse proxy."""
    numbers: set[int] = set()
    names: set[str] = set()
    for agent in (c for c in _pod_containers(spec) if is_agent(c)):
        ports = {listener.port for listener in _listeners(_env_value(agent, "SIGSCI_REVPROXY_LISTENER"))
                 if listener.port is not None}
        numbers |= ports
        names |= {str(p.get("name")) for p in _maps(agent.get("ports"))
                  if p.get("name") and p.get("containerPort") in ports}
    return numbers, names


def _requirements(resources: list[_Resource]) -> tuple[list[_Requirement], list[_Resource]]:
    """What a pod carrying protected labels must run, and the workloads that run the agent."""
    found: list[_Requirement] = []
    agent_workloads: list[_Resource] = []
    for resource in resources:
        agent_pods = [pod for pod in _pods(resource.resource_type, resource.props)
                      if any(is_agent(c) for c in _pod_containers(pod.spec))]
        if not agent_pods:
            continue
        agent_workloads.append(resource)
        match = _get(resource.props, "spec", "selector", "matchLabels")
        if isinstance(match, Mapping) and match:
            found.append(_Requirement(resource.namespace, match, f"the selector of {resource.who}", set()))
        for pod in agent_pods:
            numbers, names = _pod_listeners(pod.spec)
            for service in resources:
                selector = _get(service.props, "spec", "selector")
                if _service_kind(service) and _same_namespace(service.namespace, resource.namespace) \
                        and _selects(selector, pod.labels):
                    targets = {t for t in (_targets(p) for p in _maps(_get(service.props, "spec", "ports")))
                               if t in numbers or t in names}
                    found.append(_Requirement(service.namespace, selector, f"Service {service.who}", targets))
    return found, agent_workloads


def validate_no_unprotected_pods(args, report_violation: Report) -> None:
    """No pod template carries the labels a protected Service or agent workload selects without the agent that
    Service sends clients to (an agent listening on the port it targets, where it targets an agent's listener):
    the protected Service would send it a share of the traffic, uninspected. No protected pod joins the host's
    network or opens a hostPort to its app, and no app of a component runs without its agent."""
    resources = _resources(args)
    requirements, agent_workloads = _requirements(resources)
    for resource in resources:
        if resource.patch and any(w.kind == resource.kind and w.object_name == resource.object_name
                                  and _same_namespace(w.namespace, resource.namespace) for w in agent_workloads):
            continue  # a patch of a workload that runs the agent: the merged pods keep it (host ports: below)
        for pod in _pods(resource.resource_type, resource.props):
            has_agent = any(is_agent(c) for c in _pod_containers(pod.spec))
            numbers, names = _pod_listeners(pod.spec)
            matches = [r for r in requirements
                       if _same_namespace(r.namespace, resource.namespace) and _selects(r.selector, pod.labels)]
            missing = [r for r in matches if not has_agent
                       or any(t not in numbers and t not in names for t in r.targets)]
            if not missing:
                continue
            owners = "; ".join(dict.fromkeys(r.owner for r in missing))
            targets = {t for r in missing for t in r.targets}
            if has_agent:
                shown = _shown_ports({t for t in targets if isinstance(t, int)},
                                     {t for t in targets if isinstance(t, str)})
                listening = _shown_ports(numbers, names) or "no revproxy listener"
                what = (f"its {AGENT} does not listen on {shown} (it listens on {listening}), the port "
                        f"{owners} sends clients to, but its pods carry the labels {dict(missing[0].selector)}")
            else:
                what = (f"its pods run no {AGENT} container but carry the labels {dict(missing[0].selector)} "
                        f"selected by {owners}")
            report_violation(f"{resource.who}: {what}: the protected Service sends them a share of the traffic, "
                             "uninspected, around the WAF agent; give these pods labels of their own, or add the "
                             "agent as the protected pods run it", resource.urn)
    _report_host_network(resources, report_violation)
    _report_components_without_agent(resources, report_violation)


def _report_host_network(resources: list[_Resource], report_violation: Report) -> None:
    """A pod whose agent proxies to an app beside it (or a patch of its workload) on the host's network, or with a
    hostPort on a port other than the agent's listener: the node's address reaches the app around the agent, and
    NetworkPolicies do not hold there."""
    protected = _protected_pods(resources)
    for resource in resources:
        pods = [p for p in protected if p.resource is resource or (
            resource.patch and p.resource.kind == resource.kind and p.resource.object_name == resource.object_name
            and _same_namespace(p.namespace, resource.namespace))]
        if not pods:
            continue
        listeners = {port for p in pods for port in p.listener_ports}
        for pod in _pods(resource.resource_type, resource.props):
            problems = []
            if pod.spec.get("hostNetwork") is True:
                problems.append("hostNetwork: true puts the app's own port on the node's address")
            for container in _pod_containers(pod.spec):
                for port in _maps(container.get("ports")):
                    if port.get("hostPort") and port.get("containerPort") not in listeners:
                        problems.append(f"container {container.get('name')!r} opens hostPort {port.get('hostPort')} "
                                        f"to its port {port.get('containerPort')}")
            if problems:
                report_violation(f"{resource.who}: {'; '.join(problems)}, on pods whose WAF agent listens on "
                                 f"{_shown_ports(listeners)}: clients reach the app around the agent, and "
                                 "NetworkPolicies do not hold on the host's network; keep the pods off the host "
                                 "network and expose only the agent's listener", resource.urn)


def _report_components_without_agent(resources: list[_Resource], report_violation: Report) -> None:
    """An app component (its resource carries no properties) promises the agent in its app's pods: as a reverse
    proxy (SIGSCI_REVPROXY_LISTENER), or for the app's module (the app reads the agent's address). A workload it
    declares without them (taken out by a transformation, say) leaves the app uninspected."""
    for component in (r for r in resources if r.resource_type == APP_COMPONENT and r.urn):
        workloads = [(r, pod) for r in resources if r.parent == component.urn
                     for pod in _pods(r.resource_type, r.props)]
        if not workloads:
            continue
        agents = [c for _, pod in workloads for c in _pod_containers(pod.spec) if is_agent(c)]
        listens = any(_listeners(_env_value(c, "SIGSCI_REVPROXY_LISTENER")) for c in agents)
        module = any(_env_value(c, MODULE_ADDRESS_ENV) for _, pod in workloads for c in _pod_containers(pod.spec)
                     if not is_agent(c))
        if agents and (listens or module):
            continue
        why = (f"runs no {AGENT} container" if not agents else
               f"runs a {AGENT} that neither listens in front of the app (SIGSCI_REVPROXY_LISTENER) nor serves "
               f"a module (no app container reads {MODULE_ADDRESS_ENV})")
        for resource in dict.fromkeys(r for r, _ in workloads):
            report_violation(f"{resource.who}: declared by {component.who} to run behind the WAF agent, it {why}: "
                             "the app is served uninspected; keep the agent (and its listener) that the component "
                             "adds, or take the app out of the component", resource.urn)
