"""The ingress controllers the product can install, and where each chart keeps what we set.

One flavour is one chart plus the Fastly build of its controller image. The values
layout of a chart lives here and nowhere else, so the rest of the product speaks of
"the image", "the snippets", "the sidecar" without knowing which chart it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The module file inside every Fastly controller image (the vendor's override files for both charts).
MODULE_PATH = "/usr/lib/nginx/modules/ngx_http_sigsci_module.so"


@dataclass(frozen=True)
class Flavour:
    name: str
    chart: str
    repository_url: str
    default_chart_version: str
    image_repository: str
    # Chart version -> the Fastly controller image tag built for that chart's controller version.
    images: dict[str, str]
    description: str
    # Key paths under `controller` in this chart's values.
    main_snippet: str
    http_snippet: str
    config_path: tuple[str, ...]
    init_containers: str
    containers: str
    volumes: str
    volume_mounts: str
    pod_annotations: tuple[str, ...]
    # Keys the chart documents only in a comment of its values.yaml (read but not defaulted).
    commented_keys: frozenset[str] = field(default_factory=frozenset)
    # ingress-nginx pins its own image by digest; the digest must be cleared when the image changes.
    image_digest_keys: tuple[str, ...] = ()
    # ingress-nginx selects IngressClasses by a controller value we choose; F5's is fixed by the chart.
    sets_controller_value: bool = False
    # Ports the controller itself listens on in the pod it shares with a sidecar agent: the chart's default
    # values and the controller's own listeners. A sidecar port among them would fail to bind.
    controller_ports: dict[int, str] = field(default_factory=dict)

    @property
    def default_release_name(self) -> str:
        # Contains the chart name, so the chart names its objects `<release>-controller`.
        return f"sigsci-{self.chart}"


_INGRESS_NGINX_LAYOUT = dict(
    chart="ingress-nginx",
    repository_url="https://kubernetes.github.io/ingress-nginx",
    default_chart_version="4.15.1",
    main_snippet="main-snippet",
    http_snippet="http-snippet",
    config_path=("controller", "config"),
    init_containers="extraInitContainers",
    containers="extraContainers",
    volumes="extraVolumes",
    volume_mounts="extraVolumeMounts",
    pod_annotations=("controller", "podAnnotations"),
    # "use *either* current default registry/image or repository format" (values.yaml comment).
    commented_keys=frozenset({"controller.image.repository"}),
    image_digest_keys=("digest", "digestChroot"),
    sets_controller_value=True,
    # values.yaml (containerPort, admissionWebhooks.port, the probes' 10254) and the controller's
    # --default-server-port, --profiler-port, --status-port and --stream-port defaults.
    controller_ports={80: "http", 443: "https", 8181: "the default server", 8443: "the admission webhook",
                      10245: "the profiler", 10246: "the NGINX status", 10247: "the stream listener",
                      10254: "health checks and metrics"},
)

FLAVOURS: dict[str, Flavour] = {
    "ingress-nginx": Flavour(
        name="ingress-nginx",
        image_repository="signalsciences/sigsci-nginx-ingress-controller",
        images={"4.15.1": "1.15.1-fastly1.4.0"},
        description="kubernetes/ingress-nginx (retired upstream; last release 4.15.1) with the Fastly module",
        **_INGRESS_NGINX_LAYOUT,
    ),
    "ingress-nginx-chainguard": Flavour(
        name="ingress-nginx-chainguard",
        image_repository="signalsciences/sigsci-nginx-ingress-controller-chainguard",
        images={"4.15.1": "v1.15.6"},
        description="the ingress-nginx chart with the maintained Chainguard-based Fastly controller image",
        **_INGRESS_NGINX_LAYOUT,
    ),
    "nginx-ingress": Flavour(
        name="nginx-ingress",
        chart="nginx-ingress",
        repository_url="https://helm.nginx.com/stable",
        default_chart_version="2.5.0",
        image_repository="signalsciences/sigsci-nginxinc-ingress-controller",
        images={"2.5.0": "5.4.0"},
        description="F5 NGINX Ingress Controller with the Fastly module",
        main_snippet="main-snippets",
        http_snippet="http-snippets",
        config_path=("controller", "config", "entries"),
        init_containers="initContainers",
        containers="extraContainers",
        volumes="volumes",
        volume_mounts="volumeMounts",
        pod_annotations=("controller", "pod", "annotations"),
        # "If not specified the appVersion from Chart.yaml is used as a tag" (values.yaml comment).
        commented_keys=frozenset({"controller.image.tag", "controller.image.digest"}),
        # values.yaml: containerPort, nginxStatus.port, readyStatus.port, prometheus.port, serviceInsight.port.
        controller_ports={80: "http", 443: "https", 8080: "the NGINX status", 8081: "the readiness endpoint",
                          9113: "Prometheus metrics", 9114: "the service insight endpoint"},
    ),
}
