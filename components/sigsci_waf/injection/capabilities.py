"""What the cluster serves, read at preview through the Kubernetes provider: injection needs
`admissionregistration.k8s.io/v1` MutatingAdmissionPolicy (stable in Kubernetes 1.36), and a cluster without it
is refused before anything is created, naming the key.

The provider has no call for the server's version, but its Helm template call fills Helm's `.Capabilities` from
the cluster's discovery (the server version and every served kind); a one-template chart shipped here renders
them into a ConfigMap that is read back and never applied.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from ..config.errors import ConfigError

CHART = Path(__file__).parent / "capabilities"
TEMPLATE_CALL = "kubernetes:helm:template"
MINIMUM = "1.36"
UNREACHABLE = "unknown (the cluster was not reachable)"


def template_args() -> dict[str, Any]:
    return {"jsonOpts": json.dumps({"chart": CHART.name, "path": str(CHART.parent), "release_name": "sigsci",
                                    "namespace": "default"})}


def check_served(rendered: Any, key: str, warn: Callable[[str], None]) -> str:
    """The cluster's version when it serves the admission API the policies need; a ConfigError naming `key`
    when it does not; when the preview could not reach the cluster, a warning (the update fails on the first
    policy instead: the guard goes first, so no labelled pod starts without an agent meanwhile)."""
    objects = (rendered or {}).get("result") or []
    data = next((o.get("data") or {} for o in objects if isinstance(o, dict) and o.get("kind") == "ConfigMap"), None)
    if data is None:
        raise ConfigError(key, "the cluster's capabilities could not be read through the provider (its Helm "
                               "template call returned nothing)")
    version = data.get("kubeVersion", "unknown")
    if data.get("discovered") != "true":
        warn(f"{key}: the cluster's served APIs could not be read (is it reachable?); the preview cannot show "
             f"whether it serves MutatingAdmissionPolicy v1 (Kubernetes {MINIMUM} and later)")
        return UNREACHABLE
    missing = [kind for kind in ("mutatingAdmissionPolicy", "validatingAdmissionPolicy") if data.get(kind) != "true"]
    if missing:
        raise ConfigError(key, f"the cluster (Kubernetes {version}) does not serve admissionregistration.k8s.io/v1 "
                               f"{' and '.join(k[0].upper() + k[1:] for k in missing)}, which injection needs "
                               f"(stable from Kubernetes {MINIMUM}); upgrade the cluster, or use placement module "
                               "per app instead")
    return version
