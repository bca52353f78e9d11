"""Injection by label, resolved: its settings with the agent merged, and the admission objects built."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from ..agent.container import agent_warnings, user_not_applied
from ..config.agent import AgentSettings, merge_agent
from ..config.errors import ConfigError, Keyed
from ..config.injection import InjectionSpec
from ..config.model import parse
from .secret_flow import traced


@dataclass(frozen=True)
class ResolvedInjection(Keyed):
    spec: InjectionSpec
    agent: AgentSettings
    key: str
    snake: bool = False
    # `sigsci:injection` or the shared agent settings came from secret stack config: free text stays secret.
    secret: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)
    # What the preview says of the injected agents' settings, as of every other agent's.
    warnings: list[str] = field(default_factory=list)


def resolve_injection(raw: Mapping[str, Any], shared_agent: AgentSettings, key: str, *, snake: bool = False,
                      secret: bool = False, shared_key: str | None = None) -> ResolvedInjection:
    """`sigsci:injection` (or the component's args) with the shared agent settings under its own, checked and
    built."""
    from ..injection.build import build_injection

    spec: InjectionSpec = parse(InjectionSpec, raw, key, snake=snake, partial=True)
    agent = merge_agent(shared_agent, spec.agent, f"{key}.agent", snake=snake, shared_key=shared_key)
    injection = ResolvedInjection(spec=spec, agent=agent, key=key, snake=snake, secret=secret)
    if spec.params_namespace in spec.namespaces:
        # Who creates pods there could edit the parameters, and so choose the agent of every injected pod.
        raise ConfigError(injection.field_key("paramsNamespace"),
                          f"{spec.params_namespace!r} is one of the opted-in namespaces; the parameter object "
                          "chooses the image of every injected agent, so it lives where only the platform team "
                          "writes")
    return replace(injection, objects=traced(build_injection, injection, secret, key),
                   warnings=[*agent_warnings(agent, secret=secret),
                             *user_not_applied(agent, spec.agent, "injection", "the pod")])
