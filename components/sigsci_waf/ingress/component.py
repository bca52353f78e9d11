"""SigsciIngressController: an NGINX ingress controller with the Fastly module and the agent, via Helm."""

from typing import Any, Optional, Required, Sequence, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ..apps.component import SigsciRevProxyApp
from ..config.agent import AgentSettings
from ..config.args import (AgentArgs, AgentServiceArgs, ChartArgs, ControllerArgs, ControllerServiceArgs,
                           IngressClassArgs, RouteArgs, plain_values)
from ..config.choices import AgentLifetime, Flavour, ServiceType
from ..config.refs import ROTATION, SECRET_NAME
from ..config.sensitive import reveal
from ..declare import declare, registered
from ..entry import entry_call
from ..config.ingress import IngressSpec
from ..config.kube import chart_source
from ..resolve.deferred import Deferred, defer
from ..resolve.ingress import IngressObjects, ResolvedIngress, resolve_ingress
from ..resolve.secret import check_namespace_reached, namespace_check
from .names import controller_service_name


class SigsciIngressControllerArgs(TypedDict, total=False):
    """The same keys as `sigsci:ingress` in stack config, in snake_case."""

    secret_name: Required[pulumi.Input[str]]
    """Name of the Secret holding the agent keys in `namespace` (`SigsciSecret.secret_name`, or another
    resource's output)."""
    credentials_hash: Optional[pulumi.Input[str]]
    """`SigsciSecret.credentials_hash`: put on the pod template so key rotation rolls the pods."""
    flavour: Flavour
    """Which controller: `ingress-nginx`, `ingress-nginx-chainguard` or F5's `nginx-ingress`. Default:
    `ingress-nginx`."""
    namespace: pulumi.Input[str]
    """Namespace of the release. It must exist: the component does not create it (the stack program does, unless
    create_namespace is false). May be another resource's output (a Namespace's name): checked when known.
    Default: `sigsci-ingress`."""
    create_namespace: bool
    """Stack config only: whether the stack creates `namespace`. Ignored by the component, which never does.
    Default: `true`."""
    release_name: str
    """Helm release name; the chart names its objects `<release>-controller`. Default: `sigsci-<chart>`."""
    chart: ChartArgs
    """{version, repository}: the chart version and repository URL (a mirror or oci://)."""
    controller: ControllerArgs
    """{image: {repository, tag, digest, pull_policy}, replicas, resources, termination_grace_period_seconds}."""
    agent_lifetime: AgentLifetime
    """How the agent runs: native sidecar (Kubernetes >= 1.29), classic sidecar, or its own Service. Default:
    `nativeSidecar`."""
    agent_service: AgentServiceArgs
    """agent_lifetime service: {replicas, port}."""
    agent: AgentArgs
    """Agent settings (repository, version, resources, options, ...), over the defaults."""
    ingress_class: IngressClassArgs
    """{name, default}: the IngressClass this controller serves."""
    service: ControllerServiceArgs
    """{type, external_traffic_policy, annotations} of the controller Service."""
    routes: list[RouteArgs]
    """Ingress rules: {name, host, path, path_type, app | service: {name, port}, namespace, annotations,
    tls_secret}."""
    extra_values: dict[str, Any]
    """More Helm values, deep-merged under ours (free-form: the chart's own values layout); overlapping a value
    we set, or one that would stop inspection, is an error."""


_TYPE = "sigsci:index:SigsciIngressController"


def _load_balancer_address(status: Any) -> Optional[str]:
    """The first address the cloud assigned to the Service, if any yet."""
    for entry in getattr(getattr(status, "load_balancer", None), "ingress", None) or []:
        return entry.ip or entry.hostname
    return None


class SigsciIngressController(pulumi.ComponentResource):
    """The controller as a Helm release, the agent beside it (or as its own Service), and the routes."""

    namespace: str
    """Namespace of the Helm release."""
    release_name: str
    """Name of the Helm release."""
    ingress_class: str
    """The IngressClass this controller serves: Ingresses that name it go through the WAF."""
    service_name: str
    """The controller's Service (the entry point for clients)."""
    load_balancer_address: pulumi.Output[Optional[str]]
    """IP or host name the cloud assigned to the controller Service; None until assigned or without a
    LoadBalancer."""

    def __init__(self, name: str, args: SigsciIngressControllerArgs, opts: Optional[pulumi.ResourceOptions] = None,
                 *, apps: Sequence[SigsciRevProxyApp] = ()):
        """`apps`: the apps routes may name with `app` (Python only; other languages route to an app's
        Service by name with `service: {name, port}` and `namespace`)."""
        call = entry_call("SigsciIngressController", name, args, opts, SigsciIngressControllerArgs, apps)
        raw, deferred = defer(call.settings, ("namespace",), call.prefix,
                              {"namespace": namespace_check(IngressSpec, call.secret_name, call.prefix)})
        resolved = resolve_ingress(plain_values(raw), AgentSettings(), call.prefix, call.targets, snake=True,
                                   rotation=call.credentials_hash is not None)
        check_namespace_reached(call.secret_name, resolved.spec.namespace, args, call.prefix, deferred)
        super().__init__(_TYPE, name, None, opts)
        self._declare(name, call.prefix, resolved, call.secret_name, call.credentials_hash, opts, deferred)

    @classmethod
    def from_resolved(cls, name: str, ingress: ResolvedIngress, secret_name: Any, credentials_hash: Any = None,
                      opts: Optional[pulumi.ResourceOptions] = None) -> "SigsciIngressController":
        """The component for an ingress the resolve stage has already checked and built (the stack program's
        way in: errors then name the stack config keys)."""
        self = registered(cls, _TYPE, name, opts)
        self._declare(name, f"SigsciIngressController '{name}'", ingress, secret_name, credentials_hash, opts)
        return self

    def _declare(self, name: str, prefix: str, resolved: ResolvedIngress, secret_name: Any, credentials_hash: Any,
                 opts: Optional[pulumi.ResourceOptions], deferred: Deferred = Deferred()) -> None:
        spec, flavour, objects = resolved.spec, resolved.flavour, resolved.objects
        if deferred:
            objects = IngressObjects(values=deferred.substitute(objects.values),
                                     agent_objects=deferred.substitute(objects.agent_objects),
                                     ingresses=objects.ingresses, warnings=[deferred.shown(w) for w in objects.warnings])
        namespace = deferred.value("namespace", spec.namespace)
        bindings = {SECRET_NAME: secret_name, ROTATION: credentials_hash}
        depends_on = opts.depends_on if opts is not None else None
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on)
        agents = [declare(f"{name}-agent-{obj['kind'].lower()}", obj, child, bindings)
                  for obj in objects.agent_objects]

        chart, repository = chart_source(spec.chart_repository, flavour.chart)
        release = k8s.helm.v3.Release(
            f"{name}-release",
            name=spec.release,
            namespace=namespace,
            chart=chart,
            version=spec.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=repository) if repository else None,
            values=reveal(objects.values, bindings),
            # A failed install or upgrade rolls back: nothing is left half-built.
            atomic=True,
            cleanup_on_fail=True,
            # A new flavour, release name or namespace is a new release. Both would claim the same
            # cluster-wide IngressClass, so the old one must go first (see docs/ingress.md on switching).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*(depends_on or []), *agents],
                                        delete_before_replace=True),
        )
        for route, manifest in objects.ingresses:
            # `.` cannot be in a namespace, so `<namespace>.<name>` names each route once.
            declare(f"{name}-route-{route.namespace}.{route.name}", manifest,
                    pulumi.ResourceOptions(parent=self, depends_on=[release]), bindings)

        for warning in objects.warnings:
            pulumi.log.warn(f"{prefix}: {warning}", resource=self)

        self.resolved = resolved
        self.namespace = namespace
        self.release_name = spec.release
        self.ingress_class = spec.ingress_class.name
        self.service_name = controller_service_name(resolved)
        if spec.service.type == ServiceType.LOAD_BALANCER:
            # Read once the release exists (its status is unknown while a first install is previewed).
            service_id = pulumi.Output.all(release.status, namespace).apply(
                lambda known: f"{known[1]}/{self.service_name}")
            controller_service = k8s.core.v1.Service.get(f"{name}-controller-service", service_id,
                                                         opts=pulumi.ResourceOptions(parent=self))
            self.load_balancer_address = controller_service.status.apply(_load_balancer_address)
        else:
            self.load_balancer_address = pulumi.Output.from_input(None)
        self.register_outputs({"namespace": self.namespace, "releaseName": self.release_name,
                               "ingressClass": self.ingress_class, "serviceName": self.service_name,
                               "loadBalancerAddress": self.load_balancer_address})
