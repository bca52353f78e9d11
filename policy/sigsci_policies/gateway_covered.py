"""Every request on a Gateway the WAF covers goes to the agents: no other EnvoyExtensionPolicy replaces the
WAF's on one of its routes or listeners or conflicts with it on the Gateway, no EnvoyFilter takes the WAF's ext_proc
filter out of its proxies or turns it off on their routes, no listener is left out, and no TCP, TLS or UDP route
carries traffic past the HTTP filter that ext_proc is."""

from __future__ import annotations

from .common import Report, _same_namespace
from .constants import GATEWAY_COMPONENT
from .gateway import ENVOY_GATEWAY_API, L4_ROUTES, GatewayApi, _api_group, _Gateway, _text
from .istio import ROUTE_LEVEL, disabled_on_routes, ext_proc_config
from .stack import _Resource, _resources

_FIX_LISTENER = "list the agents' extProc in it (failOpen false), or remove it"
_FIX_ROUTE = ("list the agents' extProc in it (failOpen false), or leave extProc out and set mergeType so that the "
              "WAF's policy merges in")


def _names(sources: list) -> str:
    return ", ".join(s.who for s in sources)


def validate_gateway_covered(args, report_violation: Report) -> None:
    """On every WAF'd Gateway (one an EnvoyExtensionPolicy targets whose extProc reaches the agents, or whose proxies
    an EnvoyFilter gives an ext_proc filter to the agents): no other policy on the Gateway, on one of its listeners
    or on an attached HTTPRoute/GRPCRoute that would apply instead of the WAF's, no EnvoyFilter patch on its proxies
    that removes or replaces the WAF's filter or disables it on routes, every listener covered, and no TCPRoute,
    TLSRoute or UDPRoute attached."""
    resources = _resources(args)
    api = GatewayApi(resources)
    _report_unwafed(resources, api, report_violation)
    reported: set[tuple[int, int]] = set()

    def report(source, gateway: _Gateway, message: str, key: object = None) -> None:
        """Once per policy or filter and Gateway (or route, or patch)."""
        if (id(source), id(key or gateway)) not in reported:
            reported.add((id(source), id(key or gateway)))
            report_violation(f"{source.who}: {message}", source.obj.resource.urn)

    for gateway in (g for g in api.gateways if g.waf):
        through = f"{gateway.where}, which the WAF covers through {_names(gateway.waf)}"
        if gateway.waf_policies:
            _policies(api, gateway, through, report)
        _filters(gateway, through, report)
        _envoy_gateway_neighbours(api, gateway, through, report_violation)
        # Its listeners: every one inspected, by a policy or a filter.
        sections = gateway.waf_sections()
        listeners = gateway.listeners
        if sections is not None:
            if listeners is None:
                uncovered = "its other listeners (the Gateway is not in this stack), and any added later,"
            else:
                names = [str(l.get("name")) for l in listeners if l.get("name") not in sections]
                uncovered = f"listener(s) {', '.join(repr(n) for n in names)}" if names else ""
            if uncovered:
                on = sorted(s for s, ps in gateway.by_listener.items() if any(p.waf for p in ps))
                for policy in gateway.waf_policies:
                    report(policy, gateway, f"sends only listener(s) {', '.join(repr(s) for s in on)} of "
                                            f"{gateway.where} to the WAF agents (sectionName): {uncovered} carry "
                                            "requests uninspected; target the whole Gateway (no sectionName)")
                for envoy_filter in gateway.waf_filters:
                    ports = sorted({w.patch.port for w in envoy_filter.waf})
                    report(envoy_filter, gateway, f"gives only the listeners on port(s) "
                                                  f"{', '.join(str(p) for p in ports)} of {gateway.where} the ext_proc "
                                                  f"filter to the WAF agents (match.listener.portNumber): {uncovered} "
                                                  "carry requests uninspected; leave portNumber out")
        # Its layer-4 routes.
        for route in (r for r in api.routes if r.kind in L4_ROUTES):
            if any(p.gateway is gateway for p in route.parents):
                report_violation(f"{route.obj.who}: a {route.kind} attached to {through}: ext_proc is an HTTP "
                                 "filter, so its traffic reaches its backends uninspected; serve it from a Gateway "
                                 "of its own, or carry it as HTTP through an HTTPRoute", route.obj.resource.urn)


def _policies(api: GatewayApi, gateway: _Gateway, through: str, report) -> None:
    """Envoy Gateway: one EnvoyExtensionPolicy applies to a request, the most specific (and of two on one target,
    the older)."""
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
            continue  # a listener the WAF does not cover at all: reported on the WAF's policy
        for policy in (p for p in policies if not p.waf):
            report(policy, gateway, f"targets listener {section!r} of {through}: a listener's "
                                    "EnvoyExtensionPolicy replaces the Gateway's there (Envoy Gateway does not "
                                    "merge them), so requests on that listener skip the WAF agents; "
                                    + _FIX_LISTENER)
    # Its HTTP routes: a route's policy replaces the Gateway's and the listener's.
    for route in api.routes:
        parents = [p for p in route.parents if p.gateway is gateway]
        if not parents or route.kind in L4_ROUTES:
            continue
        for policy in route.policies:
            if not all(api.effective_waf(policy, parent) for parent in parents):
                report(policy, gateway, f"targets {route.obj.where}, attached to {through}: Envoy Gateway "
                                        "applies only the most specific EnvoyExtensionPolicy, so this one "
                                        "replaces the WAF's on that route and its requests skip the WAF "
                                        f"agents; {_FIX_ROUTE}", key=route)


def _filters(gateway: _Gateway, through: str, report) -> None:
    """Istio: every EnvoyFilter on the proxies applies, so one may take the WAF's ext_proc filter out of the chain
    or turn it off on routes, whichever is applied first."""
    names = gateway.waf_filter_names
    waf_patches = {id(w.patch) for f in gateway.waf_filters for w in f.waf}
    for envoy_filter in gateway.filters:
        for patch in envoy_filter.patches:
            where = f"configPatches[{patch.index}] ({patch.apply_to} {patch.operation})"
            if patch.takes_out and patch.sub_filter in names and id(patch) not in waf_patches:
                if patch.operation == "REMOVE":
                    what = "removes"
                elif ext_proc_config(patch.value) is not None:
                    what = "replaces with an ext_proc filter to other servers"
                else:
                    what = f"replaces with {patch.value.get('name') or 'another filter'!r}"
                report(envoy_filter, gateway, f"{where} {what} the ext_proc filter {patch.sub_filter!r} on the "
                                              f"proxies of {through}: their requests skip the WAF agents; remove the "
                                              "patch, or match another filter", key=patch)
            elif patch.apply_to in ROUTE_LEVEL and patch.operation != "REMOVE":
                for name in disabled_on_routes(patch.value, names):
                    report(envoy_filter, gateway, f"{where} turns the ext_proc filter {name!r} off (a "
                                                  f"typed_per_filter_config with disabled: true) on routes of the "
                                                  f"proxies of {through}: their requests skip the WAF agents; remove "
                                                  "the entry", key=patch)


def _envoy_gateway_neighbours(api: GatewayApi, gateway: _Gateway, through: str, report_violation: Report) -> None:
    """Envoy Gateway: an EnvoyPatchPolicy on the Gateway (or its class) rewrites the xDS the WAF's policy produced, an
    EnvoyProxy's filterOrder moves the ext_proc filter (after the router it never runs), and a patch of the Gateway
    moving it to another GatewayClass hands it to a controller that may not read the WAF's policy."""
    for policy in api.patch_policies_on(gateway):
        report_violation(f"{policy.who}: an EnvoyPatchPolicy on {through}: its JSON patches rewrite the proxies' "
                         "xDS after Envoy Gateway translates the WAF's policy, and can take the ext_proc filter out "
                         "or turn it off, so requests skip the WAF agents unseen at preview; patch another Gateway, or "
                         "express the change as a policy", policy.resource.urn)
    for proxy, entry, how in api.reordered_ext_proc(gateway):
        where = ", ".join(f"{k}: {entry[k]!r}" for k in ("before", "after") if entry.get(k)) or "reordered"
        report_violation(f"{proxy.who}: its filterOrder moves {entry.get('name')!r} ({where}) on the proxies of "
                         f"{through} ({how}): ext_proc placed after the router never runs, and before it other "
                         "filters may answer first, so requests skip the WAF agents; leave ext_proc out of "
                         "filterOrder", proxy.resource.urn)
    original = gateway.obj.original if gateway.obj is not None else None
    if original is not None:
        before, after = _text(original.spec.get("gatewayClassName")), api.class_name(gateway)
        if after != before:
            report_violation(f"{gateway.obj.who}: moves {through} from GatewayClass {before!r} to {after!r}: the "
                             "WAF's policy is read by the controller of the class the stack declares, and another "
                             "class's controller serves the Gateway without it, so requests skip the WAF agents; "
                             "leave gatewayClassName as the stack sets it", gateway.obj.resource.urn)


def _report_unwafed(resources: list[_Resource], api: GatewayApi, report_violation: Report) -> None:
    """A Gateway the stack means to WAF keeps a policy whose extProc sends its requests to the agents: one that the
    stack's declared EnvoyExtensionPolicies WAF (read without their patches), or one of a gateway component (its
    Gateway, or the Gateway its policy targets). A patch of a WAF policy is read against the declared policy: one that
    moves its targetRefs or points its extProc elsewhere leaves the Gateway uninspected, as does a policy left
    without the agents' extProc."""
    unpatched = GatewayApi([r for r in resources if not (r.patch and r.kind == "EnvoyExtensionPolicy")])
    components = {r.urn for r in resources if r.resource_type == GATEWAY_COMPONENT and r.urn}
    meant: dict[tuple[str | None, str], list] = {}
    for gateway in unpatched.gateways:
        if gateway.waf_policies:
            meant.setdefault((gateway.namespace, gateway.name), []).extend(gateway.waf_policies)
        elif gateway.obj is not None and gateway.obj.resource.parent in components and gateway.obj.resource.parent:
            meant.setdefault((gateway.namespace, gateway.name), [])
        for extension in (e for e in [*gateway.whole, *(e for es in gateway.by_listener.values() for e in es)]
                          if e.obj.resource.parent in components and e.obj.resource.parent):
            meant.setdefault((gateway.namespace, gateway.name), []).append(extension)
    for (namespace, name), declared in meant.items():
        gateway = next((g for g in api.gateways if g.name == name and _same_namespace(g.namespace, namespace)), None)
        if gateway is not None and gateway.waf:
            continue
        patches = [r for r in resources if r.patch and r.kind == "EnvoyExtensionPolicy"
                   and _api_group(r.resource_type) == ENVOY_GATEWAY_API
                   and any(e.obj.name == r.object_name and _same_namespace(e.obj.namespace, r.namespace)
                           for e in declared)]
        where = f"Gateway {namespace or '<namespace unknown>'}/{name}"
        for source in patches or list(dict.fromkeys(e.obj.resource for e in declared)) or [
                g.obj.resource for g in unpatched.gateways if g.name == name and g.obj is not None]:
            what = ("patches the WAF's EnvoyExtensionPolicy" if source.patch else
                    "is the WAF's EnvoyExtensionPolicy" if source.kind == "EnvoyExtensionPolicy" else
                    "is the gateway component's Gateway")
            report_violation(f"{source.who}: {what}, but no EnvoyExtensionPolicy on {where} sends its requests to the "
                             "WAF agents' Service (targetRefs moved, or extProc emptied or pointed elsewhere): every "
                             "request on it is served uninspected; keep the WAF policy's targetRefs on the Gateway and "
                             "its extProc on the agents' Service", source.urn)
