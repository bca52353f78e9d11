"""Hypothesis strategies for whole stack configs: plausible ones, and hostile variations of them.

Plausible configs draw every key of the schema (apps in all three placements, the ingress in every
flavour and agent lifetime, credentials either way), with values near the edges that matter: ports
that collide, names at the length limits, versions around the startup probe's minimum. They are
often valid and sometimes not, through the rules between keys. Hostile configs then break one thing:
a value of the wrong type or out of range, a key removed or misspelt, structured config that is not
JSON, keys left in plain text.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import strategies as st

import harness

HEX64 = "0123456789abcdef"


def _opt(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """A dict where every key is optional."""
    return st.fixed_dictionaries({}, optional=fields)


# -- values near the edges -----------------------------------------------------------------------------------

dns_1035 = st.one_of(
    st.sampled_from(["web", "api", "shop", "legacy", "edge", "catalog", "a", "w" * 63, "x" * 50 + "-y" * 6]),
    st.from_regex(r"\A[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z", fullmatch=True),
)
dns_label = st.one_of(dns_1035, st.sampled_from(["default", "team-a", "9lives", "0"]))
dns_subdomain = st.one_of(
    dns_label,
    st.sampled_from(["waf.keys", "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61, "x" * 64 + ".io"]),
    st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,3}\Z",
                  fullmatch=True),
)
port = st.one_of(st.sampled_from([80, 443, 2024, 8000, 8001, 8080, 8081, 9000, 9999, 10254, 65535]),
                 st.integers(1, 65535))
unprivileged_port = st.one_of(st.sampled_from([1024, 2024, 8001, 8002, 8080, 8181, 8443, 9113, 9999, 10254]),
                              st.integers(1024, 65535))
# In ascending order, so a request can be drawn at or below its limit.
CPU = ["10m", "100m", 0.5, "500m", "1", 1, "1.5", "2", 2, "4000m"]
MEMORY = ["64Mi", "100M", "128Mi", 268435456, "256Mi", "512Mi", "1Gi", "2Gi"]
seconds = st.one_of(st.sampled_from([0, 1, 5, 10, 30, 35, 60, 300]), st.integers(0, 3600))
digest = st.text(HEX64, min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
abs_path = st.one_of(st.sampled_from(["/sigsci/tmp", "/var/run/sigsci", "/tmp", "/tmp/sigsci", "/x"]),
                     st.from_regex(r"\A(/[a-z0-9_-][a-z0-9._-]{0,9}){1,4}\Z", fullmatch=True))
image = st.sampled_from(["nginxinc/nginx-unprivileged:1.27", "example/api:1.2.3", "busybox",
                         "registry.example.com:5000/team/app:v2", "example/web@sha256:" + "a" * 64,
                         "example/web:latest"])
short_text = st.text(string.ascii_letters + string.digits + " -_./:=", max_size=20)


@st.composite
def _quantities(draw, scale: list) -> tuple[dict, dict]:
    """A request and a limit: mostly the request at or below the limit, sometimes anything."""
    low, high = sorted(draw(st.lists(st.integers(0, len(scale) - 1), min_size=2, max_size=2)))
    if draw(st.integers(0, 9)) == 0:
        low, high = high, low
    return scale[low], scale[high]


@st.composite
def resources(draw) -> dict:
    result: dict = {}
    for kind, scale in (("cpu", CPU), ("memory", MEMORY)):
        request, limit = draw(_quantities(scale))
        parts = draw(st.sampled_from([(), ("requests",), ("limits",), ("requests", "limits")]))
        for part in parts:
            result.setdefault(part, {})[kind] = request if part == "requests" else limit
    return result


known_options = st.sampled_from(["log-out", "inspect-websocket", "client-ip-header", "max-procs", "upload-interval",
                                 "debug-log-web-inputs", "statsd-address", "server-hostname"])
option_value = st.one_of(short_text, st.booleans(), st.integers(0, 10_000))


def agent_settings(*, pre_stop: bool = True) -> st.SearchStrategy[dict]:
    fields: dict[str, st.SearchStrategy] = dict(
        repository=st.sampled_from(["signalsciences/sigsci-agent", "registry.example.com:5000/mirror/sigsci-agent"]),
        version=st.sampled_from(["4.70.0", "4.51.0", "4.40.0", "v4.70.0", "latest", "testing"]),
        digest=digest,
        imagePullPolicy=st.sampled_from(["Always", "IfNotPresent", "Never"]),
        resources=resources(),
        options=st.dictionaries(known_options, option_value, max_size=3),
        unlistedOptions=st.dictionaries(st.sampled_from(["future-flag", "new-thing", "future-flag", "log-out"]),
                                        option_value, max_size=2),
        tmpMountPath=abs_path,
        startupProbe=_opt(enabled=st.booleans(), port=unprivileged_port, failureThreshold=st.integers(1, 1000),
                          periodSeconds=st.integers(1, 300)),
        runAsUser=st.one_of(st.just(10001), st.integers(1, 2**31 - 1)),
        accessLog=st.booleans(),
    )
    if pre_stop:
        fields["preStopSleepSeconds"] = seconds
    return _opt(**fields)


# -- apps ----------------------------------------------------------------------------------------------------

def _common_app() -> dict[str, st.SearchStrategy]:
    return dict(namespace=st.sampled_from(["default", "team-a", "shop", "sigsci-ingress"]), listenerPort=unprivileged_port,
                servicePort=port, agent=agent_settings(), terminationGracePeriodSeconds=st.integers(1, 7200))


@st.composite
def app(draw, name: st.SearchStrategy[str] = dns_1035) -> dict:
    placement = draw(st.sampled_from(["owned", "owned", "patch", "service"]))
    base: dict[str, Any] = {"name": draw(name), "port": draw(port)}
    if placement == "owned":
        base["image"] = draw(image)
        extra = _opt(**_common_app(), args=st.lists(short_text, max_size=3),
                     command=st.lists(short_text, min_size=1, max_size=2),
                     env=st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,10}\Z", fullmatch=True), short_text,
                                         max_size=3),
                     resources=resources(), healthPath=st.sampled_from(["/", "/healthz", "/ready?full=1"]),
                     readOnlyRootFilesystem=st.booleans(), writablePaths=st.lists(abs_path, max_size=3, unique=True),
                     runAsUser=st.integers(1, 65535), preStopSleepSeconds=seconds, replicas=st.integers(0, 10),
                     serviceType=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
                     networkPolicy=st.booleans())
    elif placement == "patch":
        base.update(placement="patch", deployment=draw(dns_subdomain), service=draw(dns_1035),
                    takeOver=["service.targetPort"])
        # The grace period stays the Deployment owner's: placement patch refuses it.
        common = {k: v for k, v in _common_app().items() if k != "terminationGracePeriodSeconds"}
        extra = _opt(**common, ownerTargetPort=st.one_of(port, st.sampled_from(["http", "web"])))
    else:
        base.update(placement="service", upstreamService=draw(dns_1035))
        extra = _opt(**_common_app(), replicas=st.integers(0, 10), networkPolicy=st.booleans(),
                     serviceType=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]))
    return {**base, **draw(extra)}


# -- the ingress ---------------------------------------------------------------------------------------------

host = st.one_of(st.sampled_from(["shop.example.com", "*.example.com", "a.b", "x" * 63 + ".example.com"]),
                 st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,2}\Z", fullmatch=True))
route_path = st.one_of(st.sampled_from(["/", "/api", "/api/v1", "/static/", "/a//b", "/a/./b", "/a/.."]),
                       st.from_regex(r"\A/[a-z0-9/._-]{0,12}\Z", fullmatch=True))
annotation_key = st.sampled_from(["nginx.ingress.kubernetes.io/rewrite-target", "nginx.org/rewrites",
                                  "example.com/team", "owner", "service.beta.kubernetes.io/aws-load-balancer-type"])
EXTRA_VALUES = [
    {"controller": {"podLabels": {"team": "edge"}}},
    {"controller": {"nodeSelector": {"kubernetes.io/os": "linux"}}},
    {"controller": {"image": {"tag": "1.0.0"}}},
    {"controller": {"replicaCount": 5}},
    {"controller": {"config": {"use-gzip": "true"}}},
    {"controller": {"extraVolumes": [{"name": "x", "emptyDir": {}}]}},
    {"defaultBackend": {"enabled": True}},
]


@st.composite
def route(draw, app_names: list[str]) -> dict:
    target = draw(st.sampled_from(["app", "service"])) if app_names else "service"
    result: dict[str, Any] = {}
    if target == "app":
        result["app"] = draw(st.sampled_from(app_names + ["missing"]))
    else:
        result["service"] = {"name": draw(dns_1035), "port": draw(port)}
        result.update(draw(_opt(namespace=dns_label)))
    result.update(draw(_opt(name=dns_subdomain, host=host, path=route_path,
                            pathType=st.sampled_from(["Prefix", "Exact", "ImplementationSpecific"]),
                            annotations=st.dictionaries(annotation_key, short_text, max_size=2))))
    if "host" in result or draw(st.integers(0, 9)) == 0:
        result.update(draw(_opt(tlsSecret=dns_subdomain)))
    return result


@st.composite
def ingress(draw, app_names: list[str]) -> dict:
    flavour = draw(st.sampled_from(["ingress-nginx", "ingress-nginx-chainguard", "nginx-ingress"]))
    lifetime = draw(st.sampled_from(["nativeSidecar", "classicSidecar", "service"]))
    result: dict[str, Any] = {"flavour": flavour, "agentLifetime": lifetime}
    result.update(draw(_opt(
        namespace=dns_label,
        createNamespace=st.booleans(),
        releaseName=st.one_of(dns_1035.filter(lambda n: len(n) <= 53),
                              st.sampled_from(["r" * 53, "1st-edge", "edge", "web", "sigsci"])),
        chart=_opt(version=st.sampled_from(["2.5.0", "2.5.0", "2.5.0", "4.14.0"] if flavour == "nginx-ingress"
                                           else ["4.15.1", "4.15.1", "4.15.1", "2.5.0"]),
                   repository=st.sampled_from(["https://charts.example.com/mirror", "oci://registry.example.com/c"])),
        controller=_opt(image=_opt(repository=st.just("registry.example.com/mirror/controller"),
                                   tag=st.sampled_from(["1.15.1-fastly1.4.0", "v1.15.6", "5.4.0", "latest", "0.26.0"]),
                                   digest=digest, pullPolicy=st.sampled_from(["Always", "IfNotPresent"])),
                        replicas=st.integers(1, 100), resources=resources(),
                        terminationGracePeriodSeconds=st.integers(30, 3600)),
        **({"agentService": _opt(replicas=st.integers(1, 100), port=unprivileged_port)}
           if lifetime == "service" or draw(st.integers(0, 9)) == 0 else {}),
        agent=agent_settings(pre_stop=lifetime == "service"),
        ingressClass=_opt(name=dns_subdomain, default=st.booleans()),
        service=_opt(type=st.sampled_from(["LoadBalancer", "NodePort", "ClusterIP"]),
                     externalTrafficPolicy=st.sampled_from(["Cluster", "Local"]),
                     annotations=st.dictionaries(annotation_key, short_text, max_size=2)),
        routes=st.lists(route(app_names), max_size=3),
        extraValues=st.sampled_from(EXTRA_VALUES),
    )))
    return result


# -- whole stacks --------------------------------------------------------------------------------------------

@st.composite
def stack_config(draw) -> dict:
    """A plausible `sigsci:*` config: apps, an ingress or both, credentials from keys or an existing Secret."""
    shape = draw(st.sampled_from(["apps", "ingress", "both"]))
    config: dict[str, Any] = {}
    # Now and then a name some other workload's labels or objects also use.
    pool = ["web", "api", "shop", "legacy"] + (["sigsci-agent", "ingress-nginx", "nginx-ingress", "edge-sigsci-agent"]
                                                if draw(st.integers(0, 9)) == 0 else [])
    names = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3,
                          unique=draw(st.integers(0, 9)) > 0))
    if shape != "ingress":
        config["sigsci:apps"] = [draw(app(st.just(n))) for n in names]
    if shape != "apps":
        config["sigsci:ingress"] = draw(ingress(names if shape == "both" else []))
    if draw(st.booleans()):
        config.update(draw(_opt(**{"sigsci:agent": agent_settings()})))
    if draw(st.integers(0, 4)) == 0:
        config["sigsci:existingSecret"] = draw(dns_subdomain)
    else:
        config.update(harness.KEY_CONFIG)
        config["sigsci:site"] = draw(dns_subdomain)
    return config


# -- hostile variations --------------------------------------------------------------------------------------

hostile_value = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.just("x" * 300),
    st.sampled_from(["", " ", "latest", "Bad_Name", "../x", "ünïcödé", "-1", "0", "65536", "sha256:zz", "/", "//",
                     "\n", "${x}", "{{ .Values }}", "web", "1.5", "true", "/sigsci/tmp/../etc",
                     # issue 14's classes: whitespace around valid values, quantities, switches spelt as text,
                     # paths the temp volume must not cover, IP hosts, names the charts lengthen
                     "web\n", "\nweb", "web ", "1K", "1e3", ".5", "1E", "1Ei", "1" + "0" * 400, "yes", "off", "on",
                     "/etc", "/usr/lib/nginx/modules", "/usr/local/certificates", "/tmp", "/.", "10.0.0.1",
                     "r" * 29, "a" * 244]),
    st.just({"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {
        "a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {
            "a": 1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a config value: dict keys and list indexes."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*prefix, i))
    return found


def _edit(config: dict, path: tuple, action: str, value: Any = None) -> dict:
    """A copy of `config` with the value at `path` replaced, removed, or given an unknown sibling key."""
    result = json.loads(json.dumps(config))
    *parents, last = path
    node = result
    for part in parents:
        node = node[part]
    if action == "replace":
        node[last] = value
    elif action == "remove":
        del node[last]
    elif action == "unknown-key" and isinstance(node, dict):
        node[f"{last}x"] = value
    return result


def _at(config: dict, path: tuple) -> Any:
    node: Any = config
    for part in path:
        node = node[part]
    return node


@st.composite
def hostile_config(draw) -> tuple[dict, list[str], str]:
    """(config, keys marked secret, what was done to it)."""
    config = draw(stack_config())
    secret_keys = [k for k in harness.SECRET_KEYS if k in config]
    action = draw(st.sampled_from(["replace", "replace", "replace", "remove", "unknown-key", "not-json",
                                   "plain-text", "unknown-top-key", "dress"]))
    if action == "dress":
        # A valid string with whitespace around it, as a YAML block scalar or a stray space gives.
        strings = [p for p in _paths(config) if isinstance(_at(config, p), str)]
        if strings:
            path = draw(st.sampled_from(strings))
            dressed = draw(st.sampled_from(["{}\n", "\n{}", "{} ", " {}", "{}\r\n"])).format(_at(config, path))
            return _edit(config, path, "replace", dressed), secret_keys, f"dress {path} as {dressed!r}"
        action = "replace"
    if action == "not-json":
        key = draw(st.sampled_from(["sigsci:apps", "sigsci:ingress", "sigsci:agent"]))
        config[key] = draw(st.sampled_from(["{not json", "[1, 2", "web", "", "null"]))
        return config, secret_keys, f"{key} is not JSON"
    if action == "plain-text":
        return config, [], "keys not marked secret"
    if action == "unknown-top-key":
        key = draw(st.sampled_from(["sigsci:app", "sigsci:Agent", "sigsci:ingres", "sigsci:foo"]))
        config[key] = draw(hostile_value)
        return config, secret_keys, f"unknown key {key}"
    path = draw(st.sampled_from(_paths(config)))
    value = draw(hostile_value)
    return _edit(config, path, action, value), secret_keys, f"{action} {path} with {value!r}"
