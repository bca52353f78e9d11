"""The ingress controllers the product can install, and where each chart keeps what we set.

One flavour is one chart plus the Fastly build of its controller image. The values
layout of a chart lives here and nowhere else, so the rest of the product speaks of
"the image", "the snippets", "the sidecar" without knowing which chart it talks to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config.choices import Flavour

# The module file inside every Fastly controller image (the vendor's override files for both charts).
MODULE_PATH = "/usr/lib/nginx/modules/ngx_http_sigsci_module.so"


_OTHER_CONFIGMAP = "makes the controller read another ConfigMap, without the module lines we put in its own"
_TEMPLATE = ("replaces the nginx configuration template; a template without the snippet lines drops "
             "load_module and sigsci_agent_host, and nginx runs without the WAF")
_STREAM = ("opens TCP/UDP (stream) proxying, which never passes through the HTTP module: that traffic "
           "would not be inspected")
_PASSTHROUGH = "TLS passthrough hands connections to the backends without nginx's HTTP layer: no inspection"
_IMAGE = "the controller image must be the Fastly build; set it from sigsci:ingress.controller.image"
_USER = ("replaces the controller's security context, which sets the user nginx runs as; the agent runs as "
         "that user so that nginx can reach its socket")
_SNIPPET_ANNOTATIONS = ("lets any Ingress of this class add configuration snippets, which can switch the "
                        "module off for its routes")
_STREAM_PORTS = ("opens more ports on the controller, which only stream (TCP/UDP) listeners serve; that traffic "
                 "never passes through the HTTP module and would not be inspected")
_WATCHED = ("limits the namespaces the controller watches; the routes' Ingresses live in their backends' "
            "namespaces, and one outside them would never be served")
_HOST_NETWORK = ("runs the controller in the node's network: the agents' NetworkPolicy admits the controller "
                 "pods by label, which most network plugins do not match for host-network pods, and with the "
                 "chart's dnsPolicy the agents' Service name does not resolve, so nginx would pass requests "
                 "uninspected; use a sidecar agentLifetime, or leave hostNetwork unset")


@dataclass(frozen=True)
class FlavourChart:
    """One flavour's chart, its Fastly images and where its values keep what we set."""

    name: Flavour
    chart: str
    repository_url: str
    default_chart_version: str
    image_repository: str
    # Chart version -> the Fastly controller image tag built for that chart's controller version.
    images: dict[str, str]
    # Key paths under `controller` in this chart's values.
    main_snippet: str
    http_snippet: str
    config_path: tuple[str, ...]
    init_containers: str
    containers: str
    volumes: str
    volume_mounts: str
    pod_annotations: tuple[str, ...]
    # ingress-nginx pins its own image by digest; the digest must be cleared when the image changes.
    image_digest_keys: tuple[str, ...] = ()
    # ingress-nginx selects IngressClasses by a controller value we choose; F5's is fixed by the chart.
    sets_controller_value: bool = False
    # The controller refuses an Ingress rule without a host (F5's validateIngressSpec), so such a route is never
    # served; ingress-nginx serves it for any host.
    requires_rule_host: bool = False
    # Ports the controller itself listens on in the pod it shares with a sidecar agent: the chart's default
    # values and the controller's own listeners. A sidecar port among them would fail to bind.
    controller_ports: dict[int, str] = field(default_factory=dict)
    # The user and group nginx workers run as (the chart's securityContext): the agent beside them runs as
    # the same user, so the socket it creates is theirs, and the pod's fsGroup is their group.
    nginx_uid: int = 101
    nginx_gid: int = 101
    # Values (dotted prefixes) that would stop inspection or unwire the agent, and why: extraValues may
    # not set them. Every value the chart reads that changes which config, template, image, binary or
    # user the controller runs with, or that opens a path around the HTTP module, is here.
    guarded_values: dict[str, str] = field(default_factory=dict)
    # The same, for values that stop inspection only when the agents are their own Service (agentLifetime service).
    guarded_with_agent_service: dict[str, str] = field(default_factory=dict)
    # Paths in the controller image a volume of the user's may not be mounted at, over or under: nginx's config
    # and template, the modules directory and the binaries. A '*' matches within one directory level.
    protected_paths: tuple[str, ...] = ()
    # The container the chart runs the controller in: a values key naming it (with its default), or None when it
    # is the chart's name (nameOverride followed).
    container_name_value: tuple[str, str] | None = None
    # Volumes the chart adds to the controller pod itself (under some settings): a mount may name them, a
    # volume of the user's may not take their name.
    chart_volumes: tuple[str, ...] = ()
    # IngressClass names a stock controller of this family serves: a stock controller in the cluster would
    # serve our Ingresses around the WAF. Name -> why.
    stock_classes: dict[str, str] = field(default_factory=dict)
    # The chart's naming inputs: every name and selector label is derived from them as the chart does.
    service_name_override: str | None = None  # a top-level value renaming only the controller Service
    selector_labels_override: str | None = None  # a value replacing the pod selector labels whole
    component_label: bool = False  # the chart adds app.kubernetes.io/component=controller to the selector
    # Under `controller`, the chart's switch for a PodDisruptionBudget, when it has none by default (ingress-nginx
    # makes one itself for more than one replica, with minAvailable 1).
    disruption_budget: str | None = None
    # More Services the chart names `<controller fullname><suffix>` without cutting to 63: suffix -> the value
    # (dotted, under the chart's values) that turns it on, and its default.
    suffixed_services: dict[str, tuple[str, bool]] = field(default_factory=dict)

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
    image_digest_keys=("digest", "digestChroot"),
    sets_controller_value=True,
    # values.yaml (containerPort, admissionWebhooks.port, the probes' 10254) and the controller's
    # --default-server-port, --profiler-port, --status-port and --stream-port defaults.
    controller_ports={80: "http", 443: "https", 8181: "the default server", 8443: "the admission webhook",
                      10245: "the profiler", 10246: "the NGINX status", 10247: "the stream listener",
                      10254: "health checks and metrics"},
    # values.yaml: controller.image.runAsUser 101, runAsGroup 82 (www-data), "must not be changed".
    nginx_uid=101,
    nginx_gid=82,
    component_label=True,
    # controller-service-webhook.yaml, -metrics.yaml, -internal.yaml: `{{ controller.fullname }}-<suffix>`.
    suffixed_services={"-admission": ("controller.admissionWebhooks.enabled", True),
                       "-metrics": ("controller.metrics.enabled", False),
                       "-internal": ("controller.service.internal.enabled", False)},
    # rootfs/Dockerfile: config and template under /etc/nginx, nginx in /usr/local/nginx (linked from
    # /usr/bin/nginx), the controller at /; the Fastly module in /usr/lib/nginx/modules.
    protected_paths=("/etc/nginx", "/usr/lib/nginx/modules", "/usr/local/nginx", "/usr/bin/nginx",
                     "/nginx-ingress-controller"),
    container_name_value=("controller.containerName", "controller"),
    # controller-deployment.yaml: the admission webhook's certificate, and extraModules' shared volume.
    chart_volumes=("webhook-cert", "modules"),
    stock_classes={"ingress-nginx": "its controller value k8s.io/ingress-nginx is the stock ingress-nginx "
                                    "controller's, so a stock controller in the cluster would serve this class's "
                                    "Ingresses without the WAF"},
    guarded_with_agent_service={"controller.hostNetwork": _HOST_NETWORK},
    guarded_values={
        "controller.configMapNamespace": _OTHER_CONFIGMAP,
        "controller.extraArgs.configmap": _OTHER_CONFIGMAP,
        "controller.customTemplate": _TEMPLATE,
        "controller.image": _IMAGE,
        "global.image": _IMAGE,
        "controller.containerSecurityContext": _USER,
        "tcp": _STREAM,
        "udp": _STREAM,
        "controller.tcp": _STREAM,
        "controller.udp": _STREAM,
        "controller.extraArgs.tcp-services-configmap": _STREAM,
        "controller.extraArgs.udp-services-configmap": _STREAM,
        "controller.extraArgs.enable-ssl-passthrough": _PASSTHROUGH,
        "controller.extraArgs.ssl-passthrough-proxy-port": _PASSTHROUGH,
        "controller.config.stream-snippet": _STREAM,
        "controller.extraArgs.ingress-class": "the class is set from sigsci:ingress.ingressClass",
        "controller.extraArgs.controller-class": "the class is set from sigsci:ingress.ingressClass",
        "controller.allowSnippetAnnotations": _SNIPPET_ANNOTATIONS,
        "controller.config.allow-snippet-annotations": _SNIPPET_ANNOTATIONS,
        "controller.config.annotations-risk-level": _SNIPPET_ANNOTATIONS,
        "controller.scope": _WATCHED,
        "controller.extraArgs.watch-namespace": _WATCHED,
        "controller.extraArgs.watch-namespace-selector": _WATCHED,
        "controller.extraArgs.annotations-prefix": ("changes the annotations' prefix: the admission webhook then "
                                                    "refuses every route annotation with the standard prefix"),
        "namespaceOverride": ("moves the chart's objects out of the release namespace, away from the agent "
                              "keys' Secret; set sigsci:ingress.namespace instead"),
    },
)

FLAVOURS: dict[Flavour, FlavourChart] = {
    Flavour.INGRESS_NGINX: FlavourChart(
        name=Flavour.INGRESS_NGINX,
        image_repository="signalsciences/sigsci-nginx-ingress-controller",
        images={"4.15.1": "1.15.1-fastly1.4.0"},
        **_INGRESS_NGINX_LAYOUT,
    ),
    Flavour.INGRESS_NGINX_CHAINGUARD: FlavourChart(
        name=Flavour.INGRESS_NGINX_CHAINGUARD,
        image_repository="signalsciences/sigsci-nginx-ingress-controller-chainguard",
        images={"4.15.1": "v1.15.6"},
        **_INGRESS_NGINX_LAYOUT,
    ),
    Flavour.NGINX_INGRESS: FlavourChart(
        name=Flavour.NGINX_INGRESS,
        chart="nginx-ingress",
        repository_url="https://helm.nginx.com/stable",
        default_chart_version="2.5.0",
        image_repository="signalsciences/sigsci-nginxinc-ingress-controller",
        images={"2.5.0": "5.4.0"},
        main_snippet="main-snippets",
        http_snippet="http-snippets",
        config_path=("controller", "config", "entries"),
        init_containers="initContainers",
        containers="extraContainers",
        volumes="volumes",
        volume_mounts="volumeMounts",
        pod_annotations=("controller", "pod", "annotations"),
        disruption_budget="podDisruptionBudget",
        requires_rule_host=True,
        # values.yaml: containerPort, nginxStatus.port, readyStatus.port, prometheus.port, serviceInsight.port.
        controller_ports={80: "http", 443: "https", 8080: "the NGINX status", 8081: "the readiness endpoint",
                          9113: "Prometheus metrics", 9114: "the service insight endpoint"},
        # The chart's securityContext runs nginx as 101; the image's user 101 has group 101.
        nginx_uid=101,
        nginx_gid=101,
        service_name_override="serviceNameOverride",
        selector_labels_override="controller.selectorLabels",
        # build/Dockerfile: the templates and the controller at /, config under /etc/nginx; the Fastly module in
        # /usr/lib/nginx/modules.
        protected_paths=("/etc/nginx", "/usr/lib/nginx/modules", "/*.tmpl", "/nginx-ingress"),
        # _helpers.tpl volumeEntries: with readOnlyRootFilesystem.
        chart_volumes=("nginx-etc", "nginx-lib", "nginx-state", "nginx-log", "nginx-cache"),
        # F5's controllers serve an IngressClass by its name (-ingress-class), under one fixed controller value.
        stock_classes={"nginx": "it is the stock F5 chart's class; F5 controllers serve a class by its name, so a "
                                "stock controller in the cluster would serve this class's Ingresses without the WAF"},
        guarded_with_agent_service={"controller.hostNetwork": _HOST_NETWORK},
        guarded_values={
            "controller.customConfigMap": _OTHER_CONFIGMAP,
            "controller.config.entries.main-template": _TEMPLATE,
            "controller.config.entries.ingress-template": _TEMPLATE,
            "controller.config.entries.virtualserver-template": _TEMPLATE,
            "controller.config.entries.transportserver-template": _TEMPLATE,
            "controller.image": _IMAGE,
            "controller.securityContext": _USER,
            "controller.enableTLSPassthrough": _PASSTHROUGH,
            "controller.tlsPassthroughPort": _PASSTHROUGH,
            "controller.globalConfiguration": _STREAM,
            "controller.config.entries.stream-snippets": _STREAM,
            "controller.customPorts": _STREAM_PORTS,
            "controller.service.customPorts": _STREAM_PORTS,
            "controller.watchNamespace": _WATCHED,
            "controller.watchNamespaceLabel": _WATCHED,
            "controller.enableSnippets": _SNIPPET_ANNOTATIONS,
            "controller.nginxplus": "switches to NGINX Plus templates and binary, which the Fastly module is "
                                    "not built for",
            "controller.appprotect": "NGINX App Protect needs NGINX Plus, which the Fastly module is not built for",
            "controller.appprotectdos": "NGINX App Protect DoS needs NGINX Plus, which the Fastly module is not "
                                        "built for",
            "controller.nginxDebug": "runs the nginx-debug binary instead of the nginx the module is built for",
            "nginxAgent": ("runs NGINX Agent, through which NGINX One or Instance Manager can rewrite the "
                           "controller's configuration outside this stack"),
            "controller.service.name": ("chart 2.5.0 no longer reads it (the Service would keep its name); use "
                                        "serviceNameOverride"),
        },
    ),
}
