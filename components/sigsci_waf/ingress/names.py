"""Every name and selector label the charts derive, as their helpers render them (renames in extraValues
followed), and the names of our own objects beside the release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..config.ingress import AGENT_SERVICE_SUFFIX, AgentService

if TYPE_CHECKING:
    from ..resolve.ingress import ResolvedIngress


def _chart_name_text(name: str) -> str:
    """The charts' `trunc 63 | trimSuffix "-"`: cut to 63 bytes, then drop one trailing '-'."""
    name = name[:63]
    return name[:-1] if name.endswith("-") else name


def extra_value(ing: ResolvedIngress, dotted: str) -> Any:
    """A value the user set in extraValues (None if unset), read where the chart reads it."""
    node: Any = ing.spec.extra_values
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def chart_name(ing: ResolvedIngress) -> str:
    """The chart's `name` helper: nameOverride, else the chart's name; the pods' name label."""
    return _chart_name_text(extra_value(ing, "nameOverride") or ing.flavour.chart)


def chart_fullname(ing: ResolvedIngress, release: str | None = None) -> str:
    """The chart's `fullname` helper: fullnameOverride, else the release name when it contains the name,
    else both joined."""
    override = extra_value(ing, "fullnameOverride")
    if override:
        return _chart_name_text(override)
    release, name = release or ing.spec.release, extra_value(ing, "nameOverride") or ing.flavour.chart
    return _chart_name_text(release if name in release else f"{release}-{name}")


def controller_fullname(ing: ResolvedIngress, release: str | None = None) -> str:
    """The controller Deployment's name (and ingress-nginx's Service and ConfigMap): `<fullname>-<controller.name>`."""
    suffix = extra_value(ing, "controller.name") or "controller"
    return _chart_name_text(f"{chart_fullname(ing, release)}-{suffix}")


def controller_container_name(ing: ResolvedIngress) -> str:
    """The controller's container in its pod: a value of the chart's (ingress-nginx `controller.containerName`),
    else the chart's name (F5)."""
    if ing.flavour.container_name_value is not None:
        dotted, default = ing.flavour.container_name_value
        value = extra_value(ing, dotted)
        return value if isinstance(value, str) and value else default
    return chart_name(ing)


def suffixed_service_names(ing: ResolvedIngress, release: str | None = None) -> list[str]:
    """The chart's other Services named `<controller fullname><suffix>`, which it does not shorten to 63."""
    names = []
    for suffix, (switch, default) in ing.flavour.suffixed_services.items():
        enabled = extra_value(ing, switch)
        if (default if enabled is None else enabled) is True:
            names.append(f"{controller_fullname(ing, release)}{suffix}")
    return names


def controller_service_name(ing: ResolvedIngress) -> str:
    override = extra_value(ing, ing.flavour.service_name_override) if ing.flavour.service_name_override else None
    return _chart_name_text(override) if override else controller_fullname(ing)


def agent_service_name(ing: ResolvedIngress) -> str:
    return f"{ing.spec.release}{AGENT_SERVICE_SUFFIX}"


def controller_pod_labels(ing: ResolvedIngress) -> dict[str, str]:
    """The selector labels the chart puts on the controller pods (its selectorLabels helper)."""
    flavour = ing.flavour
    override = extra_value(ing, flavour.selector_labels_override) if flavour.selector_labels_override else None
    if override:
        return {str(k): str(v) for k, v in override.items()}
    labels = {"app.kubernetes.io/name": chart_name(ing), "app.kubernetes.io/instance": ing.spec.release}
    if flavour.component_label:
        labels["app.kubernetes.io/component"] = "controller"
    return labels


def agent_pod_labels(ing: ResolvedIngress) -> dict[str, str]:
    return {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": ing.spec.release,
            "app.kubernetes.io/component": "ingress-agent"}


def agent_service_spec(ing: ResolvedIngress) -> AgentService:
    return ing.spec.agent_service or AgentService()
