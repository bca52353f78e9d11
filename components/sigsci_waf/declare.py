"""Turn the plain Kubernetes objects the builders return into Pulumi resources: the one place that
maps apiVersion and kind to a resource class."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .sensitive import reveal

_CREATORS = {
    ("apps/v1", "Deployment", False): k8s.apps.v1.Deployment,
    ("v1", "Service", False): k8s.core.v1.Service,
    ("networking.k8s.io/v1", "NetworkPolicy", False): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress", False): k8s.networking.v1.Ingress,
    ("apps/v1", "Deployment", True): k8s.apps.v1.DeploymentPatch,
    ("v1", "Service", True): k8s.core.v1.ServicePatch,
}


def declare(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions, *, patch: bool = False):
    """The resource for `obj` (a server-side-apply patch when `patch`); values marked sensitive become secrets."""
    creator = _CREATORS[(obj["apiVersion"], obj["kind"], patch)]
    fields = reveal({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
    return creator(name, **fields, opts=opts)
