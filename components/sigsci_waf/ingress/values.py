"""The Helm values we own, in the flavour's layout: the controller image, the module's nginx.conf lines, the
agent beside the controller (or its address as a Service), the class and the controller Service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..agent import workloads
from ..agent.container import AgentParts, Rpc, beside, build_agent, rpc_address, socket_mount
from ..config.choices import AgentLifetime, ServiceType
from ..config.ingress import CONTROLLER_RESOURCES
from ..config.model import deep_merge
from .flavours import MODULE_PATH
from .names import agent_service_name, agent_service_spec

if TYPE_CHECKING:
    from ..resolve.ingress import ResolvedIngress


def agent_mode(ing: ResolvedIngress) -> Rpc:
    if ing.spec.agent_lifetime == AgentLifetime.SERVICE:
        return Rpc(tcp_port=agent_service_spec(ing).port)
    return Rpc()


def module_snippets(ing: ResolvedIngress) -> tuple[str, str]:
    """nginx.conf lines: load the module (main context) and point it at the agent (http context).

    The agent address comes from the same function that sets the agent's rpc-address, so moving
    the temp volume or the port moves both ends together.
    """
    mode = agent_mode(ing)
    if mode.tcp_port is None:
        target = f"unix:{rpc_address(ing.agent, mode)}"
    else:
        target = f"{agent_service_name(ing)}.{ing.spec.namespace}.svc:{mode.tcp_port}"
    return f"load_module {MODULE_PATH};", f"sigsci_agent_host {target};"


def controller_agent(ing: ResolvedIngress, secret_name: str) -> AgentParts:
    """The agent for the controller, with a lifetime that covers the controller's drain.

    Native sidecar: Kubernetes starts it before the controller and stops it after, so no preStop is
    needed. Classic sidecar: nothing orders the containers, so the agent sleeps through the whole grace
    period and is still there however long the controller drains. Service: the agents' own preStop.
    """
    lifetime = ing.spec.agent_lifetime
    settings = ing.agent
    if lifetime == AgentLifetime.NATIVE_SIDECAR:
        settings = settings.model_copy(update={"pre_stop_sleep_seconds": 0})
    elif lifetime == AgentLifetime.CLASSIC_SIDECAR:
        settings = settings.model_copy(
            update={"pre_stop_sleep_seconds": ing.spec.controller.termination_grace_period_seconds})
    parts = build_agent(settings, secret_name, agent_mode(ing), secret=ing.secret)
    if lifetime == AgentLifetime.SERVICE:
        return parts
    # nginx connects to the agent's socket.
    return beside(parts, ing.flavour.nginx_uid, ing.flavour.nginx_gid,
                  native=lifetime == AgentLifetime.NATIVE_SIDECAR)


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for part in reversed(path):
        value = {part: value}
    return value


def _image_values(ing: ResolvedIngress) -> dict[str, Any]:
    image = ing.spec.controller.image
    values: dict[str, Any] = {"repository": ing.spec.image_repository, "tag": ing.spec.image_tag,
                              "pullPolicy": image.pull_policy}
    # The chart's own digest would otherwise pin the stock image under our repository and tag.
    for key in ing.flavour.image_digest_keys:
        values[key] = ""
    if image.digest is not None:
        values["digest"] = image.digest
    return values


def _service_values(ing: ResolvedIngress) -> dict[str, Any]:
    service = ing.spec.service
    values: dict[str, Any] = {"type": service.type, "annotations": dict(service.annotations)}
    if service.type != ServiceType.CLUSTER_IP:
        values["externalTrafficPolicy"] = service.external_traffic_policy
    return values


def _class_values(ing: ResolvedIngress) -> dict[str, Any]:
    cls = ing.spec.ingress_class
    if ing.flavour.sets_controller_value:
        # Our own controller value: a stock ingress-nginx in the same cluster never claims our class,
        # and ours never serves its Ingresses around the WAF.
        return {"ingressClassResource": {"name": cls.name, "enabled": True, "default": cls.default,
                                         "controllerValue": f"k8s.io/{cls.name}"},
                "ingressClass": cls.name}
    return {"ingressClass": {"name": cls.name, "create": True, "setAsDefaultIngress": cls.default}}


def helm_values(ing: ResolvedIngress, agent: AgentParts, credentials_hash: Any | None = None) -> dict[str, Any]:
    """The values we own, in the flavour's layout (without the user's extraValues); `agent` is the
    controller's (`controller_agent`)."""
    flavour, spec = ing.flavour, ing.spec
    main, http = module_snippets(ing)
    controller: dict[str, Any] = {
        "image": _image_values(ing),
        "replicaCount": spec.controller.replicas,
        "resources": workloads.container_resources(spec.controller.resources, CONTROLLER_RESOURCES),
        "terminationGracePeriodSeconds": spec.controller.termination_grace_period_seconds,
        "service": _service_values(ing),
        **_class_values(ing),
    }
    if flavour.disruption_budget and spec.controller.replicas > 1:
        # Drains and upgrades take the controllers one at a time: the entry point, and its WAF, stay up.
        controller[flavour.disruption_budget] = {"enabled": True, "maxUnavailable": 1}
    values: dict[str, Any] = {"controller": controller}
    values = deep_merge(values, _nest(flavour.config_path, {flavour.main_snippet: main, flavour.http_snippet: http}))
    if spec.agent_lifetime != AgentLifetime.SERVICE:
        list_key = (flavour.init_containers if spec.agent_lifetime == AgentLifetime.NATIVE_SIDECAR
                    else flavour.containers)
        controller = values["controller"]
        controller[list_key] = [agent.container]
        controller[flavour.volumes] = [agent.volume]
        controller[flavour.volume_mounts] = [socket_mount(ing.agent)]
        # The shared temp volume belongs to nginx's group, and every container in the pod is in it.
        controller["podSecurityContext"] = {"fsGroup": flavour.nginx_gid}
    if credentials_hash is not None and spec.agent_lifetime != AgentLifetime.SERVICE:
        values = deep_merge(values, _nest(flavour.pod_annotations,
                                          {workloads.CREDENTIALS_ANNOTATION: credentials_hash}))
    return values


def merge_extra_values(ing: ResolvedIngress, ours: Mapping[str, Any]) -> dict[str, Any]:
    """The user's extraValues deep-merged under ours (the resolve stage has checked them against ours)."""
    return deep_merge(ing.spec.extra_values, ours)
