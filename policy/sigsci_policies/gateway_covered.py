"""Every request on a Gateway the WAF covers goes to the agents: no other EnvoyExtensionPolicy replaces the
WAF's on one of its routes or listeners or conflicts with it on the Gateway, no listener is left out, and no
TCP, TLS or UDP route carries traffic past the HTTP filter that ext_proc is."""

from __future__ import annotations

from .common import Report
from .gateway import L4_ROUTES, GatewayApi, _Extension, _Gateway
from .stack import _resources

_FIX_LISTENER = "list the agents' extProc in it (failOpen false), or remove it"
_FIX_ROUTE = ("list the agents' extProc in it (failOpen false), or leave extProc out and set mergeType so that the "
              "WAF's policy merges in")


def _names(policies: list[_Extension]) -> str:
    return ", ".join(p.who for p in policies)


def validate_gateway_covered(args, report_violation: Report) -> None:
    """On every WAF'd Gateway (one an EnvoyExtensionPolicy targets whose extProc reaches the agents): no other
    policy on the Gateway, on one of its listeners or on an attached HTTPRoute/GRPCRoute that would apply
    instead of the WAF's, every listener covered, and no TCPRoute, TLSRoute or UDPRoute attached."""
    api = GatewayApi(_resources(args))
    reported: set[tuple[int, int]] = set()

    def report(policy: _Extension, gateway: _Gateway, message: str, key: object = None) -> None:
        """Once per policy and Gateway (or route)."""
        if (id(policy), id(key or gateway)) not in reported:
            reported.add((id(policy), id(key or gateway)))
            report_violation(f"{policy.who}: {message}", policy.obj.resource.urn)

    for gateway in (g for g in api.gateways if g.waf):
        waf = gateway.waf
        through = f"{gateway.where}, which the WAF covers through {_names(waf)}"
        # The Gateway itself: one policy applies, the older; the order is not known before the update.
        whole = [p for p in gateway.whole if p.waf]
        for policy in (p for p in gateway.whole if whole and not p.waf):
            report(policy, gateway, f"a second EnvoyExtensionPolicy on {through}: Envoy Gateway applies only the "
                                    "older of the two and marks the other Conflicted, so if this one is older every "
                                    "request on the Gateway skips the WAF agents; move its extensions into the WAF's "
                                    "policy, after the agents' extProc, or target something else")
        for policy in whole[1:]:
            report(policy, gateway, f"a second WAF EnvoyExtensionPolicy on {gateway.where}, beside {whole[0].who}: "
                                    "Envoy Gateway applies only the older and marks the other Conflicted, so which "
                                    "settings apply depends on creation order; keep one")
        # Its listeners: a listener's policy replaces the Gateway's there.
        for section, policies in gateway.by_listener.items():
            if not whole and not any(p.waf for p in policies):
                continue  # a listener the WAF does not cover at all: reported below, on the WAF's policy
            for policy in (p for p in policies if not p.waf):
                report(policy, gateway, f"targets listener {section!r} of {through}: a listener's "
                                        "EnvoyExtensionPolicy replaces the Gateway's there (Envoy Gateway does not "
                                        "merge them), so requests on that listener skip the WAF agents; "
                                        + _FIX_LISTENER)
        if not whole:
            sections = sorted(s for s, ps in gateway.by_listener.items() if any(p.waf for p in ps))
            listeners = gateway.listeners
            if listeners is None:
                uncovered = "its other listeners (the Gateway is not in this stack), and any added later,"
            else:
                names = [str(l.get("name")) for l in listeners if l.get("name") not in sections]
                uncovered = f"listener(s) {', '.join(repr(n) for n in names)}" if names else ""
            if uncovered:
                for policy in waf:
                    report(policy, gateway, f"sends only listener(s) {', '.join(repr(s) for s in sections)} of "
                                            f"{gateway.where} to the WAF agents (sectionName): {uncovered} carry "
                                            "requests uninspected; target the whole Gateway (no sectionName)")
        # Its routes.
        for route in api.routes:
            parents = [p for p in route.parents if p.gateway is gateway]
            if not parents:
                continue
            if route.kind in L4_ROUTES:
                report_violation(f"{route.obj.who}: a {route.kind} attached to {through}: ext_proc is an HTTP "
                                 "filter, so its traffic reaches its backends uninspected; serve it from a Gateway "
                                 "of its own, or carry it as HTTP through an HTTPRoute", route.obj.resource.urn)
                continue
            for policy in route.policies:
                if not all(api.effective_waf(policy, parent) for parent in parents):
                    report(policy, gateway, f"targets {route.obj.where}, attached to {through}: Envoy Gateway "
                                            "applies only the most specific EnvoyExtensionPolicy, so this one "
                                            "replaces the WAF's on that route and its requests skip the WAF "
                                            f"agents; {_FIX_ROUTE}", key=route)
