"""What users may type under `sigsci:ingress`: the controller, its agent, its Service and its routes."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import StrictBool, Field, field_validator, model_validator

from ..ingress.flavours import FLAVOURS
from .agent import AgentSettings, Quantities, Resources
from .choices import AgentLifetime, ExternalTrafficPolicy, Flavour, PathType, PullPolicy, ServiceType
from .errors import Problem
from .kube import (Annotations, ChartName, ChartNamespace, ChartReleaseName, ChartRepository, Digest,
                   DnsSubdomain, Repository, Tag, _text)
from .model import Model
from .routes import RouteBase

_CHART_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?$")
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
# Route annotations the controller refuses or ignores while the WAF holds its settings: snippets stay off (they
# could switch the module off), F5's image is open-source NGINX. Family -> (key prefix or suffix test, why).
_REFUSED_ANNOTATIONS: dict[str, list[tuple[Any, str]]] = {
    # CheckIngress: any key ending in -snippet while allow-snippet-annotations is off.
    "ingress-nginx": [(lambda k: k.endswith("-snippet"),
                       "is a snippet annotation, which the controller refuses: snippets stay off, since one could "
                       "switch the module off for its routes")],
    # validateSnippetsAnnotation and validatePlusOnlyAnnotation (internal/k8s/validation.go).
    "nginx-ingress": [(lambda k: k in ("nginx.org/server-snippets", "nginx.org/location-snippets"),
                       "is a snippet annotation, which the controller refuses while snippets are off (they stay off, "
                       "since one could switch the module off for its routes): the route would not be served"),
                      (lambda k: k.startswith(("nginx.com/", "appprotect.f5.com/", "appprotectdos.f5.com/")),
                       "needs NGINX Plus, and the Fastly controller image is open-source NGINX: the controller "
                       "refuses the Ingress and the route would not be served")],
}
# Paths each controller family refuses (ingress-nginx's admission webhook, F5's Ingress validation), beyond
# Kubernetes' own rules. ingress-nginx (inspector/rules.go): with strict-validate-path-type, on by default, a Prefix
# or Exact path has only letters, digits and . _ - /; its deep inspection refuses these parts in any path.
_INGRESS_NGINX_STRICT_PATH = re.compile(r"/[A-Za-z0-9._\-/]*")
_INGRESS_NGINX_FORBIDDEN = re.compile(r"/etc/(passwd|shadow|group|nginx|ingress-controller)|/var/run/secrets|_by_lua")
# F5 (validatePath): the path must compile as a regular expression, have every '"' escaped and not end in an
# unescaped '\'; its illegal keywords: starting with /etc/, containing /root or /var, a literal \n, or ending in \r.
_F5_ESCAPED = re.compile(r'([^"\\]|\\.)*')
_F5_ILLEGAL = re.compile(r"^/etc/|/root|/var|\\n|\\r$")




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
    repository: ChartRepository | None = None


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

    LOOSE_PATH_TYPE: ClassVar[str | None] = PathType.IMPLEMENTATION_SPECIFIC.value

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
    namespace: ChartNamespace = DEFAULT_NAMESPACE
    create_namespace: StrictBool = True
    release_name: ChartReleaseName | None = None
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
        stock = flavour.stock_classes.get(self.ingress_class.name)
        if stock is not None:
            raise Problem("ingressClass.name", f"{self.ingress_class.name!r} cannot be used with flavour "
                                               f"{self.flavour}: {stock}; use a name of its own (default "
                                               f"{DEFAULT_CLASS})")
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
                _check_flavour_annotation(self.flavour, key, ("routes", index, "annotations", key))
            _check_flavour_path(self.flavour, route, ("routes", index, "path"))
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


def _family(flavour: str) -> str:
    return "nginx-ingress" if flavour == "nginx-ingress" else "ingress-nginx"


def _check_flavour_annotation(flavour: str, key: str, where: tuple[str | int, ...]) -> None:
    family = _family(flavour)
    for other, prefix in ANNOTATION_PREFIXES.items():
        if other != family and key.startswith(prefix):
            raise Problem(where, f"{key!r} is read only by {other} controllers; flavour {flavour} ignores it (its "
                                 f"annotations start with {ANNOTATION_PREFIXES[family]})")
    if key == "kubernetes.io/ingress.class":
        raise Problem(where, "cannot be set: the Ingress names its class in ingressClassName (ingressClass.name), "
                             "and Kubernetes refuses an Ingress that sets both")
    for refused, why in _REFUSED_ANNOTATIONS[family]:
        if refused(key):
            raise Problem(where, f"{key!r} {why}")


def _check_flavour_path(flavour: str, route: Route, where: tuple[str | int, ...]) -> None:
    """The paths the flavour's controller refuses: the Ingress would be refused at `up` (ingress-nginx's admission
    webhook) or never served (F5's validation)."""
    path, path_type = route.path, route.path_type
    if _family(flavour) == "ingress-nginx":
        if path_type != PathType.IMPLEMENTATION_SPECIFIC and not _INGRESS_NGINX_STRICT_PATH.fullmatch(path):
            raise Problem(where, f"{path!r} is refused by ingress-nginx for pathType {path_type}: such a path has "
                                 "only letters, digits and '.', '_', '-', '/'; use such a path, or pathType "
                                 "ImplementationSpecific")
        found = _INGRESS_NGINX_FORBIDDEN.search(path)
        if found:
            raise Problem(where, f"{path!r} contains {found.group(0)!r}, which ingress-nginx refuses in any path "
                                 "(/etc/nginx and other system paths, /var/run/secrets, _by_lua)")
        return
    found = _F5_ILLEGAL.search(path)
    if found:
        raise Problem(where, f"{path!r} is refused by F5's controller (a path starting with /etc/, or containing "
                             "/root, /var, \\n, or ending in \\r); the route would not be served")
    try:
        re.compile(path)
        valid = _F5_ESCAPED.fullmatch(path) is not None
    except re.error:
        valid = False
    if not valid:
        raise Problem(where, f"{path!r} is refused by F5's controller, which reads a path as a regular expression: "
                             "it must be a valid one, with every '\"' escaped and no trailing '\\'; the route "
                             "would not be served")

