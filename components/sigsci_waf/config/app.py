"""One entry of `sigsci:apps` (or a SigsciRevProxyApp's args): an app behind the agent as a reverse proxy, or
an app whose Fastly module talks to an agent sidecar."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StrictBool, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .agent import APP_RESOURCES, AgentSettings, Resources
from .choices import Placement, ServiceType, TakeOver
from .errors import Problem
from .model import Model
from .sensitive import STRUCTURE
from .kube import (DEFAULT_UID, KUBERNETES_DEFAULT_NAMESPACE, Command, DnsLabel, DnsSubdomain, EnvName, HttpPath, Image, Port,
                   ServiceName, TargetPort, Text, UnprivilegedPort, absolute_path)

DEFAULT_LISTENER_PORT = 8001
# placement module: the app container's variable that says where the agent's RPC listener is.
DEFAULT_RPC_ADDRESS_ENV = "SIGSCI_RPC_ADDRESS"
# The defaults of the keys that apply to some placements only: the fields stay None (unset) so that a key given
# for another placement is an error, and the builders take these.
DEFAULT_REPLICAS = 2
DEFAULT_SERVICE_TYPE = ServiceType.CLUSTER_IP
DEFAULT_NETWORK_POLICY = True  # only the agent's listener admits traffic to the pods
# An owned app's container: a read-only root file system, with writable emptyDirs at these paths.
DEFAULT_READ_ONLY_ROOT = True
DEFAULT_WRITABLE_PATHS = ("/tmp",)

# Which keys make sense for which placement; a key given for another placement is an error, not ignored.
_PLACEMENT_KEYS: dict[str, set[Placement]] = {
    "listener_port": {Placement.OWNED, Placement.PATCH, Placement.SERVICE},
    "image": {Placement.OWNED, Placement.MODULE},
    "args": {Placement.OWNED, Placement.MODULE},
    "command": {Placement.OWNED, Placement.MODULE},
    "env": {Placement.OWNED, Placement.MODULE},
    "resources": {Placement.OWNED, Placement.MODULE},
    "health_path": {Placement.OWNED, Placement.MODULE},
    "read_only_root_filesystem": {Placement.OWNED, Placement.MODULE},
    "writable_paths": {Placement.OWNED, Placement.MODULE},
    "run_as_user": {Placement.OWNED, Placement.MODULE},
    "pre_stop_sleep_seconds": {Placement.OWNED, Placement.MODULE},
    "replicas": {Placement.OWNED, Placement.SERVICE, Placement.MODULE},
    "network_policy": {Placement.OWNED, Placement.SERVICE, Placement.MODULE},
    "service_type": {Placement.OWNED, Placement.SERVICE, Placement.MODULE},
    "termination_grace_period_seconds": {Placement.OWNED, Placement.SERVICE, Placement.MODULE},
    "deployment": {Placement.PATCH, Placement.MODULE},
    "service": {Placement.PATCH},
    "take_over": {Placement.PATCH},
    "owner_target_port": {Placement.PATCH},
    "upstream_service": {Placement.SERVICE},
    "container": {Placement.MODULE},
    "rpc_address_env": {Placement.MODULE},
    "rpc_port": {Placement.MODULE},
}
# placement module with `deployment` (an existing Deployment): the keys that describe a Deployment the stack
# creates are its owner's, and so is the Service (the module leaves it alone: no listener, no targetPort move).
_OWNED_DEPLOYMENT_KEYS = ("image", "args", "command", "env", "resources", "health_path", "read_only_root_filesystem",
                          "writable_paths", "pre_stop_sleep_seconds", "replicas", "network_policy", "service_type",
                          "service_port", "termination_grace_period_seconds")
# The agent's container name: an app (or app container) of this name would share it in the pod.
AGENT_NAME = "sigsci-agent"


class AppSpec(Model):
    """One application to protect: behind the agent as a reverse proxy, or with a Fastly module and the agent
    beside it (placement module)."""

    name: ServiceName
    port: Port
    namespace: DnsLabel = KUBERNETES_DEFAULT_NAMESPACE
    placement: Placement = Placement.OWNED
    listener_port: UnprivilegedPort | None = None
    service_port: Port | None = None
    # This app's own agent settings, over sigsci:agent (resolve.merge_agent): checked whole once merged.
    agent: AgentSettings = Field(default_factory=AgentSettings)
    # owned
    image: Image | None = None
    args: list[Text] | None = None
    command: Command | None = None
    env: dict[EnvName, Text] | None = None
    resources: Resources | None = None
    health_path: HttpPath | None = None
    read_only_root_filesystem: StrictBool | None = None
    writable_paths: list[Annotated[str, AfterValidator(absolute_path), STRUCTURE]] | None = None
    run_as_user: int | None = Field(default=None, ge=1, le=2147483647, strict=True)
    pre_stop_sleep_seconds: int | None = Field(default=None, ge=0, le=3600, strict=True)
    replicas: int | None = Field(default=None, ge=0, le=1000, strict=True)
    service_type: ServiceType | None = None
    network_policy: StrictBool | None = None
    termination_grace_period_seconds: int | None = Field(default=None, ge=1, le=7200, strict=True)
    # patch
    deployment: DnsSubdomain | None = None
    service: ServiceName | None = None
    take_over: list[TakeOver] | None = None
    owner_target_port: TargetPort | None = None
    # service
    upstream_service: ServiceName | None = None
    # module
    container: DnsLabel | None = None
    rpc_address_env: EnvName | None = None
    rpc_port: UnprivilegedPort | None = None

    @field_validator("writable_paths")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        if paths is None:  # null in stack config: the default
            return None
        if len(set(paths)) != len(paths):
            raise ValueError("each path may appear only once")
        return paths

    @model_validator(mode="after")
    def _placement_rules(self):
        if self.placement == Placement.PATCH and self.termination_grace_period_seconds is not None:
            raise Problem("terminationGracePeriodSeconds", "belongs to the Deployment's owner for placement patch: "
                                                           "the patch leaves it alone, so that removing the WAF gives "
                                                           "the Deployment back as it was")
        for key, allowed in _PLACEMENT_KEYS.items():
            if getattr(self, key) is not None and self.placement not in allowed:
                raise Problem(to_camel(key), f"applies only to placement {' or '.join(sorted(allowed))}, "
                                             f"not {self.placement}")
        # The agents of placement service run in pods of their own: their listener and the app's port never meet.
        if self.placement != Placement.SERVICE and self.effective_listener_port() == self.port:
            raise Problem("listenerPort", f"must differ from port ({self.port}): the agent listens on its own port "
                                          "and proxies to the app's")
        if self.resources is not None:
            self.resources.check_defaults(APP_RESOURCES)
        if self.placement in (Placement.OWNED, Placement.MODULE) and self.name == AGENT_NAME:
            raise Problem("name", f"'{AGENT_NAME}' is reserved for placement {self.placement}: the agents' own pods "
                                  f"carry app.kubernetes.io/name={AGENT_NAME}, and the agent's container has that name")
        if self.placement == Placement.OWNED and self.image is None:
            raise Problem("image", "is required for placement owned (the app's container image)")
        if self.placement == Placement.MODULE:
            self._module_rules()
        if self.placement == Placement.PATCH:
            for key in ("deployment", "service"):
                if getattr(self, key) is None:
                    raise Problem(key, f"is required for placement patch: the name of the existing "
                                       f"{'Deployment' if key == 'deployment' else 'Service'} to patch")
            if TakeOver.SERVICE_TARGET_PORT not in (self.take_over or []):
                raise Problem("takeOver", f"must name service.targetPort for placement patch: the WAF takes the "
                                          f"targetPort of port {self.effective_service_port()} of Service "
                                          f"{self.service} from its owner (and gives back ownerTargetPort when "
                                          "removed). Opt in with takeOver: [service.targetPort]")
        if self.placement == Placement.SERVICE:
            if self.upstream_service is None:
                raise Problem("upstreamService", "is required for placement service: the name of the app's "
                                                 "existing Service the agents proxy to")
            if self.upstream_service == self.name:
                raise Problem("upstreamService", "must differ from name: the agents' Service is named after the "
                                                 "app and cannot replace the app's own Service")
        return self

    def _module_rules(self) -> None:
        if self.deployment is None:
            if self.image is None:
                raise Problem("image", "is required for placement module without deployment (the app's container "
                                       "image, with the Fastly module), or give deployment: an existing Deployment")
            if self.container is not None:
                raise Problem("container", "applies only with deployment (the existing Deployment's app container); "
                                           "the stack names the container of an app it creates after the app")
        else:
            given = [key for key in _OWNED_DEPLOYMENT_KEYS if getattr(self, key) is not None]
            if given:
                raise Problem(to_camel(given[0]), "is for an app whose Deployment the stack creates: with deployment "
                                                  "(placement module on an existing Deployment) the Deployment and "
                                                  "its Service stay their owner's, and the patch only adds the agent")
            if self.effective_container() == AGENT_NAME:
                raise Problem("container", f"'{AGENT_NAME}' is the agent's container; name the app's container")
        env_name = self.effective_rpc_address_env()
        if self.env and env_name in self.env:
            raise Problem("env", f"sets {env_name}, which tells the module where the agent is (rpcAddressEnv); "
                                 "leave it out, or name another variable with rpcAddressEnv")
        if self.rpc_port is not None and self.rpc_port == self.port:
            raise Problem("rpcPort", f"must differ from port ({self.port}): the agent listens for the module on its "
                                     "own localhost port")

    def effective_listener_port(self) -> int | None:
        """The reverse proxy's listener; None for placement module (no listener: the module calls the agent)."""
        if self.placement == Placement.MODULE:
            return None
        return self.listener_port if self.listener_port is not None else DEFAULT_LISTENER_PORT

    def effective_container(self) -> str:
        """placement module: the app's container, the one the module runs in."""
        return self.container if self.container is not None else self.name

    def effective_run_as_user(self) -> int:
        """The app container's user; a module's agent runs as it too, so that the socket it creates is the app's."""
        return self.run_as_user if self.run_as_user is not None else DEFAULT_UID

    def effective_rpc_address_env(self) -> str:
        return self.rpc_address_env if self.rpc_address_env is not None else DEFAULT_RPC_ADDRESS_ENV

    @property
    def creates_deployment(self) -> bool:
        """The stack creates the app's Deployment (owned, service, and module without `deployment`)."""
        return self.deployment is None

    def effective_service_port(self) -> int:
        return self.service_port if self.service_port is not None else self.port

    def effective_owner_target_port(self) -> int | str:
        """The patched Service port's targetPort as its owner set it: what removal gives back."""
        return self.owner_target_port if self.owner_target_port is not None else self.port
