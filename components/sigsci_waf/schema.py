"""The configuration schema: what users may type, with defaults and the rules between fields.

Stack config uses camelCase keys (`listenerPort`); Python args use snake_case
(`listener_port`). One pydantic model accepts both, so every entry point gets
the same validation and the same error sentences.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Mapping

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic.alias_generators import to_camel

from .errors import check_depth, from_validation_error
from .validators import (
    Digest,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    Image,
    OptionValue,
    Port,
    Cpu,
    Memory,
    Repository,
    ServiceName,
    Tag,
    TargetPort,
    UnprivilegedPort,
    quantity_value,
)

DEFAULT_AGENT_REPOSITORY = "signalsciences/sigsci-agent"
DEFAULT_AGENT_VERSION = "4.70.0"
DEFAULT_TMP_MOUNT = "/sigsci/tmp"
MIN_STARTUP_PROBE_VERSION = (4, 51, 0)
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# Options the product derives itself; setting them by hand would split what must stay together.
OWNED_OPTIONS = {
    "accesskeyid": "credentials come from the Secret (sigsci:accessKeyId / sigsci:existingSecret)",
    "secretaccesskey": "credentials come from the Secret (sigsci:secretAccessKey / sigsci:existingSecret)",
    "rpc-address": "it is derived from tmpMountPath so the module and the agent always agree",
    "shared-cache-dir": "it is derived from tmpMountPath",
    "revproxy-listener": "it is derived from the app's port and listenerPort",
    "startup-probe-listener": "use startupProbe.enabled and startupProbe.port",
}


class Model(BaseModel):
    """Shared settings: unknown keys are errors, camelCase and snake_case both accepted."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        # Validators are built on first use, not at import: a stack pays only for the models it uses.
        defer_build=True,
    )


def parse(model: type[Model], data: Any, prefix: str, *, snake: bool = False):
    """Validate `data` against `model`, raising ConfigError that names the key under `prefix`."""
    check_depth(data, prefix)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise from_validation_error(prefix, exc, snake=snake) from None


def version_tuple(tag: str) -> tuple[int, int, int] | None:
    """(4, 70, 0) for a release tag such as '4.70.0' or 'v4.70.0'; None for 'latest' or a custom tag."""
    match = _VERSION.fullmatch(tag)
    return tuple(int(g) for g in match.groups()) if match else None  # type: ignore[return-value]


class Quantities(Model):
    cpu: Cpu | None = None
    memory: Memory | None = None


class Resources(Model):
    """Container resources. Both requests and limits are always set: unbounded pods are not a default."""

    requests: Quantities = Quantities()
    limits: Quantities = Quantities()

    @model_validator(mode="after")
    def _requests_within_limits(self):
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if request is not None and limit is not None and quantity_value(str(request)) > quantity_value(str(limit)):
                raise ValueError(f"@requests.{kind} {request} exceeds limits.{kind} {limit}")
        return self

    def filled(self, defaults: "Resources") -> "Resources":
        """These resources with missing entries taken from `defaults`."""
        def merge(mine: Quantities, theirs: Quantities) -> Quantities:
            return Quantities(cpu=mine.cpu if mine.cpu is not None else theirs.cpu,
                              memory=mine.memory if mine.memory is not None else theirs.memory)

        return Resources(requests=merge(self.requests, defaults.requests), limits=merge(self.limits, defaults.limits))

    def clash_with_defaults(self, defaults: "Resources", where: str = "resources") -> str | None:
        """Why filling the gaps from `defaults` would give a request above its limit, or None."""
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            default_request, default_limit = getattr(defaults.requests, kind), getattr(defaults.limits, kind)
            if request is not None and limit is None and default_limit is not None \
                    and quantity_value(str(request)) > quantity_value(str(default_limit)):
                return (f"@{where}.requests.{kind} {request} exceeds the default limits.{kind} {default_limit}; "
                        f"set {where}.limits.{kind} as well")
            if limit is not None and request is None and default_request is not None \
                    and quantity_value(str(limit)) < quantity_value(str(default_request)):
                return (f"@{where}.limits.{kind} {limit} is below the default requests.{kind} {default_request}; "
                        f"set {where}.requests.{kind} as well")
        return None


AGENT_RESOURCES = Resources(requests=Quantities(cpu="100m", memory="256Mi"),
                            limits=Quantities(cpu="1", memory="512Mi"))
APP_RESOURCES = Resources(requests=Quantities(cpu="100m", memory="128Mi"),
                          limits=Quantities(cpu="500m", memory="256Mi"))


# Paths a temp volume may not cover: the system, the agent's binaries, and what the controller images and charts
# keep on disk (the module directory, nginx's config and state, the admission webhook's certificates).
RESERVED_PATHS = ("/bin", "/sbin", "/lib", "/lib64", "/etc", "/etc/nginx", "/usr/bin", "/usr/sbin", "/usr/lib",
                  "/usr/lib/nginx/modules", "/usr/local/certificates", "/usr/local/nginx", "/var/lib/nginx",
                  "/var/log/nginx", "/var/cache/nginx", "/tmp", "/run", "/var/run", "/var/run/secrets",
                  "/sigsci/bin", "/chroot")
KERNEL_PATHS = ("/proc", "/sys", "/dev")


class StartupProbe(Model):
    """Hold traffic until the agent has loaded its rules (agent >= 4.51.0)."""

    enabled: StrictBool = False
    port: UnprivilegedPort = 2024
    failure_threshold: int = Field(default=90, ge=1, le=1000)
    period_seconds: int = Field(default=2, ge=1, le=300)


class AgentSettings(Model):
    """The agent container, shared by every deployment shape."""

    repository: Repository = DEFAULT_AGENT_REPOSITORY
    version: Tag = DEFAULT_AGENT_VERSION
    digest: Digest | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    resources: Resources = Resources()
    options: dict[str, OptionValue] = {}
    tmp_mount_path: str = DEFAULT_TMP_MOUNT
    pre_stop_sleep_seconds: int = Field(default=30, ge=0, le=3600, strict=True)
    startup_probe: StartupProbe = StartupProbe()
    run_as_user: int = Field(default=10001, ge=1, le=2147483647, strict=True)
    access_log: StrictBool = True

    @field_validator("tmp_mount_path")
    @classmethod
    def _tmp_mount(cls, value: str) -> str:
        AgentSettings._absolute(value)
        covered = next((p for p in RESERVED_PATHS if p == value or p.startswith(value + "/")), None)
        if covered is not None or any(value == p or value.startswith(p + "/") for p in KERNEL_PATHS):
            what = f"covers {covered}" if covered else "is inside a kernel file system"
            raise ValueError(f"{value!r} {what}: the temp volume would hide what the agent's or the controller's "
                             "image keeps there. Use a path of its own, like '/sigsci/tmp' (the default) or "
                             "'/var/run/sigsci'")
        return value

    @staticmethod
    def _absolute(value: str) -> str:
        segments = value.split("/")[1:]
        if not value.startswith("/") or len(value) > 4096 or not all(segments) \
                or any(s in (".", "..") or not re.fullmatch(r"[A-Za-z0-9._-]+", s) for s in segments):
            raise ValueError(f"{value!r} must be an absolute path like '/sigsci/tmp' (letters, digits, '.', '_', '-' "
                             "between single '/'; no trailing '/', no '.' or '..' segments)")
        return value

    unlisted_options: dict[str, OptionValue] = {}

    @field_validator("options", "unlisted_options")
    @classmethod
    def _option_names(cls, options: dict[str, OptionValue], info: ValidationInfo) -> dict[str, OptionValue]:
        from .agent_options import KNOWN_OPTIONS, check_option_name

        for name in options:
            if name in OWNED_OPTIONS:
                raise ValueError(f"@{name} cannot be set: {OWNED_OPTIONS[name]}")
            if not _OPTION_NAME.fullmatch(name):
                raise ValueError(f"@{name} is not an agent option name: use the option's own spelling in "
                                 "lower case with dashes (e.g. 'max-procs'), not the SIGSCI_ environment form")
            if info.field_name == "options":
                problem = check_option_name(name)
                if problem:
                    raise ValueError(f"@{name} {problem}")
            elif name in KNOWN_OPTIONS:
                raise ValueError(f"@{name} is a known agent option: set it under options, where it is checked")
        return options

    @model_validator(mode="after")
    def _resources_with_defaults(self) -> "AgentSettings":
        problem = self.resources.clash_with_defaults(AGENT_RESOURCES)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _options_once(self) -> "AgentSettings":
        both = sorted(set(self.options) & set(self.unlisted_options))
        if both:
            raise ValueError(f"@unlistedOptions.{both[0]} is also set under options: set it in one place")
        return self

    @model_validator(mode="after")
    def _probe_needs_version(self):
        release = version_tuple(self.version)
        if self.startup_probe.enabled and release is not None and release < MIN_STARTUP_PROBE_VERSION:
            raise ValueError("@startupProbe.enabled needs agent version 4.51.0 or newer; "
                             f"version is {self.version}")
        if release is None and self.version != "latest" and self.image_pull_policy is None:
            raise ValueError(f"@imagePullPolicy must be set for the custom tag {self.version!r}: it is neither a "
                             "release version (e.g. 4.70.0) nor 'latest'. Use Never for a locally tagged image, "
                             "as the vendor guide recommends, or IfNotPresent")
        return self


Placement = Literal["owned", "patch", "service"]

# Which keys make sense for which placement; a key given for another placement is an error, not ignored.
_PLACEMENT_KEYS: dict[str, set[str]] = {
    "image": {"owned"},
    "args": {"owned"},
    "command": {"owned"},
    "env": {"owned"},
    "resources": {"owned"},
    "health_path": {"owned"},
    "read_only_root_filesystem": {"owned"},
    "writable_paths": {"owned"},
    "run_as_user": {"owned"},
    "pre_stop_sleep_seconds": {"owned"},
    "replicas": {"owned", "service"},
    "network_policy": {"owned", "service"},
    "service_type": {"owned", "service"},
    "termination_grace_period_seconds": {"owned", "service"},
    "deployment": {"patch"},
    "service": {"patch"},
    "take_over": {"patch"},
    "owner_target_port": {"patch"},
    "upstream_service": {"service"},
}


class AppSpec(Model):
    """One application to protect with the agent as a reverse proxy."""

    name: ServiceName
    port: Port
    namespace: DnsLabel = "default"
    placement: Placement = "owned"
    listener_port: UnprivilegedPort = 8001
    service_port: Port | None = None
    agent: dict[str, Any] = {}
    # owned
    image: Image | None = None
    args: list[str] | None = None
    command: list[str] | None = None
    env: dict[EnvName, str] | None = None
    resources: Resources | None = None
    health_path: str | None = Field(default=None, pattern=r"^/[^\s]*$")
    read_only_root_filesystem: StrictBool | None = None
    writable_paths: list[str] | None = None
    run_as_user: int | None = Field(default=None, ge=1, le=2147483647, strict=True)
    pre_stop_sleep_seconds: int | None = Field(default=None, ge=0, le=3600, strict=True)
    replicas: int | None = Field(default=None, ge=0, le=1000, strict=True)
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] | None = None
    network_policy: StrictBool | None = None
    termination_grace_period_seconds: int | None = Field(default=None, ge=1, le=7200, strict=True)
    # patch
    deployment: DnsSubdomain | None = None
    service: ServiceName | None = None
    take_over: list[Literal["service.targetPort"]] | None = None
    owner_target_port: TargetPort | None = None
    # service
    upstream_service: ServiceName | None = None

    @field_validator("writable_paths")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        if paths is None:  # null in stack config: the default
            return None
        for path in paths:
            AgentSettings._absolute(path)
        if len(set(paths)) != len(paths):
            raise ValueError("each path may appear only once")
        return paths

    @model_validator(mode="before")
    @classmethod
    def _retired_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and ("patchForce" in data or "patch_force" in data):
            raise ValueError("@patchForce is no longer used: the Deployment patch only adds the agent container, "
                             "its volume and an annotation, so it takes no field from the Deployment's owner; the "
                             "one field placement patch takes, the Service port's targetPort, is named in takeOver")
        return data

    @model_validator(mode="after")
    def _placement_rules(self):
        if self.placement == "patch" and self.termination_grace_period_seconds is not None:
            raise ValueError("@terminationGracePeriodSeconds belongs to the Deployment's owner for placement patch: "
                             "the patch leaves it alone, so that removing the WAF gives the Deployment back as it was")
        for key, allowed in _PLACEMENT_KEYS.items():
            if getattr(self, key) is not None and self.placement not in allowed:
                raise ValueError(f"@{to_camel(key)} applies only to placement {' or '.join(sorted(allowed))}, "
                                 f"not {self.placement}")
        if self.listener_port == self.port:
            raise ValueError(f"@listenerPort must differ from port ({self.port}): the agent listens on its own "
                             "port and proxies to the app's")
        problem = self.resources.clash_with_defaults(APP_RESOURCES) if self.resources is not None else None
        if problem:
            raise ValueError(problem)
        if self.placement == "owned" and self.name == "sigsci-agent":
            raise ValueError("@name 'sigsci-agent' is reserved for placement owned: the agents' own pods carry "
                             "app.kubernetes.io/name=sigsci-agent, and the app's selector would pick them too")
        if self.placement == "owned" and self.image is None:
            raise ValueError("@image is required for placement owned (the app's container image)")
        if self.placement == "patch":
            for key in ("deployment", "service"):
                if getattr(self, key) is None:
                    raise ValueError(f"@{key} is required for placement patch: the name of the existing "
                                     f"{'Deployment' if key == 'deployment' else 'Service'} to patch")
            if "service.targetPort" not in (self.take_over or []):
                raise ValueError(f"@takeOver must name service.targetPort for placement patch: the WAF takes the "
                                 f"targetPort of port {self.effective_service_port()} of Service {self.service} from "
                                 "its owner (and gives back ownerTargetPort when removed). Opt in with takeOver: "
                                 "[service.targetPort]")
        if self.placement == "service":
            if self.upstream_service is None:
                raise ValueError("@upstreamService is required for placement service: the name of the app's "
                                 "existing Service the agents proxy to")
            if self.upstream_service == self.name:
                raise ValueError("@upstreamService must differ from name: the agents' Service is named after "
                                 "the app and cannot replace the app's own Service")
        return self

    def effective_service_port(self) -> int:
        return self.service_port if self.service_port is not None else self.port

    def effective_owner_target_port(self) -> int | str:
        """The patched Service port's targetPort as its owner set it: what removal gives back."""
        return self.owner_target_port if self.owner_target_port is not None else self.port


class SecretSpec(Model):
    """Where the agent credentials come from."""

    site: DnsSubdomain | None = None
    existing_secret: DnsSubdomain | None = None
    has_keys: StrictBool = False

    @model_validator(mode="after")
    def _one_source(self):
        if self.existing_secret is not None and self.has_keys:
            raise ValueError("@existingSecret cannot be combined with accessKeyId/secretAccessKey: "
                             "either the stack creates the Secret from the keys or it uses an existing one")
        if self.existing_secret is None and not self.has_keys:
            raise ValueError("@accessKeyId and secretAccessKey are required (set both with "
                             "`pulumi config set --secret`), or set existingSecret to the name of a Secret "
                             "created out of band")
        if self.has_keys and self.site is None:
            raise ValueError("@site is required when the stack creates the Secret: it is named sigsci.<site>")
        if self.has_keys and len(self.secret_name) > 253:
            raise ValueError(f"@site is {len(self.site)} characters long; the Secret the stack creates is named "
                             "sigsci.<site>, so site may have at most 246 characters (a Secret name has 253)")
        return self

    @property
    def secret_name(self) -> str:
        return self.existing_secret or f"sigsci.{self.site}"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: maps merge key by key, anything else in `over` replaces.

    Per-app (or ingress) agent settings merge over the shared ones this way, and so do Helm values.
    """
    result: dict[str, Any] = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result

