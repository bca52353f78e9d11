"""The objects a patch changes, as the cluster has them, read every preview: what the patch assumes of them is
checked before anything is applied (a Service port that is not there, a selector that misses the Deployment's
pods, a targetPort the removal would not give back, a Deployment without the container a module's agent is
added for), and a patched Service the WAF was taken out of shows up."""

from __future__ import annotations

import json
from typing import Any, Iterator

from ..agent.container import AGENT_CONTAINER, LISTENER_PORT_NAME, TMP_VOLUME
from ..config.agent import probe_port_taken
from ..declare import field_of

# Where a patch merges into the owner's objects: SSA keys these lists by name (containers, volumes) and a
# container's mounts by mountPath; an item of the owner's under our key conflicts (409) or is invalid (422).
_POD_LISTS = (("containers", "containers"), ("initContainers", "init_containers"))


def bypass_problems(live_spec: Any, service_port: int, patched_before: bool = True) -> list[str]:
    """What is wrong with a patched Service as the cluster has it (its spec, as read): a port clients use
    that does not target the agent went around the WAF after the patch had moved it (`patched_before`: the
    Service carries the patch's annotation), typically because the owner's redeploy took the field back.
    Before the first update the port targets the app, as it should until then: nothing to say."""
    problems = []
    ports = field_of(live_spec, "ports", "ports") if live_spec and patched_before else None
    for port in ports or []:
        number, target = field_of(port, "port", "port"), field_of(port, "targetPort", "target_port")
        if number == service_port and target != LISTENER_PORT_NAME:
            problems.append(f"port {number} targets {target!r}, not the agent ({LISTENER_PORT_NAME}): traffic goes "
                            "around the WAF, typically because the owner's last deploy put its own targetPort "
                            "back. `pulumi up` takes it again; docs/patched-apps.md says how the owner hands it over")
    return problems


def target_port_owners(managed_fields: Any, port: int, protocol: str = "TCP") -> list[str]:
    """Who owns a Service port's targetPort, from the live object's metadata.managedFields (`manager
    (operation)`), so the preview can say from whom the patch takes it."""
    key = "k:" + json.dumps({"port": port, "protocol": protocol}, separators=(",", ":"))
    owners = []
    for entry in managed_fields or []:
        fields = field_of(entry, "fieldsV1", "fields_v1") or {}
        ports = (fields.get("f:spec") or {}).get("f:ports") or {}
        if "f:targetPort" in (ports.get(key) or {}):
            owners.append(f"{field_of(entry, 'manager', 'manager')} ({field_of(entry, 'operation', 'operation')})")
    return owners


def module_container_problem(live_spec: Any, app: Any) -> tuple[str, str] | None:
    """What stops the agent from serving the module in an existing Deployment (its spec, as read): no app
    container of that name (the patch would add a container with no image); for the socket, an app container
    running as another user than the agent, which creates the socket as its own; what the patch adds merging
    into something of the owner's (the app container's rpcAddressEnv with another value, a mount at the
    socket's directory, a volume or a container of the agent's name: a conflict or an invalid pod at `up`);
    a port of the agent's the pod already uses. The key and the problem; None when there is none."""
    from .build import module_mode
    from ..agent.container import rpc_address

    spec = app.spec
    container, uid = spec.effective_container(), None if spec.rpc_port is not None else spec.effective_run_as_user()
    pod = _pod(live_spec)
    containers = field_of(pod, "containers", "containers") if pod else None
    names = [field_of(c, "name", "name") for c in containers or []]
    if container not in names:
        return "container", (f"has no container {container!r} (it has {', '.join(map(repr, names)) or 'none'}): "
                              "name the app's container, the one whose module calls the agent")
    found = next(c for c in containers if field_of(c, "name", "name") == container)
    env_name, address = spec.effective_rpc_address_env(), rpc_address(app.agent, module_mode(app))
    for variable in field_of(found, "env", "env") or []:
        if field_of(variable, "name", "name") == env_name and field_of(variable, "value", "value") != address:
            return "rpcAddressEnv", (f"container {container!r} already sets {env_name} to "
                                     f"{_shown_value(variable)}, and the agent listens at {address!r}: the patch "
                                     "would conflict with its owner; name another variable with rpcAddressEnv, "
                                     "or have the owner drop it")
    if spec.rpc_port is None:
        mount_path = app.agent.tmp_mount_path
        for mount in field_of(found, "volumeMounts", "volume_mounts") or []:
            if field_of(mount, "mountPath", "mount_path") == mount_path \
                    and field_of(mount, "name", "name") != TMP_VOLUME:
                return "agent.tmpMountPath", (f"container {container!r} already mounts volume "
                                              f"{field_of(mount, 'name', 'name')!r} at {mount_path}, where the "
                                              "agent's socket volume goes: move the agent's with "
                                              "agent.tmpMountPath")
    problem = _shared_pod_problem(pod, init_is_ours=True)
    if problem is not None:
        return problem
    if uid is not None:
        runs_as = _run_as_user(field_of(found, "securityContext", "security_context")) \
            or _run_as_user(field_of(pod, "securityContext", "security_context"))
        if runs_as is not None and runs_as != uid:
            return "runAsUser", (f"runs container {container!r} as user {runs_as}, and the agent as {uid}: the "
                                 f"agent creates the socket as its own user, so the module could not open it; set "
                                 f"runAsUser: {runs_as}")
    taken = _declared_ports(pod)
    if spec.rpc_port is not None and spec.rpc_port in taken:
        return "rpcPort", (f"already declares port {spec.rpc_port} (container {taken[spec.rpc_port]!r}), and the "
                           "agent would listen there for the module: pick another rpcPort")
    return _probe_problem(app, taken, declared=True)


def _shown_value(variable: Any) -> str:
    value = field_of(variable, "value", "value")
    return repr(value) if value is not None else "a value from elsewhere (valueFrom)"


def _pod(live_spec: Any) -> Any:
    template = field_of(live_spec, "template", "template") if live_spec else None
    return field_of(template, "spec", "spec") if template else None


def _listed(pod: Any) -> list[tuple[str, Any]]:
    """Every container of the pod with the list it is in (containers, initContainers)."""
    return [(camel, c) for camel, snake in _POD_LISTS for c in (field_of(pod, camel, snake) if pod else None) or []]


def _owner_ports(pod: Any) -> Iterator[tuple[str, Any]]:
    """Each port the pod's containers (and init containers) declare, with its container's name: the agent's own
    container (from an earlier update) left out."""
    for _, container in _listed(pod):
        who = field_of(container, "name", "name")
        if who != AGENT_CONTAINER:
            for declared in field_of(container, "ports", "ports") or []:
                yield who, declared


def _declared_ports(pod: Any) -> dict[int, str]:
    """Each port number the owner's containers declare, with the (first) container declaring it."""
    taken: dict[int, str] = {}
    for who, declared in _owner_ports(pod):
        taken.setdefault(field_of(declared, "containerPort", "container_port"), who)
    return taken


def _shared_pod_problem(pod: Any, *, init_is_ours: bool) -> tuple[str, str] | None:
    """A container or volume of the owner's under the name of one the patch adds: a container of the agent's name
    in the list the patch does not add to (the name would be twice in the pod: invalid), or a volume of the agent's
    name that is not the emptyDir it adds (a conflict)."""
    other = "containers" if init_is_ours else "initContainers"
    for kind, container in _listed(pod):
        if kind == other and field_of(container, "name", "name") == AGENT_CONTAINER:
            return "deployment", (f"already runs a container {AGENT_CONTAINER!r} in its {other}: the agent the "
                                  "patch adds takes that name; the pod has an agent of its own already")
    for volume in (field_of(pod, "volumes", "volumes") if pod else None) or []:
        if field_of(volume, "name", "name") != TMP_VOLUME:
            continue
        if field_of(volume, "emptyDir", "empty_dir") is None:  # an emptyDir of that name is ours, or the same
            return "deployment", (f"already has a volume {TMP_VOLUME!r} of its own, the name of the agent's "
                                  "socket volume: the patch would conflict with its owner")
    return None


def _probe_problem(app: Any, taken: dict[int, str], declared: bool = False) -> tuple[str, str] | None:
    """The agent's startup probe listener (as the agent settings resolve it) on a port the pod already uses
    (`declared`: said of the Deployment, which the message follows)."""
    probe = app.agent.startup_probe
    if probe.enabled and probe.port in taken:
        used = (f"already declares port {probe.port} (container {taken[probe.port]!r})" if declared else
                f"{probe.port} is already a port of container {taken[probe.port]!r}")
        return "agent.startupProbe.port", probe_port_taken(used)
    return None


def _run_as_user(context: Any) -> int | None:
    return field_of(context, "runAsUser", "run_as_user") if context else None


def _ports_text(ports: Any) -> str:
    shown = []
    for port in ports or []:
        name = field_of(port, "name", "name")
        shown.append(f"{field_of(port, 'port', 'port')}/{field_of(port, 'protocol', 'protocol') or 'TCP'}"
                     + (f" {name!r}" if name else ""))
    return ", ".join(shown) or "none"


def _same_target(live: Any, owner: int | str) -> bool:
    return str(live) == str(owner)


def _resolved(target: Any, pod: Any) -> int | None:
    """A Service targetPort as a port number of the pod: a number as it is, a name through the ports its
    containers declare (the agent's own left out); None when no container declares that name."""
    if not isinstance(target, str):
        return target
    if target.isdigit():
        return int(target)
    return next((field_of(declared, "containerPort", "container_port") for _, declared in _owner_ports(pod)
                 if field_of(declared, "name", "name") == target), None)


def patch_problems(service_spec: Any, deployment_spec: Any, app: Any) -> list[tuple[str, str]]:
    """What placement patch assumes of the live Service and Deployment, checked (their specs, as read): each
    problem as (the key to change, what is wrong). A spec the read did not return is not checked.

    Besides what would fail or misroute at `up`, every path around the agent that the patch would leave open is
    refused: another port of the Service leading to the app, a headless Service (clients reach the pods'
    addresses, whatever the targetPort), the app's port on the node (hostPort, hostNetwork)."""
    spec = app.spec
    problems: list[tuple[str, str]] = []
    port_number, owner = spec.effective_service_port(), spec.effective_owner_target_port()
    where = f"Service {spec.namespace}/{spec.service}"
    deployment = f"Deployment {spec.namespace}/{spec.deployment}"
    pod = _pod(deployment_spec) if deployment_spec is not None else None
    ports = field_of(service_spec, "ports", "ports") if service_spec else None
    if service_spec is not None:
        kind = field_of(service_spec, "type", "type")
        if kind == "ExternalName":
            problems.append(("service", f"{where} is of type ExternalName: it has no pods whose port could move "
                                        "to the agent; name the Service that selects the app's pods"))
        if field_of(service_spec, "clusterIP", "cluster_ip") == "None":
            problems.append(("service", f"{where} is headless (clusterIP: None): its clients reach the pods' "
                                        "addresses and ports directly, so moving targetPort would not put the "
                                        "agent in their way; name a Service with a cluster IP, or use placement "
                                        "owned or service"))
        found = [p for p in ports or [] if field_of(p, "port", "port") == port_number]
        if not found:
            problems.append(("servicePort",
                             f"{where} has no port {port_number} (it has "
                             f"{_ports_text(ports)}): set servicePort to the port clients use; the patch would "
                             "add a second port instead of moving that one to the agent"))
        elif (field_of(found[0], "protocol", "protocol") or "TCP") != "TCP":
            problems.append(("servicePort", f"{where} port {port_number} is "
                                            f"{field_of(found[0], 'protocol', 'protocol')}, not TCP: the agent "
                                            "proxies HTTP"))
        else:
            target = field_of(found[0], "targetPort", "target_port")
            target = port_number if target is None else target
            if target != LISTENER_PORT_NAME and not _same_target(target, owner):
                problems.append(("ownerTargetPort", f"{where} port {port_number} "
                                                    f"targets {target!r} now, and removing the WAF would give back "
                                                    f"{owner!r}: set ownerTargetPort: {target!r}"))
        for other in ports or []:
            number = field_of(other, "port", "port")
            if number == port_number:
                continue
            target = field_of(other, "targetPort", "target_port")
            target = number if target is None else target
            if target == LISTENER_PORT_NAME:
                problems.append(("servicePort", f"{where} port {number} is on the agent, from an earlier "
                                                f"servicePort: moving servicePort to {port_number} gives port "
                                                f"{number} back to the app ({owner!r}), a path around the WAF; "
                                                f"keep servicePort: {number}, or take the app out of the WAF and "
                                                "the port off the Service before moving it"))
                continue
            if _same_target(target, owner) or (pod is not None and _resolved(target, pod) == spec.port):
                problems.append(("servicePort", f"{where} port {number} also leads to the app ({target!r}), and "
                                                f"the patch moves only port {port_number} (servicePort) to the "
                                                "agent: that port would stay a path around the WAF; a patched "
                                                "Service may have one port to the app only"))
    if service_spec is not None and deployment_spec is not None:
        selector = field_of(service_spec, "selector", "selector") or {}
        template = field_of(deployment_spec, "template", "template")
        metadata = field_of(template, "metadata", "metadata") if template else None
        labels = (field_of(metadata, "labels", "labels") if metadata else None) or {}
        if not selector or any(labels.get(k) != v for k, v in dict(selector).items()):
            problems.append(("service", f"{where} (selector {dict(selector)}) does "
                                        f"not select the pods of {deployment} "
                                        f"(labels {dict(labels)}): its clients would reach no agent"))
    if deployment_spec is not None:
        problems += _patched_pod_problems(pod, app, deployment, owner)
    return problems


def _patched_pod_problems(pod: Any, app: Any, deployment: str, owner: int | str) -> list[tuple[str, str]]:
    spec = app.spec
    problems: list[tuple[str, str]] = []
    if field_of(pod, "hostNetwork", "host_network") if pod else False:
        problems.append(("deployment", f"{deployment} runs its pods in the node's network (hostNetwork: true): "
                                       f"the app's port {spec.port} is open on every node's address, around the "
                                       "agent, and no NetworkPolicy applies to such pods; the patch placement "
                                       "needs pods in the pod network"))
    listener = spec.effective_listener_port()
    for _, container in _listed(pod):
        who = field_of(container, "name", "name")
        if who == AGENT_CONTAINER:  # ours, from an earlier update
            continue
        for declared in field_of(container, "ports", "ports") or []:
            number = field_of(declared, "containerPort", "container_port")
            host_port = field_of(declared, "hostPort", "host_port")
            if number == spec.port and host_port:
                problems.append(("deployment", f"container {who!r} of {deployment} publishes the app's port "
                                               f"{spec.port} on the node (hostPort {host_port}): a path around "
                                               "the agent; the owner must drop the hostPort"))
            if number == listener:
                problems.append(("listenerPort", f"{listener} is already a port of container {who!r} in "
                                                 f"{deployment}: pick another listenerPort"))
            if field_of(declared, "name", "name") == LISTENER_PORT_NAME:
                problems.append(("deployment", f"container {who!r} of {deployment} already names a port "
                                               f"{LISTENER_PORT_NAME!r}, the agent's listener's name"))
    shared = _shared_pod_problem(pod, init_is_ours=False)
    if shared is not None:
        problems.append(shared)
    probe = _probe_problem(app, _declared_ports(pod))
    if probe is not None:
        problems.append(probe)
    where_to = _resolved(owner, pod)
    if where_to is None:
        problems.append(("ownerTargetPort", f"{owner!r}: no container of {deployment} declares a port of that "
                                            "name, so the Service reaches no app there; give the port number "
                                            "the app listens on, or the container port's name"))
    elif where_to != spec.port:
        problems.append(("port", f"{spec.port} is not where the Service sends the app's traffic: its port "
                                 f"{spec.effective_service_port()} targets {owner!r} (ownerTargetPort), port "
                                 f"{where_to} of the pods, and the agent would proxy to a closed port; set port: "
                                 f"{where_to}"))
    return problems


def _upstream_port(live_spec: Any, app: Any) -> Any:
    ports = field_of(live_spec, "ports", "ports") if live_spec else None
    return next((p for p in ports or [] if field_of(p, "port", "port") == app.spec.port), None)


def _guarded(app: Any) -> bool:
    from ..config.app import DEFAULT_NETWORK_POLICY

    return DEFAULT_NETWORK_POLICY if app.spec.network_policy is None else app.spec.network_policy


def upstream_problem(live_spec: Any, app: Any) -> tuple[str, str] | None:
    """placement service: what the agents and the NetworkPolicy on the app's pods assume of the app's own Service
    (its spec, as read): the port the agents proxy to, TCP, and (unless networkPolicy is false) a selector, which
    finds the pods to keep everyone but the agents off. The key and the problem; None when there is none."""
    spec = app.spec
    if live_spec is not None:
        ports = field_of(live_spec, "ports", "ports")
        found = _upstream_port(live_spec, app)
        if found is None:
            return "port", (f"has no port {spec.port} (it has {_ports_text(ports)}), and the agents proxy to "
                            f"{spec.upstream_service}:{spec.port}: set port to the Service's port for the app")
        if (field_of(found, "protocol", "protocol") or "TCP") != "TCP":
            return "port", (f"port {spec.port} is {field_of(found, 'protocol', 'protocol')}, not TCP: the agents "
                            "proxy HTTP")
    selector = dict(field_of(live_spec, "selector", "selector") or {}) if live_spec else {}
    if selector:
        from .build import agent_pod_labels

        agents = agent_pod_labels(app)
        if all(agents.get(k) == v for k, v in selector.items()):
            return "upstreamService", (f"selects the agents' own pods (selector {selector}): they would proxy to "
                                       "themselves; name the app's Service, whose selector picks the app's pods")
    if _guarded(app) and not selector:
        return "upstreamService", ("selects no pods (it has no selector), so no NetworkPolicy can keep clients "
                                   "from reaching the app around the agents: name a Service with a selector, or "
                                   "set networkPolicy: false and keep them off the app's pods yourself")
    return None


def upstream_target(live_spec: Any, app: Any) -> tuple[dict[str, str], int | str]:
    """The app's pods (the Service's selector) and the port the agents' requests reach them on (the targetPort of
    the Service's port `port`: a number, or a container port's name, which a NetworkPolicy takes as it is)."""
    found = _upstream_port(live_spec, app)
    target = field_of(found, "targetPort", "target_port") if found is not None else None
    return dict(field_of(live_spec, "selector", "selector") or {}) if live_spec else {}, \
        app.spec.port if target is None else target
