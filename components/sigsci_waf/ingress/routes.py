"""The Ingress objects the controller serves: one per route, of our IngressClass."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent import workloads

if TYPE_CHECKING:
    from ..resolve.ingress import ResolvedIngress, ResolvedRoute


def ingress_manifest(ing: ResolvedIngress, route: ResolvedRoute) -> dict[str, Any]:
    spec = route.route
    rule: dict[str, Any] = {"http": {"paths": [{
        "path": spec.path, "pathType": spec.path_type,
        "backend": {"service": {"name": route.service, "port": {"number": route.port}}},
    }]}}
    if spec.host is not None:
        rule = {"host": spec.host, **rule}
    body: dict[str, Any] = {"ingressClassName": ing.spec.ingress_class.name, "rules": [rule]}
    if spec.tls_secret is not None:
        body["tls"] = [{"hosts": [spec.host], "secretName": spec.tls_secret}]
    metadata = workloads.metadata(route.name, route.namespace, {"app.kubernetes.io/name": route.service})
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": body}
