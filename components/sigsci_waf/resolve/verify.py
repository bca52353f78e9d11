"""`sigsci:verify`, resolved: the echo backend's route, which every entry serves among its own routes (so each
rule of routes holds for it, and each entry inspects it as it inspects any other), and its objects built, with
the entries that route to it as the only ones its NetworkPolicy admits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping

from ..config.choices import PathType
from ..config.errors import ConfigError, Keyed
from ..config.model import parse
from ..config.verify import ECHO_NAME, ECHO_PATH, ECHO_PORT, ROUTE_NAME, VerifySpec

if TYPE_CHECKING:
    from .app import ResolvedApp
    from .gateway import ResolvedGateway
    from .ingress import ResolvedIngress


@dataclass(frozen=True)
class ResolvedVerify(Keyed):
    spec: VerifySpec
    key: str
    snake: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def route(self) -> tuple[str, dict[str, Any]]:
        """The echo's route as a route of `sigsci:ingress.routes` or `sigsci:gateway.routes` says it, with the
        key its errors name: each entry reads it with its own route model."""
        spec = self.spec
        return self.key, {"name": ROUTE_NAME, "host": spec.host, "path": ECHO_PATH, "pathType": PathType.PREFIX,
                          "service": {"name": ECHO_NAME, "port": ECHO_PORT}, "namespace": spec.namespace}

    @property
    def output(self) -> dict[str, str]:
        """What `make verify` needs to know of the echo: where it answers, and where it runs."""
        spec = self.spec
        return {"host": spec.host, "path": ECHO_PATH, "namespace": spec.namespace, "service": ECHO_NAME}


def read_verify(raw: Mapping[str, Any] | None, key: str) -> ResolvedVerify | None:
    """`sigsci:verify` checked on its own; None unless it asks for the echo."""
    if raw is None:
        return None
    spec: VerifySpec = parse(VerifySpec, raw, key)
    return ResolvedVerify(spec=spec, key=key) if spec.echo else None


def resolve_verify(verify: ResolvedVerify, apps: list[ResolvedApp], ingress: ResolvedIngress | None,
                   gateway: ResolvedGateway | None) -> ResolvedVerify:
    """The rules between the echo and the entries (resolved with its route among theirs), and its objects."""
    from ..agent.workloads import pod_peer
    from ..gateway.build import implementation
    from ..ingress.names import controller_pod_labels
    from ..verify.build import echo_objects

    spec = verify.spec
    if ingress is None and gateway is None:
        raise ConfigError(verify.field_key("echo"), "routes /sigsci-verify on the ingress controller and the Gateway, "
                                                    "and this stack has neither sigsci:ingress nor sigsci:gateway")
    # A namespace of its own: the echo must run no agent (the headers it echoes prove the entry's), and an app's
    # NetworkPolicy or Service there would be about other pods.
    taken = [(app.field_key("namespace"), app.spec.namespace) for app in apps]
    if ingress is not None:
        taken.append((ingress.field_key("namespace"), ingress.spec.namespace))
    if gateway is not None:
        taken += [(gateway.field_key("namespace"), gateway.spec.namespace),
                  (gateway.field_key("existingGateway.namespace"), gateway.spec.gateway_namespace)]
        if gateway.spec.installs_envoy_gateway:
            taken.append((gateway.field_key("envoyGateway.namespace"), gateway.spec.envoy_gateway.namespace))
    clash = next((key for key, namespace in taken if namespace == spec.namespace), None)
    if clash is not None:
        raise ConfigError(verify.field_key("namespace"), f"{spec.namespace!r} is already {clash}; the echo runs in "
                                                         "a namespace of its own, without an agent")
    peers = []
    if ingress is not None:
        peers.append(pod_peer(spec.namespace, controller_pod_labels(ingress), from_namespace=ingress.spec.namespace))
    if gateway is not None:
        peers.append(implementation(gateway).proxy_peer(gateway, spec.namespace))
    return replace(verify, objects=echo_objects(spec, peers))

