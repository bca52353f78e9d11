"""What users may type under `sigsci:ingress`: the controller, its agent, its Service and its routes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import StrictBool, Field, field_validator, model_validator

from ..ingress.flavours import FLAVOURS
from .agent import AgentSettings, Quantities, Resources
from .choices import AgentLifetime, ExternalTrafficPolicy, Flavour, PathType, PullPolicy, ServiceType
from .errors import Problem
from .sensitive import STRUCTURE
from .kube import (Annotations, ChartName, Digest, DnsLabel, DnsSubdomain, ReleaseName, Repository, Tag, _text)
from .model import Model
from .routes import RouteBase

_CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")
# ingress-nginx refuses controller tags older than this (its isControllerTagValid helper).
MIN_INGRESS_NGINX_TAG = (0, 27, 0)
DEFAULT_NAMESPACE = "sigsci-ingress"
DEFAULT_CLASS = "sigsci-nginx"
DEFAULT_GRACE_SECONDS = 300
DEFAULT_AGENT_RPC_PORT = 9999
# The agents' own Deployment and Service, for agentLifetime service, are named <release><suffix>.
AGENT_SERVICE_SUFFIX = "-sigsci-agent"

ChartVersion = _text(_CHART_VERSION, 64, "a chart version such as '4.15.1'")
# Annotation prefixes each controller reads; an annotation for the other controller would be ignored silently.
ANNOTATION_PREFIXES = {"ingress-nginx": "nginx.ingress.kubernetes.io/", "nginx-ingress": "nginx.org/"}




def semver_tuple(tag: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a tag the chart's semverCompare reads (a leading 'v', missing minor and patch,
    pre-release and build parts allowed); None when it is no semantic version. Parsed with python-semver."""
    import semver

    try:
        version = semver.Version.parse(tag[1:] if tag.startswith("v") else tag, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None
    return version.major, version.minor, version.patch


class Chart(Model):
    """Which chart release to install, and from where (a private mirror of the public repository works)."""

    version: ChartVersion | None = None
    repository: Annotated[str, STRUCTURE] | None = Field(default=None, pattern=r"^(https?|oci)://[^\s]+$")


class ControllerImage(Model):
    repository: Repository | None = None
    tag: Tag | None = None
    digest: Digest | None = None
    pull_policy: PullPolicy = PullPolicy.IF_NOT_PRESENT


# No CPU limit by default: the ingress-nginx chart advises against one (CFS throttling adds latency to every
# request). Memory is bounded so a leak or a flood cannot take the node down.
CONTROLLER_RESOURCES = Resources(requests=Quantities(cpu="100m", memory="128Mi"),
                                 limits=Quantities(memory="512Mi"))


class ControllerSpec(Model):
    image: ControllerImage = ControllerImage()
    replicas: int = Field(default=2, ge=1, le=100, strict=True)
    resources: Resources = Resources()
    termination_grace_period_seconds: int = Field(default=DEFAULT_GRACE_SECONDS, ge=30, le=3600, strict=True)

    @model_validator(mode="after")
    def _resources_with_defaults(self):
        self.resources.check_defaults(CONTROLLER_RESOURCES)
        return self


class ControllerService(Model):
    type: ServiceType = ServiceType.LOAD_BALANCER
    external_traffic_policy: ExternalTrafficPolicy = ExternalTrafficPolicy.LOCAL
    annotations: Annotations = {}

    @model_validator(mode="after")
    def _policy_needs_external(self):
        if self.type == ServiceType.CLUSTER_IP and "external_traffic_policy" in self.model_fields_set:
            raise Problem("externalTrafficPolicy", "applies only to Service type LoadBalancer or NodePort")
        return self


class AgentService(Model):
    """The agents as their own Deployment behind a Service (the seeds' "scale it separately")."""

    replicas: int = Field(default=2, ge=1, le=100, strict=True)
    port: int = Field(default=DEFAULT_AGENT_RPC_PORT, ge=1024, le=65535, strict=True)


class IngressClass(Model):
    name: ChartName = DEFAULT_CLASS
    default: StrictBool = False


class Route(RouteBase):
    """One Ingress rule: host and path to a backend, either an app from `sigsci:apps` or a named Service."""

    path_type: PathType = PathType.PREFIX
    annotations: Annotations = {}
    tls_secret: DnsSubdomain | None = None

    @model_validator(mode="after")
    def _tls_needs_host(self):
        if self.tls_secret is not None and self.host is None:
            raise Problem("tlsSecret", "needs host: the certificate is served for that host")
        return self


class IngressSpec(Model):
    """`sigsci:ingress`: the NGINX ingress controller with the Fastly module and the agent."""

    flavour: Flavour = Flavour.INGRESS_NGINX
    namespace: DnsLabel = DEFAULT_NAMESPACE
    create_namespace: StrictBool = True
    release_name: ReleaseName | None = None
    chart: Chart = Chart()
    controller: ControllerSpec = ControllerSpec()
    agent_lifetime: AgentLifetime = AgentLifetime.NATIVE_SIDECAR
    agent_service: AgentService | None = None
    # The controller's own agent settings, over sigsci:agent: checked whole once merged.
    agent: AgentSettings = Field(default_factory=AgentSettings)
    ingress_class: IngressClass = IngressClass()
    service: ControllerService = ControllerService()
    routes: list[Route] = []
    extra_values: dict[str, Any] = {}

    @field_validator("flavour", mode="before")
    @classmethod
    def _known_flavour(cls, flavour: Any) -> Any:
        if isinstance(flavour, str) and flavour not in FLAVOURS:
            raise ValueError(f"{flavour!r} is not a flavour; use one of: " + ", ".join(FLAVOURS))
        return flavour

    @model_validator(mode="after")
    def _rules(self):
        if self.agent_service is not None and self.agent_lifetime != AgentLifetime.SERVICE:
            raise Problem("agentService", "applies only to agentLifetime service")
        if self.agent_lifetime == AgentLifetime.SERVICE and len(self.release) > 63 - len(AGENT_SERVICE_SUFFIX):
            raise Problem("releaseName", f"{self.release!r} is too long for agentLifetime service: the agents' "
                                         f"Service is named <releaseName>{AGENT_SERVICE_SUFFIX}, so releaseName may "
                                         f"have at most {63 - len(AGENT_SERVICE_SUFFIX)} characters")
        if self.agent_lifetime != AgentLifetime.SERVICE and "pre_stop_sleep_seconds" in self.agent.model_fields_set:
            raise Problem("agent.preStopSleepSeconds", "is derived for the controller from agentLifetime: a native "
                                                       "sidecar stops after the controller, a classic one sleeps "
                                                       "through the controller's whole grace period")
        flavour = FLAVOURS[self.flavour]
        controller_value = f"k8s.io/{self.ingress_class.name}"
        if flavour.sets_controller_value and len(controller_value) > 250:
            raise Problem("ingressClass.name", f"is {len(self.ingress_class.name)} characters; the IngressClass's "
                                               f"controller is {controller_value[:20]}..., which Kubernetes allows "
                                               "up to 250 characters: use a name of at most 243")
        image = self.controller.image
        chart_version = self.chart.version or flavour.default_chart_version
        if image.tag is None and chart_version not in flavour.images:
            known = ", ".join(f"chart {v} -> {flavour.image_repository}:{t}" for v, t in flavour.images.items())
            raise Problem("chart.version", f"{chart_version} has no known Fastly controller image for flavour "
                                           f"{self.flavour} ({known}); set controller.image.tag to the Fastly build "
                                           "of that chart's controller version, or use a known chart version")
        if image.tag is not None and flavour.sets_controller_value:
            release = semver_tuple(image.tag)
            if release is None or release < MIN_INGRESS_NGINX_TAG:
                raise Problem("controller.image.tag", f"{image.tag!r} is refused by the ingress-nginx chart: it "
                                                      "needs a semantic version of 0.27.0 or newer (e.g. "
                                                      "1.15.1-fastly1.4.0), so 'latest' and custom tags cannot be "
                                                      "used with this flavour")
        seen: dict[str, int] = {}
        for index, route in enumerate(self.routes):
            for key in route.annotations:
                _check_flavour_annotation(self.flavour, key, ("routes", index, "annotations"))
            if route.name is not None:
                if route.name in seen:
                    raise Problem(("routes", index, "name"), f"{route.name!r} is already used by "
                                                             f"routes[{seen[route.name]}]")
                seen[route.name] = index
        return self

    @property
    def flavour_spec(self):
        return FLAVOURS[self.flavour]

    @property
    def chart_version(self) -> str:
        return self.chart.version or self.flavour_spec.default_chart_version

    @property
    def chart_repository(self) -> str:
        return self.chart.repository or self.flavour_spec.repository_url

    @property
    def release(self) -> str:
        return self.release_name or self.flavour_spec.default_release_name

    @property
    def image_repository(self) -> str:
        return self.controller.image.repository or self.flavour_spec.image_repository

    @property
    def image_tag(self) -> str:
        return self.controller.image.tag or self.flavour_spec.images[self.chart_version]


def _check_flavour_annotation(flavour: str, key: str, where: tuple[str | int, ...]) -> None:
    family = "nginx-ingress" if flavour == "nginx-ingress" else "ingress-nginx"
    for other, prefix in ANNOTATION_PREFIXES.items():
        if other != family and key.startswith(prefix):
            raise Problem(where, f"{key!r} is read only by {other} controllers; flavour {flavour} ignores it (its "
                                 f"annotations start with {ANNOTATION_PREFIXES[family]})")

