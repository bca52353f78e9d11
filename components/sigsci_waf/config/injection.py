"""`sigsci:injection` (or a SigsciInjection's args): agents added at admission to pods that ask for one by label."""

from __future__ import annotations

from pydantic import Field, field_validator

from .agent import AgentSettings
from .app import DEFAULT_RPC_ADDRESS_ENV
from .kube import DEFAULT_UID, DnsLabel, EnvName
from .model import Model

# The label a pod asks for its agent with, and the value for the module shape.
INJECTION_LABEL = "sigsci.fastly.com/agent"
MODULE_VALUE = "module"
DEFAULT_PARAMS_NAMESPACE = "sigsci-injection"


class InjectionSpec(Model):
    """Pods labelled `sigsci.fastly.com/agent: module` in the opted-in namespaces get the module shape at
    admission: the agent as a native sidecar, its socket volume, and the app containers' mount and variable."""

    namespaces: list[DnsLabel] = Field(min_length=1, max_length=256)
    # Where the policy's parameter object (agent image, options, resources) lives: whoever may edit ConfigMaps
    # there chooses what runs in every injected pod.
    params_namespace: DnsLabel = DEFAULT_PARAMS_NAMESPACE
    # The injected agents' own settings, over sigsci:agent: checked whole once merged.
    agent: AgentSettings = Field(default_factory=AgentSettings)
    rpc_address_env: EnvName = DEFAULT_RPC_ADDRESS_ENV
    # The agent runs as the pod's first container's user (so the socket is the app's); this one when the pod
    # names none.
    run_as_user: int = Field(default=DEFAULT_UID, ge=1, le=2147483647, strict=True)

    @field_validator("namespaces")
    @classmethod
    def _unique(cls, namespaces: list[str]) -> list[str]:
        if len(set(namespaces)) != len(namespaces):
            raise ValueError("each namespace may appear only once")
        return namespaces
