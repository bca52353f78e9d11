"""The way into the entry components (the ingress controller, the gateway): the call's own checks, and the
args as the resolve stage takes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .apps.component import SigsciRevProxyApp
from .config.errors import check_call, check_components
from .resolve.routes import RouteTarget, route_targets
from .resolve.secret import NOT_SETTINGS, check_secret_name



@dataclass(frozen=True)
class EntryCall:
    prefix: str  # how errors name the component: `SigsciGateway 'edge'`
    secret_name: Any
    credentials_hash: Any
    settings: dict[str, Any]  # the args without the Secret's name and the token
    targets: dict[str, list[RouteTarget]]  # the apps routes may name, by name


def entry_call(component: str, name: Any, args: Any, opts: Any, args_type: Any, apps: Any) -> EntryCall:
    """Checks a call of an entry component before anything registers; `apps` is its keyword argument."""
    prefix = check_call(component, name, args, opts, args_type, ("apps",))
    secret_name = check_secret_name(args.get("secret_name"), f"{prefix}.secret_name")
    apps = check_components(apps, f"{prefix}.apps", SigsciRevProxyApp)
    settings: Mapping[str, Any] = {k: v for k, v in args.items() if k not in NOT_SETTINGS}
    return EntryCall(prefix, secret_name, args.get("credentials_hash"), dict(settings),
                     route_targets(app.resolved for app in apps))
