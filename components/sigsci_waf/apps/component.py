"""SigsciRevProxyApp: one app behind the agent as a reverse proxy, or with its Fastly module beside an agent
sidecar, in the placement the team needs."""

from dataclasses import replace
from typing import Any, Optional, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..config.agent import AgentSettings
from ..config.args import AgentArgs, ResourcesArgs, plain_values
from ..config.choices import Placement, ServiceType, TakeOver
from ..config.app import AppSpec
from ..config.errors import ConfigError, check_call, report_once
from ..config.refs import (MODULE_CONTAINER, PATCH_CHECKED, ROTATION, SECRET_NAME, UPSTREAM_SELECTOR,
                           UPSTREAM_TARGET_PORT)
from ..declare import declare, registered
from ..resolve.app import Manifests, ResolvedApp, resolve_app
from ..resolve.deferred import Deferred, defer, field_check
from ..resolve.secret import NOT_SETTINGS, check_namespace_reached, check_secret_name, namespace_check
from ..declare import field_of
from .live import (bypass_problems, module_container_problem, patch_problems, target_port_owners, upstream_problem,
                   upstream_target)
from .build import upstream_policy_name
from .restore import OWNER_TARGET_PORT_ANNOTATION
from .restore import restore_hook

class SigsciRevProxyAppArgs(TypedDict, total=False):
    """The same keys as one `sigsci:apps` entry in stack config, in snake_case."""

    secret_name: Required[pulumi.Input[str]]
    """Name of the Secret holding the agent keys (`SigsciSecret.secret_name`, or another resource's output)."""
    credentials_hash: Optional[pulumi.Input[str]]
    """`SigsciSecret.credentials_hash`: put on the pod template so key rotation rolls the pods."""
    name: str
    """App name (DNS-1035 label); names the Deployment and Service. Default: the resource name."""
    port: Required[int]
    """The app's own port: the upstream the agent proxies to."""
    namespace: pulumi.Input[str]
    """Namespace of the app (it must exist; the component does not create it). May be another resource's output
    (a Namespace's name): checked when known. Default: `default`."""
    placement: Placement
    """`owned` creates the app's Deployment and Service; `patch` adds the agent to existing ones;
    `service` runs the agents as their own Deployment and Service in front of the app's Service; `module` runs
    the agent as a sidecar of an app whose image carries a Fastly module (a Deployment the component creates, or
    an existing one given by `deployment`). Default: `owned`."""
    listener_port: int
    """owned, patch, service: the agent's listener port (>= 1024). Default: `8001`."""
    service_port: int
    """The Service's port clients use. Default: `port`."""
    agent: AgentArgs
    """Agent settings (repository, version, resources, options, ...), over the defaults."""
    image: pulumi.Input[str]
    """owned, module: the app's image. Required there (module: unless `deployment` is given). May be another
    resource's output (a built image): checked when known."""
    args: list[str]
    """owned, module: the app container's args."""
    command: list[str]
    """owned, module: the app container's command."""
    env: dict[str, str]
    """owned, module: the app container's environment."""
    resources: ResourcesArgs
    """owned, module: the app container's requests and limits. Default: requests `100m`/`128Mi`, limits
    `500m`/`256Mi`."""
    health_path: str
    """owned, module: HTTP path for readiness and liveness probes; without it a TCP readiness probe is used."""
    read_only_root_filesystem: bool
    """owned, module: a read-only root file system; false for apps that must write outside `writable_paths`.
    Default: `true`."""
    writable_paths: list[str]
    """owned, module: paths that get a writable emptyDir. Default: `["/tmp"]`."""
    run_as_user: int
    """owned, module: UID (and GID) of the app container; a module's agent runs as it too, so the socket is the
    app's. Default: `10001`."""
    pre_stop_sleep_seconds: int
    """owned, module: the app's preStop sleep; for owned at least the agent's. Default: owned: 0 without an agent
    drain, else the agent's + 5; module: the agent's."""
    replicas: int
    """owned, service, module: replica count. Default: `2`."""
    service_type: ServiceType
    """owned, service, module: the Service's type. Default: `ClusterIP`."""
    network_policy: bool
    """owned, service, module: admit traffic to the pods only on the port that inspects it (the agent's listener;
    for module the app's port). Default: `true`."""
    termination_grace_period_seconds: int
    """owned, service, module: pod grace period; must exceed the longest preStop sleep. Default: the longest
    preStop sleep + 15."""
    deployment: str
    """patch: name of the existing Deployment. Required there. module: an existing Deployment to add the agent
    to, instead of creating one."""
    service: str
    """patch: name of the existing Service whose targetPort moves to the agent. Required there."""
    take_over: list[TakeOver]
    """patch: the fields taken from their owner, by name; must be `["service.targetPort"]` (the Service port's
    targetPort moves to the agent and is given back on removal)."""
    owner_target_port: str
    """patch: the Service port's targetPort as its owner set it (a port number, as digits, or a port name),
    given back when the WAF is removed. Default: `port`."""
    upstream_service: str
    """service: name of the app's existing Service. Required there."""
    container: str
    """module with `deployment`: the app's container in the existing Deployment (the one with the module).
    Default: `name`."""
    rpc_address_env: str
    """module: the app container's variable that says where the agent listens (the socket's path, or
    `127.0.0.1:<rpcPort>`). Default: `SIGSCI_RPC_ADDRESS`."""
    rpc_port: int
    """module: the agent listens for the module on this localhost TCP port (>= 1024) instead of a Unix socket,
    for modules that only speak TCP."""


def _suffix(kind: str, patch: bool) -> str:
    return kind.lower() + ("-patch" if patch else "")


_TYPE = "sigsci:index:SigsciRevProxyApp"
# What a component keeps of its app's built objects once it has declared them.
_DECLARED = Manifests([], [], [])


class SigsciRevProxyApp(pulumi.ComponentResource):
    """An app protected by the agent: a reverse-proxy sidecar (or agent Service), or an agent sidecar serving the
    app's Fastly module."""

    service_name: Optional[str]
    """The Service clients use: the app's own when patched, else the one named after the app; none for a module
    in an existing Deployment (its owner's Service leads to the module)."""
    namespace: str
    """Namespace of the app."""

    def __init__(self, name: str, args: SigsciRevProxyAppArgs, opts: Optional[pulumi.ResourceOptions] = None):
        prefix = check_call("SigsciRevProxyApp", name, args, opts, SigsciRevProxyAppArgs)
        secret_name = check_secret_name(args.get("secret_name"), f"{prefix}.secret_name")
        credentials_hash = args.get("credentials_hash")
        raw, deferred = defer({k: v for k, v in args.items() if k not in NOT_SETTINGS}, ("image", "namespace"),
                              prefix, {"image": field_check(AppSpec, "image"),
                                       "namespace": namespace_check(AppSpec, secret_name, prefix)})
        resolved = resolve_app({"name": name, **plain_values(raw)}, AgentSettings(), prefix, snake=True,
                               rotation=credentials_hash is not None)
        check_namespace_reached(secret_name, resolved.spec.namespace, args, prefix, deferred)
        super().__init__(_TYPE, name, None, opts)
        self._declare(name, prefix, resolved, secret_name, credentials_hash, opts, deferred)

    @classmethod
    def from_resolved(cls, name: str, app: ResolvedApp, secret_name: Any, credentials_hash: Any = None,
                      opts: Optional[pulumi.ResourceOptions] = None) -> "SigsciRevProxyApp":
        """The component for an app the resolve stage has already checked and built (the stack program's way
        in: errors then name the stack config keys). `credentials_hash` must be given when the app was
        resolved with `rotation`."""
        self = registered(cls, _TYPE, name, opts)
        self._declare(name, f"SigsciRevProxyApp '{name}'", app, secret_name, credentials_hash, opts)
        return self

    def _declare(self, name: str, prefix: str, app: ResolvedApp, secret_name: Any, credentials_hash: Any,
                 opts: Optional[pulumi.ResourceOptions], deferred: Deferred = Deferred()) -> None:
        # Routes name the app by what it is (entry.py), not by its built objects: those are the resources'
        # inputs from here on, and go once the engine has them (a stack of hundreds of apps, BENCHMARKS.md).
        self.resolved = replace(app, manifests=_DECLARED)
        bindings = {SECRET_NAME: secret_name, ROTATION: credentials_hash}
        if app.spec.placement == Placement.MODULE and not app.spec.creates_deployment:
            bindings[MODULE_CONTAINER] = self._check_live_deployment(name, app, deferred, opts)
        if app.spec.placement == Placement.PATCH:
            bindings[PATCH_CHECKED] = self._watch_live_patch(name, prefix, app, deferred)
        if app.spec.placement == Placement.SERVICE:
            bindings[UPSTREAM_SELECTOR], bindings[UPSTREAM_TARGET_PORT] = self._check_upstream(name, app, deferred,
                                                                                               opts)
        manifests = app.manifests if not deferred else Manifests(
            owned=deferred.substitute(app.manifests.owned), patches=deferred.substitute(app.manifests.patches),
            warnings=[deferred.shown(w) for w in app.manifests.warnings])
        depends_on = opts.depends_on if opts is not None else None
        child_opts = pulumi.ResourceOptions(parent=self, depends_on=depends_on)
        for obj in manifests.owned:
            # Objects named after the app, and the policy on the app's own pods (placement service) beside them.
            extra = "-upstream" if obj["metadata"].get("name") == upstream_policy_name(app) else ""
            declare(f"{name}-{_suffix(obj['kind'], False)}{extra}", obj, child_opts, bindings)
        # Patches in order: the agents are rolled out and ready before the Service sends traffic to them, and
        # the Service is given back (its hook) and released before the agents go.
        earlier: list[pulumi.Resource] = []
        for obj in manifests.patches:
            service = obj["kind"] == "Service"
            hooks = pulumi.ResourceHookBinding(before_delete=[restore_hook()]) if service else None
            # Another port is another field: the old port's patch goes first (its hook gives that port's
            # targetPort back), then the new one takes the new port's. Updated in place, server-side apply would
            # release the old port's field to the API server's default, and nothing would give it back.
            ordered = pulumi.ResourceOptions.merge(child_opts, pulumi.ResourceOptions(
                depends_on=list(earlier), hooks=hooks, replace_on_changes=["spec.ports"] if service else None,
                delete_before_replace=service or None))
            earlier.append(declare(f"{name}-{_suffix(obj['kind'], True)}", obj, ordered, bindings, patch=True))
        for warning in manifests.warnings:
            pulumi.log.warn(f"{prefix}: {warning}", resource=self)
        self.namespace = deferred.value("namespace", app.spec.namespace)
        self.service_name = app.service_name
        self.register_outputs({"serviceName": self.service_name, "namespace": self.namespace,
                               "placement": app.spec.placement})

    def _check_live_deployment(self, name: str, app: ResolvedApp, deferred: Deferred,
                               opts: Optional[pulumi.ResourceOptions]) -> pulumi.Output[str]:
        """Read the existing Deployment every preview: the app container must be there (and run as the agent's
        user, for the socket). The patch carries the checked container's name, so it waits for the check."""
        spec = app.spec
        read = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts is not None else None)
        live = k8s.apps.v1.Deployment.get(f"{name}-deployment-live",
                                          deferred.substitute(f"{spec.namespace}/{spec.deployment}"), opts=read)
        container = spec.effective_container()
        where = deferred.shown(f"Deployment {spec.namespace}/{spec.deployment}")

        def check(live_spec: Any) -> str:
            found = module_container_problem(live_spec, app)
            if found is not None:
                field, problem = found
                # The container's name defaults to the app's: the key to change is the one given.
                field = "name" if field == "container" and spec.container is None else field
                raise ConfigError(app.field_key(field), f"{where} {problem}")
            return container

        report_once()
        return live.spec.apply(check)

    def _watch_live_patch(self, name: str, prefix: str, app: ResolvedApp, deferred: Deferred) -> pulumi.Output[str]:
        """Read the patched Service and Deployment as they are in the cluster, every preview. What the patch
        assumes of them is checked before either patch is applied (both carry the result); and when the
        Service's owner has put its own targetPort back (around the WAF), the preview says so, and the policy
        pack sees it."""
        spec = app.spec
        read = pulumi.ResourceOptions(parent=self)
        live = k8s.core.v1.Service.get(f"{name}-service-live", deferred.substitute(f"{spec.namespace}/{spec.service}"),
                                       opts=read)
        live_deployment = k8s.apps.v1.Deployment.get(
            f"{name}-deployment-live", deferred.substitute(f"{spec.namespace}/{spec.deployment}"), opts=read)

        where = deferred.shown(f"{prefix}: Service {spec.namespace}/{spec.service}")
        port = spec.effective_service_port()

        def check_targets(state: list) -> None:
            service_spec, metadata = state
            annotations = (field_of(metadata, "annotations", "annotations") if metadata else None) or {}
            # The annotation is the Service patch's own: the patch was applied, and its port taken since.
            for problem in bypass_problems(service_spec, port, OWNER_TARGET_PORT_ANNOTATION in annotations):
                pulumi.log.warn(f"{where} {problem}", resource=self)

        def name_owners(metadata: Any) -> None:
            managed = field_of(metadata, "managedFields", "managed_fields") if metadata else None
            owners = [o for o in target_port_owners(managed, port) if not o.startswith(("pulumi-kubernetes",
                                                                                         "sigsci-waf"))]
            if owners:
                pulumi.log.warn(f"{where}: the patch takes targetPort of port {port} from {', '.join(owners)} "
                                "(takeOver)", resource=self)

        def check(specs: list) -> str:
            problems = patch_problems(specs[0], specs[1], app)
            if problems:
                field, problem = problems[0]
                raise ConfigError(app.field_key(field), deferred.shown(problem))
            return f"{spec.service}:{port} {spec.deployment}"

        # Each on its own: an output a read does not return would hold the other back.
        pulumi.Output.all(live.spec, live.metadata).apply(check_targets)
        live.metadata.apply(name_owners)
        report_once()
        return pulumi.Output.all(live.spec, live_deployment.spec).apply(check)

    def _check_upstream(self, name: str, app: ResolvedApp, deferred: Deferred,
                        opts: Optional[pulumi.ResourceOptions]) -> tuple[pulumi.Output, pulumi.Output]:
        """placement service: read the app's own Service every preview. The agents proxy to its port `port`, and
        the NetworkPolicy that keeps everyone else off the app's pods takes its selector and that port's
        targetPort; both wait for the check."""
        spec = app.spec
        read = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts is not None else None)
        live = k8s.core.v1.Service.get(f"{name}-upstream-live",
                                       deferred.substitute(f"{spec.namespace}/{spec.upstream_service}"), opts=read)
        where = deferred.shown(f"Service {spec.namespace}/{spec.upstream_service}")

        def check(live_spec: Any) -> tuple[Any, Any]:
            found = upstream_problem(live_spec, app)
            if found is not None:
                raise ConfigError(app.field_key(found[0]), f"{where} {found[1]}")
            return upstream_target(live_spec, app)

        report_once()
        checked = live.spec.apply(check)
        return checked.apply(lambda found: found[0]), checked.apply(lambda found: found[1])
