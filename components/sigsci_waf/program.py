"""The stack program: reads `sigsci:*` stack config, resolves all of it, then declares the components.

Everything is checked and built by the resolve stage before the first resource is declared, so bad config
never leaves a half-built stack behind.
"""

from __future__ import annotations

import copy
import gc
from contextlib import contextmanager
from typing import Iterator

import pulumi
import pulumi_kubernetes as k8s

from .agent.workloads import namespace_manifest
from .apps.component import SigsciRevProxyApp
from .apps.restore import restore_hook
from .config.sensitive import mark
from .config.stack import no_secret_echo, read_stack, secret_config_words
from .resolve.stack import ResolvedStack, resolve_stack
from .secret.component import SigsciSecret


def main() -> None:
    # A stack registers thousands of small objects at once; CPython's default young-generation threshold
    # (700) would rescan the growing heap every few resources, a third of the run at 500 apps (BENCHMARKS.md).
    # A higher threshold keeps the same collections, fewer times; memory stays the same (measured).
    gc.set_threshold(10_000, 10, 10)
    # Registered in every run: removing a patched app from the stack runs its Service's restore hook.
    restore_hook()
    with no_secret_echo(secret_config_words()):
        stack = resolve_stack(read_stack())
        with checks_first():
            declare_stack(stack)


@contextmanager
def checks_first() -> Iterator[None]:
    """What the cluster must hold (an existing Deployment's container, a patched Service, an existing Gateway,
    the admission API) is read and checked before anything is registered: every resource declared inside waits
    for every such check, so a refusal leaves nothing half-built, even with `pulumi up --skip-preview`.

    The reads themselves wait for none of it: a read of an existing object never needs the stack's namespaces or
    Secrets first, and a read that would wait for a held resource is an error here rather than a hang."""
    import asyncio

    from .config.refs import Checks, collecting

    checks = Checks()
    closed = asyncio.get_event_loop().create_future()
    held: set[int] = set()  # the resources that wait for the checks (by id: resources are not all hashable)
    gate: list[pulumi.Output] = []  # one wait for every check, shared by all of them (one per resource costs memory)

    async def every_check() -> None:
        await closed
        for check in list(checks.outputs.values()):
            await pulumi.Output.from_input(check).future()

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if isinstance(args.resource, (pulumi.ComponentResource, pulumi.ProviderResource)):
            # A component creates nothing (its children wait); a provider creates nothing in the cluster, and the
            # reads that use it would wait for it: held, it would hold them and the checks they feed.
            return None
        opts = copy.copy(args.opts)
        if opts.id is not None:  # a read: of an existing object, which never needs the stack's namespaces or Secrets
            if isinstance(opts.depends_on, list):
                opts.depends_on = [r for r in opts.depends_on
                                   if not isinstance(r, (k8s.core.v1.Namespace, k8s.core.v1.Secret))]
                waiting = [r for r in opts.depends_on if id(r) in held]
                if waiting:  # it would wait for the checks it feeds: say so instead of hanging
                    raise RuntimeError(f"the read {args.name} waits for {waiting[0]._name}, which waits for the "
                                       "cluster checks this read feeds")
            return pulumi.ResourceTransformationResult(args.props, opts)
        held.add(id(args.resource))
        if not gate:
            gate.append(pulumi.Output.from_input(every_check()))
        depends_on = opts.depends_on
        if depends_on is None:
            opts.depends_on = [gate[0]]
        elif isinstance(depends_on, list):
            opts.depends_on = [*depends_on, gate[0]]
        else:
            opts.depends_on = pulumi.Output.all(depends_on, gate[0]).apply(lambda both: list(both[0] or []))
        return pulumi.ResourceTransformationResult(args.props, opts)

    pulumi.runtime.register_stack_transformation(transform)
    collecting.append(checks)
    try:
        yield
    finally:
        collecting.remove(checks)
        closed.set_result(None)


def declare_stack(stack: ResolvedStack) -> None:
    """The resources of a resolved stack: namespaces first, then the Secret in each, then what reads it."""
    # The apps depend on their namespace directly too: with an existing Secret the SigsciSecret has no
    # children to wait for.
    created: dict[str, pulumi.Resource] = {
        namespace: k8s.core.v1.Namespace(f"namespace-{namespace}", metadata=namespace_manifest(namespace)["metadata"])
        for namespace in stack.own_namespaces}
    secret = SigsciSecret.from_resolved("sigsci", stack.secret,
                                        opts=pulumi.ResourceOptions(depends_on=list(created.values())))
    secret_name = mark(secret.secret_name, stack.secret.name_is_secret)

    def waits_for(namespace: str, *others: str) -> pulumi.ResourceOptions:
        """A workload waits for its namespace and the Secret in it: one or two dependencies, however many
        namespaces the stack has (a dependency on the whole SigsciSecret would be one per namespace); `others`:
        namespaces it creates objects in too (the echo's, for its route)."""
        return pulumi.ResourceOptions(depends_on=[r for r in (created.get(namespace), secret.secrets.get(namespace),
                                                              *(created.get(n) for n in others)) if r is not None])

    # The echo of sigsci:verify: the entries create its route in (or grant it from) its namespace.
    echo_namespaces = (stack.verify.spec.namespace,) if stack.verify is not None else ()
    if stack.verify is not None:
        from .declare import declare

        for obj in stack.verify.objects:
            declare(f"verify-echo-{obj['kind'].lower()}", obj, waits_for(stack.verify.spec.namespace), {})
        pulumi.export("verify", {"echo": stack.verify.output})

    exported = {}
    for app in stack.apps:
        spec = app.spec
        component = SigsciRevProxyApp.from_resolved(f"{spec.name}.{spec.namespace}", app, secret_name,
                                                    secret.credentials_hash, opts=waits_for(spec.namespace))
        exported[f"{spec.namespace}/{spec.name}"] = {
            "namespace": component.namespace,
            "placement": spec.placement,
            "service": component.service_name,
        }
    pulumi.export("secretName", pulumi.Output.secret(str(secret_name)) if stack.secret.name_is_secret
                  else secret_name)
    pulumi.export("apps", exported)
    if stack.gateway is not None:
        from .gateway.component import SigsciGateway

        gateway = SigsciGateway.from_resolved("gateway", stack.gateway, secret_name, secret.credentials_hash,
                                              opts=waits_for(stack.gateway.spec.namespace, *echo_namespaces))
        pulumi.export("gateway", {"namespace": gateway.namespace, "gatewayNamespace": gateway.gateway_namespace,
                                  "gatewayName": gateway.gateway_name})
    if stack.injection is not None:
        from .injection.component import SigsciInjection

        injection = SigsciInjection.from_resolved("injection", stack.injection, secret_name, opts=pulumi.ResourceOptions(
            depends_on=[r for r in (created.get(stack.injection.spec.params_namespace),
                                    *(secret.secrets.get(n) for n in stack.injection.spec.namespaces)) if r is not None]))
        pulumi.export("injection", {"policyName": injection.policy_name,
                                    "paramsNamespace": injection.params_namespace})
    if stack.ingress is not None:
        from .ingress.component import SigsciIngressController

        controller = SigsciIngressController.from_resolved("ingress", stack.ingress, secret_name,
                                                           secret.credentials_hash,
                                                           opts=waits_for(stack.ingress.spec.namespace,
                                                                          *echo_namespaces))
        pulumi.export("ingress", {
            "namespace": controller.namespace,
            "releaseName": controller.release_name,
            "ingressClass": controller.ingress_class,
            "serviceName": controller.service_name,
            "loadBalancerAddress": controller.load_balancer_address,
        })
