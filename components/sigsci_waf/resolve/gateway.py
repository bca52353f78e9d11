"""The gateway, resolved: its settings and merged agent, its routes found among the apps, the rules between
them, and the objects it declares built."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..config.agent import AgentSettings, merge_agent, probe_port_taken
from ..config.errors import ConfigError, Keyed
from ..config.choices import PathType
from ..config.gateway import GatewayRoute, GatewaySpec
from ..config.model import parse
from ..config.refs import ROTATION, SECRET_NAME
from .secret_flow import traced
from .routes import ResolvedRoute, RouteTarget, keyed_routes, resolve_routes

if TYPE_CHECKING:
    from ..config.ingress import Route


@dataclass(frozen=True)
class GatewayObjects:
    """What the gateway component declares, with `Ref`s for the Secret's name and the rotation token: the
    agents' objects, the Gateway API and Envoy Gateway objects, the HTTPRoutes (and their grants)."""

    agents: list[dict[str, Any]]
    gateway: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    warnings: list[str]


@dataclass(frozen=True)
class ResolvedGateway(Keyed):
    spec: GatewaySpec
    agent: AgentSettings
    key: str
    snake: bool = False
    # `sigsci:gateway` or the shared agent settings came from secret stack config: free text stays secret.
    secret: bool = False
    routes: tuple[ResolvedRoute, ...] = ()
    objects: GatewayObjects = field(default_factory=lambda: GatewayObjects([], [], [], []))


def resolve_gateway(raw: Mapping[str, Any], shared_agent: AgentSettings, key: str,
                    apps: Mapping[str, list[RouteTarget]], *, snake: bool = False, secret: bool = False,
                    rotation: bool = False, shared_key: str | None = None,
                    ingress_routes: Sequence[tuple[str, Route]] | None = None,
                    extra_routes: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> ResolvedGateway:
    """`sigsci:gateway` (or the component's args) with the shared agent settings under its own, its routes
    found among `apps`, checked, and its objects built. `ingress_routes`: the routes of the stack's
    `sigsci:ingress`, each with its key, which `ingressRoutes` serves on the Gateway too; `extra_routes`: routes
    other keys add (`sigsci:verify`'s echo), each with its key, served first."""
    from ..gateway.build import build_gateway

    spec: GatewaySpec = parse(GatewaySpec, raw, key, snake=snake, partial=True)
    agent = merge_agent(shared_agent, spec.agent, f"{key}.agent", snake=snake, shared_key=shared_key)
    gateway = ResolvedGateway(spec=spec, agent=agent, key=key, snake=snake, secret=secret)
    _check_ports(gateway)
    shared, warnings = _shared_routes(gateway, ingress_routes)
    own_key = gateway.field_key("routes")
    keyed = keyed_routes(GatewayRoute, extra_routes, spec.routes, own_key, shared)
    routes, route_warnings = resolve_routes(
        [route for _, route in keyed], own_key, apps, kind="HTTPRoute", entry="gateway",
        place=f"Gateway {spec.gateway_namespace}/{spec.gateway_name}", home=spec.gateway_namespace,
        route_keys=[key for key, _ in keyed])
    warnings = [*warnings, *route_warnings]
    gateway = replace(gateway, routes=tuple(routes))
    token = ROTATION if rotation else None
    objects = traced(lambda g: build_gateway(g, SECRET_NAME, token), gateway, secret, key)
    warnings = [*warnings, *objects.warnings]
    if spec.fail_open:
        warnings.append("failOpen is true: while the agents cannot answer (down, overloaded, or the policy "
                        "refused), Envoy passes requests on uninspected")
    return replace(gateway, objects=replace(objects, warnings=warnings))


def _shared_routes(gateway: ResolvedGateway, ingress_routes: Sequence[tuple[str, Route]] | None
                   ) -> tuple[list[tuple[str, GatewayRoute]], list[str]]:
    """The ingress's routes as the Gateway's, each with its own key: what has no Gateway API equivalent is
    refused (a path type) or listed (annotations, a route's TLS Secret), never dropped unsaid."""
    if not gateway.spec.ingress_routes:
        return [], []
    if ingress_routes is None:
        raise ConfigError(gateway.field_key("ingressRoutes"),
                          "serves the routes of sigsci:ingress on the Gateway, and this stack has no sigsci:ingress "
                          "(a component is given its routes itself)")
    shared: list[tuple[str, GatewayRoute]] = []
    warnings: list[str] = []
    served_tls = set(gateway.spec.listeners.tls_secrets)
    for key, route in ingress_routes:
        if route.path_type == PathType.IMPLEMENTATION_SPECIFIC:
            raise ConfigError(f"{key}.pathType", "ImplementationSpecific has no Gateway API equivalent, and "
                                                 "sigsci:gateway.ingressRoutes serves this route on the Gateway "
                                                 "too: use Prefix or Exact")
        if route.annotations:
            warnings.append(f"{key}.annotations are not carried to its HTTPRoute on the Gateway: NGINX behaviour "
                            "has no Gateway API equivalent (express it with HTTPRoute filters in a route of your "
                            "own)")
        if route.tls_secret is not None and route.tls_secret not in served_tls:
            warnings.append(f"{key}.tlsSecret is not served by the Gateway, which serves TLS from "
                            "sigsci:gateway.listeners.tlsSecrets (Secrets in the Gateway's namespace): add it "
                            "there")
        fields = route.model_dump(include=set(GatewayRoute.model_fields), exclude_unset=True, by_alias=True)
        shared.append((key, parse(GatewayRoute, fields, key)))
    return shared, warnings


def _check_ports(gateway: ResolvedGateway) -> None:
    """The agent's startup probe shares the pod with its gRPC listener."""
    probe = gateway.agent.startup_probe
    if probe.enabled and probe.port == gateway.spec.agents.port:
        raise ConfigError(gateway.field_key("agent.startupProbe.port"),
                          probe_port_taken(f"{probe.port} is already used by the agents' gRPC port (agents.port)"))
