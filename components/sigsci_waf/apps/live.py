"""The objects a patch changes, as the cluster has them, read every preview: a patched Service the WAF was taken
out of shows up, and a Deployment without the container a module's agent is added for is refused."""

from __future__ import annotations

import json
from typing import Any

from ..agent.container import LISTENER_PORT_NAME
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
