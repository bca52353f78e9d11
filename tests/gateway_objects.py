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
