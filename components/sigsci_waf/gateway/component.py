"""SigsciGateway: the WAF on Gateway API, with Envoy Gateway sending every request to the agents (ext_proc)."""

from typing import Any, Optional, Required, Sequence, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..apps.component import SigsciRevProxyApp
from ..config.agent import AgentSettings
from ..config.args import (AgentArgs, EnvoyGatewayInstallArgs, ExistingGatewayArgs, IstioArgs, GatewayAgentsArgs,
                           GatewayListenersArgs, GatewayRouteArgs, plain_values)
from ..config.choices import GatewayImplementation
from ..config.gateway import ENVOY_GATEWAY_CHART
from ..config.errors import report_once
from ..config.kube import chart_source
from ..config.refs import GATEWAY_CONTROLLER, ROTATION, SECRET_NAME
from ..declare import declare, read_custom, registered
from ..entry import entry_call
from .build import GATEWAY_API
from .existing import check_class, check_existing, class_of
from ..resolve.deferred import Deferred, refuse_outputs
from ..resolve.gateway import ResolvedGateway, resolve_gateway
from ..resolve.secret import check_namespace_reached


class SigsciGatewayArgs(TypedDict, total=False):
    """The same keys as `sigsci:gateway` in stack config, in snake_case."""

    secret_name: Required[pulumi.Input[str]]
    """Name of the Secret holding the agent keys in `namespace` (`SigsciSecret.secret_name`, or another
    resource's output)."""
    credentials_hash: Optional[pulumi.Input[str]]
    """`SigsciSecret.credentials_hash`: put on the pod template so key rotation rolls the pods."""
    implementation: GatewayImplementation
    """Which Gateway API implementation sends the traffic to the agents. Default: `envoyGateway`."""
    namespace: str
    """The agents' namespace, and the Gateway's when the stack creates it (it must exist; the component does not
    create it). Default: `sigsci-gateway`."""
    create_namespace: bool
    """Stack config only: whether the stack creates `namespace`. Default: `true`."""
    envoy_gateway: EnvoyGatewayInstallArgs
    """Envoy Gateway itself: installed with its Helm chart unless enabled is false (implementation
    envoyGateway only)."""
    istio: IstioArgs
    """What the EnvoyFilter needs to know of the Istio mesh: {cluster_domain} (implementation istio only)."""
    name: str
    """The Gateway the stack creates. Default: `sigsci-gateway`."""
    gateway_class: str
    """The Gateway's class; one the stack does not create (Istio's, or one named with envoy_gateway.enabled false)
    is read at preview and refused unless the implementation's controller serves it. Default: `sigsci-envoy`, which the stack creates for Envoy Gateway; `istio`, Istio's
    own, with implementation istio."""
    existing_gateway: ExistingGatewayArgs
    """An existing Gateway {namespace, name} of the implementation to put the WAF on, instead of creating one; its
    listeners must all be HTTP or HTTPS, and it may admit no ListenerSets (read at preview)."""
    listeners: GatewayListenersArgs
    """The created Gateway's listeners: HTTP, and HTTPS with tls_secrets."""
    agents: GatewayAgentsArgs
    """The agents: {replicas, port, tls}."""
    agent: AgentArgs
    """Agent settings (repository, version, resources, options, ...), over the defaults."""
    body_limit: str
    """Bodies up to this size are buffered and inspected whole (a larger one is refused by Envoy); it sets the
    HTTP/2 stream window too (at least 65535). Default: `1Mi`."""
    message_timeout: str
    """How long Envoy waits for the agent's answer to each message; at least 1 s per MiB of body_limit, at most
    1h. Default: `2s`."""
    inspect_responses: bool
    """Send responses (headers and bodies) to the agent too. Default: `true`."""
    fail_open: bool
    """Pass requests on uninspected while the agents cannot answer (the preview warns). Default: `false`."""
    routes: list[GatewayRouteArgs]
    """HTTPRoutes on the Gateway: {name, host, path, path_type, app | service: {name, port}, namespace}."""
    ingress_routes: bool
    """Stack config only: also serve every route of sigsci:ingress on the Gateway. Default: `false`."""


_TYPE = "sigsci:index:SigsciGateway"


class SigsciGateway(pulumi.ComponentResource):
    """The agents as Envoy's external processor, the policy that sends every request on the Gateway to them,
    the Gateway (or an existing one), its routes, and Envoy Gateway itself."""

    namespace: str
    """The agents' namespace."""
    gateway_namespace: str
    """The Gateway's namespace."""
    gateway_name: str
    """The Gateway the WAF is on: route your HTTPRoutes to it, and every one is inspected."""

    def __init__(self, name: str, args: SigsciGatewayArgs, opts: Optional[pulumi.ResourceOptions] = None,
                 *, apps: Sequence[SigsciRevProxyApp] = ()):
        """`apps`: the apps routes may name with `app` (Python only; other languages route to an app's
        Service by name with `service: {name, port}` and `namespace`)."""
        call = entry_call("SigsciGateway", name, args, opts, SigsciGatewayArgs, apps)
        # Its namespace decides names, grants and an Envoy cluster at preview: every setting is plain.
        refuse_outputs(call.settings, call.prefix)
        resolved = resolve_gateway(plain_values(call.settings), AgentSettings(), call.prefix, call.targets,
                                   snake=True, rotation=call.credentials_hash is not None)
        check_namespace_reached(call.secret_name, resolved.spec.namespace, args, call.prefix, Deferred())
        super().__init__(_TYPE, name, None, opts)
        self._declare(name, call.prefix, resolved, call.secret_name, call.credentials_hash, opts)

    @classmethod
    def from_resolved(cls, name: str, gateway: ResolvedGateway, secret_name: Any, credentials_hash: Any = None,
                      opts: Optional[pulumi.ResourceOptions] = None) -> "SigsciGateway":
        """The component for a gateway the resolve stage has already checked and built (the stack program's
        way in: errors then name the stack config keys)."""
        self = registered(cls, _TYPE, name, opts)
        self._declare(name, f"SigsciGateway '{name}'", gateway, secret_name, credentials_hash, opts)
        return self

    def _checked_controller(self, name: str, resolved: ResolvedGateway, depends_on: list) -> pulumi.Output:
        """The Gateway's class (and an existing Gateway), read from the cluster (every preview), and its
        controller once checked against the implementation."""
        spec = resolved.spec
        existing = spec.existing_gateway
        read = pulumi.ResourceOptions(parent=self, depends_on=depends_on)
        report_once()
        if existing is None:  # a class the stack does not create: Istio's, or one Envoy Gateway already serves
            class_name = spec.gateway_class_name
            live_class = read_custom(f"{name}-gatewayclass", f"{GATEWAY_API}/v1", "GatewayClass", class_name, read)
            key = resolved.field_key("gatewayClass")
            served = f"Gateway {spec.gateway_namespace}/{spec.gateway_name}"
            return live_class.spec.apply(lambda live: check_class(spec, key, class_name, live, served))
        live = read_custom(f"{name}-existing-gateway", f"{GATEWAY_API}/v1", "Gateway",
                           f"{existing.namespace}/{existing.name}", read)
        live_class = read_custom(f"{name}-existing-gatewayclass", f"{GATEWAY_API}/v1", "GatewayClass",
                                 live.spec.apply(class_of), read)
        key = resolved.field_key("existingGateway")
        return pulumi.Output.all(live.spec, live_class.spec).apply(
            lambda specs: check_existing(spec, key, specs[0], specs[1]))

    def _declare(self, name: str, prefix: str, resolved: ResolvedGateway, secret_name: Any, credentials_hash: Any,
                 opts: Optional[pulumi.ResourceOptions]) -> None:
        spec, objects = resolved.spec, resolved.objects
        bindings = {SECRET_NAME: secret_name, ROTATION: credentials_hash}
        depends_on = list(opts.depends_on or []) if opts is not None and opts.depends_on else []
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on)
        # The agents are up (their rollout ready) before the policy sends traffic to them.
        agents = [declare(f"{name}-agent-{obj['kind'].lower()}", obj, child, bindings) for obj in objects.agents]
        installed: list[pulumi.Resource] = []
        install = spec.envoy_gateway
        if spec.installs_envoy_gateway:
            # Its pre-install hook makes the controller's certificates: a Helm release, not a rendered chart.
            chart, repository = chart_source(install.repository, ENVOY_GATEWAY_CHART)
            installed.append(k8s.helm.v3.Release(
                f"{name}-envoy-gateway", name="envoy-gateway", namespace=install.namespace, chart=chart,
                version=install.version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository) if repository else None,
                atomic=True, cleanup_on_fail=True, opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on)))
        if spec.reads_gateway_class:
            bindings[GATEWAY_CONTROLLER] = self._checked_controller(name, resolved, [*depends_on, *installed])
        after = pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *agents, *installed])
        inspection = [declare(f"{name}-{obj['kind'].lower()}.{obj['metadata']['name']}", obj, after, bindings)
                      for obj in objects.gateway]
        # The routes only once what inspects them is in place (and, with Envoy Gateway, accepted): no window in
        # which a route serves traffic the WAF does not see yet.
        inspected = pulumi.ResourceOptions(parent=self, depends_on=[*after.depends_on, *inspection])
        for obj in objects.routes:
            declare(f"{name}-{obj['kind'].lower()}.{obj['metadata']['namespace']}.{obj['metadata']['name']}", obj,
                    inspected, bindings)
        for warning in objects.warnings:
            pulumi.log.warn(f"{prefix}: {warning}", resource=self)
        self.resolved = resolved
        self.namespace = spec.namespace
        self.gateway_namespace = spec.gateway_namespace
        self.gateway_name = spec.gateway_name
        self.register_outputs({"namespace": self.namespace, "gatewayNamespace": self.gateway_namespace,
                               "gatewayName": self.gateway_name})
