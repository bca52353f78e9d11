"""Kubernetes objects for the echo backend of `sigsci:verify`: a Deployment of the echo image with the secure
defaults every pod of ours has, its Service, and a NetworkPolicy that admits only the entries that route to it.

Pure functions of the settings and the peers the resolve stage names (the ingress controller's pods, the
Gateway's proxies); the program only turns them into resources. The echo has no agent of its own: the headers
it echoes are the proof of the entry's agent, not of its own.
"""

from __future__ import annotations

from typing import Any

from ..agent import workloads
from ..config.choices import PullPolicy, ServiceType
from ..config.kube import DEFAULT_UID
from ..config.verify import ECHO_CONTAINER_PORT, ECHO_NAME, ECHO_PORT, ECHO_RESOURCES, VerifySpec

LABELS = {"app.kubernetes.io/name": ECHO_NAME, "app.kubernetes.io/component": "verify-echo"}
# The image's own settings: its HTTP listener, and no echo written to its log (the echo holds whatever headers
# the caller sent, cookies and authorization among them; its access lines stay).
ECHO_ENV = {"HTTP_PORT": str(ECHO_CONTAINER_PORT), "LOG_IGNORE_PATH": ".*"}


def echo_container(spec: VerifySpec) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": ECHO_NAME,
        "image": spec.image,
        # The image is pinned (a version tag or a digest, config/verify.py): what the node has is what is named.
        "imagePullPolicy": PullPolicy.IF_NOT_PRESENT,
        "ports": [{"name": "http", "containerPort": ECHO_CONTAINER_PORT, "protocol": "TCP"}],
        "env": [{"name": name, "value": value} for name, value in sorted(ECHO_ENV.items())],
        "resources": workloads.container_resources(spec.resources, ECHO_RESOURCES),
        "securityContext": workloads.container_security_context(DEFAULT_UID),
    }
    container.update(workloads.health_probes(workloads.http_check("/healthz", "http")))
    return container


def echo_objects(spec: VerifySpec, peers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The echo's Deployment (one replica), its Service (port ECHO_PORT) and its NetworkPolicy, which admits
    `peers` only, on the echo's port."""
    deployment = workloads.deployment(
        ECHO_NAME, spec.namespace, LABELS, replicas=1, grace_period=workloads.SHUTDOWN_MARGIN_SECONDS,
        containers=[echo_container(spec)], volumes=[], annotations=workloads.pod_annotations(ECHO_NAME, None))
    service = workloads.service(ECHO_NAME, spec.namespace, LABELS, LABELS, service_type=ServiceType.CLUSTER_IP,
                                port=ECHO_PORT, target_port=ECHO_CONTAINER_PORT)
    policy = workloads.network_policy(ECHO_NAME, spec.namespace, LABELS, LABELS, port=ECHO_CONTAINER_PORT,
                                      peers=peers)
    return [deployment, service, policy]
