"""Routes, resolved: each route's backend found among the apps (whose own Service leads through their agent)
or named, and no two routes that one entry could confuse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config.errors import ConfigError
from ..config.kube import KUBERNETES_DEFAULT_NAMESPACE
from ..config.model import parse
from ..config.routes import RouteBase

if TYPE_CHECKING:
    from .app import ResolvedApp


@dataclass(frozen=True)
class RouteTarget:
    """What a route to an app needs: where the Service clients use is, and its port."""

    namespace: str
    service: str
    port: int


def route_targets(apps: Iterable[ResolvedApp]) -> dict[str, list[RouteTarget]]:
    """Apps by name, as routes see them (one name may be used in several namespaces). Every one of them has
    its own agent."""
    targets: dict[str, list[RouteTarget]] = {}
    for app in apps:
        if app.service_name is None:  # a module in an existing Deployment: its owner's Service is not ours to name
            continue
        targets.setdefault(app.spec.name, []).append(RouteTarget(
            namespace=app.spec.namespace, service=app.service_name, port=app.spec.effective_service_port()))
    return targets


def keyed_routes(model: type[RouteBase], added: Sequence[tuple[str, Mapping[str, Any]]], own: Sequence[RouteBase],
                 own_key: str, shared: Sequence[tuple[str, RouteBase]] = ()) -> list[tuple[str, RouteBase]]:
    """The routes an entry serves, each with its key: those another key adds (`added`: its key and the route's
    fields, read with the entry's route `model`) first, then those it shares with another entry (already read),
    then its own (`own_key[i]`)."""
    return [*((key, parse(model, fields, key)) for key, fields in added), *shared,
            *((f"{own_key}[{i}]", route) for i, route in enumerate(own))]


@dataclass(frozen=True)
class ResolvedRoute:
    """A route with its backend found: `namespace` and `service` are the backend's."""

    route: RouteBase
    name: str
    namespace: str
    service: str
    port: int


def resolve_routes(routes: Sequence[RouteBase], key: str, apps: Mapping[str, list[RouteTarget]], *, kind: str,
                   place: str, entry: str, home: str | None = None,
                   route_keys: Sequence[str] | None = None) -> tuple[list[ResolvedRoute], list[str]]:
    """Each route with its backend found; an unknown app, a clash of names or of host and path is an error.
    `kind` is the object each route becomes, in `home` (a namespace of its own) or else in its backend's;
    `place` is where the routes are served, `entry` what serves them (for messages). `route_keys`: each route's
    own config key, where they are not all `key[i]` (routes another entry shares)."""
    resolved: list[ResolvedRoute] = []
    warnings: list[str] = []
    names: dict[tuple[str, str], int] = {}
    rules: dict[tuple[str | None, str], int] = {}
    keys = list(route_keys) if route_keys is not None else [f"{key}[{i}]" for i in range(len(routes))]
    # How messages name another route: routes[i] for the entry's own, the full key for a shared one.
    labels = [f"routes{k[len(key):]}" if k.startswith(f"{key}[") else k for k in keys]
    for index, route in enumerate(routes):
        here = keys[index]
        if route.app is not None:
            if route.app not in apps:
                known = ", ".join(sorted(apps)) or "none"
                raise ConfigError(f"{here}.app", f"{route.app!r} is not an app of sigsci:apps (known: {known}); "
                                                 "route to a Service with service: {name, port} instead")
            candidates = [t for t in apps[route.app] if route.namespace in (None, t.namespace)]
            where = ", ".join(sorted(t.namespace for t in apps[route.app]))
            if not candidates:
                raise ConfigError(f"{here}.namespace", f"app {route.app!r} is not in namespace {route.namespace} "
                                                       f"(it is in {where})")
            if len(candidates) > 1:
                raise ConfigError(f"{here}.app", f"{route.app!r} names apps in namespaces {where}; set the route's "
                                                 "namespace to choose one")
            target = candidates[0]
            namespace, service, port = target.namespace, target.service, target.port
            warnings.append(f"{labels[index]} sends traffic through the WAF {entry} to app {route.app!r}, "
                            "which has its own agent too: each request is inspected twice")
        else:
            assert route.service is not None
            namespace, service, port = route.namespace or KUBERNETES_DEFAULT_NAMESPACE, route.service.name, route.service.port
        name = route.name or service
        where = home or namespace
        if (where, name) in names:
            raise ConfigError(f"{here}.name", f"{kind} {where}/{name} is already made by "
                                              f"{labels[names[(where, name)]]}; set name to tell them apart")
        names[(where, name)] = index
        # One entry, one set of rules: the same host and path in two objects (in any namespaces) would leave
        # the controller to pick one of them.
        rule = (route.host, route.path)
        # A Prefix path matches by segment: '/a' and '/a/' are one rule to Kubernetes and Gateway API alike.
        from ..config.choices import PathType

        prefix = (route.host, PathType.PREFIX, route.path.rstrip("/") or "/") \
            if getattr(route, "path_type", PathType.PREFIX) == PathType.PREFIX else None
        taken = rule if rule in rules else prefix if prefix in rules else None
        if taken is not None:
            raise ConfigError(f"{here}.path", f"host {route.host or '*'} path {route.path} is already routed by "
                                              f"{labels[rules[taken]]} on {place}")
        rules[rule] = index
        if prefix is not None:
            rules[prefix] = index
        resolved.append(ResolvedRoute(route=route, name=name, namespace=namespace, service=service, port=port))
    return resolved, warnings
