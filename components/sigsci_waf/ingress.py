"""The ingress controller with the Fastly module: Helm values, agent Service and routes.

Pure functions of a validated `ResolvedIngress`: settings in, plain dicts out. The
component only turns them into a Helm release and Kubernetes resources.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from pydantic.alias_generators import to_snake

from . import workloads
from .agent import AgentParts, Rpc, build_agent, rpc_address
from .errors import ConfigError, join_path, shown
from .flavours import MODULE_PATH, Flavour
from .revproxy import ResolvedApp
from .ingress_schema import AGENT_SERVICE_SUFFIX, CONTROLLER_RESOURCES, AgentService, IngressSpec, Route
from .schema import AgentSettings, Resources, deep_merge, parse
from .validators import is_dns_1035, is_dns_label, is_dns_subdomain, is_label_value, is_qualified_name
from .sensitive import mark_leaves

# Kubelet's margin after the agent's preStop sleep when agents run as their own Service.
SHUTDOWN_MARGIN_SECONDS = 15


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
        targets.setdefault(app.spec.name, []).append(RouteTarget(
            namespace=app.spec.namespace, service=app.service_name, port=app.spec.effective_service_port()))
    return targets


@dataclass(frozen=True)
class ResolvedIngress:
    spec: IngressSpec
    agent: AgentSettings
    key: str
    snake: bool = False
    # `sigsci:ingress` or the shared agent settings came from secret stack config: free text stays secret.
    secret: bool = False

    @property
    def flavour(self) -> Flavour:
        return self.spec.flavour_spec

    def name(self, field: str) -> str:
        """A config key as the user spelled it: camelCase in stack config, snake_case in Python args."""
        return ".".join(to_snake(part) for part in field.split(".")) if self.snake else field


def resolve_ingress(raw: Mapping[str, Any], shared_agent: Mapping[str, Any], key: str, *,
                    snake: bool = False, secret: bool = False) -> ResolvedIngress:
    """Validate `sigsci:ingress` (or the component's args) with the shared agent settings merged under its own."""
    spec: IngressSpec = parse(IngressSpec, raw, key, snake=snake)
    agent_raw = deep_merge(shared_agent, spec.agent)
    agent: AgentSettings = parse(AgentSettings, agent_raw, f"{key}.agent", snake=snake)
    resolved = ResolvedIngress(spec=spec, agent=agent, key=key, snake=snake, secret=secret)
    _check_ports(resolved)
    _check_names(resolved)
    _check_agent_user(resolved, agent_raw)
    return resolved


def _check_ports(ing: ResolvedIngress) -> None:
    probe = ing.agent.startup_probe
    if not probe.enabled:
        return
    key = f"{ing.key}.{ing.name('agent.startupProbe.port')}"
    if ing.spec.agent_lifetime == "service" and probe.port == agent_service_spec(ing).port:
        raise ConfigError(key, f"{probe.port} is already the agents' RPC port (agentService.port); pick another port")
    taken = ing.flavour.controller_ports
    if ing.spec.agent_lifetime != "service" and probe.port in taken:
        raise ConfigError(key, f"{probe.port} is already used by the controller in the same pod "
                               f"({taken[probe.port]}); pick a port other than "
                               + ", ".join(str(p) for p in sorted(taken)))


def agent_service_spec(ing: ResolvedIngress) -> AgentService:
    return ing.spec.agent_service or AgentService()


# -- names ---------------------------------------------------------------------------------------------------

def _chart_name_text(name: str) -> str:
    """The charts' `trunc 63 | trimSuffix "-"`: cut to 63 bytes, then drop one trailing '-'."""
    name = name[:63]
    return name[:-1] if name.endswith("-") else name


def extra_value(ing: ResolvedIngress, dotted: str) -> Any:
    """A value the user set in extraValues (None if unset), read where the chart reads it."""
    node: Any = ing.spec.extra_values
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def chart_name(ing: ResolvedIngress) -> str:
    """The chart's `name` helper: nameOverride, else the chart's name; the pods' name label."""
    return _chart_name_text(extra_value(ing, "nameOverride") or ing.flavour.chart)


def chart_fullname(ing: ResolvedIngress, release: str | None = None) -> str:
    """The chart's `fullname` helper: fullnameOverride, else the release name when it contains the name,
    else both joined."""
    override = extra_value(ing, "fullnameOverride")
    if override:
        return _chart_name_text(override)
    release, name = release or ing.spec.release, extra_value(ing, "nameOverride") or ing.flavour.chart
    return _chart_name_text(release if name in release else f"{release}-{name}")


def controller_fullname(ing: ResolvedIngress, release: str | None = None) -> str:
    """The controller Deployment's name (and ingress-nginx's Service and ConfigMap): `<fullname>-<controller.name>`."""
    suffix = extra_value(ing, "controller.name") or "controller"
    return _chart_name_text(f"{chart_fullname(ing, release)}-{suffix}")


def suffixed_service_names(ing: ResolvedIngress, release: str | None = None) -> list[str]:
    """The chart's other Services named `<controller fullname><suffix>`, which it does not shorten to 63."""
    names = []
    for suffix, (switch, default) in ing.flavour.suffixed_services.items():
        enabled = extra_value(ing, switch)
        if (default if enabled is None else enabled) is True:
            names.append(f"{controller_fullname(ing, release)}{suffix}")
    return names


def controller_service_name(ing: ResolvedIngress) -> str:
    override = extra_value(ing, ing.flavour.service_name_override) if ing.flavour.service_name_override else None
    return _chart_name_text(override) if override else controller_fullname(ing)


def agent_service_name(ing: ResolvedIngress) -> str:
    return f"{ing.spec.release}{AGENT_SERVICE_SUFFIX}"


def controller_pod_labels(ing: ResolvedIngress) -> dict[str, str]:
    """The selector labels the chart puts on the controller pods (its selectorLabels helper)."""
    flavour = ing.flavour
    override = extra_value(ing, flavour.selector_labels_override) if flavour.selector_labels_override else None
    if override:
        return {str(k): str(v) for k, v in override.items()}
    labels = {"app.kubernetes.io/name": chart_name(ing), "app.kubernetes.io/instance": ing.spec.release}
    if flavour.component_label:
        labels["app.kubernetes.io/component"] = "controller"
    return labels


_NAME_VALUES = ("nameOverride", "fullnameOverride", "controller.name")


def _check_names(ing: ResolvedIngress) -> None:
    """Renames in extraValues are followed, as long as what the chart would render is valid."""
    flavour = ing.flavour
    for dotted in (*_NAME_VALUES, *filter(None, [flavour.service_name_override])):
        value = extra_value(ing, dotted)
        if value is not None and not isinstance(value, str):
            raise ConfigError(_extra_key(ing, dotted), "must be a string")
    checks = [("nameOverride", chart_name(ing), is_label_value, "a label value (the pods' app.kubernetes.io/name)"),
              ("controller.name", controller_fullname(ing), is_dns_subdomain, "a valid Deployment name"),
              (flavour.service_name_override or "controller.name", controller_service_name(ing), is_dns_1035,
               "a valid Service name (DNS-1035 label)")]
    for dotted, rendered, valid, what in checks:
        if not valid(rendered):
            raise ConfigError(_extra_key(ing, dotted), f"the chart would render {rendered!r}, which is not {what}")
    too_long = [n for n in suffixed_service_names(ing) if not is_dns_1035(n)]
    if too_long:
        release = ing.spec.release
        fits = next((n for n in range(len(release), 0, -1)
                     if all(is_dns_1035(x) for x in suffixed_service_names(ing, release[:n]))), None)
        hint = f"use a releaseName of at most {fits} characters" if fits else "shorten the chart's names"
        renamed = next((k for k in ("fullnameOverride", "controller.name") if extra_value(ing, k)), None)
        if renamed:
            hint = f"shorten {renamed}"
        raise ConfigError(_extra_key(ing, renamed) if renamed else f"{ing.key}.{ing.name('releaseName')}",
                          f"the chart would name a Service {too_long[0]!r} ({len(too_long[0])} characters, a name "
                          f"it does not shorten), but a Service name has at most 63: {hint}")
    if flavour.selector_labels_override is not None:
        labels = extra_value(ing, flavour.selector_labels_override)
        if labels is not None and (not isinstance(labels, Mapping) or not labels or not all(
                is_qualified_name(k) and isinstance(v, str) and is_label_value(v) for k, v in labels.items())):
            raise ConfigError(_extra_key(ing, flavour.selector_labels_override),
                              "must be a non-empty map of valid label keys to label values")


def _extra_key(ing: ResolvedIngress, dotted: str) -> str:
    return f"{ing.key}.{ing.name('extraValues')}.{dotted}"


def _check_agent_user(ing: ResolvedIngress, agent_raw: Mapping[str, Any]) -> None:
    """A sidecar agent runs as nginx's user (see controller_agent); another user would lock nginx out of
    the socket, and the module would let every request through uninspected."""
    if ing.spec.agent_lifetime == "service":
        return
    own = ing.spec.agent
    for spelled in ("runAsUser", "run_as_user"):
        if spelled in own and own[spelled] != ing.flavour.nginx_uid:
            raise ConfigError(f"{ing.key}.{ing.name('agent.runAsUser')}",
                              f"is derived for a sidecar agent: it runs as nginx's user "
                              f"({ing.flavour.nginx_uid}) so that nginx can connect to its socket; leave it "
                              "unset, or use agentLifetime service")


def agent_pod_labels(ing: ResolvedIngress) -> dict[str, str]:
    return {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": ing.spec.release,
            "app.kubernetes.io/component": "ingress-agent"}


# -- the module and its agent --------------------------------------------------------------------------------

def agent_mode(ing: ResolvedIngress) -> Rpc:
    if ing.spec.agent_lifetime == "service":
        return Rpc(tcp_port=agent_service_spec(ing).port)
    return Rpc()


def module_snippets(ing: ResolvedIngress) -> tuple[str, str]:
    """nginx.conf lines: load the module (main context) and point it at the agent (http context).

    The agent address comes from the same function that sets the agent's rpc-address, so moving
    the temp volume or the port moves both ends together.
    """
    mode = agent_mode(ing)
    if mode.tcp_port is None:
        target = f"unix:{rpc_address(ing.agent, mode)}"
    else:
        target = f"{agent_service_name(ing)}.{ing.spec.namespace}.svc:{mode.tcp_port}"
    return f"load_module {MODULE_PATH};", f"sigsci_agent_host {target};"


def controller_agent(ing: ResolvedIngress, secret_name: str) -> AgentParts:
    """The agent for the controller, with a lifetime that covers the controller's drain.

    Native sidecar: Kubernetes starts it before the controller and stops it after, so no preStop is
    needed. Classic sidecar: nothing orders the containers, so the agent sleeps through the whole grace
    period and is still there however long the controller drains. Service: the agents' own preStop.
    """
    lifetime = ing.spec.agent_lifetime
    settings = ing.agent
    if lifetime == "nativeSidecar":
        settings = settings.model_copy(update={"pre_stop_sleep_seconds": 0})
    elif lifetime == "classicSidecar":
        settings = settings.model_copy(
            update={"pre_stop_sleep_seconds": ing.spec.controller.termination_grace_period_seconds})
    parts = build_agent(settings, secret_name, agent_mode(ing), secret=ing.secret)
    container = parts.container
    if lifetime != "service":
        # nginx connects to the agent's socket; as nginx's own user, the agent creates it as theirs.
        container = {**container, "securityContext": {**container["securityContext"],
                                                       "runAsUser": ing.flavour.nginx_uid,
                                                       "runAsGroup": ing.flavour.nginx_gid}}
    if lifetime == "nativeSidecar":
        container = {**container, "restartPolicy": "Always"}
    return dataclasses.replace(parts, container=container)


# -- Helm values ---------------------------------------------------------------------------------------------

def _resources(resources: Resources) -> dict[str, Any]:
    filled = resources.filled(CONTROLLER_RESOURCES)
    return {part: {kind: str(value) for kind in ("cpu", "memory")
                   if (value := getattr(getattr(filled, part), kind)) is not None}
            for part in ("requests", "limits")}


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for part in reversed(path):
        value = {part: value}
    return value


def _image_values(ing: ResolvedIngress) -> dict[str, Any]:
    image = ing.spec.controller.image
    values: dict[str, Any] = {"repository": ing.spec.image_repository, "tag": ing.spec.image_tag,
                              "pullPolicy": image.pull_policy}
    # The chart's own digest would otherwise pin the stock image under our repository and tag.
    for key in ing.flavour.image_digest_keys:
        values[key] = ""
    if image.digest is not None:
        values["digest"] = image.digest
    return values


def _service_values(ing: ResolvedIngress) -> dict[str, Any]:
    service = ing.spec.service
    values: dict[str, Any] = {"type": service.type, "annotations": mark_leaves(dict(service.annotations), ing.secret)}
    if service.type != "ClusterIP":
        values["externalTrafficPolicy"] = service.external_traffic_policy
    return values


def _class_values(ing: ResolvedIngress) -> dict[str, Any]:
    cls = ing.spec.ingress_class
    if ing.flavour.sets_controller_value:
        # Our own controller value: a stock ingress-nginx in the same cluster never claims our class,
        # and ours never serves its Ingresses around the WAF.
        return {"ingressClassResource": {"name": cls.name, "enabled": True, "default": cls.default,
                                         "controllerValue": f"k8s.io/{cls.name}"},
                "ingressClass": cls.name}
    return {"ingressClass": {"name": cls.name, "create": True, "setAsDefaultIngress": cls.default}}


def helm_values(ing: ResolvedIngress, secret_name: str, credentials_hash: Any | None = None) -> dict[str, Any]:
    """The values we own, in the flavour's layout (without the user's extraValues)."""
    flavour, spec = ing.flavour, ing.spec
    main, http = module_snippets(ing)
    controller: dict[str, Any] = {
        "image": _image_values(ing),
        "replicaCount": spec.controller.replicas,
        "resources": _resources(spec.controller.resources),
        "terminationGracePeriodSeconds": spec.controller.termination_grace_period_seconds,
        "service": _service_values(ing),
        **_class_values(ing),
    }
    if flavour.disruption_budget and spec.controller.replicas > 1:
        # Drains and upgrades take the controllers one at a time: the entry point, and its WAF, stay up.
        controller[flavour.disruption_budget] = {"enabled": True, "maxUnavailable": 1}
    values: dict[str, Any] = {"controller": controller}
    values = deep_merge(values, _nest(flavour.config_path, {flavour.main_snippet: main, flavour.http_snippet: http}))
    if spec.agent_lifetime != "service":
        agent = controller_agent(ing, secret_name)
        list_key = flavour.init_containers if spec.agent_lifetime == "nativeSidecar" else flavour.containers
        controller = values["controller"]
        controller[list_key] = [agent.container]
        controller[flavour.volumes] = [agent.volume]
        controller[flavour.volume_mounts] = [{"name": agent.volume["name"], "mountPath": ing.agent.tmp_mount_path}]
        # The shared temp volume belongs to nginx's group, and every container in the pod is in it.
        controller["podSecurityContext"] = {"fsGroup": flavour.nginx_gid}
    if credentials_hash is not None and spec.agent_lifetime != "service":
        values = deep_merge(values, _nest(flavour.pod_annotations,
                                          {workloads.CREDENTIALS_ANNOTATION: credentials_hash}))
    return values


def _leaves(values: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every path that holds something other than a non-empty map."""
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        elif not (isinstance(value, Mapping) and not value):
            yield path


# Where the user sets what an extra value collides with; paths not listed are the agent and the module's.
_SCHEMA_KEYS = {
    ("controller", "image"): "controller.image",
    ("controller", "replicaCount"): "controller.replicas",
    ("controller", "resources"): "controller.resources",
    ("controller", "terminationGracePeriodSeconds"): "controller.terminationGracePeriodSeconds",
    ("controller", "service"): "service",
    ("controller", "ingressClassResource"): "ingressClass",
    ("controller", "ingressClass"): "ingressClass",
}


def _collision(ing: ResolvedIngress, ours: tuple[str, ...]) -> str:
    for prefix, key in _SCHEMA_KEYS.items():
        if ours[:len(prefix)] == prefix:
            return f"it is set from {ing.key}.{ing.name(key)}; set it there"
    return ("it belongs to the WAF wiring (module snippets, agent container, its temp volume and mounts, "
            "credentials hash), which must stay consistent; it cannot be overridden")


# The module's directives and file: only the snippets we write may name them.
_MODULE_TEXT = re.compile(r"sigsci_[a-z_]+|ngx_http_sigsci")


def _flag_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """A path with controller flags as the controller parses them: `--configmap=x` and `configmap` alike."""
    if path[:2] == ("controller", "extraArgs") and len(path) > 2:
        return (*path[:2], path[2].lstrip("-").split("=", 1)[0], *path[3:])
    return path


def guard_reason(ing: ResolvedIngress, path: tuple[str, ...]) -> str | None:
    """Why the chart value at `path` may not be set (None if it may): see `Flavour.guarded_values`."""
    path = _flag_path(path)
    for dotted, reason in ing.flavour.guarded_values.items():
        guard = tuple(dotted.split("."))
        if path[:len(guard)] == guard or guard[:len(path)] == path:
            return reason
    return None


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _strings(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, str(index)))
    elif isinstance(value, str):
        yield path, value


def _check_pod_lists(ing: ResolvedIngress, key: str) -> None:
    """Lists the chart renders into the controller pod as they are: each item must at least be an object with
    the name Kubernetes requires, or the install fails (or the pod is refused) after a green preview."""
    flavour = ing.flavour
    controller = ing.spec.extra_values.get("controller")
    if not isinstance(controller, Mapping):
        return
    required = {flavour.init_containers: ("name",), flavour.containers: ("name",), flavour.volumes: ("name",),
                flavour.volume_mounts: ("name", "mountPath")}
    for list_key, fields in required.items():
        items = controller.get(list_key)
        if items is None:
            continue
        where = f"{key}.controller.{list_key}"
        if not isinstance(items, list):
            raise ConfigError(where, "must be a list")
        for index, item in enumerate(items):
            missing = [f for f in fields if not isinstance(item, Mapping) or not isinstance(item.get(f), str)
                       or not item.get(f)]
            if missing:
                raise ConfigError(f"{where}[{index}]", f"must be an object with {' and '.join(fields)} "
                                                      "(as Kubernetes requires)")
            if not is_dns_label(item["name"]):
                raise ConfigError(f"{where}[{index}].name", f"{item['name']!r} is not a valid name (a DNS-1123 "
                                                            "label)")
    _validate_pod_parts(ing, controller, key)


def _validate_pod_parts(ing: ResolvedIngress, controller: Mapping[str, Any], key: str) -> None:
    """The chart copies these lists into the controller pod as they are: check them with Kubernetes' own
    schemas (kubernetes-validate, unknown fields refused), as the API server would at install."""
    import kubernetes_validate

    flavour = ing.flavour
    stub = {"name": "controller", "image": "controller",
            "volumeMounts": list(controller.get(flavour.volume_mounts) or [])}
    places = {flavour.containers: ("containers", 1), flavour.init_containers: ("initContainers", 0),
              flavour.volumes: ("volumes", 0)}
    spec: dict[str, Any] = {"containers": [stub, *(controller.get(flavour.containers) or [])]}
    for list_key, (field, _) in places.items():
        if field != "containers" and controller.get(list_key):
            spec[field] = list(controller[list_key])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "controller"}, "spec": spec}
    try:
        kubernetes_validate.validate(pod, kubernetes_validate.utils.latest_version(), strict=True)
    except kubernetes_validate.ValidationError as error:
        path = list(error.path)[1:]  # after "spec"
        if path[:1] == ["containers"] and path[1:2] == [0]:
            where, rest = f"controller.{flavour.volume_mounts}", path[3:]  # the stub's volumeMounts
        else:
            list_key = next(k for k, (f, _) in places.items() if f == path[0])
            where, rest = f"controller.{list_key}", [path[1] - places[list_key][1], *path[2:]]
        raise ConfigError(join_path(f"{key}.{where}", rest), f"{error.message} (Kubernetes' schema for this field)")


def merge_extra_values(ing: ResolvedIngress, ours: Mapping[str, Any]) -> dict[str, Any]:
    """The user's extraValues deep-merged under ours.

    Refused, naming the key: overlap with a value we set; a value that would stop inspection (a guarded
    value of the flavour); text that configures the module itself; and, where the chart runs values
    through Helm's `tpl`, template expressions, whose output could not be checked.
    """
    extra = ing.spec.extra_values
    key = f"{ing.key}.{ing.name('extraValues')}"
    our_leaves = list(_leaves(ours))
    for path in _leaves(extra):
        for mine in our_leaves:
            if path[:len(mine)] == mine or mine[:len(path)] == path:
                raise ConfigError(f"{key}.{'.'.join(path)}", _collision(ing, mine))
        reason = guard_reason(ing, path)
        if reason is not None:
            raise ConfigError(f"{key}.{'.'.join(path)}", f"cannot be set: it {reason}")
    _check_pod_lists(ing, key)
    for path, text in _strings(extra):
        if _MODULE_TEXT.search(text):
            raise ConfigError(f"{key}.{'.'.join(path)}", "configures the Fastly module, which only the "
                                                         "snippets sigsci:ingress writes may do")
        if ing.flavour.sets_controller_value and "{{" in text:
            raise ConfigError(f"{key}.{'.'.join(path)}", "contains '{{': the ingress-nginx chart evaluates some "
                                                         "values as Helm templates, so what nginx would get "
                                                         "cannot be checked; write the value out")
    return deep_merge(mark_leaves(extra, ing.secret), ours)


# -- agents as their own Service -----------------------------------------------------------------------------

def agent_service_manifests(ing: ResolvedIngress, secret_name: str,
                            credentials_hash: Any | None = None) -> list[dict[str, Any]]:
    """Deployment, Service (ClientIP affinity: the agent that saw a request must see its response)
    and a NetworkPolicy that admits only the controller pods."""
    if ing.spec.agent_lifetime != "service":
        return []
    options = agent_service_spec(ing)
    agent = controller_agent(ing, secret_name)
    name, namespace, labels = agent_service_name(ing), ing.spec.namespace, agent_pod_labels(ing)
    deployment = workloads.deployment(
        name, namespace, labels, replicas=options.replicas,
        grace_period=agent.pre_stop_seconds + SHUTDOWN_MARGIN_SECONDS, containers=[agent.container],
        volumes=[agent.volume], annotations=workloads.pod_annotations(agent.container["name"], credentials_hash))
    service = workloads.service(name, namespace, labels, labels, service_type="ClusterIP", port=options.port,
                                target_port=options.port, port_name="sigsci-rpc", client_ip_affinity=True)
    policy = workloads.network_policy(name, namespace, labels, labels, port=options.port,
                                      from_pods=controller_pod_labels(ing))
    return [deployment, service, policy,
            *workloads.disruption_budget(name, namespace, labels, labels, options.replicas)]


# -- routes --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvedRoute:
    route: Route
    name: str
    namespace: str
    service: str
    port: int


def resolve_routes(ing: ResolvedIngress, apps: Mapping[str, list[RouteTarget]]
                   ) -> tuple[list[ResolvedRoute], list[str]]:
    """Each route with its backend found; an unknown app, a clash of names or of host and path is an error."""
    resolved: list[ResolvedRoute] = []
    warnings: list[str] = []
    names: dict[tuple[str, str], int] = {}
    rules: dict[tuple[str | None, str], int] = {}
    for index, route in enumerate(ing.spec.routes):
        key = f"{ing.key}.{ing.name('routes')}[{index}]"
        if route.app is not None:
            if route.app not in apps:
                known = ", ".join(sorted(apps)) or "none"
                raise ConfigError(f"{key}.app", f"{route.app!r} is not an app of sigsci:apps (known: {known}); "
                                                "route to a Service with service: {name, port} instead")
            candidates = [t for t in apps[route.app] if route.namespace in (None, t.namespace)]
            where = ", ".join(sorted(t.namespace for t in apps[route.app]))
            if not candidates:
                raise ConfigError(f"{key}.namespace", f"app {route.app!r} is not in namespace {route.namespace} "
                                                      f"(it is in {where})")
            if len(candidates) > 1:
                raise ConfigError(f"{key}.app", f"{route.app!r} names apps in namespaces {where}; set the route's "
                                                "namespace to choose one")
            target = candidates[0]
            namespace, service, port = target.namespace, target.service, target.port
            warnings.append(f"route {index} sends traffic through the WAF controller to app {route.app!r}, "
                            "which has its own agent too: each request is inspected twice")
        else:
            assert route.service is not None
            namespace, service, port = route.namespace or "default", route.service.name, route.service.port
        name = route.name or service
        if (namespace, name) in names:
            raise ConfigError(f"{key}.name", f"Ingress {namespace}/{name} is already made by routes"
                                             f"[{names[(namespace, name)]}]; set name to tell them apart")
        names[(namespace, name)] = index
        # One class, one controller: the same host and path in two Ingresses (in any namespaces) would leave
        # the controller to pick one of them.
        rule = (route.host, route.path)
        if rule in rules:
            raise ConfigError(f"{key}.path", f"host {route.host or '*'} path {route.path} is already routed by "
                                             f"routes[{rules[rule]}] on IngressClass {ing.spec.ingress_class.name}")
        rules[rule] = index
        resolved.append(ResolvedRoute(route=route, name=name, namespace=namespace, service=service, port=port))
    return resolved, warnings


def ingress_manifest(ing: ResolvedIngress, route: ResolvedRoute) -> dict[str, Any]:
    spec = route.route
    rule: dict[str, Any] = {"http": {"paths": [{
        "path": spec.path, "pathType": spec.path_type,
        "backend": {"service": {"name": route.service, "port": {"number": route.port}}},
    }]}}
    if spec.host is not None:
        rule = {"host": spec.host, **rule}
    body: dict[str, Any] = {"ingressClassName": ing.spec.ingress_class.name, "rules": [rule]}
    if spec.tls_secret is not None:
        body["tls"] = [{"hosts": [spec.host], "secretName": spec.tls_secret}]
    metadata = workloads.metadata(route.name, route.namespace, {"app.kubernetes.io/name": route.service})
    if spec.annotations:
        metadata["annotations"] = mark_leaves(dict(spec.annotations), ing.secret)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": body}
