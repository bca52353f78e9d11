"""Ingress shapes the stack files do not cover, shared by the schema, scan and chart-values tests."""

import harness

APPS = [{"name": "web", "image": "example/web:1.0", "port": 8080}]


def ingress_config(**ingress) -> dict:
    return {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": APPS, "sigsci:ingress": ingress}


INGRESS_CONFIGS = {
    "ingress-nginx-classic": ingress_config(
        agentLifetime="classicSidecar",
        routes=[{"host": "web.example.com", "path": "/app", "pathType": "Exact",
                 "service": {"name": "plain", "port": 80}, "namespace": "default",
                 "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}}]),
    "ingress-nginx-service": ingress_config(agentLifetime="service", service={"type": "ClusterIP"}),
    "chainguard-native": ingress_config(
        flavour="ingress-nginx-chainguard", namespace="edge", createNamespace=False,
        agent={"tmpMountPath": "/var/run/sigsci", "startupProbe": {"enabled": True}},
        controller={"image": {"digest": "sha256:" + "ab" * 32}}),
    "nginx-ingress-classic": ingress_config(flavour="nginx-ingress", agentLifetime="classicSidecar",
                                            service={"type": "NodePort", "externalTrafficPolicy": "Cluster"}),
}
