"""The objects a patch changes, as the cluster has them, read every preview: what the patch assumes of them is
checked before anything is applied (a Service port that is not there, a selector that misses the Deployment's
pods, a targetPort the removal would not give back, a Deployment without the container a module's agent is
added for), and a patched Service the WAF was taken out of shows up."""

from __future__ import annotations

import json
from typing import Any

from ..agent.container import AGENT_CONTAINER, LISTENER_PORT_NAME
from ..declare import field_of


def bypass_problems(live_spec: Any, service_port: int) -> list[str]:
    """What is wrong with a patched Service as the cluster has it (its spec, as read): a port clients use
    that does not target the agent went around the WAF (typically the owner's redeploy took the field back)."""
    problems = []
    ports = field_of(live_spec, "ports", "ports") if live_spec else None
    for port in ports or []:
        number, target = field_of(port, "port", "port"), field_of(port, "targetPort", "target_port")
        if number == service_port and target != LISTENER_PORT_NAME:
            problems.append(f"port {number} targets {target!r}, not the agent ({LISTENER_PORT_NAME}): traffic goes "
                            "around the WAF, typically because the owner's last deploy put its own targetPort "
                            "back. `pulumi up` takes it again; docs/patched-apps.md says how the owner hands it over")
    return problems


def target_port_owners(managed_fields: Any, port: int, protocol: str = "TCP") -> list[str]:
    """Who owns a Service port's targetPort, from the live object's metadata.managedFields (`manager
    (operation)`), so the preview can say from whom the patch takes it."""
    key = "k:" + json.dumps({"port": port, "protocol": protocol}, separators=(",", ":"))
    owners = []
    for entry in managed_fields or []:
        fields = field_of(entry, "fieldsV1", "fields_v1") or {}
        ports = (fields.get("f:spec") or {}).get("f:ports") or {}
        if "f:targetPort" in (ports.get(key) or {}):
            owners.append(f"{field_of(entry, 'manager', 'manager')} ({field_of(entry, 'operation', 'operation')})")
    return owners


def module_container_problem(live_spec: Any, container: str, uid: int | None) -> tuple[str, str] | None:
    """What stops the agent from serving the module in an existing Deployment (its spec, as read): no app
    container of that name (the patch would add a container with no image), or, for the socket (`uid` given),
    an app container running as another user than the agent, which creates the socket as its own. The key
    (`container` or `runAsUser`) and the problem; None when there is none."""
    template = field_of(live_spec, "template", "template") if live_spec else None
    pod = field_of(template, "spec", "spec") if template else None
    containers = field_of(pod, "containers", "containers") if pod else None
    names = [field_of(c, "name", "name") for c in containers or []]
    if container not in names:
        return "container", (f"has no container {container!r} (it has {', '.join(map(repr, names)) or 'none'}): "
                              "name the app's container, the one whose module calls the agent")
    if uid is None:
        return None
    found = next(c for c in containers if field_of(c, "name", "name") == container)
    runs_as = _run_as_user(field_of(found, "securityContext", "security_context")) \
        or _run_as_user(field_of(pod, "securityContext", "security_context"))
    if runs_as is not None and runs_as != uid:
        return "runAsUser", (f"runs container {container!r} as user {runs_as}, and the agent as {uid}: the agent "
                             f"creates the socket as its own user, so the module could not open it; set runAsUser: "
                             f"{runs_as}")
    return None


def _run_as_user(context: Any) -> int | None:
    return field_of(context, "runAsUser", "run_as_user") if context else None


def _ports_text(ports: Any) -> str:
    shown = []
    for port in ports or []:
        name = field_of(port, "name", "name")
        shown.append(f"{field_of(port, 'port', 'port')}/{field_of(port, 'protocol', 'protocol') or 'TCP'}"
                     + (f" {name!r}" if name else ""))
    return ", ".join(shown) or "none"


def _same_target(live: Any, owner: int | str) -> bool:
    return str(live) == str(owner)


def patch_problems(service_spec: Any, deployment_spec: Any, spec: Any) -> list[tuple[str, str]]:
    """What placement patch assumes of the live Service and Deployment, checked (their specs, as read): each
    problem as (the key to change, what is wrong). A spec the read did not return is not checked."""
    problems: list[tuple[str, str]] = []
    port_number, owner = spec.effective_service_port(), spec.effective_owner_target_port()
    ports = field_of(service_spec, "ports", "ports") if service_spec else None
    if service_spec is not None:
        found = [p for p in ports or [] if field_of(p, "port", "port") == port_number]
        if not found:
            problems.append(("servicePort",
                             f"Service {spec.namespace}/{spec.service} has no port {port_number} (it has "
                             f"{_ports_text(ports)}): set servicePort to the port clients use; the patch would "
                             "add a second port instead of moving that one to the agent"))
        elif (field_of(found[0], "protocol", "protocol") or "TCP") != "TCP":
            problems.append(("servicePort", f"Service {spec.namespace}/{spec.service} port {port_number} is "
                                            f"{field_of(found[0], 'protocol', 'protocol')}, not TCP: the agent "
                                            "proxies HTTP"))
        else:
            target = field_of(found[0], "targetPort", "target_port")
            target = port_number if target is None else target
            if target != LISTENER_PORT_NAME and not _same_target(target, owner):
                problems.append(("ownerTargetPort", f"Service {spec.namespace}/{spec.service} port {port_number} "
                                                    f"targets {target!r} now, and removing the WAF would give back "
                                                    f"{owner!r}: set ownerTargetPort: {target!r}"))
    if service_spec is not None and deployment_spec is not None:
        selector = field_of(service_spec, "selector", "selector") or {}
        template = field_of(deployment_spec, "template", "template")
        metadata = field_of(template, "metadata", "metadata") if template else None
        labels = (field_of(metadata, "labels", "labels") if metadata else None) or {}
        if not selector or any(labels.get(k) != v for k, v in dict(selector).items()):
            problems.append(("service", f"Service {spec.namespace}/{spec.service} (selector {dict(selector)}) does "
                                        f"not select the pods of Deployment {spec.namespace}/{spec.deployment} "
                                        f"(labels {dict(labels)}): its clients would reach no agent"))
    if deployment_spec is not None:
        template = field_of(deployment_spec, "template", "template")
        pod = field_of(template, "spec", "spec") if template else None
        listener = spec.effective_listener_port()
        for container in (field_of(pod, "containers", "containers") if pod else None) or []:
            who = field_of(container, "name", "name")
            if who == AGENT_CONTAINER:  # ours, from an earlier update
                continue
            for declared in field_of(container, "ports", "ports") or []:
                if field_of(declared, "containerPort", "container_port") == listener:
                    problems.append(("listenerPort", f"{listener} is already a port of container {who!r} in "
                                                     f"Deployment {spec.namespace}/{spec.deployment}: pick another "
                                                     "listenerPort"))
                if field_of(declared, "name", "name") == LISTENER_PORT_NAME:
                    problems.append(("deployment", f"container {who!r} of Deployment {spec.namespace}/"
                                                   f"{spec.deployment} already names a port {LISTENER_PORT_NAME!r}, "
                                                   "the agent's listener's name"))
    return problems
