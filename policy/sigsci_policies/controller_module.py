"""A Fastly controller release keeps the module loaded, in its own ConfigMap, pointed at the agent's socket."""

from __future__ import annotations

from typing import Mapping

from .common import (_AGENT_HOST, _LOAD_MODULE, UNKNOWN, Report, _containers, _directives, _env_value, _get,
                     _image_text, _is_waf_controller, _layout, _maps, _mount_for, _plain, _rpc_address, _who, is_agent,
                     is_fastly_controller_image)
from .constants import _LAYOUTS, AGENT, DEFAULT_RPC_ADDRESS, MODULE_FILE, MODULE_PATH, RELEASES


def validate_controller_module(args, report_violation: Report) -> None:
    """A release of a Fastly controller (or of an ingress chart carrying an agent) keeps the module loaded,
    pointed at the agent's socket, in the ConfigMap the chart renders, and reads no other config."""
    if args.resource_type not in RELEASES:
        return
    props = _plain(args.props)
    if not _is_waf_controller(props):
        return
    who = _who(args.name, args.resource_type, props)
    values = props.get("values") or {}
    controller = values.get("controller") or {}
    layout_name = _layout(props) or "ingress-nginx"
    layout = _LAYOUTS[layout_name]
    config_path = ".".join(layout["config"])
    image = _get(values, "controller", "image")
    agents = [c for _, c in _containers(args.resource_type, props) if is_agent(c)]
    rpc_agents = [c for c in agents if not _env_value(c, "SIGSCI_REVPROXY_LISTENER")]

    if not is_fastly_controller_image(image):
        shown = _image_text(image) or f"the {layout_name} chart's default"
        report_violation(f"{who}: carries a {AGENT} for a module, but the controller image ({shown}) is not a "
                         "Fastly build (signalsciences/sigsci-nginx-ingress-controller or "
                         "sigsci-nginxinc-ingress-controller), so nothing is inspected; set controller.image")
        return

    config = _get(values, *layout["config"])
    config = config if isinstance(config, Mapping) else {}
    modules = [m for m in _directives(config.get(layout["main"]), _LOAD_MODULE) if m.endswith(MODULE_FILE)]
    if not modules and config.get(layout["main"]) is not UNKNOWN:
        report_violation(f"{who}: values.{config_path}[{layout['main']!r}] has no `load_module {MODULE_PATH};`: "
                         "the controller runs without the WAF module and inspects nothing; keep the module line in "
                         "the main snippet")
    hosts = _directives(config.get(layout["http"]), _AGENT_HOST)
    if not hosts and config.get(layout["http"]) is not UNKNOWN:
        report_violation(f"{who}: values.{config_path}[{layout['http']!r}] has no `sigsci_agent_host ...;`: the "
                         "module cannot reach the agent and fails open (requests pass uninspected); keep the "
                         f"line, e.g. `sigsci_agent_host unix:{DEFAULT_RPC_ADDRESS};`")

    if layout_name == "ingress-nginx":
        redirects = {
            "controller.configMapNamespace": (controller.get("configMapNamespace"),
                                              lambda v: v and v != props.get("namespace")),
            "controller.extraArgs.configmap": (_get(controller, "extraArgs", "configmap"), bool),
            "controller.customTemplate.configMapName": (_get(controller, "customTemplate", "configMapName"), bool),
        }
    else:
        redirects = {"controller.customConfigMap": (controller.get("customConfigMap"), bool)}
    for key, (value, bad) in redirects.items():
        if value is not UNKNOWN and bad(value):
            report_violation(f"{who}: values.{key} = {value!r} makes the controller read another ConfigMap or "
                             f"template than the one carrying the module's snippets (values.{config_path}); the "
                             "module may not load; remove it and keep the snippets in the chart's own ConfigMap")

    for host in hosts:
        if not host.startswith("unix:"):
            continue
        socket = host[len("unix:"):]
        if not rpc_agents:
            why = ("its agent runs as a reverse proxy (SIGSCI_REVPROXY_LISTENER), which turns the RPC listener off"
                   if agents else f"no {AGENT} container in the controller pod listens there")
            report_violation(f"{who}: the module points at unix:{socket} but {why}; the module fails open; run "
                             "the agent in the controller pod without a revproxy listener")
            continue
        addresses = [_rpc_address(c) for c in rpc_agents]
        if not any(a is None or a.removeprefix("unix:") == socket for a in addresses):
            shown = ", ".join(repr(a) for a in addresses)
            report_violation(f"{who}: sigsci_agent_host unix:{socket} does not match the agent's "
                             f"SIGSCI_RPC_ADDRESS ({shown}); the module cannot reach the agent and fails open; "
                             "move both together (the socket lives in the agent's temp volume)")
            continue
        agent = next(c for c, a in zip(rpc_agents, addresses) if a is None or a.removeprefix("unix:") == socket)
        agent_mount = _mount_for(socket, _maps(agent.get("volumeMounts")))
        controller_mounts = _maps(controller.get(layout["mounts"]))
        shared = agent_mount is not None and any(
            m.get("name") == agent_mount.get("name") and m.get("mountPath") == agent_mount.get("mountPath")
            for m in controller_mounts)
        if not shared:
            report_violation(f"{who}: the socket {socket} is not on a volume that both the agent and the "
                             f"controller mount at the same path (values.controller.{layout['mounts']}); the "
                             "module cannot reach the agent and fails open; mount the agent's temp volume in both")
