"""The gateway, resolved: its settings and merged agent, its routes found among the apps, the rules between
them, and the objects it declares built."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..config.agent import AgentSettings, merge_agent
from ..config.errors import ConfigError, Keyed
from ..config.gateway import GatewaySpec
from ..config.model import parse
from ..config.refs import ROTATION, SECRET_NAME
from .routes import ResolvedRoute, RouteTarget, resolve_routes


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
                    rotation: bool = False, shared_key: str | None = None) -> ResolvedGateway:
    """`sigsci:gateway` (or the component's args) with the shared agent settings under its own, its routes
    found among `apps`, checked, and its objects built."""
    from ..gateway.build import build_gateway

    spec: GatewaySpec = parse(GatewaySpec, raw, key, snake=snake, partial=True)
    agent = merge_agent(shared_agent, spec.agent, f"{key}.agent", snake=snake, shared_key=shared_key)
    gateway = ResolvedGateway(spec=spec, agent=agent, key=key, snake=snake, secret=secret)
    _check_ports(gateway)
    routes, warnings = resolve_routes(
        spec.routes, gateway.field_key("routes"), apps, kind="HTTPRoute", entry="gateway",
        place=f"Gateway {spec.gateway_namespace}/{spec.gateway_name}", home=spec.gateway_namespace)
    gateway = replace(gateway, routes=tuple(routes))
    objects = build_gateway(gateway, SECRET_NAME, ROTATION if rotation else None)
    warnings = [*warnings, *objects.warnings]
    if spec.fail_open:
        warnings.append("failOpen is true: while the agents cannot answer (down, overloaded, or the policy "
                        "refused), Envoy passes requests on uninspected")
    return replace(gateway, objects=replace(objects, warnings=warnings))


def _check_ports(gateway: ResolvedGateway) -> None:
    """The agent's startup probe shares the pod with its gRPC listener."""
    probe = gateway.agent.startup_probe
    if probe.enabled and probe.port == gateway.spec.agents.port:
        raise ConfigError(gateway.field_key("agent.startupProbe.port"),
                          f"{probe.port} is already the agents' gRPC port (agents.port); pick another port")
