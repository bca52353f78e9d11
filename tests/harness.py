"""Run Pulumi programs under mocks and capture what the engine would receive.

Tests assert on the captured inputs, never inside `.apply()`: a callback on an
output the mocks never resolve does not run, and its assertion would pass unseen.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_MARKER = "__secret__"


@dataclass
class Captured:
    type: str
    name: str
    inputs: dict
    parent: str | None = None
    read: bool = False  # looked up with `.get`, not declared

    @property
    def is_object(self) -> bool:
        """A Kubernetes object the program declares (not a Helm release, not a read of a live object)."""
        return self.type.startswith("kubernetes:") and not self.type.startswith("kubernetes:helm.sh") \
            and not self.read


# What the cluster would report for the objects the program reads back.
LOAD_BALANCER_IP = "203.0.113.10"


class CaptureMocks(pulumi.runtime.Mocks):
    def __init__(self, live: dict[str, dict] | None = None) -> None:
        self.resources: list[Captured] = []
        # What the cluster holds for objects the program reads, by id (namespace/name).
        self.live = live or {}
        # Resource options as the engine receives them, by resource name.
        self.options: dict[str, dict] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        read = bool(args.resource_id)
        self.resources.append(Captured(args.typ, args.name, args.inputs, read=read))
        state = dict(args.inputs)
        if args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"name": args.inputs.get("name"), "namespace": args.inputs.get("namespace"),
                               "status": "deployed"}
        if args.typ == "random:index/randomId:RandomId":
            # pulumi-random draws a new value whenever the keepers change (a replacement); the mock stands in
            # with a value that is a function of the keepers, so a changed keeper gives a changed value.
            import hashlib

            drawn = hashlib.sha256(json.dumps(args.inputs.get("keepers"), sort_keys=True).encode()).hexdigest()
            state["hex"] = drawn[: 2 * int(args.inputs.get("byteLength", 8))]
        if read and args.resource_id in self.live:
            state.update(self.live[args.resource_id])
        if read and args.typ == "kubernetes:core/v1:Service":
            state["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
        return args.resource_id or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        if args.token == "kubernetes:helm:template":
            return self.helm_template(args.args)
        return {}

    # What the provider's Helm template call renders from the cluster's discovery for the chart injection reads
    # the cluster with (a 1.36 cluster by default); a test sets another cluster, or None for an unreachable one.
    cluster: dict[str, str] | None = None

    def helm_template(self, args: dict) -> dict:
        from sigsci_waf.injection.capabilities import CHART

        opts = json.loads(args["jsonOpts"])
        assert (opts["path"], opts["chart"]) == (str(CHART.parent), CHART.name), opts
        return {"result": [render_capabilities(self.cluster if self.cluster is not None else CLUSTER_1_36)]}


# The server's version and the kinds its discovery lists, as the provider hands them to Helm (`kind` names as
# `group/version/Kind`, the core group as `v1/Kind`); an unreachable cluster gives Helm's defaults: its own
# version and only group/versions, no kinds.
CLUSTER_1_36 = {"version": "v1.36.1", "kinds": ("v1/Pod", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
                                                "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy")}
CLUSTER_1_35 = {"version": "v1.35.4", "kinds": ("v1/Pod", "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy")}
UNREACHABLE = {"version": None, "kinds": ()}


def render_capabilities(cluster: dict) -> dict:
    """The capabilities chart rendered by Helm itself (the `helm` of requirements-dev.txt, `helm template`) as the
    provider renders it for `cluster`: its discovery as `--kube-version` and `--api-versions`, or, unreachable,
    Helm's own defaults. Cached per cluster; a copy each time."""
    import copy

    return copy.deepcopy(_rendered(cluster["version"], tuple(cluster["kinds"])))


@functools.lru_cache(maxsize=None)
def _rendered(version: str | None, kinds: tuple[str, ...]) -> dict:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml
    from sigsci_waf.injection.capabilities import CHART

    helm = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")
    assert helm, "helm is missing: requirements-dev.txt installs it (package helm-binary)"
    command = [helm, "template", "sigsci", str(CHART), "--namespace", "default"]
    command += ["--kube-version", version] if version else []
    for kind in kinds:
        command += ["--api-versions", kind]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (rendered,) = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    return rendered


class CaptureMonitor(pulumi_mocks.MockMonitor):
    """The mock engine, also keeping the options each resource was registered with."""

    def RegisterResource(self, request):
        self.mocks.options[request.name] = {
            "type": request.type,
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "dependsOn": sorted(urn.rsplit("::", 1)[-1] for urn in request.dependencies),
            "beforeDelete": list(request.hooks.before_delete),
            "replaceOnChanges": list(request.replaceOnChanges),
        }
        return super().RegisterResource(request)


def clean(value: Any) -> Any:
    """Mock inputs as plain data: whole floats back to ints, secret wrappers as {'__secret__': value}."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return {SECRET_MARKER: clean(value.get("value"))}
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap_secrets(value: Any) -> Any:
    """The object as the cluster would see it: secret wrappers replaced by their value."""
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return unwrap_secrets(value[SECRET_MARKER])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


@dataclass
class Run:
    resources: list[Captured]
    outputs: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    options: dict[str, dict] = field(default_factory=dict)
    # Stack outputs the engine would store and print as secrets.
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[Captured]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Captured:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, got {[r.name for r in self.resources]}"
        return matches[0]

    def manifests(self, *, patches: bool = True) -> list[dict]:
        """Every Kubernetes object captured, cleaned; patches included unless asked not to."""
        result = []
        for r in self.resources:
            if not r.is_object:
                continue
            if r.type.endswith("Patch") and not patches:
                continue
            result.append(clean(r.inputs))
        return result


def run(program: Callable[[], Any], config: dict[str, Any] | None = None,
        secret_keys: list[str] | None = None, stack: str = "test", mocks: CaptureMocks | None = None) -> Run:
    """Evaluate `program` under mocks with `config` (values JSON-encoded as the engine passes them).

    Pass `mocks` to see what was registered even when the program raises.
    """
    mocks = mocks if mocks is not None else CaptureMocks()
    fill_live(config or {}, mocks)
    warnings: list[str] = []
    # A fresh root stack per run: otherwise the outputs of earlier runs in this process leak into this one.
    pulumi.runtime.settings.set_root_resource(None)
    pulumi.runtime.set_mocks(mocks, project="sigsci", stack=stack, preview=True, monitor=CaptureMonitor(mocks))
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (config or {}).items()}
    pulumi.runtime.set_all_config(encoded, secret_keys or [])

    original_warn = pulumi.log.warn

    def capture_warn(msg: str, resource=None, stream_id=None, ephemeral=None):
        warnings.append(msg)

    pulumi.log.warn = capture_warn
    outputs: dict = {}
    secret_outputs: set[str] = set()
    try:
        def body():
            program()
            root = pulumi.runtime.settings.get_root_resource()
            exported = getattr(root, "outputs", {}) or {}

            async def secrecy(key: str, value: Any) -> None:
                if await pulumi.Output.from_input(value).is_secret():
                    secret_outputs.add(key)

            # Resolve the stack outputs explicitly; the test asserts on `outputs` afterwards.
            return pulumi.Output.all(pulumi.Output.from_input(exported).apply(outputs.update),
                                     *[pulumi.Output.from_input(asyncio.ensure_future(secrecy(k, v)))
                                       for k, v in exported.items()])

        pulumi_mocks.test(body)()
    finally:
        pulumi.log.warn = original_warn
        # Outputs that failed after the first error (several resources awaiting one bad Output) are reported
        # by asyncio when collected; collect them now, not while pytest compiles the next test module (where
        # CPython's AST builder fails on the re-entry).
        gc.collect()
    return Run(resources=mocks.resources, outputs=outputs, warnings=warnings, options=mocks.options,
               secret_outputs=secret_outputs)


ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
PLANTED_KEY_ID = "0f6a3c1e-PLANTED-KEY-ID-7d2b9e4a5c3f"
PLANTED_SECRET = "PLANTED_secret_zQ8vX2mK9pL4nR7tW1yB3cD6fG"
KEY_CONFIG = {"sigsci:accessKeyId": PLANTED_KEY_ID, "sigsci:secretAccessKey": PLANTED_SECRET}
SECRET_KEYS = list(KEY_CONFIG)


def stack_names() -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))


def stack_config(stack: str) -> dict[str, Any]:
    """A stack file's config, plus the planted keys where the stack expects them set with --secret."""
    import yaml

    config = dict(yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"])
    if "sigsci:existingSecret" not in config:
        config.update(KEY_CONFIG)
    return config


# The controllers of Gateway API implementations, as their GatewayClasses name them (their own docs).
GATEWAY_CONTROLLERS = {"envoyGateway": "gateway.envoyproxy.io/gatewayclass-controller",
                       "istio": "istio.io/gateway-controller"}


# The classes of the Gateway the stack creates, by implementation (docs/configuration.md's gatewayClass).
GATEWAY_CLASSES = {"envoyGateway": "sigsci-envoy", "istio": "istio"}


def existing_gateway(namespace: str, name: str, controller: str, gateway_class: str = "existing-class",
                     addresses: list | None = None) -> dict[str, dict]:
    """The live objects a cluster holds for an existing Gateway and its class, by the ids the program reads."""
    spec: dict[str, Any] = {"gatewayClassName": gateway_class, "listeners": [{"name": "http", "port": 80,
                                                                              "protocol": "HTTP"}]}
    if addresses is not None:
        spec["addresses"] = addresses
    return {f"{namespace}/{name}": {"spec": spec}, gateway_class: {"spec": {"controllerName": controller}}}


def run_config(config: dict[str, Any], stack: str = "test", mocks: CaptureMocks | None = None,
               secret_keys: list[str] | None = None) -> Run:
    """The stack program on `config`, with `secret_keys` set with --secret (by default the agent keys it has). A
    Gateway the config names as existing is, unless `mocks` says otherwise, one the cluster runs with the
    implementation's controller."""
    from sigsci_waf.program import main

    mocks = mocks or CaptureMocks()
    gateway = config.get("sigsci:gateway")
    existing = gateway.get("existingGateway") if isinstance(gateway, dict) else None
    if isinstance(existing, dict) and isinstance(existing.get("namespace"), str) and \
            isinstance(existing.get("name"), str) and f"{existing['namespace']}/{existing['name']}" not in mocks.live:
        controller = GATEWAY_CONTROLLERS.get(gateway.get("implementation", "envoyGateway"), "unknown")
        mocks.live.update(existing_gateway(existing["namespace"], existing["name"], controller))
    elif isinstance(gateway, dict) and existing is None:
        # The class of a Gateway the stack creates, where the stack reads it rather than creating it (Istio's, or
        # one Envoy Gateway already serves): the implementation's.
        implementation = gateway.get("implementation", "envoyGateway")
        name = gateway.get("gatewayClass", GATEWAY_CLASSES.get(implementation))
        if isinstance(name, str) and name not in mocks.live:
            mocks.live[name] = {"spec": {"controllerName": GATEWAY_CONTROLLERS.get(implementation, "unknown")}}
    keys = secret_keys if secret_keys is not None else [k for k in SECRET_KEYS if k in config]
    return run(main, config, keys, stack=stack, mocks=mocks)


def fill_live(config: dict[str, Any], mocks: CaptureMocks) -> None:
    """What the cluster holds for the objects the stack's apps patch, unless `mocks` says otherwise: a module's
    existing Deployment with the app container, running as the user the agent will run as; a patched app's
    Service and Deployment as its config describes them."""
    apps = config.get("sigsci:apps")
    filled: dict[str, dict] = {}

    def put(live_id: str, state: dict) -> None:
        """A state for a read of `live_id`, unless the test gave one; the mocks answer reads by id, so objects of
        one name (a Service and a Deployment, of one app or of two) share a state holding both specs."""
        if live_id in mocks.live and live_id not in filled:
            return
        merged = {"spec": {**filled.get(live_id, {}).get("spec", {}), **state["spec"]}}
        filled[live_id] = mocks.live[live_id] = merged

    for app in apps if isinstance(apps, list) else []:
        if not isinstance(app, dict) or not isinstance(app.get("deployment"), str):
            continue
        namespace = app.get("namespace", "default")
        if not isinstance(namespace, str):
            continue
        if app.get("placement") == "module":
            put(f"{namespace}/{app['deployment']}", existing_deployment(app.get("container") or app.get("name")))
        elif app.get("placement") == "patch" and isinstance(app.get("service"), str):
            put(f"{namespace}/{app['service']}", patched_service(app))
            # The app's container port, by the name ownerTargetPort gives it (if a name).
            target = app.get("ownerTargetPort")
            put(f"{namespace}/{app['deployment']}", existing_deployment(
                "app", labels={"app": app["deployment"]}, port=app.get("port"),
                port_name=target if isinstance(target, str) and not target.isdigit() else "http"))
    for app in apps if isinstance(apps, list) else []:
        # placement service: the app's own Service the agents proxy to, selecting the app's pods.
        if isinstance(app, dict) and app.get("placement") == "service" and isinstance(app.get("upstreamService"), str) \
                and isinstance(app.get("namespace", "default"), str):
            live_id, port = f"{app.get('namespace', 'default')}/{app['upstreamService']}", app.get("port")
            if live_id not in filled:
                put(live_id, {"spec": {"selector": {"app": app["upstreamService"]}, "ports": [
                    {"name": f"up-{port}", "port": port, "protocol": "TCP", "targetPort": port}]}})
            elif port not in [p.get("port") for p in filled[live_id]["spec"].get("ports", [])]:
                # A Service another app reads too (patched, or proxied to on another port): one more port, to a
                # container port by a name of its own, so it leads to none of the other app's ports.
                filled[live_id]["spec"].setdefault("selector", {"app": app["upstreamService"]})
                filled[live_id]["spec"]["ports"] = [*filled[live_id]["spec"].get("ports", []), {
                    "name": f"up-{port}", "port": port, "protocol": "TCP", "targetPort": f"up-{port}"}]


def existing_deployment(*containers: Any, run_as_user: int | None = None, labels: dict | None = None,
                        port: Any = None, port_name: str = "http") -> dict[str, dict]:
    """What the cluster holds for an existing Deployment with these containers (by name), as a read returns it:
    pods labelled `labels`, the first container declaring `port` (named `port_name`)."""
    pod: dict[str, Any] = {"containers": [{"name": name, "image": "registry.example.com/app:1"}
                                          for name in containers]}
    if isinstance(port, int) and not isinstance(port, bool):
        pod["containers"][0]["ports"] = [{"containerPort": port, "protocol": "TCP", "name": port_name}]
    if run_as_user is not None:
        pod["securityContext"] = {"runAsUser": run_as_user}
    return {"spec": {"template": {"metadata": {"labels": dict(labels or {})}, "spec": pod}}}


def patched_service(app: dict) -> dict[str, dict]:
    """The existing Service of a patched app as its config describes it, before the patch: its port clients use,
    targeting the owner's targetPort, selecting the Deployment's pods (labelled app=<deployment>)."""
    port = app.get("servicePort", app.get("port"))
    target = app.get("ownerTargetPort", app.get("port"))
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    return {"spec": {"selector": {"app": app["deployment"]},
                     "ports": [{"name": "http", "port": port, "protocol": "TCP", "targetPort": target}]}}


def run_stack(stack: str) -> Run:
    return run_config(stack_config(stack), stack=stack)


RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def env_of(container: dict) -> dict:
    """A container's environment by name: the value, or the valueFrom reference."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def release_flavour(inputs: dict):
    """The flavour whose chart a captured Helm release installs."""
    from sigsci_waf.ingress.flavours import FLAVOURS

    chart = inputs["chart"].rsplit("/", 1)[-1]
    return next((f for f in FLAVOURS.values() if f.chart == chart), None)


def ingress_releases(run: Run) -> list[Captured]:
    """The Helm releases of ingress controllers (not Envoy Gateway's, whose pods are the chart's own)."""
    return [r for r in run.of_type(RELEASE_TYPE) if release_flavour(clean(r.inputs)) is not None]


def chart_pods(run: Run, *, with_controller: bool) -> list[tuple[str, dict]]:
    """The pod each Helm release would run, as far as our values shape it: the agent containers, the temp
    volume and its mounts. `with_controller` adds a stand-in controller container carrying the mounts and the
    ports the controller listens on, for schema and invariant checks; security scans leave it out, since the
    chart, not us, defines it."""
    pods = []
    for release in ingress_releases(run):
        inputs = unwrap_secrets(clean(release.inputs))
        flavour = release_flavour(inputs)
        controller = inputs["values"]["controller"]
        containers = list(controller.get(flavour.containers, []))
        if with_controller:
            image = controller["image"]
            containers.insert(0, {"name": "controller", "image": f"{image['repository']}:{image['tag']}",
                                  "ports": [{"containerPort": p, "protocol": "TCP"} for p in flavour.controller_ports],
                                  "volumeMounts": controller.get(flavour.volume_mounts, [])})
        spec = {"containers": containers, "volumes": controller.get(flavour.volumes, []),
                "terminationGracePeriodSeconds": controller["terminationGracePeriodSeconds"],
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                    **controller.get("podSecurityContext", {})}}
        init = controller.get(flavour.init_containers, [])
        if with_controller and init:
            spec["initContainers"] = init
        elif init:
            # Scanners read `containers`; a native sidecar is scanned as the container it is.
            spec["containers"] += [{k: v for k, v in c.items() if k != "restartPolicy"} for c in init]
        pods.append((release.name, {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": inputs["name"], "namespace": inputs["namespace"]},
                                    "spec": spec}))
    return pods
