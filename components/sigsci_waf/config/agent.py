"""The agent's settings, shared by every shape: image, resources, options, temp volume, probe, user."""

from __future__ import annotations

import re

from typing import Annotated

from pydantic import Field, StrictBool, ValidationInfo, field_validator, model_validator

from .choices import PullPolicy
from .errors import Problem
from .model import Model, is_partial
from .sensitive import STRUCTURE
from .kube import DEFAULT_UID, absolute_path, Cpu, Digest, Memory, OptionValue, Repository, Tag, UnprivilegedPort, quantity_value

DEFAULT_AGENT_REPOSITORY = "signalsciences/sigsci-agent"
DEFAULT_AGENT_VERSION = "4.70.0"
DEFAULT_TMP_MOUNT = "/sigsci/tmp"
MIN_STARTUP_PROBE_VERSION = (4, 51, 0)
_VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)\.([0-9]+)$")
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# Options the product derives itself; setting them by hand would split what must stay together.
OWNED_OPTIONS = {
    "accesskeyid": "credentials come from the Secret (sigsci:accessKeyId / sigsci:existingSecret)",
    "secretaccesskey": "credentials come from the Secret (sigsci:secretAccessKey / sigsci:existingSecret)",
    "rpc-address": "it is derived from tmpMountPath so the module and the agent always agree",
    "shared-cache-dir": "it is derived from tmpMountPath",
    "revproxy-listener": "it is derived from the app's port and listenerPort",
    "startup-probe-listener": "use startupProbe.enabled and startupProbe.port",
    "envoy-extproc-enabled": "it is set for the gateway's agents, which run as Envoy's external processor",
    "envoy-grpc-address": "it is derived from the gateway's agents.port, which also sets their Service",
    "server-flavor": "it is set for the gateway's implementation",
    "envoy-grpc-cert": "it is derived from the gateway's agents.tls.secret",
    "envoy-grpc-key": "it is derived from the gateway's agents.tls.secret",
}


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
                raise Problem(("requests", kind), f"{request} exceeds limits.{kind} {limit}")
        return self

    def filled(self, defaults: "Resources") -> "Resources":
        """These resources with missing entries taken from `defaults`."""
        def merge(mine: Quantities, theirs: Quantities) -> Quantities:
            return Quantities(cpu=mine.cpu if mine.cpu is not None else theirs.cpu,
                              memory=mine.memory if mine.memory is not None else theirs.memory)

        return Resources(requests=merge(self.requests, defaults.requests), limits=merge(self.limits, defaults.limits))

    def check_defaults(self, defaults: "Resources", where: str = "resources") -> None:
        """Filling the gaps from `defaults` must not give a request above its limit."""
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            default_request, default_limit = getattr(defaults.requests, kind), getattr(defaults.limits, kind)
            if request is not None and limit is None and default_limit is not None \
                    and quantity_value(str(request)) > quantity_value(str(default_limit)):
                raise Problem((where, "requests", kind), f"{request} exceeds the default limits.{kind} "
                                                         f"{default_limit}; set {where}.limits.{kind} as well")
            if limit is not None and request is None and default_request is not None \
                    and quantity_value(str(limit)) < quantity_value(str(default_request)):
                raise Problem((where, "limits", kind), f"{limit} is below the default requests.{kind} "
                                                       f"{default_request}; set {where}.requests.{kind} as well")


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
    """Hold traffic until the agent has loaded its rules (agent >= 4.51.0). On by default: without it a native
    sidecar counts as started, and a classic one as ready, before the agent answers, and the module passes the
    requests of that window uninspected (it fails open). Opt out with `enabled: false`."""

    enabled: StrictBool = True
    port: UnprivilegedPort = 2024
    failure_threshold: int = Field(default=90, ge=1, le=1000, strict=True)
    period_seconds: int = Field(default=2, ge=1, le=300, strict=True)


def probe_port_taken(used: str) -> str:
    """The one wording of a startup probe port that something else in the agent's pod has (`used` says what): the
    probe is on by default, so the way out is either of its keys."""
    return (f"{used}: the agent's startup probe listens there (on by default); pick another startupProbe.port or "
            "set startupProbe.enabled: false")


class AgentSettings(Model):
    """The agent container, shared by every deployment shape."""

    repository: Repository = DEFAULT_AGENT_REPOSITORY
    version: Tag = DEFAULT_AGENT_VERSION
    digest: Digest | None = None
    image_pull_policy: PullPolicy | None = None
    resources: Resources = Resources()
    options: dict[str, OptionValue] = {}
    tmp_mount_path: Annotated[str, STRUCTURE] = DEFAULT_TMP_MOUNT
    pre_stop_sleep_seconds: int = Field(default=30, ge=0, le=3600, strict=True)
    startup_probe: StartupProbe = StartupProbe()
    run_as_user: int = Field(default=DEFAULT_UID, ge=1, le=2147483647, strict=True)
    access_log: StrictBool = True

    @field_validator("tmp_mount_path")
    @classmethod
    def _tmp_mount(cls, value: str) -> str:
        absolute_path(value)
        covered = next((p for p in RESERVED_PATHS if p == value or p.startswith(value + "/")), None)
        if covered is not None or any(value == p or value.startswith(p + "/") for p in KERNEL_PATHS):
            what = f"covers {covered}" if covered else "is inside a kernel file system"
            raise ValueError(f"{value!r} {what}: the temp volume would hide what the agent's or the controller's "
                             "image keeps there. Use a path of its own, like '/sigsci/tmp' (the default) or "
                             "'/var/run/sigsci'")
        return value

    unlisted_options: dict[str, OptionValue] = {}

    @field_validator("options", "unlisted_options")
    @classmethod
    def _option_names(cls, options: dict[str, OptionValue], info: ValidationInfo) -> dict[str, OptionValue]:
        """Names first (the derived ones refused, the spelling checked), then, under `options`, each value by the
        kind the catalogue gives its option, kept as the agent reads it (`'4'` -> 4, `'true'` -> True).
        `unlistedOptions` values pass as written."""
        from ..agent.options import KNOWN_OPTIONS, check_option_name, check_option_value

        read: dict[str, OptionValue] = {}
        for name, value in options.items():
            if name in OWNED_OPTIONS:
                raise Problem((name,), f"cannot be set: {OWNED_OPTIONS[name]}")
            if not _OPTION_NAME.fullmatch(name):
                raise Problem((name,), "is not an agent option name: use the option's own spelling in lower "
                                       "case with dashes (e.g. 'max-procs'), not the SIGSCI_ environment form")
            if info.field_name == "options":
                problem = check_option_name(name)
                if problem:
                    raise Problem((name,), problem)
                value, problem = check_option_value(name, value)
                if problem:
                    raise Problem((name,), problem)
            elif name in KNOWN_OPTIONS:
                raise Problem((name,), "is a known agent option: set it under options, where it is checked")
            read[name] = value
        return read

    @model_validator(mode="after")
    def _resources_with_defaults(self, info: ValidationInfo) -> "AgentSettings":
        if not is_partial(info):  # a level's gaps are filled by the other level first
            self.resources.check_defaults(AGENT_RESOURCES)
        return self

    @model_validator(mode="after")
    def _options_once(self) -> "AgentSettings":
        both = sorted(set(self.options) & set(self.unlisted_options))
        if both:
            raise Problem(("unlistedOptions", both[0]), "is also set under options: set it in one place")
        return self

    @model_validator(mode="after")
    def _probe_needs_version(self, info: ValidationInfo):
        if is_partial(info):  # version and pull policy may come from the other level
            return self
        release = version_tuple(self.version)
        # Only a release tag can be judged: `latest` or a custom tag is taken to be an agent that has the probe.
        if self.startup_probe.enabled and release is not None and release < MIN_STARTUP_PROBE_VERSION:
            chosen = "enabled" in self.startup_probe.model_fields_set
            # The key the user set: the probe they turned on, or the version that cannot run the default probe.
            raise Problem("startupProbe.enabled" if chosen else "version",
                          f"{self.version} is older than 4.51.0, the first agent with the startup probe "
                          f"({'enabled' if chosen else 'on by default'}): upgrade the agent (version) or set "
                          "startupProbe.enabled: false")
        if release is None and self.version != "latest" and self.image_pull_policy is None:
            raise Problem("imagePullPolicy", f"must be set for the custom tag {self.version!r}: it is neither a "
                                             "release version (e.g. 4.70.0) nor 'latest'. Use Never for a locally "
                                             "tagged image, as the vendor guide recommends, or IfNotPresent")
        return self




def merge_agent(shared: AgentSettings, own: AgentSettings, key: str, *, snake: bool = False,
                shared_key: str | None = None) -> AgentSettings:
    """An entry's own agent settings over the shared ones, key by key at any depth, checked whole. A rule
    the merged settings break is reported on the level that set the offending key: the entry's own (`key`),
    or the shared settings (`shared_key`) when only they set it, or when the entry sets nothing."""
    from pydantic.alias_generators import to_snake

    from .errors import ConfigError
    from .model import deep_merge, parse

    try:
        return parse(AgentSettings, deep_merge(shared.given(), own.given()), key, snake=snake)
    except ConfigError as error:
        if shared_key is None or not error.key.startswith(key + "."):
            raise
        path = [to_snake(part) for part in error.key[len(key) + 1:].split(".")]

        def sets(level: AgentSettings) -> bool:
            node: object = level.given()
            for part in path:
                if not isinstance(node, dict) or part not in node:
                    return False
                node = node[part]
            return True

        # The shared settings set the key, or the entry adds nothing of its own: theirs to fix.
        if not sets(own) and (sets(shared) or not own.given()):
            raise ConfigError(shared_key + error.key[len(key):], error.problem) from None
        raise
