"""The ingress controller keeps its way to its agents: where they run as their own Service, no egress NetworkPolicy
cuts the controller pods off from them, for the module fails open when it cannot reach an agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .common import (_AGENT_HOST, Report, _directives, _get, _is_waf_controller, _layout, _maps, _ns, _pod_containers,
                     _pods, _same_namespace, is_agent)
from .constants import _LAYOUTS, RELEASES, SERVICE
from .network import _admits_port, _namespace_labels, _NetworkPolicy, _network_policies, _peers_reach
from .stack import _all, _any, _Resource, _resources, _selects, _upstream_service, _url_port


@dataclass
class _Agents:
    """The agents a controller's module connects to over TCP: their Service, and the port their pods listen on."""

    service: _Resource
    namespace: str | None
    port: int  # the pods' port: NetworkPolicies see a connection after the Service has sent it to a pod
    names: set[str]  # that port's names in the agents' pods
    pods: list[Mapping[str, Any]]  # the agents' pod labels


def _chart_name_text(name: str) -> str:
    """The charts' `trunc 63 | trimSuffix "-"`."""
    name = name[:63]
    return name[:-1] if name.endswith("-") else name


def _controller_pod_labels(release: _Resource) -> dict[str, Any] | None:
    """The labels the chart's selectorLabels helper puts on the controller pods: the chart's name (or nameOverride)
    and the release's name (unknown when the release is auto-named), and ingress-nginx's component; nginx-ingress's
    controller.selectorLabels replaces them. The pods carry other labels too (podLabels, the chart's version...)."""
    layout_name = _layout(release.props)
    if layout_name is None:
        return None
    layout, values = _LAYOUTS[layout_name], release.props.get("values") or {}
    override = _get(values, *layout["selector_labels"]) if layout["selector_labels"] else None
    if isinstance(override, Mapping) and override:
        return {str(k): str(v) for k, v in override.items()}
    name_override = _get(values, "nameOverride")
    labels = {"app.kubernetes.io/name": _chart_name_text(name_override if isinstance(name_override, str)
                                                         and name_override else layout_name)}
    if isinstance(release.props.get("name"), str) and release.props["name"]:
        labels["app.kubernetes.io/instance"] = release.props["name"]
    if layout["component_label"]:
        labels["app.kubernetes.io/component"] = "controller"
    return labels


def _agents(release: _Resource, resources: list[_Resource]) -> _Agents | None:
    """The agents the release's module connects to over TCP (`sigsci_agent_host <service>.<namespace>.svc:<port>`),
    where the stack declares their Service and the pods behind it; None for a Unix socket (the agent beside nginx)."""
    layout = _LAYOUTS[_layout(release.props) or "ingress-nginx"]
    config = _get(release.props, "values", *layout["config"])
    hosts = _directives(config.get(layout["http"]) if isinstance(config, Mapping) else None, _AGENT_HOST)
    for host in (h for h in hosts if not h.startswith("unix:")):
        url = f"tcp://{host}"
        target, port = _upstream_service(url, release.namespace), _url_port(url)
        if target is None or port is None:
            continue
        namespace, name = target
        service = next((r for r in resources if r.resource_type == SERVICE and r.object_name == name
                        and _same_namespace(r.namespace, namespace)), None)
        if service is None:
            continue
        selector = _get(service.props, "spec", "selector")
        pods = [pod for workload in resources if _same_namespace(workload.namespace, service.namespace)
                for pod in _pods(workload.resource_type, workload.props)
                if _selects(selector, pod.labels) and any(is_agent(c) for c in _pod_containers(pod.spec))]
        entry = next((p for p in _maps(_get(service.props, "spec", "ports")) if p.get("port") == port), None)
        if not pods or entry is None:
            continue
        target_port = entry.get("targetPort", port)
        container_ports = [p for pod in pods for c in _pod_containers(pod.spec) if is_agent(c)
                           for p in _maps(c.get("ports"))]
        if isinstance(target_port, str) and not target_port.isdigit():
            number = next((p.get("containerPort") for p in container_ports if p.get("name") == target_port), None)
        else:
            number = int(target_port) if isinstance(target_port, (int, str)) else None
        if not isinstance(number, int):
            continue
        names = {str(p.get("name")) for p in container_ports if p.get("containerPort") == number and p.get("name")}
        return _Agents(service, service.namespace or namespace, number, names, [pod.labels for pod in pods])
    return None


def _allows(policy: _NetworkPolicy, agents: _Agents, namespace_labels: Mapping[str, Any]) -> bool | None:
    """Whether one of the policy's egress rules lets the controller pods open TCP connections to the agents."""
    return _any(_all([_admits_port(rule.get("ports"), {agents.port}, agents.names),
                      _peers_reach(rule.get("to"), policy.namespace, agents.namespace, namespace_labels, agents.pods)])
                for rule in policy.rules("Egress"))


def validate_controller_reaches_agents(args, report_violation: Report) -> None:
    """No egress NetworkPolicy selects the pods of a WAF controller whose agents run as their own Service unless
    the egress policies on those pods, together, let them reach the agents' pods on their port: an egress policy
    makes the pods' egress deny-by-default, and a module that cannot reach an agent passes requests uninspected."""
    resources = _resources(args)
    egress = [p for p in _network_policies(resources) if p.limits("Egress")]
    if not egress:
        return
    for release in resources:
        if release.resource_type not in RELEASES or not _is_waf_controller(release.props):
            continue
        agents = _agents(release, resources)
        labels = _controller_pod_labels(release)
        if agents is None or labels is None:
            continue
        on_controller = [(p, p.selects(labels, complete=False)) for p in egress
                         if _same_namespace(p.namespace, release.namespace)]
        limiting = [p for p, selects in on_controller if selects is True]
        if not limiting:
            continue
        maybe = [p for p, selects in on_controller if selects is not False]
        namespace_labels = _namespace_labels(resources, agents.namespace) if agents.namespace else {}
        if any(_allows(p, agents, namespace_labels) is not False for p in maybe):
            continue  # one of them does, or may
        service = f"{_ns(agents.service.namespace)}/{agents.service.object_name}"
        together = " (nor does any other egress policy on them)" if len(maybe) > 1 else ""
        for policy in limiting:
            report_violation(f"{policy.who}: limits the egress of the controller pods of {release.who}, labelled "
                             f"{labels}, but allows no TCP connection to port {agents.port} of the WAF agents' pods "
                             f"behind Service {service}{together}: the module cannot reach the agents and fails open, "
                             f"so requests pass uninspected; add an egress rule to the agents' pods (or their "
                             f"namespace) on port {agents.port}", policy.resource.urn)
