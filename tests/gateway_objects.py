"""Gateway API and Envoy Gateway objects for the policy pack's tests, beside the ones the package emits: shaped as
their CRDs want them (tests/test_policy_gateway.py checks each kind against its CRD) and as the engine hands
them to the pack: (resource type, Pulumi name, props)."""

from __future__ import annotations

GATEWAY_API = "gateway.networking.k8s.io"
ENVOY = "gateway.envoyproxy.io"
HOME = "sigsci-gateway"  # the namespace and the name of the Gateway the package creates
WAF_POLICY = "gateway-envoyextensionpolicy.sigsci-waf"
BUFFER_POLICY = "gateway-clienttrafficpolicy.sigsci-waf"
PACKAGE_LABELS = {"app.kubernetes.io/part-of": "sigsci-waf", "app.kubernetes.io/name": "sigsci-waf",
                  "app.kubernetes.io/managed-by": "pulumi"}


def custom_object(api_version, kind, pulumi_name, name, namespace, spec, labels=None, patch=False):
    metadata = {"name": name, **({"namespace": namespace} if namespace else {}),
                **({"labels": labels} if labels else {})}
    return (f"kubernetes:{api_version}:{kind}{'Patch' if patch else ''}", pulumi_name,
            {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec})


def agents_ext_proc(name="sigsci-extproc", namespace=None, port=9999, **settings):
    """An extProc entry to the gateway's agents, as the package writes it, with `settings` over it."""
    backend_ref = {"group": "", "kind": "Service", "name": name, "port": port,
                   **({"namespace": namespace} if namespace else {})}
    return {"backendRefs": [backend_ref], "processingMode": {"request": {"body": "Buffered"},
                                                             "response": {"body": "Buffered"}},
            "messageTimeout": "2s", "failOpen": False, **settings}


OTHER_EXT_PROC = {"backendRefs": [{"group": "", "kind": "Service", "name": "authz", "port": 9000}],
                  "processingMode": {"request": {}}, "failOpen": False}
WASM = [{"name": "headers", "code": {"type": "HTTP", "http": {"url": "https://wasm.example.com/headers.wasm"}}}]


def ref(kind, name, section=None):
    return {"group": GATEWAY_API, "kind": kind, "name": name, **({"sectionName": section} if section else {})}


def _targets(refs, selectors) -> dict:
    return {**({"targetRefs": list(refs)} if refs else {}),
            **({"targetSelectors": list(selectors)} if selectors else {})}


def eep(pulumi_name, namespace=HOME, refs=(), selectors=(), ext_proc=None, patch=False, name=None, **spec):
    """An EnvoyExtensionPolicy (its object named as the resource unless `name`), or with `patch` a patch of one."""
    body = {**_targets(refs, selectors), **({"extProc": ext_proc} if ext_proc is not None else {}), **spec}
    return custom_object(f"{ENVOY}/v1alpha1", "EnvoyExtensionPolicy", pulumi_name, name or pulumi_name, namespace,
                         body, patch=patch)


def ctp(pulumi_name, namespace=HOME, refs=(), selectors=(), buffer="1Mi"):
    body = {**_targets(refs, selectors), "connection": {"bufferLimit": buffer}}
    return custom_object(f"{ENVOY}/v1alpha1", "ClientTrafficPolicy", pulumi_name, pulumi_name, namespace, body)


def parent(name=HOME, namespace=None, section=None, port=None, explicit=True):
    """A parentRef; `explicit=False` leaves group and kind to their defaults."""
    return {**({"group": GATEWAY_API, "kind": "Gateway"} if explicit else {}), "name": name,
            **({"namespace": namespace} if namespace else {}), **({"sectionName": section} if section else {}),
            **({"port": port} if port else {})}


def backend(name, port=8080, namespace=None, explicit=True):
    return {**({"group": "", "kind": "Service"} if explicit else {}), "name": name, "port": port,
            **({"namespace": namespace} if namespace else {})}


def route(pulumi_name, namespace=HOME, parents=(), backends=(), kind="HTTPRoute", version="v1", labels=None,
          rule=None, patch=False):
    rules = [{"backendRefs": list(backends), **(rule or {})}] if backends or rule else []
    body = {"parentRefs": list(parents), **({"rules": rules} if rules else {})}
    return custom_object(f"{GATEWAY_API}/{version}", kind, pulumi_name, pulumi_name, namespace, body, labels, patch)


def gateway(pulumi_name, name, namespace, listeners=None, labels=None):
    listeners = listeners or [{"name": "http", "protocol": "HTTP", "port": 80}]
    return custom_object(f"{GATEWAY_API}/v1", "Gateway", pulumi_name, name, namespace,
                   {"gatewayClassName": "public", "listeners": listeners}, labels)


PUBLIC = gateway("public-gateway", "public", "edge")  # a Gateway no EnvoyExtensionPolicy covers


# -- Istio: EnvoyFilters (networking.istio.io/v1alpha3), their patches in Envoy's terms ---------------------------

ISTIO = "networking.istio.io"
ISTIO_ROOT = "istio-system"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
EXT_PROC = "envoy.filters.http.ext_proc"
EXT_PROC_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor"
ON_GATEWAY = {"context": "GATEWAY"}
WAF_FILTER = "gateway-envoyfilter.sigsci-waf"  # the Pulumi name of the package's EnvoyFilter


def envoy_filter(pulumi_name, namespace=HOME, patches=(), selector=None, target_refs=None, patch=False, name=None):
    """An EnvoyFilter (by default selecting the package's Gateway's proxies; `selector={}` leaves workloadSelector
    out, `target_refs` replaces it)."""
    selector = {GATEWAY_NAME_LABEL: HOME} if selector is None and target_refs is None else selector
    body = {**({"workloadSelector": {"labels": selector}} if selector else {}),
            **({"targetRefs": list(target_refs)} if target_refs else {}), "configPatches": list(patches)}
    return custom_object(f"{ISTIO}/v1alpha3", "EnvoyFilter", pulumi_name, name or pulumi_name, namespace, body,
                         patch=patch)


def cluster(service="sigsci-extproc", namespace=HOME, port=9999, subset="", domain="cluster.local"):
    return f"outbound|{port}|{subset}|{service}.{namespace}.svc.{domain}"


def ext_proc_value(cluster_name=None, camel=False, **settings):
    """Envoy's ext_proc filter as the package writes it (snake_case), or in protobuf JSON's camelCase, with
    `settings` (snake_case names, spelled as the rest) over it; a setting of None is left out."""
    config = {"grpc_service": {"envoy_grpc": {"cluster_name": cluster_name or cluster()}},
              "failure_mode_allow": False, "message_timeout": "2s",
              "processing_mode": {"request_header_mode": "SEND", "request_body_mode": "BUFFERED",
                                  "response_header_mode": "SEND", "response_body_mode": "BUFFERED"}, **settings}
    config = {k: v for k, v in config.items() if v is not None}
    if camel:
        config = _camel(config)
    return {"name": EXT_PROC, ("typedConfig" if camel else "typed_config"): {"@type": EXT_PROC_TYPE, **config}}


def _camel(value):
    if isinstance(value, dict):
        return {_camel_name(k): _camel(v) for k, v in value.items()}
    return value


def _camel_name(name):
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def http_filter(value, operation="INSERT_BEFORE", sub_filter="envoy.filters.http.router", port=None,
                context=ON_GATEWAY):
    """An HTTP_FILTER patch (matched relative to `sub_filter`; `value` None for a REMOVE)."""
    listener = {**({"portNumber": port} if port else {}), "filterChain": {"filter": {
        "name": "envoy.filters.network.http_connection_manager", "subFilter": {"name": sub_filter}}}}
    return {"applyTo": "HTTP_FILTER", "match": {**(context or {}), "listener": listener},
            "patch": {"operation": operation, **({"value": value} if value is not None else {})}}


def listener_buffer(limit, key="per_connection_buffer_limit_bytes"):
    return {"applyTo": "LISTENER", "match": ON_GATEWAY, "patch": {"operation": "MERGE", "value": {key: limit}}}


def per_route(config, apply_to="HTTP_ROUTE", key="typed_per_filter_config", name=EXT_PROC):
    """A route-level patch giving the filter `name` a per-route config."""
    return {"applyTo": apply_to, "match": ON_GATEWAY,
            "patch": {"operation": "MERGE", "value": {key: {name: config}}}}


EXT_PROC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute"
FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
