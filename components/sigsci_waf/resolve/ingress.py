"""The ingress controller, resolved: its settings and merged agent, the chart's names, its routes found
among the apps, its extraValues checked, and the objects it declares built."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..agent.container import user_not_applied
from ..config.agent import AgentSettings, merge_agent, probe_port_taken
from ..config.choices import AgentLifetime
from ..config.errors import ConfigError, Keyed
from ..config.ingress import IngressSpec, Route
from ..config.kube import is_dns_1035, is_dns_subdomain, is_label_value, is_qualified_name
from ..config.model import parse
from ..config.refs import ROTATION, SECRET_NAME
from ..ingress.agents import agent_service_manifests
from ..ingress.flavours import FlavourChart
from ..ingress.names import (agent_service_spec, chart_name, controller_fullname,
                             controller_service_name, extra_value, suffixed_service_names)
from ..ingress.routes import ingress_manifest
from ..ingress.values import controller_agent, helm_values, merge_extra_values
from .extra_values import check_extra_values
from .secret_flow import traced
from .routes import ResolvedRoute, RouteTarget, keyed_routes, resolve_routes, route_targets  # noqa: F401 - route_targets: API

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class IngressObjects:
    """What the controller component declares: the release's values, the agents' own objects (agentLifetime
    service) and the Ingresses, with `Ref`s for the Secret's name and the rotation token."""

    values: dict[str, Any]
    agent_objects: list[dict[str, Any]]
    ingresses: list[tuple[ResolvedRoute, dict[str, Any]]]
    warnings: list[str]


@dataclass(frozen=True)
class ResolvedIngress(Keyed):
    spec: IngressSpec
    agent: AgentSettings
    key: str
    snake: bool = False
    # `sigsci:ingress` or the shared agent settings came from secret stack config: free text stays secret.
    secret: bool = False
    objects: IngressObjects = field(default_factory=lambda: IngressObjects({}, [], [], []))

    @property
    def flavour(self) -> FlavourChart:
        return self.spec.flavour_spec


def resolve_ingress(raw: Mapping[str, Any], shared_agent: AgentSettings, key: str,
                    apps: Mapping[str, list[RouteTarget]], *, snake: bool = False, secret: bool = False,
                    rotation: bool = False, shared_key: str | None = None,
                    extra_routes: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> ResolvedIngress:
    """`sigsci:ingress` (or the component's args) with the shared agent settings under its own, its routes
    found among `apps`, checked, and its objects built. `rotation`: the pods will carry the rotation token;
    `extra_routes`: routes other keys add (`sigsci:verify`'s echo), each with its key, served before the own."""
    spec: IngressSpec = parse(IngressSpec, raw, key, snake=snake, partial=True)
    agent = merge_agent(shared_agent, spec.agent, f"{key}.agent", snake=snake, shared_key=shared_key)
    ing = ResolvedIngress(spec=spec, agent=agent, key=key, snake=snake, secret=secret)
    _check_ports(ing)
    _check_names(ing)
    _check_agent_user(ing)
    own_key = ing.field_key("routes")
    keyed = keyed_routes(Route, extra_routes, ing.spec.routes, own_key)
    _check_hosts(ing, keyed)
    routes, warnings = resolve_routes([route for _, route in keyed], own_key, apps, kind="Ingress",
                                      place=f"IngressClass {ing.spec.ingress_class.name}", entry="controller",
                                      route_keys=[key for key, _ in keyed])
    token = ROTATION if rotation else None

    def build(resolved: tuple[ResolvedIngress, list]) -> tuple[dict[str, Any], IngressObjects]:
        """Our Helm values, and the objects with extraValues merged over them."""
        ing, routes = resolved
        parts = controller_agent(ing, SECRET_NAME)
        ours = helm_values(ing, parts, token)
        return ours, IngressObjects(values=merge_extra_values(ing, ours),
                                    agent_objects=agent_service_manifests(ing, parts, token),
                                    ingresses=[(route, ingress_manifest(ing, route)) for route in routes],
                                    warnings=parts.warnings)

    ours, objects = traced(build, (ing, routes), secret, key)
    check_extra_values(ing, ours)
    return replace(ing, objects=replace(objects, warnings=[*objects.warnings, *_user_unused(ing), *warnings]))


def _check_ports(ing: ResolvedIngress) -> None:
    probe = ing.agent.startup_probe
    if not probe.enabled:
        return
    key = ing.field_key("agent.startupProbe.port")
    if ing.spec.agent_lifetime == AgentLifetime.SERVICE and probe.port == agent_service_spec(ing).port:
        raise ConfigError(key, probe_port_taken(f"{probe.port} is already used by the agents' RPC port "
                                                "(agentService.port)"))
    taken = ing.flavour.controller_ports
    if ing.spec.agent_lifetime != AgentLifetime.SERVICE and probe.port in taken:
        raise ConfigError(key, probe_port_taken(
            f"{probe.port} is already used by the controller in the same pod ({taken[probe.port]}), as are "
            + ", ".join(str(p) for p in sorted(taken) if p != probe.port)))


def _check_hosts(ing: ResolvedIngress, keyed: Sequence[tuple[str, Route]]) -> None:
    """A controller that serves only rules with a host would take a route without one and never serve it."""
    if not ing.flavour.requires_rule_host:
        return
    hostless = next((key for key, route in keyed if route.host is None), None)
    if hostless is not None:
        raise ConfigError(f"{hostless}.host", f"is required with flavour {ing.flavour.name}: F5's NGINX Ingress "
                                              "Controller serves only Ingress rules with a host, and would never "
                                              "serve this route; set host to the name clients use")


_NAME_VALUES = ("nameOverride", "fullnameOverride", "controller.name")


def _check_names(ing: ResolvedIngress) -> None:
    """Renames in extraValues are followed, as long as what the chart would render is valid."""
    flavour = ing.flavour
    for dotted in (*_NAME_VALUES, *filter(None, [flavour.service_name_override])):
        value = extra_value(ing, dotted)
        if value is not None and not isinstance(value, str):
            raise ConfigError(_extra_key(ing, dotted), "must be a string")
    # The values each rendered name is made of, the one it is most likely wrong for first.
    fullname_inputs = ("controller.name", "fullnameOverride",
                       *(() if extra_value(ing, "fullnameOverride") else ("nameOverride",)))
    service_override = flavour.service_name_override
    service_inputs = (service_override,) if service_override and extra_value(ing, service_override) \
        else fullname_inputs
    checks = [(("nameOverride",), chart_name(ing), is_label_value, "a label value (the pods' app.kubernetes.io/name)"),
              (fullname_inputs, controller_fullname(ing), is_dns_subdomain, "a valid Deployment name"),
              (service_inputs, controller_service_name(ing), is_dns_1035, "a valid Service name (DNS-1035 label)")]
    for inputs, rendered, valid, what in checks:
        if not valid(rendered):
            raise ConfigError(_extra_key(ing, _renamed_by(ing, inputs)),
                              f"the chart would render {rendered!r}, which is not {what}")
    too_long = [n for n in suffixed_service_names(ing) if not is_dns_1035(n)]
    if too_long:
        release = ing.spec.release
        fits = next((n for n in range(len(release), 0, -1)
                     if all(is_dns_1035(x) for x in suffixed_service_names(ing, release[:n]))), None)
        hint = f"use a releaseName of at most {fits} characters" if fits else "shorten the chart's names"
        renamed = next((k for k in ("fullnameOverride", "controller.name") if extra_value(ing, k)), None)
        if renamed:
            hint = f"shorten {renamed}"
        raise ConfigError(_extra_key(ing, renamed) if renamed else ing.field_key("releaseName"),
                          f"the chart would name a Service {too_long[0]!r} ({len(too_long[0])} characters, a name "
                          f"it does not shorten), but a Service name has at most 63: {hint}")
    if flavour.selector_labels_override is not None:
        labels = extra_value(ing, flavour.selector_labels_override)
        if labels is not None and (not isinstance(labels, Mapping) or not labels or not all(
                is_qualified_name(k) and isinstance(v, str) and is_label_value(v) for k, v in labels.items())):
            raise ConfigError(_extra_key(ing, flavour.selector_labels_override),
                              "must be a non-empty map of valid label keys to label values")


def _renamed_by(ing: ResolvedIngress, inputs: Sequence[str]) -> str:
    """Which of the set values a rendered name is made of is to blame: one that is no DNS label itself, else the
    first set."""
    given = [dotted for dotted in inputs if extra_value(ing, dotted)]
    return next((d for d in given if not is_dns_1035(extra_value(ing, d))), given[0] if given else inputs[0])


def _extra_key(ing: ResolvedIngress, dotted: str) -> str:
    return f"{ing.field_key('extraValues')}.{dotted}"


def _user_unused(ing: ResolvedIngress) -> list[str]:
    """The shared agent settings' runAsUser, which a sidecar agent does not take (its own is refused)."""
    if ing.spec.agent_lifetime == AgentLifetime.SERVICE:
        return []
    return user_not_applied(ing.agent, ing.spec.agent, "this controller", "nginx", ing.flavour.nginx_uid)


def _check_agent_user(ing: ResolvedIngress) -> None:
    """A sidecar agent runs as nginx's user (see controller_agent); another user would lock nginx out of
    the socket, and the module would let every request through uninspected."""
    if ing.spec.agent_lifetime == AgentLifetime.SERVICE:
        return
    own = ing.spec.agent
    if "run_as_user" in own.model_fields_set and own.run_as_user != ing.flavour.nginx_uid:
        raise ConfigError(ing.field_key("agent.runAsUser"),
                          f"is derived for a sidecar agent: it runs as nginx's user ({ing.flavour.nginx_uid}) so "
                          "that nginx can connect to its socket; leave it unset, or use agentLifetime service")
