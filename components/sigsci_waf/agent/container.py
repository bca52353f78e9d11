"""The one builder of the agent container, used by every deployment shape.

Pure functions: settings in, Kubernetes objects (camelCase dicts) out, so they are
unit-testable without Pulumi and identical for the same input.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..config.agent import AGENT_RESOURCES, AgentSettings
from ..config.choices import PullPolicy
from ..config.kube import quantity_value
from .workloads import (container_resources, container_security_context, grpc_check, health_probes, http_check,
                        pre_stop_sleep, tcp_check)

AGENT_CONTAINER = "sigsci-agent"
TMP_VOLUME = "sigsci-tmp"
# The reverse proxy's port name: a Service can target it by name, whatever number it has in each pod.
LISTENER_PORT_NAME = "sigsci-http"
ACCESS_KEY_FIELD = "accesskeyid"
SECRET_KEY_FIELD = "secretaccesskey"


@dataclass(frozen=True)
class RevProxy:
    """The agent as a reverse proxy: listens on `listener_port`, forwards to `upstream`."""

    listener_port: int
    upstream: str


@dataclass(frozen=True)
class Rpc:
    """The agent serving a module: over a Unix socket in the shared temp volume, or on `tcp_port`: on every
    interface when it runs as its own Service, on localhost only (`local`) beside the module in its pod."""

    tcp_port: int | None = None
    local: bool = False


@dataclass(frozen=True)
class ExtProc:
    """The agent as an Envoy external processor (ext_proc): a gRPC listener on `port` that Envoy sends each
    request (and response) to; `tls_mount` is where the listener's certificate and key are mounted, if any."""

    port: int
    flavor: str | None = None
    tls_mount: str | None = None


# The ext_proc listener's port name: `grpc` tells Istio and Envoy Gateway to speak HTTP/2 to it.
GRPC_PORT_NAME = "grpc"
TLS_VOLUME = "sigsci-grpc-tls"


@dataclass(frozen=True)
class AgentParts:
    container: dict[str, Any]
    volume: dict[str, Any]
    pre_stop_seconds: int
    warnings: list[str] = field(default_factory=list)


def option_env_name(option: str) -> str:
    """`max-procs` -> `SIGSCI_MAX_PROCS`, the vendor's rule for every agent option."""
    return "SIGSCI_" + option.upper().replace("-", "_")


def rpc_address(settings: AgentSettings, mode: Rpc = Rpc()) -> str:
    """Where the agent listens for a module: the socket path (a module must point at exactly this
    path) or, as a Service, every interface on the TCP port."""
    if mode.tcp_port is not None:
        return f"{'127.0.0.1' if mode.local else '0.0.0.0'}:{mode.tcp_port}"
    return f"{settings.tmp_mount_path}/sigsci.sock"


def socket_mount(settings: AgentSettings) -> dict[str, Any]:
    """The agent's temp volume where it is mounted in the agent: mounted the same way in the container whose
    module opens the socket, the socket's path is the same on both sides."""
    return {"name": TMP_VOLUME, "mountPath": settings.tmp_mount_path}


def beside(parts: AgentParts, uid: int, gid: int, *, native: bool) -> AgentParts:
    """The agent in the pod of the process that opens its socket (nginx, an app's module): as that process's
    user, so the socket the agent creates is theirs. `native`: a native sidecar (an init container that keeps
    running), which Kubernetes starts before the pod's containers and stops after them, so the agent needs no
    preStop sleep of its own."""
    container = {**parts.container, "securityContext": {**parts.container["securityContext"],
                                                         "runAsUser": uid, "runAsGroup": gid}}
    if native:
        container = {**container, "restartPolicy": "Always"}
    return dataclasses.replace(parts, container=container)


def user_not_applied(settings: AgentSettings, own: AgentSettings, where: str, user: str, uid: int | None = None
                     ) -> list[str]:
    """The one warning for a runAsUser that an agent run `beside` its socket's user does not take (a module app's,
    an injected one, the controller's sidecar): `settings` merged, `own` the entry's level, `user` whose user it
    runs as (`uid`, when one is known: the same one set says nothing)."""
    if "run_as_user" not in settings.model_fields_set or settings.run_as_user == uid:
        return []
    level = "agent.runAsUser" if "run_as_user" in own.model_fields_set else "the shared agent.runAsUser"
    runs_as = f"{user}'s user" if uid is None else f"{user}'s user ({uid})"
    return [f"{level} ({settings.run_as_user}) does not apply to {where}: its agent runs as {runs_as}, so that "
            f"the socket it creates is {user}'s"]


def image_reference(settings: AgentSettings) -> str:
    image = f"{settings.repository}:{settings.version}"
    return f"{image}@{settings.digest}" if settings.digest else image


def pull_policy(settings: AgentSettings) -> str:
    """The vendor guide's policy: a version -> IfNotPresent, latest -> Always; an explicit choice wins."""
    if settings.image_pull_policy is not None:
        return settings.image_pull_policy
    return PullPolicy.ALWAYS if settings.version == "latest" else PullPolicy.IF_NOT_PRESENT


def agent_warnings(settings: AgentSettings, *, secret: bool = False) -> list[str]:
    """What the preview says of these agent settings, for every shape that runs an agent: the one place of these
    warnings (`build_agent` carries them in its parts; injection, whose agents admission adds, takes them from
    here). `secret`: the settings came from secret config, so an unlisted option's name is not logged."""
    warnings = []
    if settings.version == "latest" and settings.digest is None:
        warnings.append("the agent image tag is 'latest': every pod start may run a different agent version; "
                        "pin agent.version for repeatable deployments")
    return warnings + [
        f"agent option {'(name not shown: secret config)' if secret else repr(name)} (unlistedOptions) is "
        "not in the known option list; check the spelling against your agent version's --usage, since the "
        "agent ignores names it does not know"
        for name in sorted(settings.unlisted_options)
    ]


def escape_expansion(value: str) -> str:
    """`value` as Kubernetes must see it to pass it through literally.

    Kubernetes expands `$(NAME)` in env values from the variables declared before it, and the agent's
    key variables come first: an option set to `$(SIGSCI_SECRETACCESSKEY)` would carry the key into a
    log line or a hostname. `$$` is Kubernetes' escape for `$`, so doubling every `$` keeps the value
    exactly as written.
    """
    return value.replace("$", "$$")


def _option_value(value: str | bool | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape_expansion(str(value))


def _max_procs(cpu_limit: str) -> str:
    """Match the agent's worker count to its CPU limit; otherwise it sizes itself to the node and is throttled."""
    return str(max(1, math.ceil(quantity_value(cpu_limit))))


def credential_env(secret_name: str) -> list[dict[str, Any]]:
    return [
        {"name": "SIGSCI_ACCESSKEYID",
         "valueFrom": {"secretKeyRef": {"name": secret_name, "key": ACCESS_KEY_FIELD}}},
        {"name": "SIGSCI_SECRETACCESSKEY",
         "valueFrom": {"secretKeyRef": {"name": secret_name, "key": SECRET_KEY_FIELD}}},
    ]


def revproxy_listener(mode: RevProxy, access_log: bool) -> str:
    parts = [f"listener=http://0.0.0.0:{mode.listener_port}", f"upstreams={mode.upstream}"]
    if access_log:
        parts.append("access-log='/dev/stdout'")
    return "http:{" + ",".join(parts) + "}"


def agent_env(settings: AgentSettings, secret_name: str, mode: RevProxy | Rpc | ExtProc) -> list[dict[str, Any]]:
    """The agent's environment: keys from the Secret first, then options and derived settings by name (option
    values from secret config are found secret by the resolve stage, resolve/secret_flow.py)."""
    derived: dict[str, str] = {option_env_name("shared-cache-dir"): f"{settings.tmp_mount_path}/cache"}
    if isinstance(mode, Rpc):
        derived[option_env_name("rpc-address")] = rpc_address(settings, mode)
    elif isinstance(mode, ExtProc):
        # The Envoy gRPC listener starts instead of the RPC listener (Fastly's Envoy guides).
        derived[option_env_name("envoy-extproc-enabled")] = "true"
        derived[option_env_name("envoy-grpc-address")] = f"0.0.0.0:{mode.port}"
        if mode.flavor is not None:
            derived[option_env_name("server-flavor")] = mode.flavor
        if mode.tls_mount is not None:
            derived[option_env_name("envoy-grpc-cert")] = f"{mode.tls_mount}/tls.crt"
            derived[option_env_name("envoy-grpc-key")] = f"{mode.tls_mount}/tls.key"
    else:
        derived[option_env_name("revproxy-listener")] = revproxy_listener(mode, settings.access_log)
    if settings.startup_probe.enabled:
        derived[option_env_name("startup-probe-listener")] = f"0.0.0.0:{settings.startup_probe.port}"
    chosen = {**settings.options, **settings.unlisted_options}
    options = {option_env_name(k): _option_value(v) for k, v in chosen.items()}
    if option_env_name("max-procs") not in options:
        options[option_env_name("max-procs")] = _max_procs(
            container_resources(settings.resources, AGENT_RESOURCES)["limits"]["cpu"])
    merged = {**options, **derived}
    return credential_env(secret_name) + [{"name": k, "value": merged[k]} for k in sorted(merged)]


def build_agent(settings: AgentSettings, secret_name: str, mode: RevProxy | Rpc | ExtProc, *,
                secret: bool = False) -> AgentParts:
    """The agent container and its temp volume for any pod shape (`secret`: the settings came from secret config,
    so an unlisted option's name is not logged)."""
    container: dict[str, Any] = {
        "name": AGENT_CONTAINER,
        "image": image_reference(settings),
        "imagePullPolicy": pull_policy(settings),
        "env": agent_env(settings, secret_name, mode),
        "resources": container_resources(settings.resources, AGENT_RESOURCES),
        "securityContext": container_security_context(settings.run_as_user),
        "volumeMounts": [socket_mount(settings)],
    }
    ports = []
    if isinstance(mode, RevProxy):
        ports.append({"name": LISTENER_PORT_NAME, "containerPort": mode.listener_port, "protocol": "TCP"})
        # The listener accepting connections is the only sign of life the agent documents (no liveness
        # endpoint): a listener that stops accepting for a minute is a dead proxy.
        container.update(health_probes(tcp_check(mode.listener_port)))
    if isinstance(mode, Rpc) and mode.tcp_port is not None and not mode.local:
        ports.append({"name": "sigsci-rpc", "containerPort": mode.tcp_port, "protocol": "TCP"})
        # As with the reverse proxy, an accepting listener is the only documented sign of life.
        container.update(health_probes(tcp_check(mode.tcp_port)))
    if isinstance(mode, ExtProc):
        ports.append({"name": GRPC_PORT_NAME, "containerPort": mode.port, "protocol": "TCP"})
        # Fastly's guide: a gRPC readiness probe on the listener's port ("the ports must match"); liveness
        # stays an accepting listener, which does not depend on the health service. The kubelet's gRPC probe
        # speaks plaintext only, so a TLS listener is ready when it accepts connections.
        readiness = grpc_check(mode.port) if mode.tls_mount is None else tcp_check(mode.port)
        container.update(health_probes(tcp_check(mode.port), readiness=readiness))
        if mode.tls_mount is not None:
            container["volumeMounts"] = [*container["volumeMounts"],
                                         {"name": TLS_VOLUME, "mountPath": mode.tls_mount, "readOnly": True}]
    if settings.startup_probe.enabled:
        ports.append({"name": "sigsci-startup", "containerPort": settings.startup_probe.port, "protocol": "TCP"})
        container["startupProbe"] = {
            **http_check("/startup", settings.startup_probe.port),
            "failureThreshold": settings.startup_probe.failure_threshold,
            "periodSeconds": settings.startup_probe.period_seconds,
        }
    if ports:
        container["ports"] = ports
    lifecycle = pre_stop_sleep(settings.pre_stop_sleep_seconds)
    if lifecycle:
        container["lifecycle"] = lifecycle
    return AgentParts(
        container=container,
        volume={"name": TMP_VOLUME, "emptyDir": {}},
        pre_stop_seconds=settings.pre_stop_sleep_seconds,
        warnings=agent_warnings(settings, secret=secret),
    )


def module_sidecar(settings: AgentSettings, secret_name: Any, mode: Rpc, uid: int, *,
                   secret: bool = False) -> AgentParts:
    """The agent beside an app's Fastly module, for every shape that puts it there (an app's own Deployment, an
    existing one, injection at admission): a native sidecar, up before the app and down after it (so no preStop
    of its own), as the app's user so the socket it creates is the app's."""
    parts = build_agent(settings.model_copy(update={"pre_stop_sleep_seconds": 0}), secret_name, mode, secret=secret)
    return beside(parts, uid, uid, native=True)


def module_link(settings: AgentSettings, mode: Rpc, env_name: str) -> dict[str, Any]:
    """What the app's container gets to reach the agent: the variable naming the agent's address and, for the
    socket, the agent's volume where the agent has it."""
    link: dict[str, Any] = {"env": [{"name": env_name, "value": rpc_address(settings, mode)}]}
    if mode.tcp_port is None:
        link["volumeMounts"] = [socket_mount(settings)]
    return link
