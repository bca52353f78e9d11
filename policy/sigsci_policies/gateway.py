"""What a stack's Gateway API, Envoy Gateway and Istio objects say: the EnvoyExtensionPolicies and the EnvoyFilters
that send requests to the agents, the Gateways, listeners and routes each applies to, the routes attached to each
Gateway, and each Gateway's body buffer.

How Envoy Gateway applies an EnvoyExtensionPolicy, as the checks model it:
- A policy targets Gateways, listeners (a Gateway with `sectionName`) and routes (HTTPRoute, GRPCRoute, TCPRoute,
  TLSRoute, UDPRoute, with or without `sectionName`), by `targetRefs` (or the older `targetRef`) in its own
  namespace, or by `targetSelectors` (the kind, and labels by `matchLabels`/`matchExpressions`; in its own
  namespace unless `namespaces.from` is `All` or `Selector`, which match every namespace here).
- One policy applies to a request: the most specific, a route's over a listener's over the Gateway's. They do not
  merge, except that a route's policy with `mergeType` is applied as a patch over its closest parent's (the
  listener's, else the Gateway's): then the parent's extProc stays unless the route's policy lists entries of
  its own (extProc has no merge key, so a list replaces the parent's whole).
- Two policies on the same target: the older applies and the other is Conflicted. The order is not known before
  the update, so a target is inspected only when every policy on it sends requests to the agents.
- ext_proc is an HTTP filter: HTTPRoute and GRPCRoute (gRPC is HTTP/2 through the same filter chain) are
  inspected, TCPRoute, TLSRoute and UDPRoute traffic never is.

A route attaches to a Gateway through `parentRefs` (group and kind default to Gateway API's Gateway, the
namespace to the route's), to the listener `sectionName` names, else to those on `port`, else to all of them.
The agents are a Service the stack runs the agent behind (stack._agent_services), or one named as the gateway's
agents are. Patches of these objects are read merged into the object of that name the stack declares.

How Istio applies an EnvoyFilter (istio.py reads its patches), as the checks model it:
- It applies to the proxies of its own namespace, or of every namespace from Istio's root namespace
  (ISTIO_ROOT_NAMESPACE); without `workloadSelector` to all of them, with one to those carrying its labels, and with
  `targetRefs` (a Gateway of its namespace) to that Gateway's. A Gateway's proxies carry the labels Istio's
  deployment gives them: `gateway.networking.k8s.io/gateway-name` and, for a Gateway of the stack,
  `gateway.networking.k8s.io/gateway-class-name` and its `infrastructure.labels` (else its own labels, which Istio
  copies); a selector naming any other label selects none of them.
- EnvoyFilters add up: every one that applies is applied, in an order not known at preview. One WAFs a Gateway when
  one of its patches inserts an ext_proc filter whose cluster is the agents' Service on one of its ports, on every
  listener, or on those of `match.listener.portNumber`; another one may take that filter out (REMOVE, REPLACE) or
  turn it off on routes (a per-route config with `disabled: true`).
- The proxies' body buffer is the largest per_connection_buffer_limit_bytes a LISTENER patch merges in, else
  Envoy's default (ENVOY_BUFFER_LIMIT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .common import UNKNOWN, _get, _list, _maps, _ns, _quantity, _same_namespace
from .constants import (AGENTS_NAME, DEFAULT_BUFFER_LIMIT, ENVOY_BUFFER_LIMIT, EXT_PROC_FILTER, GATEWAY_CLASS_LABEL,
                        GATEWAY_NAME_LABEL, ISTIO_ROOT_NAMESPACE, MIN_MESSAGE_TIMEOUT_MS, TIMEOUT_MS_PER_MIB)
from .istio import ISTIO_API, Patch, cluster_service, ext_proc_config, gateway_patches, listener_buffers
from .stack import _agent_service_ports, _among, _Resource

GATEWAY_API = "gateway.networking.k8s.io"
ENVOY_GATEWAY_API = "gateway.envoyproxy.io"
HTTP_ROUTES = ("HTTPRoute", "GRPCRoute")  # through Envoy's HTTP filters: ext_proc sees their requests
L4_ROUTES = ("TCPRoute", "TLSRoute", "UDPRoute")  # around them: ext_proc never sees this traffic
ROUTES = HTTP_ROUTES + L4_ROUTES
MIB = 2 ** 20


def _api_group(resource_type: str) -> str:
    """`kubernetes:gateway.networking.k8s.io/v1:Gateway` -> "gateway.networking.k8s.io"."""
    parts = resource_type.split(":")
    return parts[1].rsplit("/", 1)[0] if len(parts) == 3 and "/" in parts[1] else ""


# -- objects, with the stack's patches merged in ---------------------------------------------------------------

@dataclass(eq=False)
class _Object:
    """A Gateway API or Envoy Gateway object as it will be: a patch's fields over the stack's object."""

    resource: _Resource  # the patch where the stack patches it: what the stack changes
    spec: Mapping[str, Any]
    labels: Mapping[str, Any] | None  # None: not known (a patch of an object the stack does not declare)
    original: _Object | None = None  # the object the stack declares, under its patches

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def namespace(self) -> str | None:
        return self.resource.namespace

    @property
    def name(self) -> str | None:
        return self.resource.object_name

    @property
    def who(self) -> str:
        return self.resource.who

    @property
    def where(self) -> str:
        return f"{self.kind} {_ns(self.namespace)}/{self.name}"


def _spec(resource: _Resource) -> Mapping[str, Any]:
    spec = resource.props.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _objects(resources: Iterable[_Resource], group: str, kinds: Iterable[str]) -> list[_Object]:
    kinds = set(kinds)
    mine = [r for r in resources if r.kind in kinds and _api_group(r.resource_type) == group and r.object_name]
    found: list[_Object] = []
    for resource in (r for r in mine if not r.patch):
        labels = _get(resource.props, "metadata", "labels")
        found.append(_Object(resource, _spec(resource), dict(labels) if isinstance(labels, Mapping) else {}))
    for patch in (r for r in mine if r.patch):
        spec = _spec(patch)
        labels = _get(patch.props, "metadata", "labels")
        target = next((o for o in found if o.kind == patch.kind and o.name == patch.object_name
                       and _same_namespace(o.namespace, patch.namespace)), None)
        if target is None:
            found.append(_Object(patch, spec, None))
            continue
        found[found.index(target)] = _Object(
            patch, {**target.spec, **spec},
            {**(target.labels or {}), **(labels if isinstance(labels, Mapping) else {})},
            target.original or target)
    return found


# -- targets ----------------------------------------------------------------------------------------------------

def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any] | None) -> bool:
    """A label selector ({matchLabels, matchExpressions}) against an object's labels (None: unknown, no match)."""
    if labels is None:
        return False
    match = selector.get("matchLabels")
    if isinstance(match, Mapping) and any(labels.get(k) != v for k, v in match.items()):
        return False
    for expression in _maps(selector.get("matchExpressions")):
        key, operator, values = expression.get("key"), expression.get("operator"), _list(expression.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values) \
                or operator == "NotIn" and present and labels[key] in values \
                or operator == "Exists" and not present or operator == "DoesNotExist" and present:
            return False
    return True


@dataclass
class _Target:
    kind: str
    namespace: str | None  # the policy's: targetRefs are local; a selector looks there unless `any_namespace`
    name: str | None = None  # None: by labels
    section: str | None = None
    selector: Mapping[str, Any] | None = None
    any_namespace: bool = False

    def hits(self, kind: str, namespace: str | None, name: str | None, labels: Mapping[str, Any] | None) -> bool:
        if kind != self.kind or not (self.any_namespace or _same_namespace(self.namespace, namespace)):
            return False
        if self.name is not None:
            return self.name == name
        return self.selector is not None and _selector_matches(self.selector, labels)


def _targets(policy: _Object) -> list[_Target]:
    """What a policy (EnvoyExtensionPolicy, ClientTrafficPolicy) targets: targetRef, targetRefs, targetSelectors."""
    spec, found = policy.spec, []
    for ref in [spec.get("targetRef"), *_list(spec.get("targetRefs"))]:
        if isinstance(ref, Mapping) and ref.get("group", GATEWAY_API) == GATEWAY_API \
                and isinstance(ref.get("kind"), str) and isinstance(ref.get("name"), str):
            found.append(_Target(ref["kind"], policy.namespace, ref["name"], _text(ref.get("sectionName"))))
    for selector in _maps(spec.get("targetSelectors")):
        if selector.get("group", GATEWAY_API) == GATEWAY_API and isinstance(selector.get("kind"), str):
            source = _get(selector, "namespaces", "from")
            found.append(_Target(selector["kind"], policy.namespace, selector=selector,
                                 any_namespace=source in ("All", "Selector")))
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- the policies that send requests to the agents -------------------------------------------------------------

@dataclass(eq=False)
class _Extension:
    """An EnvoyExtensionPolicy, and the entries of its extProc whose backend is the agents."""

    obj: _Object
    targets: list[_Target]
    waf: list[Mapping[str, Any]]

    @property
    def lists_ext_proc(self) -> bool:
        """It has extProc entries of its own (an empty list is left out of the merge, as if absent)."""
        return bool(_maps(self.obj.spec.get("extProc")))

    @property
    def merges(self) -> bool:
        return bool(self.obj.spec.get("mergeType"))

    @property
    def who(self) -> str:
        return self.obj.who


def _backend_refs(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*_maps(entry.get("backendRefs")), *_maps([entry.get("backendRef")])]


# -- the EnvoyFilters that send requests to the agents ---------------------------------------------------------

@dataclass(eq=False)
class _WafFilter:
    """An ext_proc filter to the agents that one of an EnvoyFilter's patches puts in the chain."""

    patch: Patch
    config: Mapping[str, Any]  # its ExternalProcessor

    @property
    def name(self) -> Any:
        return self.patch.value.get("name")


@dataclass(eq=False)
class _EnvoyFilter:
    """An Istio EnvoyFilter: what it applies to, its patches that apply to gateways, and its WAF filters."""

    obj: _Object
    targets: list[_Target] | None  # targetRefs (a Gateway of its namespace); None: by workloadSelector
    selector: Mapping[str, Any]  # workloadSelector.labels; empty: every proxy in reach
    patches: list[Patch]
    waf: list[_WafFilter]

    @property
    def who(self) -> str:
        return self.obj.who

    @property
    def root(self) -> bool:
        return self.obj.namespace == ISTIO_ROOT_NAMESPACE

    def selects(self, gateway: _Gateway) -> bool:
        """It applies to the Gateway's proxies."""
        if self.targets is not None:
            return any(t.hits("Gateway", gateway.namespace, gateway.name, None) for t in self.targets)
        labels = gateway.proxy_labels()
        return (self.root or _same_namespace(self.obj.namespace, gateway.namespace)) \
            and all(labels.get(k) == v for k, v in self.selector.items())


def _service_ref(ref: Mapping[str, Any], namespace: str | None) -> tuple[str | None, str] | None:
    """(namespace, Service) a backendRef names (group "" and kind Service by default), else None."""
    if ref.get("group", "") not in ("", "core") or ref.get("kind", "Service") != "Service":
        return None
    return _named(ref, namespace)


def _envoy_backend_ref(ref: Mapping[str, Any], namespace: str | None) -> tuple[str | None, str] | None:
    """(namespace, Backend) a backendRef names when it is an Envoy Gateway `Backend`, else None."""
    if ref.get("group") != ENVOY_GATEWAY_API or ref.get("kind") != "Backend":
        return None
    return _named(ref, namespace)


def _named(ref: Mapping[str, Any], namespace: str | None) -> tuple[str | None, str] | None:
    name = ref.get("name")
    if not isinstance(name, str) or not name:
        return None
    other = ref.get("namespace")
    return (other if isinstance(other, str) and other else namespace), name


# -- Gateways and routes ---------------------------------------------------------------------------------------

@dataclass(eq=False)
class _Gateway:
    namespace: str | None
    name: str
    obj: _Object | None = None  # None: a Gateway the stack does not declare (an existing one)
    whole: list[_Extension] = field(default_factory=list)  # the policies on the whole Gateway
    by_listener: dict[str, list[_Extension]] = field(default_factory=dict)
    buffers: list[tuple[Any, _Object]] = field(default_factory=list)  # (bufferLimit, its ClientTrafficPolicy)
    filters: list[_EnvoyFilter] = field(default_factory=list)  # the EnvoyFilters on its proxies

    @property
    def where(self) -> str:
        return f"Gateway {_ns(self.namespace)}/{self.name}"

    @property
    def listeners(self) -> list[Mapping[str, Any]] | None:
        """Its listeners, or None when the Gateway is not in the stack."""
        return None if self.obj is None else _maps(self.obj.spec.get("listeners"))

    @property
    def waf_policies(self) -> list[_Extension]:
        """The policies on it (whole or a listener) that send requests to the agents."""
        return [e for e in [*self.whole, *(e for es in self.by_listener.values() for e in es)] if e.waf]

    @property
    def waf_filters(self) -> list[_EnvoyFilter]:
        """The EnvoyFilters on its proxies that put an ext_proc filter to the agents in their chain."""
        return [f for f in self.filters if f.waf]

    @property
    def waf_filter_names(self) -> set[str]:
        """The names the agents' ext_proc filters have in its proxies' chain (what a patch matches them by)."""
        return {w.name for f in self.waf_filters for w in f.waf if isinstance(w.name, str)}

    @property
    def waf(self) -> list[_Extension | _EnvoyFilter]:
        """What sends its requests to the agents: it is WAF'd if anything does."""
        return [*self.waf_policies, *self.waf_filters]

    def proxy_labels(self) -> dict[str, Any]:
        """The labels the pack knows Istio's deployment gives the Gateway's proxies."""
        labels: dict[str, Any] = {}
        if self.obj is not None:
            infrastructure = _get(self.obj.spec, "infrastructure", "labels")
            copied = infrastructure if isinstance(infrastructure, Mapping) and infrastructure else self.obj.labels
            labels = {k: v for k, v in (copied or {}).items() if not str(k).startswith(GATEWAY_API + "/")}
            if isinstance(self.obj.spec.get("gatewayClassName"), str):
                labels[GATEWAY_CLASS_LABEL] = self.obj.spec["gatewayClassName"]
        return {**labels, GATEWAY_NAME_LABEL: self.name}

    def waf_sections(self) -> set[str | None] | None:
        """The listeners whose requests go to the agents; None when every listener's do (a WAF policy on the whole
        Gateway, or a WAF filter on every listener of its proxies)."""
        if any(p.waf for p in self.whole) or any(w.patch.port is None for f in self.waf_filters for w in f.waf):
            return None
        sections = {s for s, ps in self.by_listener.items() if any(p.waf for p in ps)}
        ports = {w.patch.port for f in self.waf_filters for w in f.waf}
        return sections | {_text(l.get("name")) for l in self.listeners or [] if l.get("port") in ports}

    def covered(self, section: str | None) -> bool:
        """Requests on a listener (None: on the Gateway where no listener has a policy of its own) go to the
        agents: every policy that may apply there (its own, else the Gateway's) sends them."""
        policies = self.by_listener.get(section) if section is not None else None
        policies = policies or self.whole
        return bool(policies) and all(p.waf for p in policies)

    def sections(self, parent: Mapping[str, Any]) -> list[str | None] | None:
        """The listeners a parentRef attaches to: its sectionName, those on its port, or all; None if unknown."""
        section = _text(parent.get("sectionName"))
        if section is not None:
            return [section]
        listeners = self.listeners
        if listeners is None:
            return None
        port = parent.get("port")
        return [_text(l.get("name")) for l in listeners if port is None or l.get("port") == port]

    def body_limit(self) -> tuple[Decimal | Any, str]:
        """The largest body buffer a ClientTrafficPolicy gives it (UNKNOWN during a preview), and where from."""
        return _largest([(_quantity(v) if v is not UNKNOWN else UNKNOWN, o) for v, o in self.buffers],
                        DEFAULT_BUFFER_LIMIT, f"Envoy Gateway's default for {self.where}",
                        f"the bufferLimit {{}} sets on {self.where}")

    def listener_buffer(self) -> tuple[Decimal | Any, str]:
        """The largest per-connection buffer the EnvoyFilters on its proxies give their listeners (UNKNOWN during a
        preview), and where from."""
        return _largest([(v if v is UNKNOWN else Decimal(v), f) for f in self.filters
                         for v in listener_buffers(f.patches)],
                        ENVOY_BUFFER_LIMIT, f"Envoy's default for the listeners of {self.where}",
                        f"the per_connection_buffer_limit_bytes {{}} sets on the proxies of {self.where}")


def _largest(limits: list[tuple[Any, Any]], default: int, default_source: str, source: str
             ) -> tuple[Decimal | Any, str]:
    """The largest of (limit, object that sets it), with where it comes from (`source` naming the object), the
    default without one, UNKNOWN if any is."""
    if any(v is UNKNOWN for v, _ in limits):
        return UNKNOWN, ""
    known = [(v, o) for v, o in limits if v is not None]
    if not known:
        return Decimal(default), default_source
    value, setter = max(known, key=lambda item: item[0])
    return value, source.format(setter.who)


@dataclass
class _Parent:
    gateway: _Gateway
    ref: Mapping[str, Any]


@dataclass(eq=False)
class _Route:
    obj: _Object
    parents: list[_Parent]
    declared_parents: list[_Parent]  # those of the object the stack declares, under its patches
    policies: list[_Extension]  # the policies on the route itself (or one of its rules)

    @property
    def kind(self) -> str:
        return self.obj.kind

    def backends(self, reference: Any = None) -> list[tuple[str | None, str, str]]:
        """(namespace, Service, where) for every backend and mirror of its rules (with `reference`, the objects of
        another kind that function reads from a backendRef, e.g. _envoy_backend_ref)."""
        reference = reference or _service_ref
        found = []
        for index, rule in enumerate(_maps(self.obj.spec.get("rules"))):
            where = f"rule {_text(rule.get('name')) or index}"
            refs = _maps(rule.get("backendRefs"))
            filters = [*_maps(rule.get("filters")), *(f for r in refs for f in _maps(r.get("filters")))]
            mirrors = [_get(f, "requestMirror", "backendRef") for f in filters]
            for ref, how in [*((r, "") for r in refs), *((m, " (mirror)") for m in _maps(mirrors))]:
                service = reference(ref, self.obj.namespace)
                if service is not None:
                    found.append((*service, where + how))
        return found


class GatewayApi:
    """A stack's Gateways, routes, EnvoyExtensionPolicies and EnvoyFilters, read together."""

    def __init__(self, resources: list[_Resource]) -> None:
        agent_ports = _agent_service_ports(resources)
        agents = set(agent_ports)
        self.gateways: list[_Gateway] = []
        for obj in _objects(resources, GATEWAY_API, ["Gateway"]):
            self._gateway(obj.namespace, obj.name).obj = obj
        self.extensions: list[_Extension] = []
        for obj in _objects(resources, ENVOY_GATEWAY_API, ["EnvoyExtensionPolicy"]):
            waf = [e for e in _maps(obj.spec.get("extProc"))
                   if any(self._is_agents(ref, obj.namespace, agents) for ref in _backend_refs(e))]
            self.extensions.append(_Extension(obj, _targets(obj), waf))
        for extension in self.extensions:
            for target in extension.targets:
                if target.kind != "Gateway":
                    continue
                for gateway in self._targeted(target):
                    bucket = gateway.whole if target.section is None \
                        else gateway.by_listener.setdefault(target.section, [])
                    if extension not in bucket:  # named twice, or named and selected
                        bucket.append(extension)
        for obj in _objects(resources, ENVOY_GATEWAY_API, ["ClientTrafficPolicy"]):
            limit = _get(obj.spec, "connection", "bufferLimit")
            if limit is not None:
                for target in (t for t in _targets(obj) if t.kind == "Gateway"):
                    for gateway in self._targeted(target):
                        if (limit, obj) not in gateway.buffers:
                            gateway.buffers.append((limit, obj))
        self.routes: list[_Route] = []
        for obj in _objects(resources, GATEWAY_API, ROUTES):
            policies = [e for e in self.extensions if any(t.hits(obj.kind, obj.namespace, obj.name, obj.labels)
                                                          for t in e.targets)]
            declared = self._parents(obj, obj.original.spec) if obj.original is not None else []
            self.routes.append(_Route(obj, self._parents(obj, obj.spec), declared, policies))
        self.envoy_filters: list[_EnvoyFilter] = []
        for obj in _objects(resources, ISTIO_API, ["EnvoyFilter"]):
            self.envoy_filters.append(self._envoy_filter(obj, agent_ports))
        for envoy_filter in self.envoy_filters:  # the Gateways they name, even those not in the stack
            name = envoy_filter.selector.get(GATEWAY_NAME_LABEL)
            if isinstance(name, str) and envoy_filter.targets is None:
                self._gateway(None if envoy_filter.root else envoy_filter.obj.namespace, name)
            for target in (t for t in envoy_filter.targets or [] if t.kind == "Gateway"):
                self._targeted(target)
        for envoy_filter in self.envoy_filters:
            for gateway in self.gateways:
                if envoy_filter.selects(gateway):
                    gateway.filters.append(envoy_filter)
        self.classes = _objects(resources, GATEWAY_API, ["GatewayClass"])
        self.patch_policies = _objects(resources, ENVOY_GATEWAY_API, ["EnvoyPatchPolicy"])
        self.proxies = _objects(resources, ENVOY_GATEWAY_API, ["EnvoyProxy"])

    @staticmethod
    def _is_agents(ref: Mapping[str, Any], namespace: str | None, agents: set) -> bool:
        service = _service_ref(ref, namespace)
        return service is not None and (service[1] == AGENTS_NAME or _among(agents, *service))

    @staticmethod
    def _envoy_filter(obj: _Object, agent_ports: dict[tuple[str | None, str], set[int] | None]) -> _EnvoyFilter:
        """An EnvoyFilter, with the patches that insert an ext_proc filter whose cluster is the agents' Service on
        one of its ports (a Service named as the gateway's agents, not in the stack, on any)."""
        patches = gateway_patches(obj.spec)
        waf = []
        for patch in (p for p in patches if p.inserts):
            config = ext_proc_config(patch.value)
            service = cluster_service(config) if config is not None else None
            if service is None:
                continue
            port, namespace, name = service
            ports = [ports for (ns, n), ports in agent_ports.items() if n == name and _same_namespace(ns, namespace)]
            if any(known is None or port in known for known in ports) or not ports and name == AGENTS_NAME:
                waf.append(_WafFilter(patch, config))
        selector = _get(obj.spec, "workloadSelector", "labels")
        targets = [t for t in _targets(obj) if t.name is not None] if _list(obj.spec.get("targetRefs")) else None
        return _EnvoyFilter(obj, targets, selector if isinstance(selector, Mapping) else {}, patches, waf)

    def _gateway(self, namespace: str | None, name: str) -> _Gateway:
        for gateway in self.gateways:
            if gateway.name == name and _same_namespace(gateway.namespace, namespace):
                return gateway
        self.gateways.append(_Gateway(namespace, name))
        return self.gateways[-1]

    def _targeted(self, target: _Target) -> list[_Gateway]:
        """The Gateways a target hits; one it names is known even when the stack does not declare it."""
        if target.name is not None:
            return [self._gateway(target.namespace, target.name)]
        return [g for g in self.gateways if g.obj is not None
                and target.hits("Gateway", g.namespace, g.name, g.obj.labels)]

    def _parents(self, route: _Object, spec: Mapping[str, Any]) -> list[_Parent]:
        found = []
        for ref in _maps(spec.get("parentRefs")):
            if ref.get("group", GATEWAY_API) != GATEWAY_API or ref.get("kind", "Gateway") != "Gateway" \
                    or not isinstance(ref.get("name"), str):
                continue  # a ListenerSet, or a Service (mesh routing): not a Gateway's listeners
            namespace = _text(ref.get("namespace")) or route.namespace
            found.append(_Parent(self._gateway(namespace, ref["name"]), ref))
        return found

    # -- what inspects what --------------------------------------------------------------------------------------

    def parent_inspects(self, parent: _Parent) -> bool:
        """Requests through a parentRef go to the agents, judged by the Gateway's and its listeners' policies."""
        gateway = parent.gateway
        sections = gateway.sections(parent.ref)
        if sections is None:  # the Gateway's listeners are not known: no listener may have a policy of its own
            return gateway.covered(None) and all(p.waf for ps in gateway.by_listener.values() for p in ps)
        return all(gateway.covered(s) for s in sections)

    def effective_waf(self, extension: _Extension, parent: _Parent) -> bool:
        """A route's policy sends its requests (through `parent`) to the agents: with its own extProc, or,
        merged into its parent's (mergeType) without one, with the parent's."""
        if extension.lists_ext_proc:
            return bool(extension.waf)
        return extension.merges and self.parent_inspects(parent)

    def route_inspected(self, route: _Route, parent: _Parent) -> bool:
        """The route's requests through `parent` go to the agents."""
        if route.kind not in HTTP_ROUTES:
            return False
        if route.policies:
            return all(self.effective_waf(p, parent) for p in route.policies)
        return self.parent_inspects(parent)

    def waf_routes(self) -> list[tuple[_Route, _Resource]]:
        """The HTTP routes the WAF inspects (attached to a WAF'd Gateway, or with a policy of their own that
        sends requests to the agents), each with the object that says so: the stack's own route under a patch
        that moves it."""
        found = []
        for route in (r for r in self.routes if r.kind in HTTP_ROUTES):
            if any(p.gateway.waf for p in route.parents) or any(p.waf for p in route.policies):
                found.append((route, route.obj.resource))
            elif route.obj.original is not None and any(p.gateway.waf for p in route.declared_parents):
                found.append((route, route.obj.original.resource))
        return found

    def class_name(self, gateway: _Gateway) -> str | None:
        return _text(gateway.obj.spec.get("gatewayClassName")) if gateway.obj is not None else None

    def patch_policies_on(self, gateway: _Gateway) -> list[_Object]:
        """The EnvoyPatchPolicies that patch the xDS of the Gateway: targeting it (a Gateway of their namespace), or
        its GatewayClass (Envoy Gateway's merged Gateways)."""
        cls = self.class_name(gateway)
        return [p for p in self.patch_policies if any(
            t.hits("Gateway", gateway.namespace, gateway.name, None)
            or t.kind == "GatewayClass" and cls is not None and t.name == cls for t in _targets(p))]

    def reordered_ext_proc(self, gateway: _Gateway) -> list[tuple[_Object, Mapping[str, Any], str]]:
        """(EnvoyProxy, filterOrder entry, how the Gateway reaches it) for each entry that moves Envoy's ext_proc
        filter, in the EnvoyProxy the Gateway's infrastructure.parametersRef or its GatewayClass's parametersRef
        names."""
        refs = []
        if gateway.obj is not None:
            ref = _get(gateway.obj.spec, "infrastructure", "parametersRef")
            if isinstance(ref, Mapping):
                refs.append((ref, gateway.namespace, f"the parametersRef of {gateway.where}"))
        cls = self.class_name(gateway)
        for obj in (c for c in self.classes if cls is not None and c.name == cls):
            ref = obj.spec.get("parametersRef")
            if isinstance(ref, Mapping):
                refs.append((ref, _text(ref.get("namespace")), f"the parametersRef of GatewayClass {cls}"))
        found = []
        for ref, namespace, how in refs:
            if ref.get("group") != ENVOY_GATEWAY_API or ref.get("kind") != "EnvoyProxy":
                continue
            for proxy in (p for p in self.proxies if p.name == ref.get("name")
                          and _same_namespace(p.namespace, namespace)):
                found += [(proxy, entry, how) for entry in _maps(proxy.spec.get("filterOrder"))
                          if str(entry.get("name") or "").startswith(EXT_PROC_FILTER)]
        return found

    def gateways_on(self, envoy_filter: _EnvoyFilter) -> list[_Gateway]:
        """The Gateways whose proxies an EnvoyFilter applies to."""
        return [g for g in self.gateways if envoy_filter in g.filters]

    def gateways_of(self, extension: _Extension) -> list[_Gateway]:
        """The Gateways whose requests a policy sees: those it targets, and the parents of the routes it targets."""
        found = [g for g in self.gateways if extension in g.whole
                 or any(extension in ps for ps in g.by_listener.values())]
        for route in self.routes:
            if extension in route.policies:
                found += [p.gateway for p in route.parents if p.gateway not in found]
        return found


def needed_timeout_ms(limit: Decimal) -> int:
    """The shortest message timeout for a body buffer of `limit` bytes (the package's rule)."""
    return max(MIN_MESSAGE_TIMEOUT_MS, math.ceil(limit * TIMEOUT_MS_PER_MIB / MIB))
