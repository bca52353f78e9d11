"""Kubernetes objects for the agent as a reverse proxy, in its three placements.

Pure functions of a validated `ResolvedApp`; the component only turns them into resources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from . import workloads
from .agent import LISTENER_PORT_NAME, AgentParts, RevProxy, build_agent, container_security_context, pre_stop_sleep
from .errors import ConfigError
from .restore import OWNER_TARGET_PORT_ANNOTATION
from .sensitive import mark
from .schema import APP_RESOURCES, AgentSettings, AppSpec, parse, deep_merge
from .workloads import CREDENTIALS_ANNOTATION

# Seconds the pod gets beyond the longest preStop sleep for the processes to exit after SIGTERM.
SHUTDOWN_MARGIN_SECONDS = 15
# The app keeps serving this much longer than the agent drains, so in-flight proxied requests complete.
APP_OUTLIVES_AGENT_SECONDS = 5
DEFAULT_REPLICAS = 2
PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"


@dataclass(frozen=True)
class ResolvedApp:
    """An app entry with its agent settings merged and every cross-field rule checked."""

    spec: AppSpec
    agent: AgentSettings
    key: str  # where it came from, e.g. "sigsci:apps[0]", for error messages
    # The entry or the shared agent settings came from secret stack config: free-text values stay secret.
    secret: bool = False

    @property
    def service_name(self) -> str:
        """The Service clients use: the app's own when patched, else the one named after the app."""
        return self.spec.service if self.spec.placement == "patch" else self.spec.name  # type: ignore[return-value]

    @property
    def app_pre_stop(self) -> int:
        if self.spec.pre_stop_sleep_seconds is not None:
            return self.spec.pre_stop_sleep_seconds
        return self.agent.pre_stop_sleep_seconds + APP_OUTLIVES_AGENT_SECONDS if self.agent.pre_stop_sleep_seconds else 0

    @property
    def grace_period(self) -> int:
        if self.spec.termination_grace_period_seconds is not None:
            return self.spec.termination_grace_period_seconds
        longest = max(self.agent.pre_stop_sleep_seconds, self.app_pre_stop if self.spec.placement == "owned" else 0)
        return longest + SHUTDOWN_MARGIN_SECONDS


def resolve_app(raw: Mapping[str, Any], shared_agent: Mapping[str, Any], key: str, *,
                snake: bool = False, secret: bool = False) -> ResolvedApp:
    """Validate one app entry (raw config or Python args) together with the shared agent settings."""
    spec: AppSpec = parse(AppSpec, raw, key, snake=snake)
    agent: AgentSettings = parse(AgentSettings, deep_merge(shared_agent, spec.agent), f"{key}.agent", snake=snake)
    resolved = ResolvedApp(spec=spec, agent=agent, key=key, secret=secret)
    _check_cross_rules(resolved, snake)
    return resolved


def _name(field: str, snake: bool) -> str:
    from pydantic.alias_generators import to_snake
    return to_snake(field) if snake else field


def _check_cross_rules(app: ResolvedApp, snake: bool) -> None:
    spec, agent, key = app.spec, app.agent, app.key
    probe = agent.startup_probe
    if probe.enabled:
        taken = {spec.listener_port: _name("listenerPort", snake)}
        if spec.placement in ("owned", "patch"):  # the app's container shares the agent's pod
            taken[spec.port] = "port"
        if probe.port in taken:
            raise ConfigError(f"{key}.agent.{_name('startupProbe', snake)}.port",
                              f"{probe.port} is already used by {taken[probe.port]}; pick another port")
    if (spec.placement == "owned" and spec.pre_stop_sleep_seconds is not None
            and spec.pre_stop_sleep_seconds < agent.pre_stop_sleep_seconds):
        raise ConfigError(f"{key}.{_name('preStopSleepSeconds', snake)}",
                          f"{spec.pre_stop_sleep_seconds} is shorter than the agent's preStop sleep "
                          f"({agent.pre_stop_sleep_seconds}); the app must outlive the agent's drain, "
                          "because the agent proxies to it until the end")
    longest = max(agent.pre_stop_sleep_seconds, app.app_pre_stop if spec.placement == "owned" else 0)
    if spec.termination_grace_period_seconds is not None and spec.termination_grace_period_seconds <= longest:
        raise ConfigError(f"{key}.{_name('terminationGracePeriodSeconds', snake)}",
                          f"{spec.termination_grace_period_seconds} must be greater than the longest preStop "
                          f"sleep ({longest} s), or Kubernetes kills the containers mid-drain")


def _labels(app: ResolvedApp) -> dict[str, str]:
    if app.spec.placement == "service":
        # The component tells these agents from the ingress controller's agents of a release of the same name.
        return {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": app.spec.name,
                "app.kubernetes.io/component": "reverse-proxy"}
    return {"app.kubernetes.io/name": app.spec.name}


def _agent(app: ResolvedApp, secret_name: str, upstream: str) -> AgentParts:
    return build_agent(app.agent, secret_name, RevProxy(listener_port=app.spec.listener_port, upstream=upstream),
                       secret=app.secret)


def _image_pull_policy(image: str) -> str:
    """Kubernetes' own default, written out so a preview shows it: untagged or latest -> Always."""
    reference = image.split("@", 1)[0]
    tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else None
    if "@" not in image and tag in (None, "latest"):
        return "Always"
    return "IfNotPresent"


def _writable_volume(index: int) -> str:
    return f"app-writable-{index}"


def app_container(app: ResolvedApp) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The user's container for the owned placement, with secure defaults, and its volumes."""
    spec = app.spec
    resources = (spec.resources or APP_RESOURCES).filled(APP_RESOURCES)
    writable = spec.writable_paths if spec.writable_paths is not None else ["/tmp"]
    container: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": _image_pull_policy(spec.image or ""),
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": str(resources.requests.cpu), "memory": str(resources.requests.memory)},
            "limits": {"cpu": str(resources.limits.cpu), "memory": str(resources.limits.memory)},
        },
        "securityContext": container_security_context(
            spec.run_as_user or 10001,
            True if spec.read_only_root_filesystem is None else spec.read_only_root_filesystem),
    }
    if spec.command is not None:
        container["command"] = list(spec.command)
    if spec.args is not None:
        container["args"] = list(spec.args)
    if spec.env:
        # The app's own variables keep Kubernetes' $(VAR) expansion: it sees only this container's env.
        container["env"] = [{"name": k, "value": mark(spec.env[k], app.secret)} for k in sorted(spec.env)]
    if spec.health_path:
        check = {"httpGet": {"path": spec.health_path, "port": spec.port}}
        container["readinessProbe"] = {**check, "periodSeconds": 5, "failureThreshold": 3}
        container["livenessProbe"] = {**check, "periodSeconds": 10, "failureThreshold": 6}
    else:
        container["readinessProbe"] = {"tcpSocket": {"port": spec.port}, "periodSeconds": 5, "failureThreshold": 3}
        container["livenessProbe"] = {"tcpSocket": {"port": spec.port}, "periodSeconds": 10, "failureThreshold": 6}
    lifecycle = pre_stop_sleep(app.app_pre_stop)
    if lifecycle:
        container["lifecycle"] = lifecycle
    volumes = [{"name": _writable_volume(i), "emptyDir": {}} for i in range(len(writable))]
    if writable:
        container["volumeMounts"] = [{"name": _writable_volume(i), "mountPath": p} for i, p in enumerate(writable)]
    return container, volumes


def _service(app: ResolvedApp, selector: Mapping[str, str], service_type: str | None) -> dict[str, Any]:
    return workloads.service(app.spec.name, app.spec.namespace, _labels(app), selector,
                             service_type=service_type or "ClusterIP", port=app.spec.effective_service_port(),
                             target_port=app.spec.listener_port)


def _deployment(app: ResolvedApp, containers: list, volumes: list, annotations: dict, labels: dict) -> dict:
    return workloads.deployment(
        app.spec.name, app.spec.namespace, labels,
        replicas=app.spec.replicas if app.spec.replicas is not None else DEFAULT_REPLICAS,
        grace_period=app.grace_period, containers=containers, volumes=volumes, annotations=annotations)


def _network_policy(app: ResolvedApp, selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Nothing reaches the app around the WAF: only the agent's listener admits traffic."""
    if app.spec.network_policy is False:
        return []
    return [workloads.network_policy(app.spec.name, app.spec.namespace, _labels(app), selector,
                                     port=app.spec.listener_port)]


@dataclass(frozen=True)
class Manifests:
    """What one app placement emits: whole objects it owns, and patches of objects others own."""

    owned: list[dict[str, Any]]
    patches: list[dict[str, Any]]
    warnings: list[str]


def build_owned(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    agent = _agent(app, secret_name, f"http://127.0.0.1:{app.spec.port}")
    container, volumes = app_container(app)
    labels = _labels(app)
    deployment = _deployment(app, [container, agent.container], [*volumes, agent.volume],
                             workloads.pod_annotations(app.spec.name, credentials_hash), labels)
    return Manifests(owned=[deployment, _service(app, labels, app.spec.service_type),
                            *_network_policy(app, labels), *_budget(app, labels)], patches=[],
                     warnings=agent.warnings)


def _budget(app: ResolvedApp, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    replicas = app.spec.replicas if app.spec.replicas is not None else DEFAULT_REPLICAS
    return workloads.disruption_budget(app.spec.name, app.spec.namespace, labels, labels, replicas)


def build_agent_service(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    upstream = f"http://{app.spec.upstream_service}.{app.spec.namespace}.svc:{app.spec.port}"
    agent = _agent(app, secret_name, upstream)
    labels = _labels(app)
    deployment = _deployment(app, [agent.container], [agent.volume],
                             workloads.pod_annotations(agent.container["name"], credentials_hash), labels)
    return Manifests(owned=[deployment, _service(app, labels, app.spec.service_type),
                            *_network_policy(app, labels), *_budget(app, labels)], patches=[],
                     warnings=agent.warnings)


def build_patch(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    """Only what the agent adds to someone else's Deployment and Service, following server-side apply.

    The Deployment patch only adds: the agent container, its temp volume, a pod annotation. Each is a new
    list item or map key that the patch's field manager owns alone, so deleting the patch removes exactly
    them and takes no field from the Deployment's owner (no force; the grace period stays theirs: the
    agent's preStop sleep runs within it).

    The Service patch takes one field, the port's targetPort, with force (the user opts in by naming it in
    `takeOver`). It targets the agent's port by name, so while a listener port change rolls out every pod
    is reached on the port it really has. The owner's value is recorded on the patch: before the patch is
    deleted, a hook gives it back (see restore.py).
    """
    agent = _agent(app, secret_name, f"http://127.0.0.1:{app.spec.port}")
    template: dict[str, Any] = {"spec": {"containers": [agent.container], "volumes": [agent.volume]}}
    if credentials_hash is not None:
        template["metadata"] = {"annotations": {CREDENTIALS_ANNOTATION: credentials_hash}}
    deployment_patch = {"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": app.spec.deployment, "namespace": app.spec.namespace},
                        "spec": {"template": template}}
    service_patch = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app.spec.service, "namespace": app.spec.namespace,
                     "annotations": {PATCH_FORCE_ANNOTATION: "true",
                                     OWNER_TARGET_PORT_ANNOTATION: str(app.spec.effective_owner_target_port())}},
        "spec": {"ports": [{"port": app.spec.effective_service_port(), "protocol": "TCP",
                            "targetPort": LISTENER_PORT_NAME}]},
    }
    return Manifests(owned=[], patches=[deployment_patch, service_patch], warnings=[
        *agent.warnings,
        f"takes targetPort of port {app.spec.effective_service_port()} of Service {app.spec.namespace}/"
        f"{app.spec.service} from its owner (takeOver) and points it at the agent; removing the app gives "
        f"{app.spec.effective_owner_target_port()!r} back. The owner's next deploy may put its own value back "
        "around the WAF: see docs/patched-apps.md on handing over the field"])


def field_of(value: Any, camel: str, snake: str) -> Any:
    """A field of a live object as Pulumi hands it over: an output type (attributes), a plain dict with
    Kubernetes' or Python's spelling; numbers arrive as floats."""
    if isinstance(value, dict):
        found = value.get(camel, value.get(snake))
    else:
        found = getattr(value, snake, None)
    return int(found) if isinstance(found, float) and found.is_integer() else found


def bypass_problems(live_spec: Any, service_port: int) -> list[str]:
    """What is wrong with a patched Service as the cluster has it (its spec, as read): a port clients use
    that does not target the agent went around the WAF (typically the owner's redeploy took the field back)."""
    problems = []
    ports = field_of(live_spec, "ports", "ports") if live_spec else None
    for port in ports or []:
        number, target = field_of(port, "port", "port"), field_of(port, "targetPort", "target_port")
        if number == service_port and target != LISTENER_PORT_NAME:
            problems.append(f"port {number} targets {target!r}, not the agent ({LISTENER_PORT_NAME}): traffic goes "
                            "around the WAF, typically because the owner's last deploy put its own targetPort "
                            "back. `pulumi up` takes it again; docs/patched-apps.md says how the owner hands it over")
    return problems


def target_port_owners(managed_fields: Any, port: int, protocol: str = "TCP") -> list[str]:
    """Who owns a Service port's targetPort, from the live object's metadata.managedFields (`manager
    (operation)`), so the preview can say from whom the patch takes it."""
    key = "k:" + json.dumps({"port": port, "protocol": protocol}, separators=(",", ":"))
    owners = []
    for entry in managed_fields or []:
        fields = field_of(entry, "fieldsV1", "fields_v1") or {}
        ports = (fields.get("f:spec") or {}).get("f:ports") or {}
        if "f:targetPort" in (ports.get(key) or {}):
            owners.append(f"{field_of(entry, 'manager', 'manager')} ({field_of(entry, 'operation', 'operation')})")
    return owners


BUILDERS = {"owned": build_owned, "service": build_agent_service, "patch": build_patch}


def build_app(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    return BUILDERS[app.spec.placement](app, secret_name, credentials_hash)
