"""An app behind the agent as a reverse proxy, resolved: its entry and merged agent settings, the rules
between them, and the objects its placement declares."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..agent.container import user_not_applied
from ..agent.workloads import SHUTDOWN_MARGIN_SECONDS
from ..config.agent import AgentSettings, merge_agent, probe_port_taken
from ..config.app import AppSpec
from ..config.choices import Placement
from ..config.errors import ConfigError, Keyed, join_path
from ..config.model import parse
from ..config.refs import ROTATION, SECRET_NAME
from .secret_flow import traced

# The app keeps serving this much longer than the agent drains, so in-flight proxied requests complete.
APP_OUTLIVES_AGENT_SECONDS = 5


@dataclass(frozen=True)
class Manifests:
    """What one app placement declares: whole objects it owns, and patches of objects others own."""

    owned: list[dict[str, Any]]
    patches: list[dict[str, Any]]
    warnings: list[str]


@dataclass(frozen=True)
class ResolvedApp(Keyed):
    """An app entry with its agent settings merged, every rule checked and its objects built."""

    spec: AppSpec
    agent: AgentSettings
    key: str  # where it came from, e.g. "sigsci:apps[0]", for error messages
    # The entry or the shared agent settings came from secret stack config: free-text values stay secret.
    secret: bool = False
    snake: bool = False  # keys are spelled as Python args (snake_case), not as stack config
    manifests: Manifests = field(default_factory=lambda: Manifests([], [], []))

    @property
    def service_name(self) -> str | None:
        """The Service clients use: the app's own when patched, none the stack knows for a module in an existing
        Deployment (its owner's Service leads straight to the module), else the one named after the app."""
        if self.spec.placement == Placement.PATCH:
            return self.spec.service
        return self.spec.name if self.spec.creates_deployment else None

    @property
    def app_pre_stop(self) -> int:
        if self.spec.pre_stop_sleep_seconds is not None:
            return self.spec.pre_stop_sleep_seconds
        if self.spec.placement == Placement.MODULE:
            # The app serves the traffic itself (its agent, a native sidecar, outlives it): it drains as long
            # as the agent would.
            return self.agent.pre_stop_sleep_seconds
        return self.agent.pre_stop_sleep_seconds + APP_OUTLIVES_AGENT_SECONDS if self.agent.pre_stop_sleep_seconds else 0

    @property
    def grace_period(self) -> int:
        if self.spec.termination_grace_period_seconds is not None:
            return self.spec.termination_grace_period_seconds
        return self.longest_pre_stop + SHUTDOWN_MARGIN_SECONDS

    @property
    def longest_pre_stop(self) -> int:
        """The longest preStop sleep in the pod: the agent's, and an owned app's own (a module's agent, a native
        sidecar, has none: Kubernetes stops it after the app)."""
        if self.spec.placement == Placement.MODULE:
            return self.app_pre_stop
        return max(self.agent.pre_stop_sleep_seconds,
                   self.app_pre_stop if self.spec.placement == Placement.OWNED else 0)


def resolve_app(raw: Mapping[str, Any], shared_agent: AgentSettings, key: str, *, snake: bool = False,
                secret: bool = False, rotation: bool = False,
                shared_key: str | None = None) -> ResolvedApp:
    """One app entry (stack config or Python args) with the shared agent settings under its own, checked and
    built. `rotation`: the pods will carry the key rotation token."""
    from ..apps.build import build_app

    spec: AppSpec = parse(AppSpec, raw, key, snake=snake, partial=True)
    agent = merge_agent(shared_agent, spec.agent, f"{key}.agent", snake=snake, shared_key=shared_key)
    app = ResolvedApp(spec=spec, agent=agent, key=key, secret=secret, snake=snake)
    _check_pod(app)
    token = ROTATION if rotation else None
    manifests = traced(lambda a: build_app(a, SECRET_NAME, token), app, secret, key)
    return replace(app, manifests=replace(manifests, warnings=[*_shared_user_unused(app), *manifests.warnings]))


def _shared_user_unused(app: ResolvedApp) -> list[str]:
    """The shared agent settings' runAsUser, which a module's agent cannot take (its own is refused)."""
    if app.spec.placement != Placement.MODULE:
        return []
    return user_not_applied(app.agent, app.spec.agent, "this module app", "the app", app.spec.effective_run_as_user())


def _check_pod(app: ResolvedApp) -> None:
    """The app's entry and its agent share a pod (or a shutdown): ports and drain times must fit together."""
    spec, agent = app.spec, app.agent
    probe = agent.startup_probe
    taken: dict[int, str] = {}
    if (listener := spec.effective_listener_port()) is not None:
        taken[listener] = join_path("", ("listenerPort",), snake=app.snake)
    if spec.placement != Placement.SERVICE:  # the app's container shares the agent's pod
        taken[spec.port] = "port"
    if spec.rpc_port is not None:
        taken[spec.rpc_port] = join_path("", ("rpcPort",), snake=app.snake)
    if probe.enabled and probe.port in taken:
        raise ConfigError(app.field_key("agent.startupProbe.port"),
                          probe_port_taken(f"{probe.port} is already used by {taken[probe.port]}"))
    if spec.placement == Placement.MODULE and "run_as_user" in spec.agent.model_fields_set \
            and spec.agent.run_as_user != spec.effective_run_as_user():
        raise ConfigError(app.field_key("agent.runAsUser"),
                          f"{spec.agent.run_as_user}: a module's agent runs as the app's user "
                          f"({spec.effective_run_as_user()}, runAsUser), so that the socket it creates is the "
                          "app's; leave agent.runAsUser out, or set runAsUser")
    if spec.placement == Placement.MODULE and agent.tmp_mount_path in (spec.writable_paths or ()):
        raise ConfigError(app.field_key("writablePaths"),
                          f"{agent.tmp_mount_path} is where the agent's socket volume is mounted in the app's "
                          "container (agent.tmpMountPath); leave it out, or move the agent's with tmpMountPath")
    if (spec.placement == Placement.OWNED and spec.pre_stop_sleep_seconds is not None
            and spec.pre_stop_sleep_seconds < agent.pre_stop_sleep_seconds):
        raise ConfigError(app.field_key("preStopSleepSeconds"),
                          f"{spec.pre_stop_sleep_seconds} is shorter than the agent's preStop sleep "
                          f"({agent.pre_stop_sleep_seconds}); the app must outlive the agent's drain, "
                          "because the agent proxies to it until the end")
    longest = app.longest_pre_stop
    if spec.termination_grace_period_seconds is not None and spec.termination_grace_period_seconds <= longest:
        raise ConfigError(app.field_key("terminationGracePeriodSeconds"),
                          f"{spec.termination_grace_period_seconds} must be greater than the longest preStop "
                          f"sleep ({longest} s), or Kubernetes kills the containers mid-drain")
