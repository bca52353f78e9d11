"""The ingress controller keeps its way to its agents: where they run as their own Service, no egress NetworkPolicy
cuts the controller pods off from them, for the module fails open when it cannot reach an agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .common import (_AGENT_HOST, Report, _chart_name_text, _directives, _env_value, _get, _is_waf_controller,
                     _layout, _maps, _ns, _pod_containers, _pods, _same_namespace, is_agent)
from .constants import _LAYOUTS, RELEASES, SERVICE, SERVICE_PATCH
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
    service_port: int  # the Service's port the module connects to
    workloads: list[_Resource]  # the stack's workloads of the agents' pods


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
        selected = [(workload, pod) for workload in resources if _same_namespace(workload.namespace, service.namespace)
                    for pod in _pods(workload.resource_type, workload.props)
                    if _selects(selector, pod.labels) and any(is_agent(c) for c in _pod_containers(pod.spec))]
        pods = [pod for _, pod in selected]
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
        return _Agents(service, service.namespace or namespace, number, names, [pod.labels for pod in pods], port,
                       list(dict.fromkeys(w for w, _ in selected)))
    return None


def _allows(policy: _NetworkPolicy, agents: _Agents, namespace_labels: Mapping[str, Any]) -> bool | None:
    """Whether one of the policy's egress rules lets the controller pods open TCP connections to the agents."""
    return _any(_all([_admits_port(rule.get("ports"), {agents.port}, agents.names),
                      _peers_reach(rule.get("to"), policy.namespace, agents.namespace, namespace_labels, agents.pods)])
                for rule in policy.rules("Egress"))


def validate_controller_reaches_agents(args, report_violation: Report) -> None:
    """The pods of a WAF controller whose agents run as their own Service keep their way to the agents: no egress
    NetworkPolicy on the controller pods unless the egress policies on them, together, let them reach the agents'
    pods on their port (an egress policy makes the pods' egress deny-by-default); on the agents' side, no ingress
    policy on the agents' pods unless those policies admit the controller pods on that port, and no ServicePatch of
    the agents' Service moving its selector off the agents or its targetPort off their port, and no patch of the
    agents' workload moving their rpc-address off that port (or turning the RPC listener off). A module that cannot
    reach an agent passes requests uninspected."""
    resources = _resources(args)
    policies = _network_policies(resources)
    for release in resources:
        if release.resource_type not in RELEASES or not _is_waf_controller(release.props):
            continue
        agents = _agents(release, resources)
        labels = _controller_pod_labels(release)
        if agents is None or labels is None:
            continue
        _report_egress(release, agents, labels, resources, policies, report_violation)
        _report_agents_ingress(release, agents, labels, resources, policies, report_violation)
        _report_service_patches(release, agents, resources, report_violation)
        _report_agent_patches(release, agents, resources, report_violation)


def _report_egress(release: _Resource, agents: _Agents, labels: Mapping[str, Any], resources: list[_Resource],
                   policies: list[_NetworkPolicy], report_violation: Report) -> None:
    egress = [p for p in policies if p.limits("Egress")]
    on_controller = [(p, p.selects(labels, complete=False)) for p in egress
                     if _same_namespace(p.namespace, release.namespace)]
    limiting = [p for p, selects in on_controller if selects is True]
    if not limiting:
        return
    maybe = [p for p, selects in on_controller if selects is not False]
    namespace_labels = _namespace_labels(resources, agents.namespace) if agents.namespace else {}
    if any(_allows(p, agents, namespace_labels) is not False for p in maybe):
        return  # one of them does, or may
    service = f"{_ns(agents.service.namespace)}/{agents.service.object_name}"
    together = " (nor does any other egress policy on them)" if len(maybe) > 1 else ""
    for policy in limiting:
        report_violation(f"{policy.who}: limits the egress of the controller pods of {release.who}, labelled "
                         f"{labels}, but allows no TCP connection to port {agents.port} of the WAF agents' pods "
                         f"behind Service {service}{together}: the module cannot reach the agents and fails open, "
                         f"so requests pass uninspected; add an egress rule to the agents' pods (or their "
                         f"namespace) on port {agents.port}", policy.resource.urn)


def _report_agents_ingress(release: _Resource, agents: _Agents, labels: Mapping[str, Any],
                           resources: list[_Resource], policies: list[_NetworkPolicy],
                           report_violation: Report) -> None:
    """The ingress policies on the agents' pods, together, admit the controller pods (their known labels, in the
    release's namespace) on the agents' port."""
    on_agents = [(p, _any(p.selects(pod) for pod in agents.pods)) for p in policies if p.limits("Ingress")
                 and _same_namespace(p.namespace, agents.namespace)]
    limiting = [p for p, selects in on_agents if selects is True]
    if not limiting:
        return
    namespace_labels = _namespace_labels(resources, release.namespace) if release.namespace else {}
    for policy, _ in (entry for entry in on_agents if entry[1] is not False):
        if _any(_all([_admits_port(rule.get("ports"), {agents.port}, agents.names),
                      _peers_reach(rule.get("from"), policy.namespace, release.namespace, namespace_labels, [labels],
                                   complete=False)])
                for rule in policy.rules("Ingress")) is not False:
            return  # it does, or may
    service = f"{_ns(agents.service.namespace)}/{agents.service.object_name}"
    for policy in limiting:
        report_violation(f"{policy.who}: limits the ingress of the WAF agents' pods behind Service {service} but "
                         f"admits no TCP connection on port {agents.port} from the controller pods of {release.who}, "
                         f"labelled {labels} (nor does any other ingress policy on them): the module cannot reach "
                         "the agents and fails open, so requests pass uninspected; admit the controller pods on port "
                         f"{agents.port}", policy.resource.urn)


def _report_service_patches(release: _Resource, agents: _Agents, resources: list[_Resource],
                            report_violation: Report) -> None:
    """A ServicePatch of the agents' Service keeps its selector on the agents' pods and the module's port on theirs."""
    for patch in resources:
        if patch.resource_type != SERVICE_PATCH or patch.object_name != agents.service.object_name \
                or not _same_namespace(patch.namespace, agents.namespace):
            continue
        problems = []
        selector = _get(patch.props, "spec", "selector")
        if isinstance(selector, Mapping) and selector and not any(_selects(selector, pod) for pod in agents.pods):
            problems.append(f"sets the selector {dict(selector)}, which picks none of the agents' pods")
        for entry in _maps(_get(patch.props, "spec", "ports")):
            target = entry.get("targetPort")
            if entry.get("port") != agents.service_port or target is None:
                continue
            number = int(target) if isinstance(target, int) or (isinstance(target, str) and target.isdigit()) \
                else None
            if number != agents.port and target not in agents.names:
                problems.append(f"sends port {agents.service_port} to targetPort {target!r}, where the agents do not "
                                f"listen (they listen on {agents.port})")
        if problems:
            report_violation(f"{patch.who}: {'; '.join(problems)}, on the WAF agents' Service that the module of "
                             f"{release.who} connects to: the module cannot reach the agents and fails open, so "
                             "requests pass uninspected; leave the agents' Service as the stack declares it",
                             patch.urn)


def _report_agent_patches(release: _Resource, agents: _Agents, resources: list[_Resource],
                          report_violation: Report) -> None:
    """A patch of the agents' workload (its containers and env entries merge by name) keeps the agents listening
    for the module on the port the Service sends it to: an rpc-address on another port or a socket, or a revproxy
    or Envoy listener (either turns the RPC listener off), cuts the module off."""
    for patch in (r for r in resources if r.patch):
        if not any(w.kind == patch.kind and w.object_name == patch.object_name
                   and _same_namespace(w.namespace, patch.namespace) for w in agents.workloads):
            continue
        problems = []
        for pod in _pods(patch.resource_type, patch.props):
            for agent in (c for c in _pod_containers(pod.spec) if is_agent(c)):
                address = _env_value(agent, "SIGSCI_RPC_ADDRESS")
                if address is not None and address.rpartition(":")[2] != str(agents.port):
                    problems.append(f"moves the agents' rpc-address to {address!r}")
                for name in ("SIGSCI_REVPROXY_LISTENER", "SIGSCI_ENVOY_GRPC_ADDRESS"):
                    if _env_value(agent, name):
                        problems.append(f"sets {name}, which turns the agents' RPC listener off")
        if problems:
            service = f"{_ns(agents.service.namespace)}/{agents.service.object_name}"
            report_violation(f"{patch.who}: {'; '.join(problems)}, on the WAF agents behind Service {service}, which "
                             f"sends the module of {release.who} to port {agents.port}: the module cannot reach the "
                             "agents and fails open, so requests pass uninspected; leave the agents' address as the "
                             "stack sets it", patch.urn)
