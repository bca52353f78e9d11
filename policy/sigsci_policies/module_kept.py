"""The module stays loaded and pointed at its agent whatever the stack's other resources change: no ConfigMap (or
patch of one) of a WAF controller's ConfigMap rewrites the module's snippets or sets a key the release guards, and
no patch of a module app's workload points the app's address variable (or its agent) elsewhere. The release's values
and the app's pod template are what `sigsci-controller-module` and `sigsci-no-unprotected-pods` read; these are the
neighbours that undo them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .common import (_AGENT_HOST, _LOAD_MODULE, Report, _controller_configmap, _directives, _env, _get,
                     _is_waf_controller, _layout, _pod_containers, _pods, _rpc_address, _same_namespace, is_agent)
from .constants import _LAYOUTS, AGENT, MODULE_ADDRESS_ENV, MODULE_FILE, RELEASES
from .stack import _Resource, _resources

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", "")


def _reaches(value: str, address: str) -> bool:
    """An app's address value reaches an agent listening at `address`: the same socket (`unix:` or not), or the
    same TCP port on the pod's own address."""
    if value.removeprefix("unix:") == address.removeprefix("unix:"):
        return True
    if "/" in value or "/" in address or ":" not in value or ":" not in address:
        return False
    host, _, port = value.rpartition(":")
    agent_host, _, agent_port = address.rpartition(":")
    return port == agent_port and host in _LOCAL_HOSTS and agent_host in _LOCAL_HOSTS


def _rpc_agents(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod's agents that listen for a module (neither a reverse proxy nor Envoy's processor)."""
    env_names = ("SIGSCI_REVPROXY_LISTENER", "SIGSCI_ENVOY_GRPC_ADDRESS")
    return [c for c in _pod_containers(spec) if is_agent(c) and not any(n in _env(c) for n in env_names)]


@dataclass
class _Link:
    """A module app's container reading its agent's address from `env`."""

    workload: _Resource
    container: str
    env: str
    agent: str
    address: str


def _links(resources: list[_Resource]) -> list[_Link]:
    """The module apps of the stack: in a pod template it declares with an agent for a module, an app container with
    a variable whose value is that agent's address (the package's SIGSCI_RPC_ADDRESS, or the app's rpcAddressEnv)."""
    found = []
    for workload in (r for r in resources if not r.patch):
        for pod in _pods(workload.resource_type, workload.props):
            agents = [(c, _rpc_address(c)) for c in _rpc_agents(pod.spec)]
            for container in (c for c in _pod_containers(pod.spec) if not is_agent(c)):
                for name, entry in _env(container).items():
                    value = entry.get("value")
                    agent = next((a for a, address in agents if address is not None and isinstance(value, str)
                                  and _reaches(value, address)), None)
                    if agent is not None and isinstance(name, str):
                        found.append(_Link(workload, str(container.get("name")), name, str(agent.get("name")),
                                           str(_rpc_address(agent))))
    return found


def validate_module_kept(args, report_violation: Report) -> None:
    """No ConfigMap or ConfigMapPatch of a WAF controller's ConfigMap changes the module's snippets or sets a key the
    release guards; no app container beside an agent for a module reads SIGSCI_RPC_ADDRESS pointing elsewhere; no
    patch of a module app's workload points its address variable (or its agent's rpc-address) elsewhere."""
    resources = _resources(args)
    _report_controller_configmaps(resources, report_violation)
    _report_declared_addresses(resources, report_violation)
    _report_address_patches(resources, _links(resources), report_violation)


def _report_controller_configmaps(resources: list[_Resource], report_violation: Report) -> None:
    for release in (r for r in resources if r.resource_type in RELEASES and _is_waf_controller(r.props)):
        name, layout_name = _controller_configmap(release.props), _layout(release.props)
        if name is None or layout_name is None:
            continue
        layout = _LAYOUTS[layout_name]
        config = _get(release.props, "values", *layout["config"])
        config = config if isinstance(config, Mapping) else {}
        for resource in resources:
            if resource.kind != "ConfigMap" or resource.object_name != name \
                    or not _same_namespace(resource.namespace, release.namespace):
                continue
            data = resource.props.get("data")
            data = data if isinstance(data, Mapping) else {}
            problems = []
            for key, pattern, directive in ((layout["main"], _LOAD_MODULE, "load_module"),
                                            (layout["http"], _AGENT_HOST, "sigsci_agent_host")):
                if key not in data and resource.patch or data.get(key) == config.get(key):
                    continue
                kept = [d for d in _directives(data.get(key), pattern)
                        if directive != "load_module" or d.endswith(MODULE_FILE)]
                problems.append(f"{'replaces' if kept else 'drops'} the module's {key!r} "
                                f"({'without' if not kept else 'with another'} `{directive}`)")
            guarded = ", ".join(repr(k) for k in layout["guarded_config"] if k in data)
            problems += [f"sets {guarded}, which the release guards"] if guarded else []
            if not problems:
                continue
            values = ".".join(layout["config"])
            report_violation(f"{resource.who}: {'; '.join(problems)} in the ConfigMap the WAF controller of "
                             f"{release.who} reads, over the release's values.{values}: the module may not load, or "
                             "not reach its agent, and nginx passes requests uninspected; change the release's "
                             "values instead", resource.urn)


def _report_declared_addresses(resources: list[_Resource], report_violation: Report) -> None:
    """A pod template with an agent for a module whose app container reads SIGSCI_RPC_ADDRESS pointing elsewhere
    (a transformation that moved it, say)."""
    for workload in resources:
        for pod in _pods(workload.resource_type, workload.props):
            addresses = [a for a in (_rpc_address(c) for c in _rpc_agents(pod.spec)) if a is not None]
            if not addresses or workload.patch:
                continue
            for container in (c for c in _pod_containers(pod.spec) if not is_agent(c)):
                value = _get(_env(container), MODULE_ADDRESS_ENV, "value")
                if isinstance(value, str) and not any(_reaches(value, a) for a in addresses):
                    report_violation(f"{workload.who}: container {container.get('name')!r} reads "
                                     f"{MODULE_ADDRESS_ENV}={value!r}, but the {AGENT} beside it listens at "
                                     f"{', '.join(repr(a) for a in addresses)}: the app's module cannot reach the "
                                     "agent and fails open, so requests pass uninspected; point it at the agent's "
                                     "address", workload.urn)


def _report_address_patches(resources: list[_Resource], links: list[_Link], report_violation: Report) -> None:
    """A patch of a module app's workload (server-side apply merges containers and env entries by name) that sets
    the app container's address variable, or the agent's rpc-address, so that they no longer meet."""
    for patch in (r for r in resources if r.patch):
        mine = [l for l in links if l.workload.kind == patch.kind and l.workload.object_name == patch.object_name
                and _same_namespace(l.workload.namespace, patch.namespace)]
        if not mine:
            continue
        for pod in _pods(patch.resource_type, patch.props):
            containers = {c.get("name"): c for c in _pod_containers(pod.spec)}
            for link in mine:
                app, agent = containers.get(link.container), containers.get(link.agent)
                value = _get(_env(app), link.env, "value") if app is not None else None
                address = _get(_env(agent), "SIGSCI_RPC_ADDRESS", "value") if agent is not None else None
                value = value if isinstance(value, str) else link.address
                address = address if isinstance(address, str) else link.address
                if _reaches(value, address):
                    continue
                moved = (f"sets {link.env}={value!r} in container {link.container!r}" if value != link.address
                         else f"moves the {AGENT}'s rpc-address to {address!r}")
                report_violation(f"{patch.who}: {moved} of {link.workload.who}, whose module reaches its agent at "
                                 f"{link.address!r}: the module cannot reach the agent and fails open, so requests "
                                 f"pass uninspected; leave {link.env} and the agent's address as the stack sets "
                                 "them", patch.urn)
