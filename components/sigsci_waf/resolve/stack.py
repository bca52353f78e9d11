"""The whole stack, resolved: apps, ingress, gateway, injection and Secret, with the rules between them, and the namespaces the
stack owns. Everything is checked here, before the stack program declares the first resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.agent import AgentSettings
from ..config.choices import AgentLifetime, Placement
from ..config.errors import ConfigError
from ..config.kube import KUBERNETES_DEFAULT_NAMESPACE, is_dns_label
from ..config.model import parse
from ..config.stack import NAMESPACE, StackInput
from .app import ResolvedApp, resolve_app
from .secret import ResolvedSecret, resolve_secret

if TYPE_CHECKING:  # the ingress's modules load only for a stack that has one
    from .gateway import ResolvedGateway
    from .ingress import ResolvedIngress
    from .injection import ResolvedInjection
    from .verify import ResolvedVerify

# Namespaces the cluster itself keeps: a stack never declares them (deleting the stack would try to delete them).
SHARED_AGENT = f"{NAMESPACE}:agent"
SYSTEM_NAMESPACES = frozenset({KUBERNETES_DEFAULT_NAMESPACE, "kube-system", "kube-public", "kube-node-lease"})


@dataclass(frozen=True)
class ResolvedStack:
    """Everything the stack declares, checked and built."""

    apps: tuple[ResolvedApp, ...]
    ingress: ResolvedIngress | None
    gateway: ResolvedGateway | None
    injection: ResolvedInjection | None
    secret: ResolvedSecret
    # sigsci:verify with echo: the echo backend, whose route every entry serves.
    verify: ResolvedVerify | None
    # The namespaces the stack creates, first, before the Secret and the pods in them.
    own_namespaces: tuple[str, ...]


def resolve_stack(config: StackInput) -> ResolvedStack:
    secret_keys = config.secret_keys
    # One level of the layered agent settings: the rules that need the whole settings run on each entry's merge.
    shared_agent: AgentSettings = parse(AgentSettings, config.agent or {}, SHARED_AGENT, partial=True)
    agent_secret = "agent" in secret_keys
    rotation = config.existing_secret is None
    if not config.apps and config.ingress is None and config.gateway is None and config.injection is None:
        raise ConfigError(f"{NAMESPACE}:apps", "is required unless sigsci:ingress, sigsci:gateway or sigsci:injection "
                                               "is set: a list of apps to protect, each at least {name, image, port}")
    apps = resolve_apps(config.apps or [], shared_agent, secret=agent_secret or "apps" in secret_keys,
                        rotation=rotation)
    verify = None
    if config.verify is not None:
        from .verify import read_verify

        verify = read_verify(config.verify, f"{NAMESPACE}:verify")
    # The echo's route, served by every entry among its own routes: each rule of routes holds for it.
    echo_routes = [verify.route] if verify is not None else []
    ingress = None
    if config.ingress is not None:
        from .ingress import resolve_ingress, route_targets

        ingress = resolve_ingress(config.ingress, shared_agent, f"{NAMESPACE}:ingress", route_targets(apps),
                                  secret=agent_secret or "ingress" in secret_keys, rotation=rotation,
                                  shared_key=SHARED_AGENT, extra_routes=echo_routes)
        check_shared_names(ingress, apps)
    gateway = None
    if config.gateway is not None:
        from .gateway import resolve_gateway
        from .routes import route_targets

        shared_routes = None if ingress is None else [
            (f"{ingress.field_key('routes')}[{i}]", route) for i, route in enumerate(ingress.spec.routes)]
        gateway = resolve_gateway(config.gateway, shared_agent, f"{NAMESPACE}:gateway", route_targets(apps),
                                  secret=agent_secret or "gateway" in secret_keys, rotation=rotation,
                                  shared_key=SHARED_AGENT, ingress_routes=shared_routes, extra_routes=echo_routes)
        check_gateway_names(gateway, apps)
    injection = None
    if config.injection is not None:
        from .injection import resolve_injection

        injection = resolve_injection(config.injection, shared_agent, f"{NAMESPACE}:injection",
                                      secret=agent_secret or "injection" in secret_keys, shared_key=SHARED_AGENT)
    namespaces = {app.spec.namespace for app in apps} | ({ingress.spec.namespace} if ingress else set()) \
        | ({gateway.spec.namespace} if gateway else set()) | set(injection.spec.namespaces if injection else ())
    secret = resolve_secret(f"{NAMESPACE}:", site=config.site, existing_secret=config.existing_secret,
                            access_key_id=config.access_key_id, secret_access_key=config.secret_access_key,
                            namespaces=sorted(namespaces),
                            name_is_secret=not secret_keys.isdisjoint({"site", "existingSecret"}))
    existing = read_existing_namespaces(config.existing_namespaces)
    if verify is not None:
        from .verify import resolve_verify

        verify = resolve_verify(verify, apps, ingress, gateway)
    return ResolvedStack(apps=tuple(apps), ingress=ingress, gateway=gateway, injection=injection, secret=secret,
                         verify=verify,
                         own_namespaces=tuple(sorted(namespaces_to_create(apps, ingress, gateway, injection,
                                                                          existing, verify))))


def resolve_apps(entries: list, shared_agent: AgentSettings, *, secret: bool, rotation: bool) -> list[ResolvedApp]:
    """Every `sigsci:apps` entry; no two may claim the same app name, Service or Deployment in a namespace."""
    apps = []
    seen: dict[tuple[str, str, str], str] = {}
    for index, raw in enumerate(entries):
        key = f"{NAMESPACE}:apps[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(key, "must be an object such as {name: web, image: nginx:1.27, port: 8080}")
        app = resolve_app(raw, shared_agent, key, secret=secret, rotation=rotation, shared_key=SHARED_AGENT)
        spec = app.spec
        # The component is named <name>.<namespace>: two apps of one name in a namespace would collide.
        claims = [("app name", spec.namespace, spec.name), ("Deployment", spec.namespace, spec.deployment or spec.name)]
        if app.service_name is not None:
            claims.append(("Service", spec.namespace, app.service_name))
        # NetworkPolicies: an app's own carries its name; placement service's on the upstream's pods another.
        claims.append(("NetworkPolicy", spec.namespace, spec.name))
        if spec.placement == Placement.SERVICE:
            from ..apps.build import upstream_policy_name

            claims.append(("NetworkPolicy", spec.namespace, upstream_policy_name(app)))
        for claim in claims:
            if claim in seen:
                # The key that takes the name: a patched app's deployment or service, else its name.
                field = {"Deployment": "deployment", "Service": "service"}.get(claim[0], "name")
                field = field if getattr(spec, field, None) == claim[2] else "name"
                raise ConfigError(f"{key}.{field}", f"{claim[0]} {claim[1]}/{claim[2]} is already used by "
                                                    f"{seen[claim]}; each app needs its own")
            seen[claim] = key
        apps.append(app)
    return apps


def check_shared_names(ingress: ResolvedIngress, apps: list[ResolvedApp]) -> None:
    """The ingress's objects and pods must not be mistaken for an app's in the same namespace."""
    from ..ingress.names import agent_service_name, chart_name

    namespace = ingress.spec.namespace
    agents = agent_service_name(ingress) if ingress.spec.agent_lifetime == AgentLifetime.SERVICE else None
    for app in apps:
        spec = app.spec
        if spec.namespace != namespace:
            continue
        names = taken_names(app)
        if agents in names:
            raise ConfigError(ingress.field_key("releaseName"), f"the ingress agents' Deployment and Service "
                                                                f"{namespace}/{agents} would take a name {app.key} "
                                                                "uses; choose another releaseName or namespace")
        if spec.placement in (Placement.OWNED, Placement.MODULE) and spec.creates_deployment \
                and spec.name == chart_name(ingress):
            raise ConfigError(f"{app.key}.name", f"{spec.name!r} in namespace {namespace}: the app's selector "
                                                 f"app.kubernetes.io/name={spec.name} would also pick the "
                                                 "ingress controller's pods; rename the app or move it")


def taken_names(app: ResolvedApp) -> set[str]:
    """The Deployment and Service names an app's objects take in its namespace."""
    spec = app.spec
    return {spec.name} | {name for name in (spec.service, spec.deployment) if name is not None}


def check_gateway_names(gateway: ResolvedGateway, apps: list[ResolvedApp]) -> None:
    """The gateway's agents take one name in their namespace; an app there must not take it too."""
    from ..gateway.build import AGENTS_NAME

    for app in apps:
        if app.spec.namespace == gateway.spec.namespace and AGENTS_NAME in taken_names(app):
            key = "name" if app.spec.name == AGENTS_NAME else \
                ("service" if app.spec.service == AGENTS_NAME else "deployment")
            raise ConfigError(f"{app.key}.{key}", f"{AGENTS_NAME!r} in namespace {app.spec.namespace} is the "
                                                  "gateway's agents' Deployment and Service; rename the app or "
                                                  "move it to another namespace")


def read_existing_namespaces(names: list | None) -> set[str]:
    for index, name in enumerate(names or []):
        if not isinstance(name, str) or not is_dns_label(name):
            raise ConfigError(f"{NAMESPACE}:existingNamespaces[{index}]", "is not a namespace name (a DNS-1123 "
                                                                           "label)")
    return set(names or [])


def namespaces_to_create(apps: list[ResolvedApp], ingress: ResolvedIngress | None,
                         gateway: ResolvedGateway | None, injection: ResolvedInjection | None,
                         existing: set[str], verify: ResolvedVerify | None = None) -> set[str]:
    """The namespaces the stack owns: where it runs pods of its own (owned and service placements, and the
    ingress controller unless createNamespace is false). Never the cluster's own, one listed as existing,
    or one a patched app lives in: that app's Deployment proves the namespace is someone else's, and
    deleting the stack would delete it with everything in it (a module's existing Deployment, likewise). The
    namespaces opted in to injection are created only for another reason (others create the pods there);
    injection's parameters get theirs, and so does the echo of sigsci:verify."""
    wanted = {app.spec.namespace for app in apps if app.spec.creates_deployment}
    if ingress is not None and ingress.spec.create_namespace:
        wanted.add(ingress.spec.namespace)
    if gateway is not None and gateway.spec.create_namespace:
        wanted.add(gateway.spec.namespace)
    if gateway is not None and gateway.spec.installs_envoy_gateway:
        wanted.add(gateway.spec.envoy_gateway.namespace)
    if injection is not None:
        wanted.add(injection.spec.params_namespace)
    if verify is not None:
        wanted.add(verify.spec.namespace)
    patched = {app.spec.namespace for app in apps if not app.spec.creates_deployment}
    return wanted - SYSTEM_NAMESPACES - patched - existing
