"""The patched Service as the cluster has it: read every preview, so a WAF taken out of the path shows up."""

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
