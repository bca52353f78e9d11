"""No Gateway API route around the WAF to a Service whose only inspection is the WAF: the Gateway API
counterpart of `sigsci-no-bypass-ingress`."""

from __future__ import annotations

from .common import Report, _ns
from .gateway import GatewayApi, _envoy_backend_ref
from .routes import WafRoutes
from .stack import _resources


def validate_no_bypass_route(args, report_violation: Report) -> None:
    """No HTTPRoute, GRPCRoute, TCPRoute, TLSRoute or UDPRoute attached to a Gateway the WAF does not cover (neither
    an EnvoyExtensionPolicy nor an EnvoyFilter on its proxies sends its requests to the agents, and the route has
    no policy of its own that does) reaches the upstream Service of agents
    placed as their own Service, or a Service the WAF routes to (through the WAF controller or a WAF'd
    Gateway). Routes on a WAF'd Gateway are `sigsci-gateway-covered`'s."""
    resources = _resources(args)
    api = GatewayApi(resources)
    waf = WafRoutes(resources, api)
    for route in api.routes:
        around = [p for p in route.parents if not p.gateway.waf and not api.route_inspected(route, p)]
        if not around:
            continue
        gateways = ", ".join(dict.fromkeys(p.gateway.where for p in around))
        original = route.obj.original.resource if route.obj.original is not None else None
        done: set[tuple[str | None, str, str]] = set()
        backends = [(*b, "Service") for b in route.backends()] + \
            [(*b, "Backend") for b in route.backends(_envoy_backend_ref)]
        for namespace, service, where, kind in backends:
            reason = waf.bypass(namespace, service, original, kind)
            if reason is None or (namespace, service, kind) in done:
                continue
            done.add((namespace, service, kind))
            report_violation(f"{route.obj.who}: {route.kind} on {gateways}, which the WAF does not cover, sends "
                             f"{where} straight to {kind} {_ns(namespace)}/{service}, {reason}; attach it to a "
                             "Gateway the WAF covers", route.obj.resource.urn)
