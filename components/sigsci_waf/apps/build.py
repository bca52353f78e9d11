"""Kubernetes objects for an app and its agent, in each placement: the agent as a reverse proxy (owned, patch,
service), or beside the app's Fastly module (module).

Pure functions of a resolved app; the component only turns them into resources.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..agent import workloads
from ..agent.container import (LISTENER_PORT_NAME, AgentParts, RevProxy, Rpc, build_agent, module_link,
                               module_sidecar)
from ..resolve.app import Manifests
from ..agent.workloads import CREDENTIALS_ANNOTATION
from ..config.agent import APP_RESOURCES
from ..config.app import (DEFAULT_NETWORK_POLICY, DEFAULT_READ_ONLY_ROOT, DEFAULT_REPLICAS, DEFAULT_SERVICE_TYPE,
                          DEFAULT_WRITABLE_PATHS)
from ..config.choices import Placement, PullPolicy
from ..config.refs import MODULE_CONTAINER, PATCH_CHECKED, UPSTREAM_SELECTOR, UPSTREAM_TARGET_PORT
from .restore import OWNER_TARGET_PORT_ANNOTATION

if TYPE_CHECKING:
    from ..resolve.app import ResolvedApp

PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"
# On placement patch's patches: the live Service and Deployment were found to be what the patch assumes.
CHECKED_LIVE_ANNOTATION = "sigsci.fastly.com/checked-live"
# On a module's DeploymentPatch: the app container found in the live Deployment (the check passed).
CHECKED_CONTAINER_ANNOTATION = "sigsci.fastly.com/module-container"


def agent_pod_labels(app: ResolvedApp) -> dict[str, str]:
    """The labels of the pods placement service runs its agents in (an upstream Service must not select them)."""
    return {**_labels(app), **workloads.PART_OF}


def _labels(app: ResolvedApp) -> dict[str, str]:
    if app.spec.placement == Placement.SERVICE:
        # The component tells these agents from the ingress controller's agents of a release of the same name.
        return {"app.kubernetes.io/name": "sigsci-agent", "app.kubernetes.io/instance": app.spec.name,
                "app.kubernetes.io/component": "reverse-proxy"}
    return {"app.kubernetes.io/name": app.spec.name}


def _agent(app: ResolvedApp, secret_name: str, upstream: str) -> AgentParts:
    listener = app.spec.effective_listener_port()
    assert listener is not None  # every placement but module has a listener
    return build_agent(app.agent, secret_name, RevProxy(listener_port=listener, upstream=upstream),
                       secret=app.secret)


def image_pull_policy(image: str) -> str:
    """Kubernetes' own default, written out so a preview shows it: untagged or latest -> Always."""
    reference = image.split("@", 1)[0]
    tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else None
    if "@" not in image and tag in (None, "latest"):
        return PullPolicy.ALWAYS
    return PullPolicy.IF_NOT_PRESENT


def _writable_volume(index: int) -> str:
    return f"app-writable-{index}"


def app_container(app: ResolvedApp) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The user's container for an app the stack creates (owned, module), with secure defaults, and its
    volumes."""
    spec = app.spec
    writable = spec.writable_paths if spec.writable_paths is not None else list(DEFAULT_WRITABLE_PATHS)
    container: dict[str, Any] = {
        "name": spec.name,
        "image": spec.image,
        "imagePullPolicy": image_pull_policy(spec.image or ""),
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "resources": workloads.container_resources(spec.resources or APP_RESOURCES, APP_RESOURCES),
        "securityContext": workloads.container_security_context(
            spec.effective_run_as_user(),
            DEFAULT_READ_ONLY_ROOT if spec.read_only_root_filesystem is None else spec.read_only_root_filesystem),
    }
    if spec.command is not None:
        container["command"] = list(spec.command)
    if spec.args is not None:
        container["args"] = list(spec.args)
    if spec.env:
        # The app's own variables keep Kubernetes' $(VAR) expansion: it sees only this container's env.
        container["env"] = [{"name": k, "value": spec.env[k]} for k in sorted(spec.env)]
    check = workloads.http_check(spec.health_path, spec.port) if spec.health_path else workloads.tcp_check(spec.port)
    container.update(workloads.health_probes(check))
    lifecycle = workloads.pre_stop_sleep(app.app_pre_stop)
    if lifecycle:
        container["lifecycle"] = lifecycle
    volumes = [{"name": _writable_volume(i), "emptyDir": {}} for i in range(len(writable))]
    if writable:
        container["volumeMounts"] = [{"name": _writable_volume(i), "mountPath": p} for i, p in enumerate(writable)]
    return container, volumes


def _inspected_port(app: ResolvedApp) -> int:
    """The pods' port that inspects every request: the agent's listener, or with a module the app's own."""
    listener = app.spec.effective_listener_port()
    return app.spec.port if listener is None else listener


def _service(app: ResolvedApp, selector: Mapping[str, str], service_type: str | None) -> dict[str, Any]:
    return workloads.service(app.spec.name, app.spec.namespace, _labels(app), selector,
                             service_type=service_type or DEFAULT_SERVICE_TYPE, port=app.spec.effective_service_port(),
                             target_port=_inspected_port(app))


def _deployment(app: ResolvedApp, containers: list, volumes: list, annotations: dict, labels: dict,
                init_containers: list | None = None) -> dict:
    return workloads.deployment(
        app.spec.name, app.spec.namespace, labels,
        replicas=app.spec.replicas if app.spec.replicas is not None else DEFAULT_REPLICAS,
        grace_period=app.grace_period, containers=containers, volumes=volumes, annotations=annotations,
        init_containers=init_containers)


def _network_policy(app: ResolvedApp, selector: Mapping[str, str]) -> list[dict[str, Any]]:
    """Nothing reaches the app around the WAF: only the port that inspects (the agent's listener, or the
    module's app) admits traffic."""
    if not (DEFAULT_NETWORK_POLICY if app.spec.network_policy is None else app.spec.network_policy):
        return []
    return [workloads.network_policy(app.spec.name, app.spec.namespace, _labels(app), selector,
                                     port=_inspected_port(app))]


def build_owned(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    agent = _agent(app, secret_name, f"http://127.0.0.1:{app.spec.port}")
    container, volumes = app_container(app)
    labels = _labels(app)
    deployment = _deployment(app, [container, agent.container], [*volumes, agent.volume],
                             workloads.pod_annotations(app.spec.name, credentials_hash), labels)
    return Manifests(owned=[deployment, _service(app, labels, app.spec.service_type),
                            *_network_policy(app, labels), *_budget(app, labels)], patches=[],
                     warnings=[*agent.warnings, *_open_pods(app)])


def _open_pods(app: ResolvedApp) -> list[str]:
    """networkPolicy: false, said at preview: nothing keeps traffic off the app's own port."""
    if app.spec.network_policy is not False:
        return []
    return [f"networkPolicy: false: the pods admit traffic on every port, so port {app.spec.port} is reachable at "
            "the pods' own addresses around the WAF" if app.spec.placement == Placement.OWNED else
            "networkPolicy: false: the pods admit traffic on every port, from anywhere"]


def _budget(app: ResolvedApp, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    replicas = app.spec.replicas if app.spec.replicas is not None else DEFAULT_REPLICAS
    return workloads.disruption_budget(app.spec.name, app.spec.namespace, labels, labels, replicas)


def upstream_policy_name(app: ResolvedApp) -> str:
    return f"{app.spec.name}-upstream"


def _upstream_policy(app: ResolvedApp, agents: Mapping[str, str]) -> list[dict[str, Any]]:
    """placement service: the app's own pods (its Service's selector, read from the cluster) admit only the
    agents, on the port their Service sends the agents' requests to; without it the app's Service stays a path
    around the WAF."""
    if not (DEFAULT_NETWORK_POLICY if app.spec.network_policy is None else app.spec.network_policy):
        return []
    policy = workloads.network_policy(upstream_policy_name(app), app.spec.namespace, _labels(app), {},
                                      port=0, peers=[workloads.pod_peer(app.spec.namespace, agents)])
    policy["spec"]["podSelector"]["matchLabels"] = UPSTREAM_SELECTOR
    policy["spec"]["ingress"][0]["ports"][0]["port"] = UPSTREAM_TARGET_PORT
    return [policy]


def build_agent_service(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    upstream = f"http://{app.spec.upstream_service}.{app.spec.namespace}.svc:{app.spec.port}"
    agent = _agent(app, secret_name, upstream)
    labels = _labels(app)
    deployment = _deployment(app, [agent.container], [agent.volume],
                             workloads.pod_annotations(agent.container["name"], credentials_hash), labels)
    warnings = list(agent.warnings)
    if app.spec.network_policy is False:
        warnings.append(f"networkPolicy: false: the agents' pods admit traffic on every port, and the app's pods "
                        f"(behind Service {app.spec.namespace}/{app.spec.upstream_service}) stay reachable around "
                        "the WAF, through that Service or at their own addresses")
    return Manifests(owned=[deployment, _service(app, labels, app.spec.service_type),
                            *_network_policy(app, labels), *_upstream_policy(app, labels), *_budget(app, labels)],
                     patches=[], warnings=warnings)


# The pod-template lists server-side apply merges by name: an item a patch adds alone goes whole on its removal.
_MERGED_BY_NAME = frozenset({"containers", "initContainers", "volumes"})


def _deployment_patch(app: ResolvedApp, pod: dict[str, list[dict[str, Any]]], annotations: dict[str, Any],
                      credentials_hash: Any | None) -> dict[str, Any]:
    """A DeploymentPatch of these pod-template additions to the app's existing Deployment.

    It carries only new name-keyed list items and map keys, never forced: the patch's field manager owns each
    alone, so deleting the patch removes exactly them and takes no field from the Deployment's owner.
    `annotations` hold the patch back until the live Deployment was checked."""
    assert set(pod) <= _MERGED_BY_NAME, f"a DeploymentPatch adds only items merged by name, not {sorted(pod)}"
    template: dict[str, Any] = {"spec": pod}
    if credentials_hash is not None:
        template["metadata"] = {"annotations": {CREDENTIALS_ANNOTATION: credentials_hash}}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app.spec.deployment, "namespace": app.spec.namespace, "annotations": annotations},
            "spec": {"template": template}}


def build_patch(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    """Only what the agent adds to someone else's Deployment and Service, following server-side apply.

    The Deployment patch only adds the agent container, its temp volume and a pod annotation
    (`_deployment_patch`); the grace period stays the owner's: the agent's preStop sleep runs within it.

    The Service patch takes one field, the port's targetPort, with force (the user opts in by naming it in
    `takeOver`). It targets the agent's port by name, so while a listener port change rolls out every pod
    is reached on the port it really has. The owner's value is recorded on the patch: before the patch is
    deleted, a hook gives it back (see restore.py).
    """
    agent = _agent(app, secret_name, f"http://127.0.0.1:{app.spec.port}")
    deployment_patch = _deployment_patch(app, {"containers": [agent.container], "volumes": [agent.volume]},
                                         {CHECKED_LIVE_ANNOTATION: PATCH_CHECKED}, credentials_hash)
    service_patch = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app.spec.service, "namespace": app.spec.namespace,
                     "annotations": {PATCH_FORCE_ANNOTATION: "true",
                                     OWNER_TARGET_PORT_ANNOTATION: str(app.spec.effective_owner_target_port()),
                                     CHECKED_LIVE_ANNOTATION: PATCH_CHECKED}},
        "spec": {"ports": [{"port": app.spec.effective_service_port(), "protocol": "TCP",
                            "targetPort": LISTENER_PORT_NAME}]},
    }
    return Manifests(owned=[], patches=[deployment_patch, service_patch], warnings=[
        *agent.warnings,
        f"takes targetPort of port {app.spec.effective_service_port()} of Service {app.spec.namespace}/"
        f"{app.spec.service} from its owner (takeOver) and points it at the agent; removing the app gives "
        f"{app.spec.effective_owner_target_port()!r} back. The owner's next deploy may put its own value back "
        "around the WAF: see docs/patched-apps.md on handing over the field. The pods stay reachable on port "
        f"{app.spec.port} at their own addresses: the patch adds no NetworkPolicy to the owner's pods (see "
        "docs/patched-apps.md, Paths around the agent)"])


def module_mode(app: ResolvedApp) -> Rpc:
    """Where the agent listens for the app's module: the socket, or a localhost port (`rpcPort`)."""
    return Rpc(tcp_port=app.spec.rpc_port, local=True)


def module_agent(app: ResolvedApp, secret_name: str) -> AgentParts:
    return module_sidecar(app.agent, secret_name, module_mode(app), app.spec.effective_run_as_user(),
                          secret=app.secret)


def build_module(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    """The app with its module and the agent beside it: in a Deployment the stack creates, or added to an
    existing one (`deployment`) the way placement patch adds its agent (server-side apply, only new list items
    and keys, nothing taken: the owner's Service keeps targeting the app)."""
    agent = module_agent(app, secret_name)
    link = module_link(app.agent, module_mode(app), app.spec.effective_rpc_address_env())
    if not app.spec.creates_deployment:
        patch = _deployment_patch(app, {"initContainers": [agent.container], "volumes": [agent.volume],
                                        "containers": [{"name": app.spec.effective_container(), **link}]},
                                  {CHECKED_CONTAINER_ANNOTATION: MODULE_CONTAINER}, credentials_hash)
        return Manifests(owned=[], patches=[patch], warnings=agent.warnings)
    container, volumes = app_container(app)
    container["env"] = [*container.get("env", []), *link["env"]]
    if "volumeMounts" in link:
        container["volumeMounts"] = [*container.get("volumeMounts", []), *link["volumeMounts"]]
    labels = _labels(app)
    deployment = _deployment(app, [container], [*volumes, agent.volume],
                             workloads.pod_annotations(app.spec.name, credentials_hash), labels,
                             init_containers=[agent.container])
    return Manifests(owned=[deployment, _service(app, labels, app.spec.service_type),
                            *_network_policy(app, labels), *_budget(app, labels)], patches=[],
                     warnings=[*agent.warnings, *_open_pods(app)])


BUILDERS = {Placement.OWNED: build_owned, Placement.SERVICE: build_agent_service, Placement.PATCH: build_patch,
            Placement.MODULE: build_module}


def build_app(app: ResolvedApp, secret_name: str, credentials_hash: Any | None = None) -> Manifests:
    return BUILDERS[app.spec.placement](app, secret_name, credentials_hash)
