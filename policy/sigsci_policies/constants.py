"""What the pack knows about the agent, the ingress charts and the resource types it reads.

The pack runs in a virtualenv of its own, without the sigsci_waf package, so it keeps these values
itself; tests/test_policy_constants.py checks them against the ones the package publishes.
"""

from __future__ import annotations

from typing import Any

AGENT = "sigsci-agent"
CREDENTIAL_ENV = ("SIGSCI_ACCESSKEYID", "SIGSCI_SECRETACCESSKEY")
# The agent's default rpc-address: the socket in its default temp volume.
DEFAULT_RPC_ADDRESS = "/sigsci/tmp/sigsci.sock"
# The module inside every Fastly controller image.
MODULE_PATH = "/usr/lib/nginx/modules/ngx_http_sigsci_module.so"
MODULE_FILE = MODULE_PATH.rsplit("/", 1)[-1]
RELEASE = "kubernetes:helm.sh/v3:Release"
RELEASES = {RELEASE, "kubernetes:helm.sh/v4:Chart"}
SERVICE = "kubernetes:core/v1:Service"
SERVICE_PATCH = "kubernetes:core/v1:ServicePatch"
# The component that puts an app behind the agent (beside it, as its own Service, or for a module): its resource
# has no properties of its own, its children (the app's workload, Service, NetworkPolicy) carry what it promises.
APP_COMPONENT = "sigsci:index:SigsciRevProxyApp"
# The component that puts the gateway's agents behind a Gateway (its Gateway and WAF policy are its children).
GATEWAY_COMPONENT = "sigsci:index:SigsciGateway"
# The variable a module app reads the agent's address from (the component's default).
MODULE_ADDRESS_ENV = "SIGSCI_RPC_ADDRESS"
# Where a patched app's ServicePatch records the owner's targetPort (to give it back): the app's port, or its name.
OWNER_TARGET_PORT_ANNOTATION = "sigsci.fastly.com/owner-target-port"

# The two ingress charts: where each keeps the module's snippets and the controller's mounts, how it labels the
# controller pods (its selectorLabels helper: the chart's name or nameOverride, the release, ingress-nginx's component
# label; nginx-ingress's controller.selectorLabels replaces them all), where it keeps the controller value its
# IngressClass names (None: F5's controllers serve a class by its name, under one fixed value), the keys of its
# ConfigMap that the package guards in the release's values, and how it names that ConfigMap (ingress-nginx:
# `<fullname>-<controller.name>`, `controller` by default; F5: controller.config.name, else `<fullname>`).
_LAYOUTS: dict[str, dict[str, Any]] = {
    "ingress-nginx": {"config": ("controller", "config"), "main": "main-snippet", "http": "http-snippet",
                      "mounts": "extraVolumeMounts", "selector_labels": None, "component_label": True,
                      "controller_value": ("controller", "ingressClassResource", "controllerValue"),
                      "guarded_config": ("allow-snippet-annotations", "annotations-risk-level", "stream-snippet"),
                      "configmap_suffix": ("controller", "name"), "configmap_name": None},
    "nginx-ingress": {"config": ("controller", "config", "entries"), "main": "main-snippets",
                      "http": "http-snippets", "mounts": "volumeMounts",
                      "selector_labels": ("controller", "selectorLabels"), "component_label": False,
                      "controller_value": None,
                      "guarded_config": ("ingress-template", "main-template", "stream-snippets",
                                         "transportserver-template", "virtualserver-template"),
                      "configmap_suffix": None, "configmap_name": ("controller", "config", "name")},
}
# Both charts' default class name when the values do not set one; ingress-nginx's default controller value (its
# values.yaml), and the one value every F5 controller's IngressClass names.
_DEFAULT_CLASS = "nginx"
_DEFAULT_CONTROLLER_VALUE = "k8s.io/ingress-nginx"
F5_CONTROLLER_VALUE = "nginx.org/ingress-controller"
INGRESS_CLASS = "kubernetes:networking.k8s.io/v1:IngressClass"

# The gateway's agents: their Deployment and Service, which an EnvoyExtensionPolicy's extProc names.
AGENTS_NAME = "sigsci-extproc"
# A message timeout must allow this much per MiB of the body buffer, and never less than the minimum.
TIMEOUT_MS_PER_MIB = 1000
MIN_MESSAGE_TIMEOUT_MS = 500
# Envoy Gateway's body buffer on a Gateway no ClientTrafficPolicy sets connection.bufferLimit for (bytes),
# and Envoy's ext_proc message timeout when the policy or filter sets none (ms).
DEFAULT_BUFFER_LIMIT = 32768
DEFAULT_MESSAGE_TIMEOUT_MS = 200

# Istio. Its Gateway API deployments label their pods with the Gateway's name and class (GEP-1762's labels; Istio's
# kube-gateway template), and the EnvoyFilter that WAFs a Gateway inserts Envoy's ext_proc filter by these names.
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
GATEWAY_CLASS_LABEL = "gateway.networking.k8s.io/gateway-class-name"
EXT_PROC_FILTER = "envoy.filters.http.ext_proc"
EXT_PROC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"
# Istio's config root namespace (meshConfig.rootNamespace; Istio's default is the one istiod runs in, conventionally
# istio-system): an EnvoyFilter there applies to the proxies of every namespace.
ISTIO_ROOT_NAMESPACE = "istio-system"
# Envoy's per-connection buffer on a listener that sets no per_connection_buffer_limit_bytes (bytes): "If
# unspecified, an implementation defined default is applied (1MiB)", config.listener.v3.Listener,
# https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/listener/v3/listener.proto
ENVOY_BUFFER_LIMIT = 2 ** 20
