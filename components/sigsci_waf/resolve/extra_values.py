"""The rules for `extraValues`, the chart values a user adds: none may overlap a value we set, none may stop
inspection (a guarded value of the flavour), none may configure the module, and the lists the chart copies
into the controller pod must pass Kubernetes' own schemas."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..config.errors import ConfigError, join_path
from ..config.choices import AgentLifetime
from ..config.kube import is_dns_label
from ..ingress.names import controller_container_name

if TYPE_CHECKING:
    from .ingress import ResolvedIngress


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
            return f"it is set from {ing.field_key(key)}; set it there"
    return ("it belongs to the WAF wiring (module snippets, agent container, its temp volume and mounts, "
            "credentials hash), which must stay consistent; it cannot be overridden")


# The module's directives and file: only the snippets we write may name them.
_MODULE_TEXT = re.compile(r"sigsci_[a-z_]+|ngx_http_sigsci")


def _flag_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """A path with controller flags as the controller parses them: `--configmap=x` and `configmap` alike."""
    if path[:2] == ("controller", "extraArgs") and len(path) > 2:
        return (*path[:2], path[2].lstrip("-").split("=", 1)[0], *path[3:])
    return path


def _guards(ing: ResolvedIngress) -> dict[str, str]:
    """The flavour's guarded values for this controller: `Flavour.guarded_values`, and with agentLifetime service
    `guarded_with_agent_service` too."""
    guards = dict(ing.flavour.guarded_values)
    if ing.spec.agent_lifetime == AgentLifetime.SERVICE:
        guards.update({k: f"{v} (with agentLifetime service)" for k, v in
                       ing.flavour.guarded_with_agent_service.items()})
    return guards


def guard_reason(ing: ResolvedIngress, path: tuple[str, ...]) -> str | None:
    """Why the chart value at `path` may not be set (None if it may): see `Flavour.guarded_values`."""
    path = _flag_path(path)
    for dotted, reason in _guards(ing).items():
        guard = tuple(dotted.split("."))
        if path[:len(guard)] == guard or guard[:len(path)] == path:
            return reason
    return None


def _check_maps(ing: ResolvedIngress, extra: Mapping[str, Any], ours: Iterator[tuple[str, ...]], key: str) -> None:
    """A value where the chart reads a map of keys (ours, or guarded ones under it) must be a map: anything else
    would be judged by the keys it replaces, or replace them unseen."""
    below = {p[:i] for p in ours for i in range(1, len(p))}
    below |= {_flag_path(g)[:i] for d in _guards(ing) for g in [tuple(d.split("."))] for i in range(1, len(g))}

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for name, value in node.items():
            here = (*path, str(name))
            if isinstance(value, Mapping):
                walk(value, here)
            elif here in below:
                raise ConfigError(f"{key}.{'.'.join(here)}", f"must be a map (the chart reads keys under it), not "
                                                             f"{type(value).__name__ if value is not None else 'null'}")
    walk(extra, ())


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _strings(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, str(index)))
    elif isinstance(value, str):
        yield path, value


def _check_pod_lists(ing: ResolvedIngress, ours: Mapping[str, Any], key: str) -> None:
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
    _check_mount_paths(ing, controller, key)
    _check_pod_names(ing, controller, ours.get("controller") or {}, key)
    _validate_pod_parts(ing, controller, key)


def _covers(mount: str, protected: str) -> bool:
    """A mount at `mount` replaces what the image has at `protected`: at it, above it or below it."""
    pattern = "*" in protected
    parent = posixpath.dirname(protected) if pattern else protected
    if pattern and posixpath.dirname(mount) == parent \
            and fnmatch.fnmatchcase(posixpath.basename(mount), posixpath.basename(protected)):
        return True
    at_or_above = parent == mount or parent.startswith(mount.rstrip("/") + "/")
    return at_or_above or (not pattern and mount.startswith(protected + "/"))


def _check_mount_paths(ing: ResolvedIngress, controller: Mapping[str, Any], key: str) -> None:
    """A volume mounted over nginx's config or template, the modules or the binaries replaces what loads the
    module: nginx would run without it, every request uninspected."""
    list_key = ing.flavour.volume_mounts
    for index, mount in enumerate(controller.get(list_key) or []):
        path = posixpath.normpath(mount["mountPath"])
        hit = next((p for p in ing.flavour.protected_paths if _covers(path, p)), None)
        if hit is not None:
            raise ConfigError(f"{key}.controller.{list_key}[{index}].mountPath",
                              f"{mount['mountPath']!r} would mount over {hit} in the controller image (nginx's "
                              "configuration and template, the modules and the binaries), replacing what loads "
                              "the Fastly module; mount elsewhere (not at, above or below "
                              + ", ".join(ing.flavour.protected_paths) + ")")


def _check_pod_names(ing: ResolvedIngress, controller: Mapping[str, Any], ours: Mapping[str, Any], key: str) -> None:
    """Names in the controller pod are unique (containers and init containers together, volumes), as the API
    server requires, with ours and the chart's counted; a mount names a volume of the pod."""
    flavour = ing.flavour
    chart_container = controller_container_name(ing)
    taken: dict[str, str] = {chart_container: "the chart's controller container"}
    for list_key in (flavour.init_containers, flavour.containers):
        for item in ours.get(list_key) or []:
            taken[item["name"]] = "the agent's container"
    taken.setdefault("sigsci-agent", "the agent's container")
    for list_key in (flavour.init_containers, flavour.containers):
        for index, item in enumerate(controller.get(list_key) or []):
            name = item["name"]
            if name in taken:
                raise ConfigError(f"{key}.controller.{list_key}[{index}].name",
                                  f"{name!r} is already {taken[name]}'s name in the controller pod; pick another")
            taken[name] = f"controller.{list_key}[{index}]"
    volumes: dict[str, str] = {v: "a volume the chart adds" for v in flavour.chart_volumes}
    volumes.update({v["name"]: "the agent's temp volume" for v in ours.get(flavour.volumes) or []})
    for index, item in enumerate(controller.get(flavour.volumes) or []):
        name = item["name"]
        if name in volumes:
            raise ConfigError(f"{key}.controller.{flavour.volumes}[{index}].name",
                              f"{name!r} is already {volumes[name]}'s name in the controller pod; pick another")
        volumes[name] = f"controller.{flavour.volumes}[{index}]"
    for index, mount in enumerate(controller.get(flavour.volume_mounts) or []):
        if mount["name"] not in volumes:
            raise ConfigError(f"{key}.controller.{flavour.volume_mounts}[{index}].name",
                              f"{mount['name']!r} names no volume of the controller pod; add it to "
                              f"controller.{flavour.volumes}")


def _validate_pod_parts(ing: ResolvedIngress, controller: Mapping[str, Any], key: str) -> None:
    """The chart copies these lists into the controller pod as they are: check them with Kubernetes' own
    schemas (kubernetes-validate, unknown fields refused), as the API server would at install."""
    import kubernetes_validate

    flavour = ing.flavour
    stub = {"name": controller_container_name(ing), "image": "controller",
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


def check_extra_values(ing: ResolvedIngress, ours: Mapping[str, Any]) -> None:
    """Refused, naming the key: overlap with a value we set (`ours`); a value that would stop inspection (a
    guarded value of the flavour); text that configures the module itself; and, where the chart runs values
    through Helm's `tpl`, template expressions, whose output could not be checked."""
    extra = ing.spec.extra_values
    key = ing.field_key("extraValues")
    our_leaves = list(_leaves(ours))
    _check_maps(ing, extra, iter(our_leaves), key)
    for path in _leaves(extra):
        for mine in our_leaves:
            if path[:len(mine)] == mine or mine[:len(path)] == path:
                raise ConfigError(f"{key}.{'.'.join(path)}", _collision(ing, mine))
        reason = guard_reason(ing, path)
        if reason is not None:
            raise ConfigError(f"{key}.{'.'.join(path)}", f"cannot be set: it {reason}")
    _check_pod_lists(ing, ours, key)
    for path, text in _strings(extra):
        if _MODULE_TEXT.search(text):
            raise ConfigError(f"{key}.{'.'.join(path)}", "configures the Fastly module, which only the "
                                                         "snippets sigsci:ingress writes may do")
        if ing.flavour.sets_controller_value and "{{" in text:
            raise ConfigError(f"{key}.{'.'.join(path)}", "contains '{{': the ingress-nginx chart evaluates some "
                                                         "values as Helm templates, so what nginx would get "
                                                         "cannot be checked; write the value out")
