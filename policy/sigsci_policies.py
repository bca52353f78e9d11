"""The checks behind the policy pack, as plain functions of resource types and properties.

Each `validate_*` takes the arguments CrossGuard passes (`args`, `report_violation`), so the pack
and the tests call the very same code.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

AGENT = "sigsci-agent"
CREDENTIAL_ENV = ("SIGSCI_ACCESSKEYID", "SIGSCI_SECRETACCESSKEY")
WORKLOADS = {"kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DeploymentPatch",
             "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"}
RELEASE = "kubernetes:helm.sh/v3:Release"
SERVICE = "kubernetes:core/v1:Service"
# Where each supported chart takes extra containers (ingress-nginx, then F5 nginx-ingress).
_CHART_CONTAINER_KEYS = ("extraContainers", "extraInitContainers", "initContainers")
_UPSTREAM = re.compile(r"upstreams=https?://(?:127\.0\.0\.1|localhost):(\d+)")

Report = Callable[..., None]


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if resource_type in WORKLOADS:
        return _get(props, "spec", "template", "spec")
    if resource_type == "kubernetes:core/v1:Pod":
        return _get(props, "spec")
    return None


def agent_containers(resource_type: str, props: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The agent containers a resource runs: in a pod template, or handed to an ingress chart."""
    if resource_type == RELEASE:
        controller = _get(props, "values", "controller") or {}
        candidates: Iterable = [c for key in _CHART_CONTAINER_KEYS for c in (controller.get(key) or [])]
    else:
        spec = _pod_spec(resource_type, props) or {}
        candidates = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    return [c for c in candidates if isinstance(c, Mapping) and c.get("name") == AGENT]


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {e.get("name"): e for e in container.get("env") or [] if isinstance(e, Mapping)}


def validate_agent_hardened(args, report_violation: Report) -> None:
    """Agent containers keep a read-only root filesystem and read their keys only from a Secret."""
    for container in agent_containers(args.resource_type, args.props):
        if _get(container, "securityContext", "readOnlyRootFilesystem") is not True:
            report_violation(f"{args.name}: the {AGENT} container must run with securityContext."
                             "readOnlyRootFilesystem: true (its writable data belongs in the sigsci-tmp volume)")
        env = _env(container)
        for name in CREDENTIAL_ENV:
            entry = env.get(name)
            if entry is None or "value" in entry or _get(entry, "valueFrom", "secretKeyRef", "name") is None:
                report_violation(f"{args.name}: {AGENT} must take {name} from a Secret (valueFrom.secretKeyRef), "
                                 "never as a literal value")


def _unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


def validate_pinned_versions(args, report_violation: Report) -> None:
    """No `latest` (or untagged) agent or controller image where the stack must pin versions."""
    if not (args.get_config() or {}).get("requirePinnedVersions", True):
        return
    for container in agent_containers(args.resource_type, args.props):
        image = str(container.get("image", ""))
        if _unpinned(image):
            report_violation(f"{args.name}: agent image {image!r} is not pinned; set agent.version to a release "
                             "(e.g. 4.70.0) or agent.digest")
    if args.resource_type == RELEASE:
        image = _get(args.props, "values", "controller", "image") or {}
        if image.get("tag") == "latest" and not image.get("digest"):
            report_violation(f"{args.name}: controller image tag 'latest' is not pinned; set "
                             "controller.image.tag to a release or controller.image.digest")


def _protected_pods(resources: Iterable) -> list[tuple[str, Mapping[str, str], int, Mapping[str, Any]]]:
    """(namespace, pod labels, app port, pod spec) for every pod template whose agent proxies to a local app."""
    found = []
    for resource in resources:
        if resource.resource_type not in WORKLOADS - {"kubernetes:apps/v1:DeploymentPatch"}:
            continue
        labels = _get(resource.props, "spec", "template", "metadata", "labels") or {}
        namespace = _get(resource.props, "metadata", "namespace") or "default"
        spec = _pod_spec(resource.resource_type, resource.props) or {}
        for agent in agent_containers(resource.resource_type, resource.props):
            listener = _get(_env(agent), "SIGSCI_REVPROXY_LISTENER", "value") or ""
            for port in _UPSTREAM.findall(str(listener)):
                found.append((namespace, labels, int(port), spec))
    return found


def _named_port(spec: Mapping[str, Any], name: str) -> int | None:
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return port.get("containerPort")
    return None


def validate_no_bypass(args, report_violation: Report) -> None:
    """No Service sends traffic straight to an app port that an agent sits in front of."""
    protected = _protected_pods(args.resources)
    for resource in args.resources:
        if resource.resource_type != SERVICE:
            continue
        selector = _get(resource.props, "spec", "selector") or {}
        namespace = _get(resource.props, "metadata", "namespace") or "default"
        for pod_namespace, labels, app_port, spec in protected:
            if pod_namespace != namespace or not selector or any(labels.get(k) != v for k, v in selector.items()):
                continue
            for port in _get(resource.props, "spec", "ports") or []:
                target = port.get("targetPort", port.get("port"))
                if isinstance(target, str):
                    target = _named_port(spec, target)
                if target == app_port:
                    report_violation(f"{resource.name}: Service port {port.get('port')} targets the app's port "
                                     f"{app_port} directly, around the WAF agent; target the agent's listener")
