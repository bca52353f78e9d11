"""Turn the plain Kubernetes objects the builders return into Pulumi resources, and read live ones back: the one
place that maps apiVersion and kind to a resource class."""

from __future__ import annotations

from typing import Any, Mapping

import pulumi

from .config.refs import Ref
from .config.sensitive import reveal

# (apiVersion, kind, patch) -> (pulumi_kubernetes module, class): imported on first use, so a stack loads only
# the resource modules it declares.
_CREATORS = {
    ("apps/v1", "Deployment", False): ("apps.v1", "Deployment"),
    ("v1", "Service", False): ("core.v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy", False): ("networking.v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress", False): ("networking.v1", "Ingress"),
    ("policy/v1", "PodDisruptionBudget", False): ("policy.v1", "PodDisruptionBudget"),
    ("v1", "ConfigMap", False): ("core.v1", "ConfigMap"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicy", False):
        ("admissionregistration.v1", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "MutatingAdmissionPolicyBinding", False):
        ("admissionregistration.v1", "MutatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", False):
        ("admissionregistration.v1", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", False):
        ("admissionregistration.v1", "ValidatingAdmissionPolicyBinding"),
    ("apps/v1", "Deployment", True): ("apps.v1", "DeploymentPatch"),
    ("v1", "Service", True): ("core.v1", "ServicePatch"),
}


def _creator(api_version: str, kind: str, patch: bool):
    import importlib

    module, name = _CREATORS[(api_version, kind, patch)]
    return getattr(importlib.import_module(f"pulumi_kubernetes.{module}"), name)


# Custom resources (Gateway API, Envoy Gateway, Istio): no typed class in pulumi_kubernetes, so the generic one.
_CUSTOM_GROUPS = ("gateway.networking.k8s.io/", "gateway.envoyproxy.io/", "networking.istio.io/")


def declare(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions, bindings: Mapping[Ref, Any], *,
            patch: bool = False):
    """The resource for `obj` (a server-side-apply patch when `patch`): its `Ref`s bound, the values marked
    sensitive made secrets."""
    from .config.refs import collecting

    for checks in collecting:  # the stack program holds every declaration until these checks pass
        checks.collect(bindings)
    fields = reveal({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}, bindings)
    if obj["apiVersion"].startswith(_CUSTOM_GROUPS) and not patch:
        from pulumi_kubernetes.apiextensions import CustomResource

        return CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"], opts=opts, **fields)
    return _creator(obj["apiVersion"], obj["kind"], patch)(name, **fields, opts=opts)


def field_of(value: Any, camel: str, snake: str) -> Any:
    """A field of a live object as Pulumi hands it over: an output type (attributes), a plain dict with
    Kubernetes' or Python's spelling; numbers arrive as floats."""
    # Pulumi's output types are dicts too, whose camelCase keys are read (without a warning) by their getters.
    if isinstance(value, dict) and not isinstance(getattr(type(value), snake, None), property):
        found = value.get(camel, value.get(snake))
    else:
        found = getattr(value, snake, None)
    return int(found) if isinstance(found, float) and found.is_integer() else found


def read_custom(name: str, api_version: str, kind: str, id: Any, opts: pulumi.ResourceOptions) -> Any:
    """A custom resource as the cluster has it, read every preview, with its `metadata` and `spec` as outputs
    (pulumi_kubernetes' CustomResource.get gives neither)."""
    from importlib.metadata import version

    return pulumi.CustomResource(f"kubernetes:{api_version}:{kind}", name, {"metadata": None, "spec": None},
                                 opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                                     id=id, version=version("pulumi_kubernetes"))))


def registered(cls: type, type_token: str, name: str, opts: pulumi.ResourceOptions | None) -> Any:
    """A component of `cls` registered with the engine without running its `__init__`: the way in for objects
    the resolve stage has already checked and built (each component's `from_resolved`)."""
    component = cls.__new__(cls)
    pulumi.ComponentResource.__init__(component, type_token, name, None, _without_depends_on(opts))
    return component


def _without_depends_on(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions | None:
    """`opts` for the component itself: its children wait for `depends_on` (each `_declare` passes it on), the
    component, which creates nothing, need not. Registered at once, it no longer holds every child's
    registration back behind its namespace's Secret: a stack of hundreds of apps peaks lower (BENCHMARKS.md)."""
    if opts is None or not opts.depends_on:
        return opts
    import copy

    bare = copy.copy(opts)
    bare.depends_on = None
    return bare
