"""The Kubernetes shapes every pod of ours is made of: security contexts, probes, resources, and the
Deployment, Service, NetworkPolicy and PodDisruptionBudget around them.

Every deployment shape that runs pods of its own (an app with its agent, agents as a Service for apps or for
the ingress controller) builds them here, so they share one set of secure defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from ..config.agent import Resources

CREDENTIALS_ANNOTATION = "sigsci.fastly.com/credentials-hash"
PART_OF = {"app.kubernetes.io/part-of": "sigsci-waf", "app.kubernetes.io/managed-by": "pulumi"}
# Seconds a pod gets beyond its longest preStop sleep for the processes to exit after SIGTERM.
SHUTDOWN_MARGIN_SECONDS = 15


def container_security_context(run_as_user: int, read_only_root: bool = True) -> dict[str, Any]:
    """Every container of ours: no privileges, no capabilities, not root, the runtime's seccomp profile."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsGroup": run_as_user,
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def tcp_check(port: int | str) -> dict[str, Any]:
    """A probe's check: the port accepts connections."""
    return {"tcpSocket": {"port": port}}


def grpc_check(port: int) -> dict[str, Any]:
    """A probe's check: the gRPC health service on `port` reports SERVING."""
    return {"grpc": {"port": port}}


def http_check(path: str, port: int | str) -> dict[str, Any]:
    """A probe's check: GET `path` answers 2xx or 3xx."""
    return {"httpGet": {"path": path, "port": port}}


def health_probes(check: Mapping[str, Any], readiness: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Readiness (out of the Service after 15 s of failures) and liveness (restarted after a minute) on one
    check, or readiness on a check of its own: the pair every long-running container of ours carries."""
    return {"readinessProbe": {**(readiness or check), "periodSeconds": 5, "failureThreshold": 3},
            "livenessProbe": {**check, "periodSeconds": 10, "failureThreshold": 6}}


def container_resources(resources: "Resources", defaults: "Resources") -> dict[str, Any]:
    """A container's requests and limits: the given ones, the gaps filled from `defaults` (a quantity that is
    still unset, such as the controller's CPU limit, is left out)."""
    filled = resources.filled(defaults)
    return {part: {kind: str(value) for kind in ("cpu", "memory")
                   if (value := getattr(getattr(filled, part), kind)) is not None}
            for part in ("requests", "limits")}


def pre_stop_sleep(seconds: int) -> dict[str, Any] | None:
    """A preStop hook that keeps the container serving while endpoints drain; None for no sleep."""
    if seconds == 0:
        return None
    return {"preStop": {"exec": {"command": ["sleep", str(seconds)]}}}


def metadata(name: str, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {**labels, **PART_OF}}


def pod_annotations(default_container: str, credentials_hash: Any | None) -> dict[str, Any]:
    """`kubectl logs` picks the right container; a key rotation changes the hash and rolls the pods."""
    annotations: dict[str, Any] = {"kubectl.kubernetes.io/default-container": default_container}
    if credentials_hash is not None:
        annotations[CREDENTIALS_ANNOTATION] = credentials_hash
    return annotations


def pod_security_context() -> dict[str, Any]:
    return {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def deployment(name: str, namespace: str, labels: Mapping[str, str], *, replicas: int, grace_period: int,
               containers: list, volumes: list, annotations: Mapping[str, Any], spread: bool = False,
               init_containers: list | None = None) -> dict[str, Any]:
    """`spread`: the pods spread over nodes where the scheduler can (one node going down takes only its share).
    `init_containers`: native sidecars among them start before `containers` and stop after them."""
    result = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name, namespace, labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            # Never drop below the wanted count while rolling: a WAF rollout should not shed capacity.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {**labels, **PART_OF}, "annotations": dict(annotations)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": grace_period,
                    "containers": containers,
                    "volumes": volumes,
                },
            },
        },
    }
    if init_containers:
        result["spec"]["template"]["spec"]["initContainers"] = init_containers
    if spread:
        result["spec"]["template"]["spec"]["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(labels)}}]
    return result


def service(name: str, namespace: str, labels: Mapping[str, str], selector: Mapping[str, str], *,
            service_type: str, port: int, target_port: int, port_name: str = "http",
            client_ip_affinity: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": service_type,
        "selector": dict(selector),
        "ports": [{"name": port_name, "port": port, "targetPort": target_port, "protocol": "TCP"}],
    }
    if client_ip_affinity:
        spec["sessionAffinity"] = "ClientIP"
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(name, namespace, labels), "spec": spec}


def pod_peer(namespace: str, pods: Mapping[str, str], *, any_namespace: bool = False,
             from_namespace: str | None = None) -> dict[str, Any]:
    """A NetworkPolicy peer: the pods labelled `pods` in the policy's `namespace`, in any namespace with
    `any_namespace`, or in `from_namespace`."""
    peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(pods)}}
    if any_namespace:
        return {"namespaceSelector": {}, **peer}
    if from_namespace is not None and from_namespace != namespace:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": from_namespace}}, **peer}
    return peer


def network_policy(name: str, namespace: str, labels: Mapping[str, str], selector: Mapping[str, str], *,
                   port: int, peers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Admit traffic to the selected pods only on `port` (and only from `peers`, each a `pod_peer`, when given).

    Effective where the cluster's network plugin enforces NetworkPolicy; egress stays open because
    the agent must reach the Fastly cloud.
    """
    rule: dict[str, Any] = {"ports": [{"port": port, "protocol": "TCP"}]}
    if peers is not None:
        rule["from"] = list(peers)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(name, namespace, labels),
        "spec": {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"], "ingress": [rule]},
    }


def namespace_manifest(name: str) -> dict[str, Any]:
    """A namespace the stack creates (the controller's, or its apps'). Pod Security admission enforces
    baseline, which every flavour's chart meets, and warns against restricted, so a weaker pod shows up in
    `kubectl` and `helm` output."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {
        **PART_OF,
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
    }}}


def disruption_budget(name: str, namespace: str, labels: Mapping[str, str], selector: Mapping[str, str],
                      replicas: int) -> list[dict[str, Any]]:
    """For more than one replica, a PodDisruptionBudget: a node drain or cluster upgrade takes the pods one
    at a time, so the WAF keeps serving (one replica has nothing to keep: a budget would block drains)."""
    if replicas <= 1:
        return []
    return [{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(name, namespace, labels),
             "spec": {"maxUnavailable": 1, "selector": {"matchLabels": dict(selector)}}}]
