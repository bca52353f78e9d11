"""The controller's agents as their own Deployment and Service (agentLifetime service)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent import workloads
from ..agent.container import AgentParts
from ..config.choices import AgentLifetime, ServiceType
from .names import agent_pod_labels, agent_service_name, agent_service_spec, controller_pod_labels

if TYPE_CHECKING:
    from ..resolve.ingress import ResolvedIngress


def agent_service_manifests(ing: ResolvedIngress, agent: AgentParts,
                            credentials_hash: Any | None = None) -> list[dict[str, Any]]:
    """Deployment, Service (ClientIP affinity: the agent that saw a request must see its response)
    and a NetworkPolicy that admits only the controller pods; `agent` is the controller's."""
    if ing.spec.agent_lifetime != AgentLifetime.SERVICE:
        return []
    options = agent_service_spec(ing)
    name, namespace, labels = agent_service_name(ing), ing.spec.namespace, agent_pod_labels(ing)
    deployment = workloads.deployment(
        name, namespace, labels, replicas=options.replicas,
        grace_period=agent.pre_stop_seconds + workloads.SHUTDOWN_MARGIN_SECONDS, containers=[agent.container],
        volumes=[agent.volume], annotations=workloads.pod_annotations(agent.container["name"], credentials_hash))
    service = workloads.service(name, namespace, labels, labels, service_type=ServiceType.CLUSTER_IP, port=options.port,
                                target_port=options.port, port_name="sigsci-rpc", client_ip_affinity=True)
    policy = workloads.network_policy(name, namespace, labels, labels, port=options.port,
                                      peers=[workloads.pod_peer(namespace, controller_pod_labels(ing))])
    return [deployment, service, policy,
            *workloads.disruption_budget(name, namespace, labels, labels, options.replicas)]
