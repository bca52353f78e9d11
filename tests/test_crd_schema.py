"""The CRD validator (tests/crd_schema.py) passes what the pinned CRDs accept and refuses what they refuse.

Each kind the Gateway API shape will emit has a valid example, modelled on the upstream docs, that passes, and
invalid ones refused for the expected reason: by a CEL rule alone, by an unknown field, by a pattern or an enum,
by defaults applied before the rules. Every CEL rule of every pinned CRD compiles with the evaluator, so a rule
it cannot run shows up here at once.
"""

from __future__ import annotations

import copy
import re

import pytest

import crd_schema
import reference
from crd_schema import CELRule, UnsupportedCELRule, validate


@pytest.fixture(autouse=True)
def _crd_files():
    """Without the CRD files, skip saying why; fail where the folder named by SIGSCI_REFERENCE_DIR should hold
    them, i.e. once scripts/fetch_reference.py fetches them (tests/reference.py)."""
    why = crd_schema.missing()
    if why is None:
        return
    fetched = {ref.folder for ref in reference.fetcher().REFERENCES}
    if reference.requested() and fetched.intersection(crd_schema.CRD_FILES):
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


GATEWAY_API = "gateway.networking.k8s.io"
ENVOY = "gateway.envoyproxy.io"

GATEWAY_CLASS = {
    "apiVersion": f"{GATEWAY_API}/v1", "kind": "GatewayClass",
    "metadata": {"name": "sigsci-envoy"},
    "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
}
GATEWAY = {
    "apiVersion": f"{GATEWAY_API}/v1", "kind": "Gateway",
    "metadata": {"name": "eg", "namespace": "default", "labels": {"app.kubernetes.io/name": "eg"}},
    "spec": {
        "gatewayClassName": "sigsci-envoy",
        "listeners": [
            {"name": "http", "protocol": "HTTP", "port": 80},
            {"name": "https", "protocol": "HTTPS", "port": 443, "hostname": "www.example.com",
             "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "example-cert"}]},
             "allowedRoutes": {"namespaces": {"from": "All"}}},
        ],
    },
}
HTTP_ROUTE = {
    "apiVersion": f"{GATEWAY_API}/v1", "kind": "HTTPRoute",
    "metadata": {"name": "backend", "namespace": "default"},
    "spec": {
        "parentRefs": [{"name": "eg"}],
        "hostnames": ["www.example.com"],
        "rules": [{
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": "backend", "port": 3000}],
            "timeouts": {"request": "10s", "backendRequest": "5s"},
        }],
    },
}
REFERENCE_GRANT = {
    "apiVersion": f"{GATEWAY_API}/v1beta1", "kind": "ReferenceGrant",
    "metadata": {"name": "allow-extension-policies", "namespace": "sigsci"},
    "spec": {
        "from": [{"group": ENVOY, "kind": "EnvoyExtensionPolicy", "namespace": "default"}],
        "to": [{"group": "", "kind": "Service", "name": "sigsci-agent"}],
    },
}
EXTENSION_POLICY = {
    "apiVersion": f"{ENVOY}/v1alpha1", "kind": "EnvoyExtensionPolicy",
    "metadata": {"name": "sigsci-ext-proc", "namespace": "default"},
    "spec": {
        "targetRefs": [{"group": GATEWAY_API, "kind": "Gateway", "name": "eg"}],
        "extProc": [{
            "backendRefs": [{"name": "sigsci-agent", "namespace": "sigsci", "port": 9000}],
            "processingMode": {"request": {"body": "Buffered"}, "response": {"body": "Buffered"}},
            "messageTimeout": "5s",
            "failOpen": False,
        }],
    },
}
VALID = {"GatewayClass": GATEWAY_CLASS, "Gateway": GATEWAY, "HTTPRoute": HTTP_ROUTE,
         "ReferenceGrant": REFERENCE_GRANT, "EnvoyExtensionPolicy": EXTENSION_POLICY}


def changed(obj: dict, change) -> dict:
    out = copy.deepcopy(obj)
    change(out)
    return out


DELETE = object()


def _set(path: str, value):
    """A change that sets obj[path] (dotted, numbers for list items); DELETE deletes the key."""
    parts = [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]

    def change(obj):
        target = obj
        for part in parts[:-1]:
            target = target[part]
        if value is DELETE:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return change


CEL_RULE = "x-kubernetes-validations rule"


def only_cel(errors: list[str]) -> bool:
    return bool(errors) and all(CEL_RULE in error for error in errors)


# --- the pinned CRDs --------------------------------------------------------------------------------------

def test_the_kinds_the_shape_emits_are_served_at_the_pinned_versions():
    crds = crd_schema.load_crds()
    for kind in ("GatewayClass", "Gateway", "HTTPRoute"):
        assert crds[(GATEWAY_API, "v1", kind)].served and crds[(GATEWAY_API, "v1", kind)].storage
    grant = crds[(GATEWAY_API, "v1beta1", "ReferenceGrant")]
    assert grant.served and grant.storage
    assert crds[(GATEWAY_API, "v1", "ReferenceGrant")].served  # v1 is served too, not yet stored
    policy = crds[(ENVOY, "v1alpha1", "EnvoyExtensionPolicy")]
    assert policy.served and policy.storage and policy.scope == "Namespaced"
    assert crds[(GATEWAY_API, "v1", "GatewayClass")].scope == "Cluster"
    assert all(crd.schema.get("type") == "object" for crd in crds.values())


def test_a_file_that_is_not_the_pinned_release_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / f"gateway-api-{crd_schema.GATEWAY_API}"
    folder.mkdir()
    (folder / "standard-crds.yaml").write_text("---\n")
    for name, files in crd_schema.CRD_FILES.items():
        if name != folder.name:
            (tmp_path / name).mkdir()
            for file in files:
                (tmp_path / name / file).write_text("---\n")
    monkeypatch.setenv(reference.ENV, str(tmp_path))
    with pytest.raises(ValueError, match="not the pinned"):
        crd_schema.crd_files()


def test_every_cel_rule_of_every_crd_compiles():
    rules = crd_schema.cel_rules()
    assert len(rules) > 800
    transition = [rule for rule in rules if rule.transition]
    assert all("oldSelf" in rule.rule for rule in transition)
    failures = []
    for rule in rules:
        if rule.transition:
            continue
        try:
            crd_schema.compile_rule(rule)
        except UnsupportedCELRule as error:
            failures.append(str(error))
    assert failures == []


def test_no_rule_reads_a_timestamp_field():
    """date-time fields reach CEL as strings (the binding takes no timestamps): no rule may read one."""
    readers = []
    for crd in crd_schema.load_crds().values():
        for path, node, _ in crd_schema._subschemas(crd.schema, ""):
            rules = node.get("x-kubernetes-validations") or []
            timestamps = {sub.split(".")[-1].replace("[*]", "") or "self"
                          for sub, leaf, _ in crd_schema._subschemas(node, "") if leaf.get("format") == "date-time"}
            readers += [(crd.kind, path, rule["rule"]) for rule in rules for name in timestamps
                        if re.search(rf"\b{re.escape(name)}\b", rule["rule"])]
    assert readers == []


@pytest.mark.parametrize("expression", [
    "self.isSorted()",  # Kubernetes' lists library: not implemented here
    "url(self).getHost() == 'x'",
    "quantity(self).isInteger()",
    "format.uri().validate(self) == null",
    "noSuchFunction(self)",
])
def test_an_unknown_function_does_not_compile(expression):
    rule = CELRule(ENVOY, "v1alpha1", "Test", "spec", expression, "m", None, None, None)
    with pytest.raises(UnsupportedCELRule, match=re.escape(expression)):
        crd_schema.compile_rule(rule)


def test_validate_raises_naming_a_rule_it_cannot_compile():
    real = crd_schema.load_crds()[(ENVOY, "v1alpha1", "EnvoyExtensionPolicy")]
    schema = copy.deepcopy(dict(real.schema))
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "self.isSorted()", "message": "m"}]
    with pytest.raises(UnsupportedCELRule, match=r"self\.isSorted\(\)"):
        validate(EXTENSION_POLICY, crd=real._replace(schema=schema))


# --- valid objects pass -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_valid_example_passes(kind):
    assert validate(VALID[kind]) == []


def test_validate_does_not_change_the_object():
    before = copy.deepcopy(EXTENSION_POLICY)
    validate(EXTENSION_POLICY)
    assert EXTENSION_POLICY == before


def test_reference_grant_v1_is_served_and_passes_too():
    assert validate(changed(REFERENCE_GRANT, _set("apiVersion", f"{GATEWAY_API}/v1"))) == []


@pytest.mark.parametrize("obj", [
    # Defaults fill group "" and kind Service, and the port the CEL rule asks for is there.
    changed(EXTENSION_POLICY, _set("spec.extProc.0.backendRefs", [{"name": "sigsci-agent", "port": 9000}])),
    # x-kubernetes-int-or-string: an integer or a string matching the quantity patterns.
    changed(EXTENSION_POLICY, _set("spec.extProc.0.backendSettings", {"connection": {"bufferLimit": 32768}})),
    changed(EXTENSION_POLICY, _set("spec.extProc.0.backendSettings", {"connection": {"bufferLimit": "32Ki"}})),
    # x-kubernetes-preserve-unknown-fields: anything under a Wasm extension's config.
    changed(EXTENSION_POLICY, _set("spec.wasm", [{"code": {"type": "HTTP", "http": {"url": "https://x.example/a.wasm"}},
                                                  "config": {"any": {"thing": [1, "two"]}}}])),
    # The HTTPRoute rule whose matches default to PathPrefix "/".
    changed(HTTP_ROUTE, _set("spec.rules.0.matches", DELETE)),
    # A hostname listener on HTTPS with a wildcard.
    changed(GATEWAY, _set("spec.listeners.1.hostname", "*.example.com")),
])
def test_other_valid_shapes_pass(obj):
    assert validate(obj) == []


# --- invalid objects are refused for the expected reason ----------------------------------------------------

# (object, a fragment of the expected error, refused by CEL rules alone)
REFUSED = {
    # CEL alone: the schema accepts each of these.
    "route-path-double-slash": (
        changed(HTTP_ROUTE, _set("spec.rules.0.matches.0.path.value", "/app//x")), "must not contain '//'", True),
    "route-path-not-absolute": (
        changed(HTTP_ROUTE, _set("spec.rules.0.matches.0.path.value", "app")),
        "value must be an absolute path and start with '/'", True),
    "route-backend-timeout-longer-than-request": (
        changed(HTTP_ROUTE, _set("spec.rules.0.timeouts", {"request": "10s", "backendRequest": "20s"})),
        "backendRequest timeout cannot be longer than request timeout", True),
    "route-service-backend-without-port": (
        changed(HTTP_ROUTE, _set("spec.rules.0.backendRefs.0.port", DELETE)), "Must have port for Service reference",
        True),
    "gateway-tls-on-http-listener": (
        changed(GATEWAY, _set("spec.listeners.0.tls", {"mode": "Terminate",
                                                       "certificateRefs": [{"name": "example-cert"}]})),
        "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']", True),
    "gateway-hostname-on-tcp-listener": (
        changed(GATEWAY, _set("spec.listeners.0", {"name": "tcp", "protocol": "TCP", "port": 9000,
                                                   "hostname": "tcp.example.com"})),
        "hostname must not be specified for protocols ['TCP', 'UDP']", True),
    "gateway-same-port-protocol-hostname": (
        changed(GATEWAY, _set("spec.listeners.1", {"name": "http-2", "protocol": "HTTP", "port": 80})),
        "Combination of port, protocol and hostname must be unique for each listener", True),
    "gateway-infrastructure-label-key": (
        changed(GATEWAY, _set("spec.infrastructure", {"labels": {"-bad-": "x"}})), "Label keys must be in the form",
        True),
    "policy-target-ref-and-target-refs": (
        changed(EXTENSION_POLICY, _set("spec.targetRef", {"group": GATEWAY_API, "kind": "Gateway", "name": "eg"})),
        "either targetRef or targetRefs must be used", True),
    "policy-target-refs-kind": (
        changed(EXTENSION_POLICY, _set("spec.targetRefs.0.kind", "Service")),
        "this policy can only have a targetRefs[*].kind of Gateway", True),
    "policy-target-refs-group": (
        changed(EXTENSION_POLICY, _set("spec.targetRefs.0.group", "")),
        "this policy can only have a targetRefs[*].group of gateway.networking.k8s.io", True),
    "policy-service-backend-without-port": (  # group and kind come from defaults before the rule runs
        changed(EXTENSION_POLICY, _set("spec.extProc.0.backendRefs", [{"name": "sigsci-agent"}])),
        "Must have port for Service reference", True),
    "policy-backend-ref-singular": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.backendRef", {"name": "sigsci-agent", "port": 9000})),
        "BackendRefs must be used, backendRef is not supported", True),
    "policy-fail-open-with-full-duplex": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0", {
            **EXTENSION_POLICY["spec"]["extProc"][0], "failOpen": True,
            "processingMode": {"request": {"body": "FullDuplexStreamed"}}})),
        "If FullDuplexStreamed body processing mode is used, FailOpen must be false", True),
    # Unknown fields: the API server would prune them silently.
    "route-unknown-field": (
        changed(HTTP_ROUTE, _set("spec.rules.0.backendRef", {"name": "backend"})),
        'unknown field "spec.rules[0].backendRef"', False),
    "policy-unknown-field": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.timeout", "5s")), 'unknown field "spec.extProc[0].timeout"',
        False),
    "gateway-unknown-top-level-field": (changed(GATEWAY, _set("extra", {})), 'unknown field "extra"', False),
    "metadata-unknown-field": (changed(GATEWAY, _set("metadata.label", {})), 'unknown field "metadata.label"', False),
    # Patterns (RE2, as the API server has them) and enums.
    "class-controller-name-pattern": (
        changed(GATEWAY_CLASS, _set("spec.controllerName", "no-path")), "spec.controllerName: 'no-path' does not match",
        False),
    "route-hostname-pattern": (
        changed(HTTP_ROUTE, _set("spec.hostnames", ["Bad_Host.example.com"])), "spec.hostnames[0]: 'Bad_Host", False),
    "gateway-hostname-trailing-newline": (  # Python's re would let "$" match before the newline; RE2 does not
        changed(GATEWAY, _set("spec.listeners.1.hostname", "www.example.com\n")), "spec.listeners[1].hostname",
        False),
    "policy-message-timeout-pattern": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.messageTimeout", "5 seconds")),
        "spec.extProc[0].messageTimeout: '5 seconds' does not match", False),
    "policy-body-mode-enum": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.processingMode.request.body", "Whole")),
        "'Whole' is not one of ['Streamed', 'Buffered', 'BufferedPartial', 'FullDuplexStreamed']", False),
    "route-path-type-enum": (
        changed(HTTP_ROUTE, _set("spec.rules.0.matches.0.path.type", "Prefix")), "'Prefix' is not one of", False),
    "policy-int-or-string-bool": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.backendSettings", {"connection": {"bufferLimit": True}})),
        "bufferLimit: True is not of type 'integer', 'string'", False),
    "policy-int-or-string-pattern": (
        changed(EXTENSION_POLICY, _set("spec.extProc.0.backendSettings", {"connection": {"bufferLimit": "lots"}})),
        "bufferLimit: 'lots' does not match", False),
    # Required fields, ranges, counts, types, nulls.
    "grant-from-without-kind": (
        changed(REFERENCE_GRANT, _set("spec.from.0.kind", DELETE)), "spec.from[0]: 'kind' is a required property",
        False),
    "grant-to-empty": (changed(REFERENCE_GRANT, _set("spec.to", [])), "spec.to: [] should be non-empty", False),
    "gateway-port-range": (
        changed(GATEWAY, _set("spec.listeners.0.port", 70000)), "spec.listeners[0].port: 70000 is greater than",
        False),
    "gateway-port-type": (
        changed(GATEWAY, _set("spec.listeners.0.port", "80")), "spec.listeners[0].port: '80' is not of type 'integer'",
        False),
    "route-null-hostnames": (
        changed(HTTP_ROUTE, _set("spec.hostnames", [None])), "spec.hostnames[0]: None is not of type 'string'",
        False),
    "gateway-null-for-a-defaulted-field": (
        changed(GATEWAY, _set("spec.listeners.0.allowedRoutes", None)), "null for a field that is not nullable",
        False),
    "gateway-duplicate-listener-name": (
        changed(GATEWAY, _set("spec.listeners.1.name", "http")), "spec.listeners[1]: Duplicate value", False),
    # What the CRD schemas do not cover: metadata, scope, status, the version.
    "metadata-without-name": (changed(GATEWAY, _set("metadata.name", DELETE)), "metadata.name: Required value", False),
    "metadata-name-not-dns": (
        changed(GATEWAY, _set("metadata.name", "Sig_Sci")), "metadata.name: Invalid value: 'Sig_Sci'", False),
    "metadata-name-too-long": (
        changed(GATEWAY, _set("metadata.name", "a" * 254)), "must be no more than 253 characters", False),
    "metadata-namespace-not-dns": (
        changed(GATEWAY, _set("metadata.namespace", "Default")), "metadata.namespace: Invalid value", False),
    "metadata-label-value": (
        changed(GATEWAY, _set("metadata.labels", {"app": "-x-"})), "metadata.labels: Invalid value: '-x-'", False),
    "cluster-scoped-with-namespace": (
        changed(GATEWAY_CLASS, _set("metadata.namespace", "default")), "GatewayClass is cluster-scoped", False),
    "status-on-create": (
        changed(HTTP_ROUTE, _set("status", {"parents": []})), "the API server drops status on create", False),
    "unknown-version": (
        changed(GATEWAY, _set("apiVersion", f"{GATEWAY_API}/v2")), "no CRD version in the pinned files", False),
    "policy-under-the-wrong-group": (
        changed(EXTENSION_POLICY, _set("apiVersion", f"{GATEWAY_API}/v1alpha1")), "no CRD version", False),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_invalid_object_is_refused_for_the_reason(name):
    obj, reason, cel_alone = REFUSED[name]
    errors = validate(obj)
    assert any(reason in error for error in errors), errors
    if cel_alone:
        assert only_cel(errors), errors


def test_cel_rules_see_escaped_field_names():
    """`namespace` is reserved in CEL: the HTTPRoute parentRefs rules read it as __namespace__."""
    twice = changed(HTTP_ROUTE, _set("spec.parentRefs", [{"name": "eg", "namespace": "default"},
                                                         {"name": "eg", "namespace": "default"}]))
    errors = validate(twice)
    assert only_cel(errors) and any("sectionName or port must be unique" in error for error in errors), errors
    apart = changed(twice, _set("spec.parentRefs.1.namespace", "other"))
    assert validate(apart) == []


def test_kubernetes_cel_additions_evaluate():
    """isIP (TLSRoute hostnames) and the CEL string extensions evaluate as on the API server."""
    route = {"apiVersion": f"{GATEWAY_API}/v1", "kind": "TLSRoute", "metadata": {"name": "tls", "namespace": "x"},
             "spec": {"parentRefs": [{"name": "eg"}], "hostnames": ["tls.example.com"],
                      "rules": [{"backendRefs": [{"name": "b", "port": 443}]}]}}
    assert validate(route) == []
    errors = validate(changed(route, _set("spec.hostnames", ["10.0.0.1"])))
    assert only_cel(errors) and "!isIP(h)" in errors[0], errors
    gateway = changed(GATEWAY, _set("spec.infrastructure", {"annotations": {"a" * 253 + "/x": "y"}}))
    assert any("prefix must be a DNS subdomain" in error for error in validate(gateway))  # split() and size()


# --- agreement with the Gateway API's own CEL tests ---------------------------------------------------------
# Cases of kubernetes-sigs/gateway-api pkg/test/cel (run there against a real API server), as JSON: [] is
# accepted, otherwise each listed message is among the errors. Go's zero values are written out as Go sends them.

def _route(rule: dict) -> dict:
    return {"apiVersion": f"{GATEWAY_API}/v1", "kind": "HTTPRoute", "metadata": {"name": "foo", "namespace": "default"},
            "spec": {"rules": [rule]}}


def _path_route(kind: str, value: str) -> dict:
    return _route({"matches": [{"path": {"type": kind, "value": value}}],
                   "backendRefs": [{"name": "test", "port": 8080}]})


def _filter_route(route_filter: dict) -> dict:
    return _route({"filters": [route_filter]})


def _gateway(*listeners: dict, addresses: list | None = None) -> dict:
    spec = {"gatewayClassName": "foo", "listeners": list(listeners)}
    if addresses is not None:
        spec["addresses"] = addresses
    return {"apiVersion": f"{GATEWAY_API}/v1", "kind": "Gateway", "metadata": {"name": "foo", "namespace": "default"},
            "spec": spec}


EMPTY_MIRROR = {"backendRef": {"name": ""}}
ANY_PATH = "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$)"
UPSTREAM = {
    "path-not-absolute": (
        _path_route("PathPrefix", "foo"),
        ["value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"]),
    "path-ends-with-dot": (_path_route("PathPrefix", "/."), ["must not end with '/.' when type one of"]),
    "path-dot-segment": (_path_route("Exact", "/foo/./bar"), ["must not contain '/./' when type one of"]),
    "path-type": (_path_route("FooBar", "/path"), ["type must be one of ['Exact', 'PathPrefix', 'RegularExpression']"]),
    "path-regex-may-hold-dot-segments": (_path_route("RegularExpression", "/foo/./bar"), []),
    "path-prefix": (_path_route("PathPrefix", "/path"), []),
    "path-special-characters": (_path_route("Exact", "/abc/123'/a-b-c/d@gmail/%0A"), []),
    "path-brackets": (_path_route("PathPrefix", "/[]"), [ANY_PATH]),
    "path-caret": (_path_route("Exact", "/^"), [ANY_PATH]),
    "backend-default-kind-with-port": (_route({"backendRefs": [{"name": "backend", "port": 99}]}), []),
    "backend-default-kind-without-port": (_route({"backendRefs": [{"name": "backend"}]}),
                                          ["Must have port for Service reference"]),
    "backend-service-without-port": (_route({"backendRefs": [{"group": "", "kind": "Service", "name": "backend"}]}),
                                     ["Must have port for Service reference"]),
    "backend-other-kind-without-port": (
        _route({"backendRefs": [{"group": "foo.example.com", "kind": "Foo", "name": "backend"}]}), []),
    "filter-header-modifier": (_filter_route({"type": "RequestHeaderModifier", "requestHeaderModifier": {
        "set": [{"name": "name", "value": "foo"}], "add": [{"name": "add", "value": "foo"}], "remove": ["remove"]}}),
        []),
    "filter-header-modifier-with-mirror": (
        _filter_route({"type": "RequestHeaderModifier", "requestMirror": EMPTY_MIRROR}),
        ["filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type",
         "filter.requestMirror must be nil if the filter.type is not RequestMirror"]),
    "filter-mirror-missing": (_filter_route({"type": "RequestMirror"}),
                              ["filter.requestMirror must be specified for RequestMirror filter.type"]),
    "filter-mirror": (_filter_route({"type": "RequestMirror", "requestMirror": {"backendRef": {
        "group": "group", "kind": "kind", "name": "name", "namespace": "ns", "port": 22}}}), []),
    "filter-redirect": (_filter_route({"type": "RequestRedirect", "requestRedirect": {
        "scheme": "http", "hostname": "hostname", "path": {"type": "ReplaceFullPath", "replaceFullPath": "path"},
        "port": 8080, "statusCode": 302}}), []),
    "filter-extension-ref": (_filter_route({"type": "ExtensionRef",
                                            "extensionRef": {"group": "group", "kind": "kind", "name": "name"}}), []),
    "filter-extension-ref-with-mirror": (
        _filter_route({"type": "ExtensionRef", "requestMirror": EMPTY_MIRROR}),
        ["filter.requestMirror must be nil if the filter.type is not RequestMirror",
         "filter.extensionRef must be specified for ExtensionRef filter.type"]),
    "filter-url-rewrite": (_filter_route({"type": "URLRewrite", "urlRewrite": {
        "hostname": "hostname", "path": {"type": "ReplaceFullPath", "replaceFullPath": "path"}}}), []),
    "gateway-empty-tls-on-http": (_gateway({"name": "http", "protocol": "HTTP", "port": 8080, "tls": {}}),
                                  ["tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"]),
    "gateway-https-passthrough": (
        _gateway({"name": "https", "protocol": "HTTPS", "port": 8080, "tls": {"mode": "Passthrough"}}),
        ["tls mode must be Terminate for protocol HTTPS"]),
    "gateway-https-mode-defaulted": (_gateway({"name": "https", "protocol": "HTTPS", "port": 8080,
                                               "tls": {"certificateRefs": [{"name": "foo"}]}}), []),
    "gateway-https-without-tls": (_gateway({"name": "https", "protocol": "HTTPS", "port": 8443}), []),
    "gateway-hostname-on-udp": (_gateway({"name": "udp", "protocol": "UDP", "port": 8080, "hostname": "foo"}),
                                ["hostname must not be specified for protocols ['TCP', 'UDP']"]),
    "gateway-terminate-without-certificates": (
        _gateway({"name": "tls", "protocol": "TLS", "port": 8443, "tls": {"mode": "Terminate"}}),
        ["certificateRefs or options must be specified when mode is Terminate"]),
    "gateway-terminate-with-options": (_gateway({"name": "https", "protocol": "HTTPS", "port": 8443, "tls": {
        "mode": "Terminate", "options": {"networking.example.com/tls-version": "1.2"}}}), []),
    "gateway-listener-names-repeat": (
        _gateway(*({"name": "http", "protocol": "HTTP", "port": port} for port in (80, 8000, 8080))),
        ["Listener name must be unique within the Gateway"]),
    "gateway-protocol-differs": (_gateway(
        {"name": "foo", "protocol": "HTTP", "port": 8000, "hostname": "foo.com"},
        {"name": "bar", "protocol": "HTTPS", "port": 8000, "hostname": "foo.com",
         "tls": {"certificateRefs": [{"name": "foo"}]}}), []),
    "gateway-one-hostname-omitted": (_gateway({"name": "foo", "protocol": "HTTP", "port": 80, "hostname": "foo.com"},
                                              {"name": "bar", "protocol": "HTTP", "port": 80}), []),
    "gateway-addresses": (_gateway({"name": "http", "protocol": "HTTP", "port": 80}, addresses=[
        {"type": "IPAddress", "value": "1.2.3.4"}, {"type": "IPAddress", "value": "1111:2222:3333:4444::"},
        {"type": "Hostname", "value": "foo.bar"}]), []),
    "gateway-addresses-invalid": (_gateway({"name": "http", "protocol": "HTTP", "port": 80}, addresses=[
        {"type": "IPAddress", "value": "1.2.3.4:8080"}, {"type": "Hostname", "value": "*foo/bar"},
        {"type": "Hostname", "value": "12:34:56::"}]),
        ["spec.addresses[0]", "Hostname value must be empty or contain"]),
    "gateway-addresses-repeat": (_gateway({"name": "http", "protocol": "HTTP", "port": 80}, addresses=[
        {"type": "IPAddress", "value": "1.2.3.4"}, {"type": "IPAddress", "value": "1.2.3.4"},
        {"type": "Hostname", "value": "foo.bar"}, {"type": "Hostname", "value": "foo.bar"}]),
        ["IPAddress values must be unique", "Hostname values must be unique"]),
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_agrees_with_the_gateway_api_cel_tests(name):
    obj, wanted = UPSTREAM[name]
    errors = validate(obj)
    if not wanted:
        assert errors == []
    for message in wanted:
        assert any(message in error for error in errors), (message, errors)
