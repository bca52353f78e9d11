"""Hypothesis strategies for whole stack configs: valid ones, and hostile variations that must each be refused.

Valid configs draw every key of the schema (apps in all four placements, module in both its forms, the ingress in
every flavour and agent lifetime, the gateway alone or beside them, injection by label, the echo of sigsci:verify,
credentials either way),
with values near the edges that matter:
ports that collide, names at the length limits, versions around the startup probe's minimum, body limits and
timeouts at the rule between them. They are drawn freely, then fitted to the rules between keys that
docs/configuration.md states (the `_fit_*` functions). Those rules and the defaults they use are written out here
(and in gateway_docs.py) from the docs, never taken from the package's code, so the package refusing one of these
configs is a failure, not an outcome. The gateway's keys are those of its table in docs/configuration.md: a key
documented there that GATEWAY_KEYS does not know fails every run that draws a gateway.

Hostile configs break one thing of a valid config and know which key the error must name: a value of the wrong
type or outside its documented range, a required key removed, an unknown key, structured config that is not
JSON, the keys left in plain text, a checked value with whitespace around it, or one rule between keys broken;
for what only the cluster shows (an existing Gateway, a module's existing Deployment), what the cluster holds.
"""

from __future__ import annotations

import copy
import functools
import math
import re
import string
from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import assume, strategies as st

import gateway_docs
import harness
import invariants

HEX64 = "0123456789abcdef"

# Where the package and the docs disagree. Each is a strict xfail in tests/test_fuzz_regressions.py (what the docs
# promise) that starts passing, and so failing, once the package changes; until then the generators keep clear
# of it where a comment names it. Where the docs change instead, the case and the detour go with that change.
KNOWN_DISAGREEMENTS: dict[str, str] = {}


def _opt(**fields: st.SearchStrategy) -> st.SearchStrategy[dict]:
    """A dict where every key is optional."""
    return st.fixed_dictionaries({}, optional=fields)


deep_merge = invariants.deep_merge


# -- what docs/configuration.md and docs/ingress.md say ---------------------------------------------------------

AGENT_VERSION = "4.70.0"
PROBE_MIN_VERSION = (4, 51, 0)  # startupProbe.enabled: "agent >= 4.51.0"
PROBE_ENABLED = True  # startupProbe.enabled: on by default, so its port is taken in every agent's pod
PROBE_PORT = 2024
LISTENER_PORT = 8001
AGENT_PRE_STOP = 30
AGENT_RPC_PORT = 9999  # agentService.port
APP_PRE_STOP_OVER_AGENT = 5  # an owned app's preStopSleepSeconds: "agent's + 5"
TMP_MOUNT_PATH = "/sigsci/tmp"  # agent.tmpMountPath
RPC_ADDRESS_ENV = "SIGSCI_RPC_ADDRESS"  # rpcAddressEnv, of a module app and of sigsci:injection
AGENT_CONTAINER = "sigsci-agent"  # the agent's container: no app (owned, module) nor module container of that name
DEFAULT_UID = 10001  # runAsUser, of an app and of sigsci:injection
INJECTION_PARAMS_NAMESPACE = "sigsci-injection"  # sigsci:injection.paramsNamespace
INJECTION_NAMESPACES_MAX = 256  # sigsci:injection.namespaces: 1–256
# requests and limits by kind; the controller has no CPU limit by default.
AGENT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
ECHO_RESOURCES = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
APP_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
CONTROLLER_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
CHART = {"ingress-nginx": "ingress-nginx", "ingress-nginx-chainguard": "ingress-nginx",
         "nginx-ingress": "nginx-ingress"}
# chart.version: the version per flavour that has a known Fastly image; any other needs controller.image.tag.
KNOWN_CHART_VERSION = {"ingress-nginx": "4.15.1", "nginx-ingress": "2.5.0"}
# A sidecar's startupProbe.port must not be a port the controller listens on.
CONTROLLER_PORTS = {"ingress-nginx": {8181, 8443, 10245, 10246, 10247, 10254},
                    "nginx-ingress": {8080, 8081, 9113, 9114}}
# Each controller family reads its own annotations; the other family's are refused on routes.
ANNOTATION_PREFIX = {"ingress-nginx": "nginx.ingress.kubernetes.io/", "nginx-ingress": "nginx.org/"}
# routes[].host: "required with flavour nginx-ingress" (F5's controller serves only Ingress rules with a host).
HOST_REQUIRED = {"nginx-ingress"}
NGINX_UID = 101  # a sidecar agent runs as nginx's user, 101 in both charts
SITE_MAX = 246  # the created Secret is sigsci.<site>, at most 253
RELEASE_MAX, RELEASE_MAX_SERVICE = 53, 50
CLASS_MAX = 243  # ingress-nginx flavours: the IngressClass's controller k8s.io/<class> has at most 250
# ingressClass.name: "not a stock controller's class".
STOCK_CLASS = {"ingress-nginx": "ingress-nginx", "nginx-ingress": "nginx"}
NAME_MAX = 63
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
# Kubernetes' own rule for Prefix and Exact paths.
_BAD_PATH_PARTS, _BAD_PATH_ENDS = ("//", "/./", "/../", "%2f", "%2F"), ("/..", "/.")

# Each quantity drawn, valued by hand: millicores and bytes.
CPU = {"10m": 10, "100m": 100, "200m": 200, 0.5: 500, "500m": 500, "1": 1000, 1: 1000, "1.5": 1500, "2": 2000, 2: 2000,
       "4000m": 4000}
MEMORY = {"64Mi": 64 << 20, "100M": 100_000_000, "128Mi": 128 << 20, 268435456: 256 << 20, "256Mi": 256 << 20,
          "512Mi": 512 << 20, "1Gi": 1 << 30, "2Gi": 2 << 30}
AMOUNT = {"cpu": CPU, "memory": MEMORY}


def release_version(tag: str) -> tuple[int, ...] | None:
    """(4, 70, 0) for a release version ('4.70.0', 'v4.70.0'); None for 'latest' or a custom tag."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", tag)
    return tuple(int(g) for g in match.groups()) if match else None


def admission_service(release: str) -> str:
    """ingress-nginx's admission Service, which the chart does not shorten: `<controller objects>-admission`,
    the controller's objects being `<release>-controller` when the release contains the chart's name, else
    `<release>-ingress-nginx-controller`."""
    fullname = release if "ingress-nginx" in release else f"{release}-ingress-nginx"
    return f"{fullname}-controller-admission"


def yaml_reads_as_text(name: str) -> bool:
    """The configuration page's rule for the names the charts write unquoted (the IngressClass, the release's
    namespace and name): not a word YAML 1.1
    reads as null or true/false, and not a number (digits, 0x/0o/0b, a decimal or exponent form) or a date."""
    words = {"null", "y", "n", "yes", "no", "on", "off", "true", "false"}
    number = re.fullmatch(r"(0x[0-9a-f]+|0o[0-7]+|0b[01]+|[0-9]*\.?[0-9]*(e[-+]?[0-9]+)?|\d{4}-\d{1,2}-\d{1,2})", name)
    return name not in words and not (number and any(c.isdigit() for c in name))


def controller_refuses_path(chart: str, path: str) -> bool:
    """The configuration page's rule for the paths each controller refuses (what the route generator draws: no
    characters beyond letters, digits and . _ - /): ingress-nginx's deep inspection, F5's illegal keywords."""
    if chart == "ingress-nginx":
        return re.search(r"/etc/(passwd|shadow|group|nginx|ingress-controller)|/var/run/secrets|_by_lua", path) \
            is not None
    return path.startswith("/etc/") or "/root" in path or "/var" in path


def bad_prefix_path(path: str) -> bool:
    return any(p in path for p in _BAD_PATH_PARTS) or path.endswith(_BAD_PATH_ENDS)


def normal_path(path: str) -> str:
    """`path` without the parts Kubernetes refuses in Prefix and Exact paths ('/a//b/../c' -> '/a/b/c')."""
    segments = path.replace("%2f", "-").replace("%2F", "-").split("/")
    return "/" + "/".join(s for s in segments if s not in ("", ".", ".."))


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
seconds = st.one_of(st.sampled_from([0, 1, 5, 10, 30, 35, 60, 300, 3600]), st.integers(0, 3600))
digest = st.text(HEX64, min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
abs_path = st.one_of(st.sampled_from(["/sigsci/tmp", "/var/run/sigsci", "/tmp", "/tmp/sigsci", "/x"]),
                     st.from_regex(r"\A(/[a-z0-9_-][a-z0-9._-]{0,9}){1,4}\Z", fullmatch=True))
# The temp volume's path: kept off system and chart paths, which docs/configuration.md refuses.
tmp_mount_path = st.one_of(st.sampled_from(["/sigsci/tmp", "/var/run/sigsci", "/tmp/sigsci", "/x"]),
                           st.from_regex(r"\A/(data|srv)(/[a-z0-9_-][a-z0-9._-]{0,9}){0,3}\Z", fullmatch=True))
image = st.sampled_from(["nginxinc/nginx-unprivileged:1.27", "example/api:1.2.3", "busybox",
                         "registry.example.com:5000/team/app:v2", "example/web@sha256:" + "a" * 64,
                         "example/web:latest"])
short_text = st.text(string.ascii_letters + string.digits + " -_./:=", max_size=20)
# An environment variable's name (rpcAddressEnv): a C identifier, or with Kubernetes' '-' and '.' too.
env_name = st.one_of(st.sampled_from([RPC_ADDRESS_ENV, "SIGSCI_AGENT", "AGENT_ADDR", "_X", "sigsci.rpc-address"]),
                     st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z", fullmatch=True))


@st.composite
def resources(draw) -> dict:
    """Requests and limits as drawn; `_fit_resources` makes them agree with each other and the defaults."""
    result: dict = {}
    for kind in ("cpu", "memory"):
        parts = draw(st.sampled_from([(), ("requests",), ("limits",), ("requests", "limits")]))
        for part in parts:
            result.setdefault(part, {})[kind] = draw(st.sampled_from(list(AMOUNT[kind])))
    return result


# Option values: text, whole numbers or booleans (docs/configuration.md), unchecked under unlistedOptions.
option_value = st.one_of(short_text, st.booleans(), st.integers(0, 10_000))
# Catalogued options of each kind of docs/configuration.md's "Agent options", with values of that kind: under
# `options` a value of another kind is refused (_rule_option_of_another_kind).
whole = st.integers(1, 64)
OPTION_VALUES: dict[str, st.SearchStrategy] = {
    "debug-log-all-the-things": st.one_of(st.booleans(), st.sampled_from(["true", "false", "1", "0", "TRUE", "f"])),  # true/false
    "max-procs": st.one_of(whole, whole.map(str)),  # whole number, 1 or more
    "debug-log-uploads": st.one_of(st.integers(0, 10), st.just("0")),  # whole number, 0 or more
    "debug-log-web-inputs": st.sampled_from([0, 1, 2]),  # level
    "cleaner-interval": st.one_of(st.sampled_from(["10s", "250ms", "1m30s", "1h"]), whole),  # duration, or ms
    "inspection-max-content-length": st.integers(1, 100_000_000),  # size: whole bytes
    "statsd-address": st.sampled_from(["0.0.0.0:8125", "statsd.monitoring:8125", ":8125", "[::1]:8125",
                                       "10.0.0.1:65535"]),  # address
    "log-out": st.one_of(st.sampled_from(["/dev/stdout", "/sigsci/tmp/waf.log"]), abs_path),  # path
    **{name: option_value for name in ("inspect-websocket", "client-ip-header", "upload-interval",
                                       "server-hostname")},  # text
}
# Per catalogued option, values of other kinds (the docs' example among them).
OPTION_MISFITS = {
    "debug-log-all-the-things": ["yes", 2, "on"], "max-procs": [-5, 0, "lots", True, "1.5"],
    "debug-log-uploads": [-1, "x", False], "debug-log-web-inputs": [3, -1, True, "verbose"],
    "cleaner-interval": ["-1s", "1d", "0s", True, "ten seconds"], "inspection-max-content-length": ["1Mi", -1, True],
    "statsd-address": ["statsd", "host:0", "host:65536", True, 8125], "log-out": ["relative.log", "", 5, True],
}
options = st.lists(st.sampled_from(sorted(OPTION_VALUES)), max_size=3, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({name: OPTION_VALUES[name] for name in names}))


@functools.cache
def _agent_fields(pre_stop: bool, run_as_user: bool) -> st.SearchStrategy[dict]:
    fields: dict[str, st.SearchStrategy] = dict(
        repository=st.sampled_from(["signalsciences/sigsci-agent", "registry.example.com:5000/mirror/sigsci-agent"]),
        version=st.sampled_from(["4.70.0", "4.51.0", "4.40.0", "v4.70.0", "latest", "testing"]),
        digest=digest,
        imagePullPolicy=st.sampled_from(PULL_POLICIES),
        resources=resources(),
        options=options,
        # Names the agent's documented options do not have: a known one belongs under options.
        unlistedOptions=st.dictionaries(st.sampled_from(["future-flag", "new-thing"]), option_value, max_size=2),
        tmpMountPath=tmp_mount_path,
        startupProbe=_opt(enabled=st.booleans(), port=unprivileged_port, failureThreshold=st.integers(1, 1000),
                          periodSeconds=st.integers(1, 300)),
        accessLog=st.booleans(),
    )
    if run_as_user:
        fields["runAsUser"] = st.one_of(st.just(10001), st.integers(1, 2**31 - 1))
    if pre_stop:
        fields["preStopSleepSeconds"] = seconds
    return _opt(**fields)


@st.composite
def agent_settings(draw, *, pre_stop: bool = True, run_as_user: bool = True) -> dict:
    settings = draw(_agent_fields(pre_stop, run_as_user))
    # imagePullPolicy: "required for a custom tag".
    version = settings.get("version", AGENT_VERSION)
    if version != "latest" and release_version(version) is None and "imagePullPolicy" not in settings:
        settings["imagePullPolicy"] = draw(st.sampled_from(PULL_POLICIES))
    return settings


# -- apps ----------------------------------------------------------------------------------------------------

def _common_app(grace: bool = True) -> dict[str, st.SearchStrategy]:
    common = dict(namespace=st.sampled_from(["default", "team-a", "shop", "sigsci-ingress"]),
                  listenerPort=unprivileged_port, servicePort=port, agent=agent_settings())
    return {**common, "terminationGracePeriodSeconds": st.integers(1, 7200)} if grace else common


# The keys of an app whose Deployment the stack creates (owned, and module without deployment).
_OWN_DEPLOYMENT = dict(
    args=st.lists(short_text, max_size=3), command=st.lists(short_text, min_size=1, max_size=2).map(  # a command starts with a program
        lambda c: [c[0] if c[0].strip() else "/app", *c[1:]]),
    env=st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,10}\Z", fullmatch=True), short_text, max_size=3),
    resources=resources(), healthPath=st.sampled_from(["/", "/healthz", "/ready?full=1"]),
    readOnlyRootFilesystem=st.booleans(), writablePaths=st.lists(abs_path, max_size=3, unique=True),
    runAsUser=st.integers(1, 65535), preStopSleepSeconds=seconds, replicas=st.integers(0, 10),
    serviceType=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]), networkPolicy=st.booleans())
# A module's own keys: where its app container finds the agent. rpcPort sometimes on the ports that matter.
_MODULE = dict(rpcAddressEnv=env_name,
               rpcPort=st.one_of(st.sampled_from([1024, 2024, 8001, 8080, 9999, 65535]), unprivileged_port))
# A module's app container in an existing Deployment: any container name but the agent's.
container_name = st.one_of(st.sampled_from(["app", "web", "main", "a" * 63]), dns_label).filter(
    lambda n: n != AGENT_CONTAINER)

APP_KEYS = {
    "owned": _opt(**_common_app(), **_OWN_DEPLOYMENT),
    # The grace period stays the Deployment owner's: placement patch refuses it.
    "patch": _opt(**_common_app(grace=False), ownerTargetPort=st.one_of(port, st.sampled_from(["http", "web"]))),
    "service": _opt(**_common_app(), replicas=st.integers(0, 10), networkPolicy=st.booleans(),
                    serviceType=st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"])),
    # module: as owned but for the listener (the module calls the agent, which listens for nobody else).
    "module": _opt(**{k: v for k, v in _common_app().items() if k != "listenerPort"}, **_OWN_DEPLOYMENT,
                   **_MODULE),
    # module with deployment: the Deployment and its Service are their owner's; only where the agent goes.
    "module-existing": _opt(namespace=_common_app()["namespace"], agent=agent_settings(), container=container_name,
                            runAsUser=st.integers(1, 65535), **_MODULE),
}


def is_module(entry: dict) -> bool:
    return entry.get("placement") == "module"


def creates_deployment(entry: dict) -> bool:
    """The stack creates the app's Deployment: all but patch and module with deployment."""
    return entry.get("placement", "owned") != "patch" and not (is_module(entry) and "deployment" in entry)


@st.composite
def app(draw, name: st.SearchStrategy[str] = dns_1035) -> dict:
    name = draw(name)
    # 'sigsci-agent' is not a name for placement owned or module (the app's selector would pick the agents' pods,
    # and the app's container would share the agent's name).
    placement = draw(st.sampled_from(["owned", "owned", "patch", "service", "module", "module-existing"]
                                     if name != AGENT_CONTAINER else ["patch", "service"]))
    base: dict[str, Any] = {"name": name, "port": draw(port)}
    if placement == "owned":
        base["image"] = draw(image)
    elif placement == "module":
        base.update(placement="module", image=draw(image))
    elif placement == "module-existing":
        # The harness has the cluster hold that Deployment, with the app's container (harness.fill_live).
        base.update(placement="module", deployment=draw(dns_subdomain))
    elif placement == "patch":
        base.update(placement="patch", deployment=draw(dns_subdomain), service=draw(dns_1035),
                    takeOver=["service.targetPort"])
    else:
        # The agents' Service takes the app's name, so the app's own Service has another.
        base.update(placement="service", upstreamService=draw(dns_1035.filter(lambda n: n != name)))
    return {**base, **draw(APP_KEYS[placement])}


# -- the ingress ---------------------------------------------------------------------------------------------

host = st.one_of(st.sampled_from(["shop.example.com", "*.example.com", "a.b", "x" * 63 + ".example.com"]),
                 st.from_regex(r"\A[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,2}\Z", fullmatch=True))
precise_host = host.filter(lambda h: not h.startswith("*"))  # one DNS name: no wildcard
route_path = st.one_of(st.sampled_from(["/", "/api", "/api/v1", "/static/", "/a//b", "/a/./b", "/a/.."]),
                       st.from_regex(r"\A/[a-z0-9/._-]{0,12}\Z", fullmatch=True))
annotation_key = st.sampled_from(["nginx.ingress.kubernetes.io/rewrite-target", "nginx.org/rewrites",
                                  "example.com/team", "owner", "service.beta.kubernetes.io/aws-load-balancer-type"])
# Chart values none of ours overlap and none of the refused ones, in each chart's own layout.
EXTRA_VALUES = {
    "ingress-nginx": [
        {"controller": {"podLabels": {"team": "edge"}}},
        {"controller": {"nodeSelector": {"kubernetes.io/os": "linux"}}},
        {"controller": {"config": {"use-gzip": "true"}}},
        {"controller": {"kind": "DaemonSet"}},
        {"defaultBackend": {"enabled": True}},
    ],
    "nginx-ingress": [
        {"controller": {"pod": {"extraLabels": {"team": "edge"}}}},
        {"controller": {"nodeSelector": {"kubernetes.io/os": "linux"}}},
        {"controller": {"config": {"entries": {"worker-processes": "2"}}}},
    ],
}
# Controller tags: ingress-nginx flavours take a semantic version of 0.27.0 or newer only.
CONTROLLER_TAGS = {"ingress-nginx": ["1.15.1-fastly1.4.0", "v1.15.6", "5.4.0", "0.27.0"],
                   "nginx-ingress": ["1.15.1-fastly1.4.0", "v1.15.6", "5.4.0", "latest", "0.26.0"]}


INGRESS_PATH_TYPES = ["Prefix", "Exact", "ImplementationSpecific"]


@st.composite
def route(draw, targets: dict[str, list[tuple[str, str]]], *, gateway: bool = False) -> dict:
    """A route to an app (`targets`: name -> [(namespace, its Service)]) or to any Service; `_fit_routes` makes
    the routes agree with each other. The shape is `sigsci:ingress.routes`'; `gateway` gives
    `sigsci:gateway.routes`', the same but for the path types Gateway API lacks and the Ingress's own keys."""
    target = draw(st.sampled_from(["app", "service"])) if targets else "service"
    result: dict[str, Any] = {}
    if target == "app":
        result["app"] = draw(st.sampled_from(sorted(targets)))
        result.update(draw(_opt(namespace=st.sampled_from([ns for ns, _ in targets[result["app"]]]))))
    else:
        result["service"] = {"name": draw(dns_1035), "port": draw(port)}
        result.update(draw(_opt(namespace=dns_label)))
    ingress_only = {} if gateway else {"annotations": st.dictionaries(annotation_key, short_text, max_size=2)}
    result.update(draw(_opt(name=dns_subdomain, host=host, path=route_path,
                            pathType=st.sampled_from(gateway_docs.PATH_TYPES if gateway else INGRESS_PATH_TYPES),
                            **ingress_only)))
    if not gateway and ("host" in result or draw(st.integers(0, 9)) == 0):
        result.update(draw(_opt(tlsSecret=dns_subdomain)))
    return result


@functools.cache
def _ingress_keys(chart: str, sidecar: bool, run_as_user: bool) -> st.SearchStrategy[dict]:
    other_version = "4.14.0" if chart == "nginx-ingress" else "2.5.0"
    return _opt(
        namespace=dns_label.filter(yaml_reads_as_text),
        createNamespace=st.booleans(),
        releaseName=st.one_of(dns_1035.filter(lambda n: len(n) <= RELEASE_MAX and yaml_reads_as_text(n)),
                              st.sampled_from(["r" * RELEASE_MAX, "edge", "web", "sigsci", "edge-ingress-nginx"])),
        chart=_opt(version=st.sampled_from([KNOWN_CHART_VERSION[chart]] * 3 + [other_version]),
                   repository=st.sampled_from(["https://charts.example.com/mirror", "oci://registry.example.com/c"])),
        controller=_opt(image=_opt(repository=st.just("registry.example.com/mirror/controller"),
                                   tag=st.sampled_from(CONTROLLER_TAGS[chart]),
                                   digest=digest, pullPolicy=st.sampled_from(["Always", "IfNotPresent"])),
                        replicas=st.integers(1, 100), resources=resources(),
                        terminationGracePeriodSeconds=st.integers(30, 3600)),
        # agentService: only with agentLifetime service.
        **({} if sidecar else {"agentService": _opt(replicas=st.integers(1, 100), port=unprivileged_port)}),
        # preStopSleepSeconds only with service; a sidecar's user is nginx's.
        agent=agent_settings(pre_stop=not sidecar, run_as_user=run_as_user),
        ingressClass=_opt(name=dns_subdomain.filter(lambda n: (chart == "nginx-ingress" or len(n) <= CLASS_MAX)
                                                    and yaml_reads_as_text(n)
                                                    and n != STOCK_CLASS[chart]),
                          default=st.booleans()),
        service=_opt(type=st.sampled_from(["LoadBalancer", "NodePort", "ClusterIP"]),
                     externalTrafficPolicy=st.sampled_from(["Cluster", "Local"]),
                     annotations=st.dictionaries(annotation_key, short_text, max_size=2)),
        extraValues=st.sampled_from(EXTRA_VALUES[chart]).map(copy.deepcopy),
    )


@st.composite
def ingress_settings(draw) -> dict:
    """`sigsci:ingress` without its routes, fitted to the rules inside it."""
    flavour = draw(st.sampled_from(["ingress-nginx", "ingress-nginx-chainguard", "nginx-ingress"]))
    chart = CHART[flavour]
    lifetime = draw(st.sampled_from(["nativeSidecar", "classicSidecar", "service"]))
    sidecar = lifetime != "service"
    result: dict[str, Any] = {"flavour": flavour, "agentLifetime": lifetime}
    result.update(draw(_ingress_keys(chart, sidecar, not sidecar or draw(st.integers(0, 9)) == 0)))
    if sidecar and "runAsUser" in result.get("agent", {}):
        result["agent"]["runAsUser"] = NGINX_UID
    # externalTrafficPolicy: "not with ClusterIP".
    service = result.get("service", {})
    if service.get("type") == "ClusterIP":
        service.pop("externalTrafficPolicy", None)
    # A chart version with no known Fastly image needs controller.image.tag.
    if result.get("chart", {}).get("version", KNOWN_CHART_VERSION[chart]) != KNOWN_CHART_VERSION[chart]:
        image_settings = result.setdefault("controller", {}).setdefault("image", {})
        image_settings.setdefault("tag", draw(st.sampled_from(CONTROLLER_TAGS["ingress-nginx"])))
    if "releaseName" in result:
        result["releaseName"] = _fit_release(result["releaseName"], chart, sidecar)
    return result


def _fit_release(release: str, chart: str, sidecar: bool) -> str:
    """Shortened until the names built from it fit: at most 50 characters with agentLifetime service, and
    ingress-nginx's admission Service at most 63."""
    def fits(name: str) -> bool:
        return len(name) <= (RELEASE_MAX if sidecar else RELEASE_MAX_SERVICE) and \
            (chart != "ingress-nginx" or len(admission_service(name)) <= NAME_MAX)

    while not fits(release):
        release = release[:-1].rstrip("-")
    return release


# -- the rules between keys ------------------------------------------------------------------------------------

def _fit_resources(own: dict, base: dict, defaults: dict) -> None:
    """Each request at most its limit; "a request above the default limit (or a limit below the default request)
    needs the other set too". `base` is the level `own` goes over (sigsci:agent under an app's agent)."""
    merged = deep_merge(base, own)
    for kind, amounts in AMOUNT.items():
        request = merged.get("requests", {}).get(kind)
        limit = merged.get("limits", {}).get(kind)
        default_request, default_limit = defaults["requests"].get(kind), defaults["limits"].get(kind)
        if request is not None and limit is not None:
            fits = amounts[request] <= amounts[limit]
        elif request is not None:
            fits = default_limit is None or amounts[request] <= amounts[default_limit]
        elif limit is not None:
            fits = default_request is None or amounts[limit] >= amounts[default_request]
        else:
            fits = True
        if not fits:
            pair = [request if request is not None else default_request, limit if limit is not None else default_limit]
            low, high = sorted(pair, key=amounts.__getitem__)
            own.setdefault("requests", {})[kind] = low
            own.setdefault("limits", {})[kind] = high


def _fit_agent(own: dict, shared: dict, taken: set[int]) -> None:
    """The agent `own` over `shared` fits: a startup probe only on agent 4.51.0 or newer, on a port nothing else
    in the pod uses (`taken`), and resources that agree."""
    agent = deep_merge(shared, own)
    release = release_version(agent.get("version", AGENT_VERSION))
    if agent.get("startupProbe", {}).get("enabled", PROBE_ENABLED) and release is not None \
            and release < PROBE_MIN_VERSION:
        own.setdefault("startupProbe", {})["enabled"] = False
    if "resources" in own or "resources" in shared:
        _fit_resources(own.setdefault("resources", {}), shared.get("resources", {}), AGENT_RESOURCES)
        if not own["resources"]:
            del own["resources"]
    probe = deep_merge(shared, own).get("startupProbe", {})
    if probe.get("enabled", PROBE_ENABLED) and probe.get("port", PROBE_PORT) in taken:
        own.setdefault("startupProbe", {})["port"] = next(p for p in (2024, 2025, 3024, 12024) if p not in taken)


def agent_pre_stop(config: dict, own: dict) -> int:
    return deep_merge(config.get("sigsci:agent") or {}, own).get("preStopSleepSeconds", AGENT_PRE_STOP)


def longest_pre_stop(config: dict, app_entry: dict) -> int:
    """The longest preStop sleep of an app's pod: the agent's, and an owned app's own (default agent's + 5); a
    module's app's own only (default the agent's): its agent, a native sidecar, has no sleep of its own."""
    agent = agent_pre_stop(config, app_entry.get("agent", {}))
    if is_module(app_entry):
        return app_entry.get("preStopSleepSeconds", agent)
    if app_entry.get("placement", "owned") != "owned":
        return agent
    return max(agent, app_entry.get("preStopSleepSeconds", agent + APP_PRE_STOP_OVER_AGENT))


def socket_directory(config: dict, own: dict) -> str:
    return deep_merge(config.get("sigsci:agent") or {}, own).get("tmpMountPath", TMP_MOUNT_PATH)


def _fit_module(entry: dict, config: dict) -> None:
    """placement module: rpcPort "must differ from port"; env may not set rpcAddressEnv; writablePaths may not
    hold the agent's tmpMountPath (the socket volume's place in the app container)."""
    if entry.get("rpcPort") == entry["port"]:
        entry["rpcPort"] = 9999 if entry["port"] != 9999 else 9998
    env_var = entry.get("rpcAddressEnv", RPC_ADDRESS_ENV)
    if env_var in entry.get("env", {}):
        del entry["env"][env_var]
    socket_dir = socket_directory(config, entry.get("agent", {}))
    if socket_dir in entry.get("writablePaths", []):
        entry["writablePaths"].remove(socket_dir)
    # "the app's own agent.runAsUser, if it differs, is refused": the agent runs as the app's user.
    own = entry.get("agent")
    if isinstance(own, dict) and "runAsUser" in own:
        own["runAsUser"] = entry.get("runAsUser", DEFAULT_UID)


def _fit_app(entry: dict, config: dict) -> None:
    placement = entry.get("placement", "owned")
    # listenerPort "must differ from port" where they share the pod (owned, patch).
    if placement in ("owned", "patch") and entry.get("listenerPort", LISTENER_PORT) == entry["port"]:
        entry["listenerPort"] = 8002 if entry["port"] != 8002 else 8003
    if "resources" in entry:
        _fit_resources(entry["resources"], {}, APP_RESOURCES)
    if placement == "module":
        _fit_module(entry, config)
    # ownerTargetPort "must lead to port": a number is port itself (a name, the app's container port's).
    target = entry.get("ownerTargetPort")
    if placement == "patch" and isinstance(target, int) and target != entry["port"]:
        entry["ownerTargetPort"] = entry["port"]
    # The probe shares the pod with the listener (a module's with rpcPort) and, but for service, with the app.
    taken = {entry["rpcPort"]} if "rpcPort" in entry else set()
    taken |= {entry["port"]} if placement != "service" else set()
    taken |= {entry.get("listenerPort", LISTENER_PORT)} if placement != "module" else set()
    own = entry.get("agent", {})
    _fit_agent(own, config.get("sigsci:agent") or {}, taken)
    if own:
        entry["agent"] = own
    # An owned app's preStopSleepSeconds: "at least the agent's".
    agent_stop = agent_pre_stop(config, own)
    if placement == "owned" and entry.get("preStopSleepSeconds", agent_stop) < agent_stop:
        entry["preStopSleepSeconds"] = agent_stop
    # terminationGracePeriodSeconds "must exceed the longest preStop sleep".
    longest = longest_pre_stop(config, entry)
    if entry.get("terminationGracePeriodSeconds", longest + 1) <= longest:
        entry["terminationGracePeriodSeconds"] = longest + 1


def _claims(entry: dict) -> set[tuple[str, str, str]]:
    """The names an app takes in its namespace: its name, the Service and the Deployment it makes or patches (a
    module in an existing Deployment has no Service of ours)."""
    namespace, name = entry.get("namespace", "default"), entry["name"]
    claims = {("app", namespace, name), ("Deployment", namespace, entry.get("deployment", name))}
    service = gateway_docs.app_service(entry)
    return claims | ({("Service", namespace, service)} if service is not None else set())


def _fit_namespaces(apps: list[dict], ingress: dict | None, gateway: dict | None = None) -> None:
    """Apps move to a namespace of their own when they would clash: two apps over one name, Service or
    Deployment; an owned app named after the ingress chart in its namespace; an app's objects named like the
    ingress agents' Service (`<release>-sigsci-agent`, with agentLifetime service)."""
    ingress_namespace = (ingress or {}).get("namespace", "sigsci-ingress")
    gateway_namespace = (gateway or {}).get("namespace", gateway_docs.NAMESPACE)
    used = {a.get("namespace", "default") for a in apps} | {ingress_namespace, gateway_namespace}

    def move(entry: dict) -> None:
        fresh = next(f"moved-{n}" for n in range(len(used) + 1) if f"moved-{n}" not in used)
        used.add(fresh)
        entry["namespace"] = fresh

    if ingress is not None:
        chart = CHART[ingress["flavour"]]
        release = ingress.get("releaseName", f"sigsci-{chart}")
        agents = f"{release}-sigsci-agent" if ingress["agentLifetime"] == "service" else None
        for entry in apps:
            if entry.get("namespace", "default") != ingress_namespace:
                continue
            names = {name for kind, _, name in _claims(entry)}
            # The app's selector app.kubernetes.io/name=<name>: of an owned app, and of a module's own Deployment.
            selects = entry.get("placement", "owned") in ("owned", "module") and creates_deployment(entry)
            if (selects and entry["name"] == chart) or agents in names:
                move(entry)
    # configuration.md: in the gateway's namespace no app is named `sigsci-extproc` (the gateway agents' name),
    # nor is a Deployment or Service it takes.
    seen: set = {(kind, gateway_namespace, gateway_docs.AGENTS_NAME) for kind in ("app", "Service", "Deployment")
                 if gateway is not None}
    for entry in apps:
        if (_claims(entry) | _reads(entry)) & seen:
            move(entry)
        seen |= _claims(entry) | _reads(entry)


def _reads(entry: dict) -> set[tuple[str, str, str]]:
    """The existing Services an app reads at preview (a patched app's, the one agents proxy to): the harness makes
    each up from one app's config, so two apps never share one (its ports would be only one app's)."""
    namespace = entry.get("namespace", "default")
    name = entry.get("upstreamService") if entry.get("placement") == "service" else \
        entry.get("service") if entry.get("placement") == "patch" else None
    return {("read Service", namespace, name)} if isinstance(name, str) else set()


def _targets(apps: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """What a route to an app reaches: per app name, (namespace, the app's Service); a module in an existing
    Deployment has none of ours ("service: null" in the apps output), so no route reaches it."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for entry in apps:
        service = gateway_docs.app_service(entry)
        if service is not None:
            targets.setdefault(entry["name"], []).append((entry.get("namespace", "default"), service))
    return targets


def _fit_routes(routes: list[dict], targets: dict[str, list[tuple[str, str]]], flavour: str | None = None,
                home: str | None = None) -> None:
    """Routes that agree: an app route names its namespace when the app's name is in several; route names
    unique among routes (the default is the backend Service's name, in the backend's namespace for an Ingress,
    in `home`, the Gateway's, for an HTTPRoute); one route per host and path; tlsSecret only with host; Prefix
    and Exact paths as Kubernetes takes them (an Ingress's turns ImplementationSpecific, an HTTPRoute's, which
    has no such type, is normalised); annotations of the ingress `flavour`'s family only; a host on every route
    where the `flavour` requires one."""
    explicit: set[str] = set()
    objects: set[tuple[str, str]] = set()
    rules: set[tuple[str | None, str]] = set()
    for index, entry in enumerate(routes):
        if "app" in entry:
            places = targets[entry["app"]]
            if "namespace" in entry or len(places) > 1:
                entry["namespace"] = entry.get("namespace", places[0][0])
            namespace, service = next(p for p in places if p[0] == entry.get("namespace", places[0][0]))
        else:
            namespace, service = entry.get("namespace", "default"), entry["service"]["name"]
        namespace = home or namespace
        name = entry.get("name", service)
        if name in explicit or (namespace, name) in objects:
            name = entry["name"] = next(n for n in (f"route-{index}-{k}" for k in range(len(routes) + 2))
                                        if n not in explicit and (namespace, n) not in objects)
        if "name" in entry:
            explicit.add(name)
        objects.add((namespace, name))
        if flavour in HOST_REQUIRED and "host" not in entry:
            entry["host"] = f"route-{index}.example.com"
        if "tlsSecret" in entry and "host" not in entry:
            del entry["tlsSecret"]
        if entry.get("pathType", "Prefix") != "ImplementationSpecific" and bad_prefix_path(entry.get("path", "/")):
            if flavour is None:
                entry["path"] = normal_path(entry["path"])
            else:
                entry["pathType"] = "ImplementationSpecific"
        if flavour is not None and controller_refuses_path(CHART[flavour], entry.get("path", "/")):
            entry["path"] = f"/route-{index}"
        if (entry.get("host"), entry.get("path", "/")) in rules:
            entry["path"] = next(p for p in (f"/route-{index}-{k}" for k in range(len(routes) + 2))
                                 if (entry.get("host"), p) not in rules)
        rules.add((entry.get("host"), entry.get("path", "/")))
        if "annotations" in entry and flavour is not None:
            other = ANNOTATION_PREFIX["ingress-nginx" if CHART[flavour] == "nginx-ingress" else "nginx-ingress"]
            entry["annotations"] = {k: v for k, v in entry["annotations"].items() if not k.startswith(other)}


def _fit_ingress_agent(ingress: dict, config: dict) -> None:
    chart = CHART[ingress["flavour"]]
    taken = CONTROLLER_PORTS[chart] if ingress["agentLifetime"] != "service" \
        else {ingress.get("agentService", {}).get("port", AGENT_RPC_PORT)}
    own = ingress.get("agent", {})
    _fit_agent(own, config.get("sigsci:agent") or {}, taken)
    if own:
        ingress["agent"] = own
    if "resources" in ingress.get("controller", {}):
        _fit_resources(ingress["controller"]["resources"], {}, CONTROLLER_RESOURCES)


# -- whole stacks --------------------------------------------------------------------------------------------

def _within(settings: dict, keys: list[str], make: bool = False) -> dict:
    """The object at `keys` inside `settings`: made where there is none with `make`, else a throwaway one."""
    for key in keys:
        settings = settings.setdefault(key, {}) if make else settings.get(key) or {}
    return settings


def _implementation(gateway: dict, implementation: str) -> None:
    """`gateway` on `implementation`, without the keys of the other one, and with a name it takes."""
    gateway["implementation"] = implementation
    for dotted, only in gateway_docs.ONLY_FOR.items():
        *parents, key = dotted.split(".")
        if only != implementation:
            _within(gateway, parents).pop(key, None)
    # name, existingGateway.name: "at most 63 characters".
    named = gateway.get("existingGateway", gateway)
    if len(named.get("name", "")) > NAME_MAX:
        named["name"] = named["name"][:NAME_MAX].rstrip(".-")


def _fit_gateway(draw, gateway: dict, config: dict) -> None:
    """`sigsci:gateway` fitted to the rules docs/configuration.md states between its keys."""
    if "existingGateway" in gateway:
        # "then name, gatewayClass and listeners do not apply"; envoyGateway.enabled: "true is refused with
        # existingGateway".
        for key in ("name", "gatewayClass", "listeners"):
            gateway.pop(key, None)
        _existing(gateway)
    # The keys of the other implementation.
    _implementation(gateway, gateway.get("implementation", gateway_docs.IMPLEMENTATIONS[0]))
    # ingressRoutes: "also serve every route of sigsci:ingress".
    if not config.get("sigsci:ingress"):
        gateway.pop("ingressRoutes", None)
    listeners = gateway.get("listeners", {})
    http = listeners.get("httpPort", gateway_docs.HTTP_PORT)
    if listeners.get("tlsSecrets") and listeners.get("httpsPort", gateway_docs.HTTPS_PORT) == http:
        listeners["httpsPort"] = gateway_docs.HTTPS_PORT if http != gateway_docs.HTTPS_PORT else 8443
    # messageTimeout: "at least 1 s per MiB of bodyLimit, at least 500 ms".
    shortest = gateway_docs.shortest_timeout(gateway_docs.size_bytes(gateway.get("bodyLimit",
                                                                                 gateway_docs.BODY_LIMIT)))
    if gateway_docs.duration_ms(gateway.get("messageTimeout", gateway_docs.MESSAGE_TIMEOUT)) < shortest:
        gateway["messageTimeout"] = draw(st.sampled_from([f"{shortest}ms", f"{math.ceil(shortest / 1000)}s"]))
    # messageTimeout: "at most 1h".
    if gateway_docs.duration_ms(gateway["messageTimeout"] if "messageTimeout" in gateway else
                                gateway_docs.MESSAGE_TIMEOUT) > gateway_docs.MAX_TIMEOUT_MS:
        gateway["messageTimeout"] = draw(st.sampled_from(["1h", "60m", "59m59s999ms"]))
    # agent: "startupProbe.port must differ from agents.port".
    own = gateway.get("agent", {})
    _fit_agent(own, config.get("sigsci:agent") or {}, {gateway.get("agents", {}).get("port",
                                                                                     gateway_docs.AGENTS_PORT)})
    if own:
        gateway["agent"] = own


def _fit_gateway_routes(gateway: dict, ingress: dict | None, targets: dict[str, list[tuple[str, str]]],
                        echo: list[dict]) -> None:
    """The gateway's routes, and the ingress's it serves too with ingressRoutes, as one list of HTTPRoutes in
    the Gateway's namespace after the `echo`'s route (invariants.echo_routes): "a route's pathType:
    ImplementationSpecific is refused", names and host and path unique across all (docs/gateway.md: "two ingress
    routes to Services of the same name in different namespaces need a name each")."""
    shared = (ingress or {}).get("routes", []) if gateway.get("ingressRoutes") else []
    for entry in shared:
        if entry.get("pathType") == "ImplementationSpecific":
            del entry["pathType"]
    _fit_routes(copy.deepcopy(echo) + shared + gateway.get("routes", []), targets, home=gateway_docs.home(gateway)[0])


# -- sigsci:injection ----------------------------------------------------------------------------------------

opted_in = st.one_of(st.sampled_from(["default", "shop", "team-a", "sigsci-ingress", gateway_docs.NAMESPACE,
                                      INJECTION_PARAMS_NAMESPACE, "kube-system", "x" * 63]), dns_label)


@st.composite
def injection_settings(draw) -> dict:
    """`sigsci:injection`, every key of its table drawn, fitted: paramsNamespace "not one of namespaces". Its
    agent is fitted with the others' (stack_config), over sigsci:agent."""
    # As many as there may be, now and then: a Secret each makes it slow. (A draw's lowest value comes often: the
    # rare case is a value in the middle.)
    if draw(st.integers(0, 29)) == 14:
        namespaces = [f"opted-{n}" for n in range(INJECTION_NAMESPACES_MAX)]
    else:
        namespaces = draw(st.lists(opted_in, min_size=1, max_size=4, unique=True))
    settings: dict[str, Any] = {"namespaces": namespaces, **draw(_opt(
        paramsNamespace=st.one_of(st.sampled_from([INJECTION_PARAMS_NAMESPACE, "default", "platform",
                                                   "sigsci-ingress"]), dns_label),
        agent=agent_settings(), rpcAddressEnv=env_name,
        runAsUser=st.one_of(st.sampled_from([1, DEFAULT_UID, 2**31 - 1]), st.integers(1, 2**31 - 1))))}
    if settings.get("paramsNamespace", INJECTION_PARAMS_NAMESPACE) in namespaces:
        settings["paramsNamespace"] = next(f"params-{n}" for n in range(len(namespaces) + 1)
                                           if f"params-{n}" not in namespaces)
    return settings


# -- sigsci:verify ------------------------------------------------------------------------------------------------

# image: "with a version tag or a digest (not latest)".
echo_image = st.sampled_from(["mendhak/http-https-echo:41", "mendhak/http-https-echo@sha256:" + "b" * 64,
                              "registry.example.com:5000/echo:1.0", "ghcr.io/example/echo:v2.3"])
VERIFY_NAMESPACE = invariants.ECHO_DEFAULTS["namespace"]


@st.composite
def verify_settings(draw) -> dict:
    """`sigsci:verify`: `echo: true` and every other key of its table drawn (they "apply only with it");
    `_fit_verify` gives it a namespace of its own once the entries are fitted."""
    settings: dict[str, Any] = {"echo": True, **draw(_opt(
        namespace=st.one_of(st.sampled_from([VERIFY_NAMESPACE, "verify", "default", "sigsci-ingress",
                                             gateway_docs.NAMESPACE, INJECTION_PARAMS_NAMESPACE]), dns_label),
        host=precise_host, image=echo_image, resources=resources()))}
    if "resources" in settings:
        _fit_resources(settings["resources"], {}, ECHO_RESOURCES)
    return settings


def _echo_taken(config: dict) -> list[tuple[str, str]]:
    """The namespaces the echo's may not be, each with its key: "not an app's, nor the ingress's, the gateway's or
    Envoy Gateway's" (where the stack installs it)."""
    taken = [(key_of(("sigsci:apps", i, "namespace")), a.get("namespace", "default"))
             for i, a in enumerate(_apps_of(config))]
    ingress = config.get("sigsci:ingress")
    if isinstance(ingress, dict):
        taken.append(("sigsci:ingress.namespace", ingress.get("namespace", "sigsci-ingress")))
    gateway = _gateway(config)
    if gateway is not None:
        taken += [("sigsci:gateway.namespace", gateway.get("namespace", gateway_docs.NAMESPACE)),
                  ("sigsci:gateway.existingGateway.namespace", gateway_docs.home(gateway)[0])]
        if gateway_docs.installs_envoy_gateway(gateway):
            taken.append(("sigsci:gateway.envoyGateway.namespace", (gateway.get("envoyGateway") or {}).get(
                "namespace", gateway_docs.ENVOY_GATEWAY_NAMESPACE)))
    return taken


def _fit_verify(verify: dict, config: dict) -> None:
    taken = {namespace for _, namespace in _echo_taken(config)}
    if verify.get("namespace", VERIFY_NAMESPACE) in taken:
        verify["namespace"] = next(f"verify-{n}" for n in range(len(taken) + 1) if f"verify-{n}" not in taken)


@st.composite
def stack_config(draw, gateway: bool = False, injection: bool = False) -> dict:
    """A valid `sigsci:*` config: apps, an ingress, a gateway, injection, or several side by side; credentials
    from keys or an existing Secret. `gateway`, `injection`: with a gateway, with injection always."""
    shape = draw(st.sampled_from(["apps", "ingress", "both", "gateway", "injection"]))
    with_gateway = draw(st.integers(0, 3)) == 0 or gateway or shape == "gateway"
    config: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        shared = draw(agent_settings())
        # The package judges sigsci:agent on its own as well (shared-agent-judged-alone): it fits alone too.
        _fit_agent(shared, {}, set())
        config["sigsci:agent"] = shared
    apps: list[dict] = []
    if shape in ("apps", "both") or (shape in ("gateway", "injection") and draw(st.booleans())):
        # Now and then a name some other workload's labels or objects also use.
        pool = ["web", "api", "shop", "legacy"] + (
            ["sigsci-agent", "ingress-nginx", "nginx-ingress", "edge-sigsci-agent", gateway_docs.AGENTS_NAME]
            if draw(st.integers(0, 9)) == 0 else [])
        names = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=draw(st.integers(0, 9)) > 0))
        apps = [draw(app(st.just(n))) for n in names]
        for entry in apps:
            _fit_app(entry, config)
    ingress = draw(ingress_settings()) if shape in ("ingress", "both") else None
    gateway_entry = draw(gateway_settings()) if with_gateway else None
    _fit_namespaces(apps, ingress, gateway_entry)
    if apps:
        config["sigsci:apps"] = apps
    targets = _targets(apps)
    # The echo's route, which every entry serves before its own: theirs are fitted around it.
    verify = draw(verify_settings()) if (ingress or gateway_entry) is not None and draw(st.booleans()) else None
    echo = invariants.echo_routes({"sigsci:verify": verify})
    if ingress is not None:
        if draw(st.booleans()):
            ingress["routes"] = draw(st.lists(route(targets), max_size=3))
            _fit_routes(copy.deepcopy(echo) + ingress["routes"], targets, ingress["flavour"])
        _fit_ingress_agent(ingress, config)
        config["sigsci:ingress"] = ingress
    if gateway_entry is not None:
        if ingress is not None and draw(st.integers(0, 1)) == 0:
            gateway_entry["ingressRoutes"] = True  # moving off ingress-nginx (docs/gateway.md)
        _fit_gateway(draw, gateway_entry, config)
        if draw(st.integers(0, 3)) > 0:
            gateway_entry["routes"] = draw(st.lists(route(targets, gateway=True), max_size=3))
        _fit_gateway_routes(gateway_entry, ingress, targets, echo)
        config["sigsci:gateway"] = gateway_entry
    if verify is not None:
        _fit_verify(verify, config)
        config["sigsci:verify"] = verify
    if injection or shape == "injection" or draw(st.integers(0, 5)) == 3:
        injection_entry = draw(injection_settings())
        own = injection_entry.get("agent", {})
        _fit_agent(own, config.get("sigsci:agent") or {}, set())
        if own:
            injection_entry["agent"] = own
        config["sigsci:injection"] = injection_entry
    if draw(st.integers(0, 4)) == 0:
        config["sigsci:existingSecret"] = draw(dns_subdomain)
    else:
        config.update(harness.KEY_CONFIG)
        config["sigsci:site"] = draw(dns_subdomain.filter(lambda s: len(s) <= SITE_MAX))
    return config


# -- the schema, as the docs give it: what each key holds -------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    kind: str  # a key of INVALID


@dataclass(frozen=True)
class Obj:
    fields: dict[str, Any]


@dataclass(frozen=True)
class MapOf:
    value: Any
    closed_names: bool = False  # names checked against a list (options): an unknown name is an error


@dataclass(frozen=True)
class ListOf:
    item: Any


# Inside chart values: no rule of ours to break, other than those the rule mutations try.
OPEN = Leaf("open")

QUANTITIES = Obj({"cpu": Leaf("cpu"), "memory": Leaf("memory")})
RESOURCES = Obj({"requests": QUANTITIES, "limits": QUANTITIES})
AGENT = Obj({
    "repository": Leaf("repository"), "version": Leaf("tag"), "digest": Leaf("digest"),
    "imagePullPolicy": Leaf("pull-policy"), "resources": RESOURCES,
    "options": MapOf(Leaf("option-value"), closed_names=True), "unlistedOptions": MapOf(Leaf("option-value")),
    "tmpMountPath": Leaf("mount-path"), "preStopSleepSeconds": Leaf("pre-stop"),
    "startupProbe": Obj({"enabled": Leaf("bool"), "port": Leaf("unprivileged-port"),
                         "failureThreshold": Leaf("probe-int"), "periodSeconds": Leaf("probe-int")}),
    "runAsUser": Leaf("int"), "accessLog": Leaf("bool"),
})
APP = Obj({
    "name": Leaf("name"), "port": Leaf("port"), "namespace": Leaf("label"), "placement": Leaf("placement"),
    "listenerPort": Leaf("unprivileged-port"), "servicePort": Leaf("port"), "agent": AGENT,
    "terminationGracePeriodSeconds": Leaf("int"), "image": Leaf("image"), "args": ListOf(Leaf("text")),
    "command": ListOf(Leaf("text")), "env": MapOf(Leaf("text")), "resources": RESOURCES,
    "healthPath": Leaf("http-path"), "readOnlyRootFilesystem": Leaf("bool"),
    "writablePaths": ListOf(Leaf("mount-path")),
    "runAsUser": Leaf("int"), "preStopSleepSeconds": Leaf("int"), "replicas": Leaf("int"),
    "serviceType": Leaf("service-type"), "networkPolicy": Leaf("bool"), "deployment": Leaf("subdomain"),
    "service": Leaf("name"), "takeOver": ListOf(Leaf("take-over")), "ownerTargetPort": Leaf("target-port"),
    "upstreamService": Leaf("name"), "container": Leaf("label"), "rpcAddressEnv": Leaf("env-name"),
    "rpcPort": Leaf("unprivileged-port"),
})
ROUTE = Obj({
    "name": Leaf("subdomain"), "host": Leaf("host"), "path": Leaf("http-path"), "pathType": Leaf("path-type"),
    "app": Leaf("name"), "service": Obj({"name": Leaf("name"), "port": Leaf("port")}), "namespace": Leaf("label"),
    "annotations": MapOf(Leaf("text")), "tlsSecret": Leaf("subdomain"),
})
INGRESS = Obj({
    "flavour": Leaf("flavour"), "agentLifetime": Leaf("lifetime"), "namespace": Leaf("label"),
    "createNamespace": Leaf("bool"), "releaseName": Leaf("release"),
    "chart": Obj({"version": Leaf("chart-version"), "repository": Leaf("url")}),
    "controller": Obj({"image": Obj({"repository": Leaf("repository"), "tag": Leaf("tag"), "digest": Leaf("digest"),
                                     "pullPolicy": Leaf("pull-policy")}),
                       "replicas": Leaf("replicas"), "resources": RESOURCES,
                       "terminationGracePeriodSeconds": Leaf("controller-grace")}),
    "agentService": Obj({"replicas": Leaf("replicas"), "port": Leaf("unprivileged-port")}),
    "agent": AGENT,
    "ingressClass": Obj({"name": Leaf("subdomain"), "default": Leaf("bool")}),
    "service": Obj({"type": Leaf("service-type"), "externalTrafficPolicy": Leaf("traffic-policy"),
                    "annotations": MapOf(Leaf("text"))}),
    "routes": ListOf(ROUTE), "extraValues": MapOf(OPEN),
})


INJECTION = Obj({"namespaces": ListOf(Leaf("label")), "paramsNamespace": Leaf("label"), "agent": AGENT,
                 "rpcAddressEnv": Leaf("env-name"), "runAsUser": Leaf("uid")})
VERIFY = Obj({"echo": Leaf("bool"), "namespace": Leaf("label"), "host": Leaf("precise-host"),
              "image": Leaf("pinned-image"), "resources": RESOURCES})


# -- sigsci:gateway: every key of its table in docs/configuration.md -------------------------------------------

GATEWAY_TABLE = "## `sigsci:gateway`"


body_limit = st.one_of(
    st.sampled_from(["1Ki", "1024", "2k", "512Ki", "1Mi", "1M", "1500k", "8Mi", "64Mi", "67108864", "65536"]),
    st.integers(gateway_docs.BODY_LIMIT_MIN, gateway_docs.BODY_LIMIT_MAX).map(str),
    st.integers(1, 64).map(lambda n: f"{n}Mi"), st.integers(1, 64 << 10).map(lambda n: f"{n}Ki"))
message_timeout = st.one_of(
    st.sampled_from(["500ms", "2s", "1m30s", "1h", "64s", "1m4s", "999ms", "1s500ms", "99999ms", "2h0m0s1ms"]),
    st.integers(0, 99999).map(lambda n: f"{n}ms"), st.integers(0, 3600).map(lambda n: f"{n}s"))
gateway_name = dns_subdomain
# Each key of the table: its schema node (what its hostile values break) and what its valid values are drawn from
# (None: drawn elsewhere, the routes' by the route generator, implementation by gateway_settings). A key the table
# documents and this does not know fails every run that draws a gateway (check_gateway_keys), as does a key the
# table no longer has.
GATEWAY_KEYS: dict[str, tuple[Any, st.SearchStrategy | None]] = {
    "implementation": (Leaf("implementation"), None),
    "namespace": (Leaf("label"), st.one_of(st.sampled_from([gateway_docs.NAMESPACE, "default", "team-a", "shop",
                                                            "sigsci-ingress", "edge"]), dns_label)),
    "createNamespace": (Leaf("bool"), st.booleans()),
    "envoyGateway.enabled": (Leaf("bool"), st.booleans()),
    "envoyGateway.namespace": (Leaf("label"), st.one_of(st.sampled_from([gateway_docs.ENVOY_GATEWAY_NAMESPACE,
                                                                         gateway_docs.NAMESPACE, "edge"]),
                                                        dns_label.filter(yaml_reads_as_text))),
    "envoyGateway.version": (Leaf("gateway-chart-version"), st.sampled_from(["v1.9.0", "v1.8.2", "v2.0.0"])),
    "envoyGateway.repository": (Leaf("url"), st.sampled_from(["oci://docker.io/envoyproxy",
                                                              "oci://registry.example.com/mirror",
                                                              "https://charts.example.com/envoy"])),
    "name": (Leaf("subdomain"), gateway_name),
    "gatewayClass": (Leaf("subdomain"), dns_subdomain),
    "istio.clusterDomain": (Leaf("subdomain"), st.one_of(st.sampled_from([gateway_docs.CLUSTER_DOMAIN,
                                                                          "corp.example"]), dns_subdomain)),
    "existingGateway.namespace": (Leaf("label"), st.one_of(st.sampled_from(["edge", gateway_docs.NAMESPACE,
                                                                            "default"]), dns_label)),
    "existingGateway.name": (Leaf("subdomain"), gateway_name),
    "listeners.httpPort": (Leaf("port"), port),
    "listeners.httpsPort": (Leaf("port"), port),
    "listeners.tlsSecrets": (ListOf(Leaf("subdomain")), st.lists(dns_subdomain, max_size=3)),
    "agents.replicas": (Leaf("replicas"), st.one_of(st.sampled_from([1, 2, 3, 100]), st.integers(1, 100))),
    "agents.port": (Leaf("unprivileged-port"), unprivileged_port),
    "agents.tls.secret": (Leaf("subdomain"), dns_subdomain),
    "agents.tls.caSecret": (Leaf("subdomain"), dns_subdomain),
    "agents.tls.hostname": (Leaf("precise-host"), precise_host),
    "agent": (AGENT, agent_settings()),
    "bodyLimit": (Leaf("body-limit"), body_limit),
    "messageTimeout": (Leaf("duration"), message_timeout),
    "inspectResponses": (Leaf("bool"), st.booleans()),
    "failOpen": (Leaf("bool"), st.booleans()),
    **{f"routes[].{key}": (ROUTE.fields[key], None) for key in ("name", "host", "path", "app", "namespace")},
    "routes[].pathType": (Leaf("gateway-path-type"), None),
    "routes[].service.name": (ROUTE.fields["service"].fields["name"], None),
    "routes[].service.port": (ROUTE.fields["service"].fields["port"], None),
    "ingressRoutes": (Leaf("bool"), st.booleans()),
}
# Keys without which their object means nothing: an existing Gateway is named by both, TLS needs its Secret.
GATEWAY_REQUIRED = {"existingGateway.namespace", "existingGateway.name", "agents.tls.secret"}


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{'a.b': x, 'a.c': y, 'd': z} -> {'d': z, 'a': {'b': x, 'c': y}}; 'r[].k' nests under 'r[]'."""
    nested: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, dot, rest = key.partition(".")
        if dot:
            groups.setdefault(head, {})[rest] = value
        else:
            nested[key] = value
    return {**nested, **{head: _nested(group) for head, group in groups.items()}}


def _tree(nested: dict[str, Any]) -> Obj:
    fields: dict[str, Any] = {}
    for key, node in nested.items():
        node = _tree(node) if isinstance(node, dict) else node
        fields[key.removesuffix("[]")] = ListOf(node) if key.endswith("[]") else node
    return Obj(fields)


def _optional_tree(nested: dict[str, Any], required: set[str], prefix: str = "") -> st.SearchStrategy[dict]:
    """Every key optional, objects drawn key by key, but for `required` keys (dotted) inside a drawn object."""
    fields = {key: _optional_tree(value, required, f"{prefix}{key}.") if isinstance(value, dict) else value
              for key, value in nested.items()}
    return st.fixed_dictionaries({k: v for k, v in fields.items() if prefix + k in required},
                                 optional={k: v for k, v in fields.items() if prefix + k not in required})


GATEWAY = _tree(_nested({key: node for key, (node, _) in GATEWAY_KEYS.items()}))


@functools.cache
def gateway_drift() -> tuple[str, ...]:
    """Where docs/configuration.md's sigsci:gateway table and GATEWAY_KEYS disagree: a key, or the values of a
    choice (`implementation`, `routes[].pathType`) the one has and the other lacks."""
    from test_readme_config import _CELL_KEY, _documented_rows, _table

    rows = _documented_rows(_table(GATEWAY_TABLE))
    problems = []
    unknown, gone = sorted(set(rows) - set(GATEWAY_KEYS)), sorted(set(GATEWAY_KEYS) - set(rows))
    if unknown:
        problems.append(f"documented keys the fuzzing does not know: {', '.join(unknown)}")
    if gone:
        problems.append(f"keys the docs no longer have: {', '.join(gone)}")
    for key, known in (("implementation", gateway_docs.IMPLEMENTATIONS),
                       ("routes[].pathType", [*gateway_docs.PATH_TYPES, "ImplementationSpecific"])):
        listed = set(_CELL_KEY.findall(rows[key][1])) if key in rows else set()
        if listed != set(known):
            problems.append(f"{key} takes {sorted(listed)} by the docs, {sorted(known)} by the fuzzing")
    return tuple(problems)


def check_gateway_keys() -> None:
    """Fail loudly where the fuzzing does not know sigsci:gateway as the docs document it."""
    if gateway_drift():
        raise AssertionError("tests/fuzz_configs.py and docs/configuration.md's sigsci:gateway table disagree: "
                             + "; ".join(gateway_drift()) + ". Give each new key its schema node and valid values "
                             "in GATEWAY_KEYS (gateway_docs.py for a new choice's values), and its rules in "
                             "_fit_gateway and RULES")


# The other tables whose keys the fuzzing must know, with their schema nodes (what hostile values break); their
# valid values are APP_KEYS', app()'s, injection_settings' and verify_settings'. Keys of the table that are objects
# of their own (`agent`, `resources`) count as one.
SCHEMA_TABLES = {"## `sigsci:apps[]`": "APP", "## `sigsci:injection`": "INJECTION", "## `sigsci:verify`": "VERIFY"}


@functools.cache
def schema_drift() -> tuple[str, ...]:
    """Where the sigsci:apps[], sigsci:injection and sigsci:verify tables of docs/configuration.md and the schema
    nodes (APP, INJECTION, VERIFY) disagree: a key the one has and the other lacks."""
    from test_readme_config import _documented_rows, _table

    problems = []
    for heading, node in SCHEMA_TABLES.items():
        documented = set(_documented_rows(_table(heading)))
        known = set(globals()[node].fields)
        if documented - known:
            problems.append(f"{heading}: documented keys the fuzzing does not know: {sorted(documented - known)}")
        if known - documented:
            problems.append(f"{heading}: keys the docs no longer have: {sorted(known - documented)}")
    return tuple(problems)


def check_schema_keys() -> None:
    """Fail loudly where the fuzzing does not know sigsci:apps[], sigsci:injection or sigsci:verify as the docs
    document them."""
    if schema_drift():
        raise AssertionError("tests/fuzz_configs.py and docs/configuration.md disagree: " + "; ".join(schema_drift())
                             + ". Give each new key its schema node (APP, INJECTION, VERIFY), its valid values "
                             "(APP_KEYS, app(), injection_settings, verify_settings) and its rules (the _fit_* "
                             "functions and RULES)")


# Objects drawn apart from the other keys, now and then: deep in the tree, or tied to one implementation, they
# would be rare; existingGateway makes others moot.
_DRAWN_APART = ("existingGateway", "agents.tls", "istio")


@functools.cache
def _gateway_keys() -> tuple[st.SearchStrategy[dict], dict[str, st.SearchStrategy[dict]]]:
    nested = _nested({k: v for k, (_, v) in GATEWAY_KEYS.items() if v is not None})
    apart = {}
    for dotted in _DRAWN_APART:
        *parents, key = dotted.split(".")
        apart[dotted] = _optional_tree(_within(nested, parents).pop(key), GATEWAY_REQUIRED, f"{dotted}.")
    return _optional_tree(nested, GATEWAY_REQUIRED), apart


@st.composite
def gateway_settings(draw) -> dict:
    """`sigsci:gateway` without its routes, every documented key drawn; `_fit_gateway` fits it to the rules."""
    check_gateway_keys()
    keys, apart = _gateway_keys()
    settings = draw(keys)
    implementation = draw(st.sampled_from([None, *gateway_docs.IMPLEMENTATIONS]))  # None: the default
    if implementation is not None:
        settings["implementation"] = implementation
    for dotted, strategy in apart.items():
        # agents.tls: every third config or so (Istio refuses it, and its hostname is optional inside it).
        if draw(st.integers(0, 3)) == 0 or (dotted == implementation and draw(st.booleans())) \
                or (dotted == "agents.tls" and draw(st.integers(0, 2)) == 0):
            *parents, key = dotted.split(".")
            _within(settings, parents, make=True)[key] = draw(strategy)
    if draw(st.integers(0, 5)) == 0:  # failing open, which the preview warns about: rare among optional keys
        settings["failOpen"] = True
    if draw(st.integers(0, 5)) == 0:  # an HTTPS listener: deep in the tree, and moot with existingGateway
        _within(settings, ["listeners"], make=True)["tlsSecrets"] = draw(st.lists(dns_subdomain, min_size=1,
                                                                                    max_size=3))
    return settings


# Top-level values reach the program as text (objects JSON-encoded), so a top-level string's hostile values are
# strings too.
SCHEMA = Obj({
    "sigsci:site": Leaf("site"), "sigsci:existingSecret": Leaf("top-subdomain"), "sigsci:accessKeyId": Leaf("key"),
    "sigsci:secretAccessKey": Leaf("key"), "sigsci:agent": AGENT, "sigsci:apps": ListOf(APP), "sigsci:ingress": INGRESS,
    "sigsci:gateway": GATEWAY, "sigsci:injection": INJECTION, "sigsci:verify": VERIFY,
})

_NOT_TEXT = [5, True, [], {}]
_NOT_INT = [1.5, "web", "", True, [], {}]
_DEEP: dict = {"a": 1}
for _ in range(40):
    _DEEP = {"a": _DEEP}
# Values each kind of key refuses, by the docs: the wrong type, outside the documented range, or a string that
# breaks the documented rule (Kubernetes' rule, where the docs point to it).
INVALID: dict[str, list] = {
    "name": ["", "Bad_Name", "9lives", "-web", "web-", "a_b", "x" * 64, *_NOT_TEXT],
    "label": ["", "Bad_Name", "-web", "a.b", "x" * 64, *_NOT_TEXT],
    "subdomain": ["", "Bad_Name", "-web", "a..b", "a_b", "x" * 254, *_NOT_TEXT],
    "top-subdomain": ["", "Bad_Name", "-web", "a..b", "x" * 254],
    "site": ["", "Bad_Name", "-web", "a..b", "x" * 254, "a" * (SITE_MAX + 1)],
    "release": ["", "Bad_Name", "9lives", "web-", "r" * (RELEASE_MAX + 1), *_NOT_TEXT],
    "image": ["", "not an image", "web:", ":1.0", "web@sha256:zz", *_NOT_TEXT],
    # An image "with a version tag or a digest (not latest)".
    "pinned-image": ["", "not an image", "web@sha256:zz", "example/echo", "example/echo:latest",
                     "registry.example.com:5000/echo", *_NOT_TEXT],
    "repository": ["", "UPPER", "web:1.0", "not a repo", "web@sha256:" + "a" * 64, *_NOT_TEXT],
    "tag": ["", "../x", ".x", "a b", "x" * 129, *_NOT_TEXT],
    "digest": ["", "sha256:zz", "sha256:" + "a" * 63, "md5:" + "a" * 32, "a" * 64, *_NOT_TEXT],
    "mount-path": ["", "relative", "tmp/x", "~/x", *_NOT_TEXT],
    "http-path": ["", "healthz", "api/v1", *_NOT_TEXT],
    "host": ["", "Shop.Example.com", "10.0.0.1", "a..b", "shop.example.com:80", "http://shop", *_NOT_TEXT],
    "precise-host": ["", "Shop.Example.com", "a..b", "*.example.com", "*", "tls.example.com:443", "10.0.0.1",
                     "::1", *_NOT_TEXT],
    "chart-version": ["", "latest", "4.15", "v4.15.1", "4.15.1.1", *_NOT_TEXT],
    "url": ["", "ftp://charts.example.com", "charts.example.com", "https://", *_NOT_TEXT],
    "cpu": ["", "lots", "1K", "-1", "10001", "1 core", True, [], {}],
    "memory": ["", "lots", "1K", "-1Gi", "2Pi", True, [], {}],
    "bool": ["yes", "true", "off", 1, 0, "", []],
    "int": _NOT_INT,
    "uid": [0, -1, 2**31, *_NOT_INT],  # a user id of 1–2147483647: not root
    # An environment variable's name: not empty, no '='.
    "env-name": ["", "=", "A=B", *_NOT_TEXT],
    "probe-int": _NOT_INT,
    "port": [0, 65536, -1, *_NOT_INT],
    "unprivileged-port": [1023, 80, 65536, *_NOT_INT],
    "pre-stop": [-1, 3601, *_NOT_INT],
    "replicas": [0, 101, *_NOT_INT],
    "controller-grace": [29, 3601, *_NOT_INT],
    "target-port": [0, 65536, "Bad_Name", "http--x", "a-very-long-name", "", True, [], {}],
    "take-over": ["service.port", "targetPort", "", 5],
    "pull-policy": ["always", "Sometimes", "", *_NOT_TEXT],
    "placement": ["Owned", "Module", "sidecar", "", *_NOT_TEXT],
    "service-type": ["clusterip", "ExternalName", "", *_NOT_TEXT],
    "flavour": ["nginx", "Ingress-Nginx", "", *_NOT_TEXT],
    "lifetime": ["sidecar", "NativeSidecar", "", *_NOT_TEXT],
    "traffic-policy": ["local", "Everywhere", "", *_NOT_TEXT],
    "path-type": ["prefix", "Regex", "", *_NOT_TEXT],
    "gateway-path-type": ["ImplementationSpecific", "PathPrefix", "prefix", "", *_NOT_TEXT],
    "implementation": ["envoy", "EnvoyGateway", "envoy-gateway", "", *_NOT_TEXT],
    "gateway-chart-version": ["", "latest", "v1.9", "v1.9.0.1", "v1", "1.9", *_NOT_TEXT],
    # A whole size of 1Ki–64Mi.
    "body-limit": ["", "0", "1", "1023", "1000", "1k", "1.5Mi", "64.5Mi", "65Mi", "67108865", "1Gi", "1mi", "1 Mi",
                   "-1Mi", *_NOT_TEXT],
    # A Gateway API duration of at least 500 ms, whatever the body limit.
    "duration": ["", "2", "2 s", "1.5s", "2S", "-1s", "1d", "100us", "123456ms", "1h1m1s1ms1s", "0s", "499ms",
                 *_NOT_TEXT],
    "key": [""],
    "text": _NOT_TEXT,
    "option-value": [None, [], {}],
}
INVALID_SHAPE = {Obj: [5, "web", [], True], MapOf: [5, "web", []], ListOf: [5, "web", {}]}
# Kinds whose strings are checked whole: whitespace around a valid one is refused.
UNDRESSABLE = {"key", "text", "option-value", "open"}


def node_at(path: tuple) -> Any:
    """The schema node of the value at `path`; OPEN for anything inside chart values."""
    node: Any = SCHEMA
    for part in path:
        if node is OPEN:
            return OPEN
        if isinstance(node, Obj):
            node = node.fields[part]
        elif isinstance(node, MapOf):
            node = node.value
        elif isinstance(node, ListOf):
            node = node.item
        else:
            raise KeyError(f"{path}: no key {part!r} under a {node}")
    return node


def key_of(path: tuple) -> str:
    """`("sigsci:apps", 0, "agent", "version")` -> 'sigsci:apps[0].agent.version', as errors name keys."""
    text = str(path[0])
    for part in path[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def names_the_key(error_key: str, expected: str) -> bool:
    """The error names `expected`, or a key inside it (a hostile object is refused at its first bad key). A key
    cut short with '.…' (nesting too deep to print whole) names every key under what it shows."""
    if error_key.endswith(".…"):
        shown = error_key.removesuffix(".…")
        return expected == shown or expected.startswith((shown + ".", shown + "[")) or names_the_key(shown, expected)
    return error_key == expected or error_key.startswith((expected + ".", expected + "["))


# -- hostile variations --------------------------------------------------------------------------------------

hostile_value = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.just("x" * 300),
    st.sampled_from(["", " ", "latest", "Bad_Name", "../x", "ünïcödé", "-1", "0", "65536", "sha256:zz", "/", "//",
                     "\n", "${x}", "{{ .Values }}", "web", "1.5", "true", "/sigsci/tmp/../etc"]),
    st.just(_DEEP), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
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


def _at(config: dict, path: tuple) -> Any:
    node: Any = config
    for part in path:
        node = node[part]
    return node


def _set(config: dict, path: tuple, value: Any) -> None:
    _at(config, path[:-1])[path[-1]] = value


@dataclass
class Hostile:
    """A hostile config, what was done to it, and the keys its error may name (or keys inside them)."""

    config: dict
    secret_keys: list[str]
    what: str
    expected: tuple[str, ...]
    # What the cluster holds for what the program reads (an existing Gateway); its check comes once it is read.
    live: dict | None = None


def _required(config: dict) -> dict[tuple, tuple[str, ...]]:
    """Keys whose removal leaves a required key missing, with the keys the error may name."""
    required: dict[tuple, tuple[str, ...]] = {}
    for index, entry in enumerate(config.get("sigsci:apps") or []):
        here = ("sigsci:apps", index)
        keys = {"owned": ["image"], "patch": ["deployment", "service", "takeOver"], "service": ["upstreamService"],
                # image "not with deployment": a module in an existing Deployment requires nothing more.
                "module": [] if "deployment" in entry else ["image"]}
        for key in ["name", "port", *keys[entry.get("placement", "owned")]]:
            required[(*here, key)] = (key_of((*here, key)),)
    for entry_key in ("sigsci:ingress", "sigsci:gateway"):
        for index, entry in enumerate((config.get(entry_key) or {}).get("routes", [])):
            here = (entry_key, "routes", index)
            backend = "app" if "app" in entry else "service"
            # One of app and service is required; the error may name either.
            required[(*here, backend)] = (key_of((*here, "app")), key_of((*here, "service")))
            if backend == "service":
                for key in ("name", "port"):
                    required[(*here, "service", key)] = (key_of((*here, "service", key)),)
            if entry_key == "sigsci:ingress" and config[entry_key]["flavour"] in HOST_REQUIRED:
                # host: "required with flavour nginx-ingress"; a tlsSecret "needs host" too.
                required[(*here, "host")] = (key_of((*here, "host")), key_of((*here, "tlsSecret")))
    for dotted in GATEWAY_REQUIRED:
        path = ("sigsci:gateway", *dotted.split("."))
        try:
            _at(config, path)
        except (KeyError, TypeError):
            continue
        required[path] = (key_of(path),)
    if "sigsci:existingSecret" in config:
        # The credentials then come from nowhere: the error may name the Secret or the keys it stands for.
        required[("sigsci:existingSecret",)] = ("sigsci:existingSecret", "sigsci:accessKeyId")
    else:
        for key in ("sigsci:site", "sigsci:accessKeyId", "sigsci:secretAccessKey"):
            required[(key,)] = (key,)
    if isinstance(config.get("sigsci:injection"), dict):
        required[("sigsci:injection", "namespaces")] = ("sigsci:injection.namespaces",)
    # sigsci:apps: "required unless sigsci:ingress, sigsci:gateway or sigsci:injection is set".
    entries = [key for key in ("sigsci:apps", "sigsci:ingress", "sigsci:gateway", "sigsci:injection")
               if key in config and (key != "sigsci:apps" or config[key])]
    if len(entries) == 1:
        required[(entries[0],)] = (entries[0], "sigsci:apps")
    return required


def _replaceable(config: dict) -> list[tuple]:
    """Every path whose value a replacement can break: all but those inside chart values."""
    paths = []
    for path in _paths(config):
        if node_at(path) is not OPEN:
            paths.append(path)
    return paths


def _expected(path: tuple) -> tuple[str, ...]:
    """The keys an error about the value at `path` may name: its own."""
    return (key_of(path),)


def _invalid_values(path: tuple) -> list:
    node = node_at(path)
    values = list(INVALID[node.kind] if isinstance(node, Leaf) else INVALID_SHAPE[type(node)])
    if len(path) > 1:
        values.append(_DEEP)  # nesting deeper than 32 levels
    return values


# One rule between keys broken: each returns what it did and the keys the error may name (and, for a rule the
# program checks against the cluster, what the cluster holds), or None where it has nothing to break.
Rule = Callable[[Any, dict], "tuple[str, tuple[str, ...]] | tuple[str, tuple[str, ...], dict] | None"]


def _pick(draw, items: list) -> int:
    return draw(st.integers(0, len(items) - 1))


def _rule_listener_on_the_app_port(draw, config):
    # A module has no listener; the agents of placement service run in pods of their own (owned, patch: shared).
    apps = [i for i, a in enumerate(config.get("sigsci:apps") or []) if a.get("placement", "owned") in ("owned",
                                                                                                          "patch")]
    if not apps:
        return None
    index = apps[_pick(draw, apps)]
    entry = config["sigsci:apps"][index]
    if entry["port"] >= 1024:
        entry["listenerPort"] = entry["port"]
    else:
        entry["port"] = entry.get("listenerPort", LISTENER_PORT)
    return f"apps[{index}]: listenerPort = port", (f"sigsci:apps[{index}].listenerPort",)


def _agent_levels(config: dict, entry: str | None = None) -> list[tuple]:
    """Where agent settings go: sigsci:agent, and each entry's own `agent` (only `entry`'s, when given)."""
    levels = [("sigsci:agent",)] + [("sigsci:apps", i, "agent") for i in range(len(config.get("sigsci:apps") or []))]
    levels += [(key, "agent") for key in ("sigsci:ingress", "sigsci:gateway", "sigsci:injection")
               if isinstance(config.get(key), dict)]
    return [level for level in levels if entry is None or level[0] == entry]


def _agent_at(config: dict, level: tuple) -> dict:
    parent = _at(config, level[:-1]) if len(level) > 1 else config
    return parent.setdefault(level[-1], {})


def _rule_known_option_unlisted(draw, config, entry=None):
    levels = _agent_levels(config, entry)
    if not levels:
        return None
    level = levels[_pick(draw, levels)]
    _agent_at(config, level).setdefault("unlistedOptions", {})["log-out"] = "x"
    return f"{key_of(level)}: a known option under unlistedOptions", (key_of((*level, "unlistedOptions", "log-out")),)


def _rule_option_of_another_kind(draw, config, entry=None):
    """Under options, "a value of another kind stops the preview with the key"."""
    levels = _agent_levels(config, entry)
    if not levels:
        return None
    level = levels[_pick(draw, levels)]
    name = draw(st.sampled_from(sorted(OPTION_MISFITS)))
    value = draw(st.sampled_from(OPTION_MISFITS[name]))
    _agent_at(config, level).setdefault("options", {})[name] = value
    return f"{key_of(level)}: options.{name} {value!r}", (key_of((*level, "options", name)),)


def _rule_old_agent_with_probe(draw, config, entry=None):
    # An entry's own agent, checked once merged.
    levels = [level for level in _agent_levels(config, entry) if level != ("sigsci:agent",)]
    if not levels:
        return None
    level = levels[_pick(draw, levels)]
    agent = _agent_at(config, level)
    agent["version"] = "4.40.0"
    agent.setdefault("startupProbe", {})["enabled"] = True
    return f"{key_of(level)}: startup probe on agent 4.40.0", (key_of((*level, "startupProbe", "enabled")),)


def _rule_old_agent_with_the_default_probe(draw, config, entry=None):
    """startupProbe.enabled: on by default, "an older release version is refused while it is on": the entry's
    version, which no level's enabled: false mends, is the key."""
    levels = [level for level in _agent_levels(config, entry) if level != ("sigsci:agent",)]
    if not levels or "enabled" in ((config.get("sigsci:agent") or {}).get("startupProbe") or {}):
        return None
    level = levels[_pick(draw, levels)]
    agent = _agent_at(config, level)
    agent["version"] = draw(st.sampled_from(["4.40.0", "4.50.9", "v3.0.0"]))
    probe = agent.get("startupProbe") or {}
    probe.pop("enabled", None)
    if not probe:
        agent.pop("startupProbe", None)
    return f"{key_of(level)}: agent {agent['version']} with the probe on by default", (key_of((*level, "version")),)


# "Options the product derives are refused in options", at every level; and the gateway's agents' own, which
# docs/gateway.md says the stack sets from agents.port and agents.tls (Envoy's gRPC listener, its certificate).
DERIVED_OPTIONS = ["accesskeyid", "secretaccesskey", "rpc-address", "shared-cache-dir", "revproxy-listener",
                   "startup-probe-listener"]
GATEWAY_DERIVED_OPTIONS = ["envoy-extproc-enabled", "envoy-grpc-address", "server-flavor", "envoy-grpc-cert",
                           "envoy-grpc-key"]


def _rule_derived_option(draw, config, entry=None):
    levels = _agent_levels(config, entry)
    if not levels:
        return None
    level = levels[_pick(draw, levels)]
    names = DERIVED_OPTIONS + (GATEWAY_DERIVED_OPTIONS if entry == "sigsci:gateway" else [])
    name, where = draw(st.sampled_from(names)), draw(st.sampled_from(["options", "unlistedOptions"]))
    _agent_at(config, level).setdefault(where, {})[name] = draw(st.sampled_from(["x", "0.0.0.0:9999", True, 1]))
    return f"{key_of(level)}: {where}.{name} set by hand", (key_of((*level, where, name)),)


def _rule_custom_tag_without_pull_policy(draw, config, entry=None):
    """imagePullPolicy: "required for a custom tag"; the entry sets the tag, and no level the policy."""
    levels = [level for level in _agent_levels(config, entry) if level != ("sigsci:agent",)]
    if not levels or "imagePullPolicy" in (config.get("sigsci:agent") or {}):
        return None
    level = levels[_pick(draw, levels)]
    agent = _agent_at(config, level)
    agent.pop("imagePullPolicy", None)
    agent["version"] = "testing"
    return f"{key_of(level)}: custom tag without imagePullPolicy", (key_of((*level, "imagePullPolicy")),)


def _rule_probe_on_the_listener(draw, config):
    apps = config.get("sigsci:apps") or []
    listening = [i for i, a in enumerate(apps) if not is_module(a)]
    if not listening:
        return None
    index = listening[_pick(draw, listening)]
    agent = apps[index].setdefault("agent", {})
    agent.update(version=AGENT_VERSION, startupProbe={"enabled": True,
                                                      "port": apps[index].get("listenerPort", LISTENER_PORT)})
    return f"apps[{index}]: startup probe on the listener", (f"sigsci:apps[{index}].agent.startupProbe.port",)


def _rule_grace_within_the_drain(draw, config):
    # Not an owned app with no drain of its own beside an agent without one: its drain is 0 then (docs).
    # Nor an app whose Deployment is its owner's (patch, module with deployment): the grace period is theirs.
    apps = [i for i, a in enumerate(config.get("sigsci:apps") or []) if creates_deployment(a)
            and not (a.get("placement", "owned") == "owned" and "preStopSleepSeconds" not in a
                     and agent_pre_stop(config, a.get("agent", {})) == 0)]
    if not apps:
        return None
    index = apps[_pick(draw, apps)]
    entry = config["sigsci:apps"][index]
    entry["terminationGracePeriodSeconds"] = longest_pre_stop(config, entry)
    return f"apps[{index}]: grace = the longest preStop", (f"sigsci:apps[{index}].terminationGracePeriodSeconds",)


def _rule_app_drains_before_its_agent(draw, config):
    apps = [i for i, a in enumerate(config.get("sigsci:apps") or [])
            if a.get("placement", "owned") == "owned" and agent_pre_stop(config, a.get("agent", {})) > 0]
    if not apps:
        return None
    index = apps[_pick(draw, apps)]
    entry = config["sigsci:apps"][index]
    entry["preStopSleepSeconds"] = agent_pre_stop(config, entry.get("agent", {})) - 1
    return f"apps[{index}]: preStop below the agent's", (f"sigsci:apps[{index}].preStopSleepSeconds",)


def _rule_sidecar_user(draw, config):
    ingress = config.get("sigsci:ingress")
    if not ingress or ingress["agentLifetime"] == "service":
        return None
    ingress.setdefault("agent", {})["runAsUser"] = 10001
    return "ingress: a sidecar agent's own user", ("sigsci:ingress.agent.runAsUser",)


def _rule_agent_service_for_a_sidecar(draw, config):
    ingress = config.get("sigsci:ingress")
    if not ingress or ingress["agentLifetime"] == "service":
        return None
    ingress["agentService"] = {"replicas": 2}
    return "ingress: agentService with a sidecar", ("sigsci:ingress.agentService",)


def _rule_policy_without_external_service(draw, config):
    ingress = config.get("sigsci:ingress")
    if not ingress:
        return None
    ingress.setdefault("service", {}).update(type="ClusterIP", externalTrafficPolicy=draw(st.sampled_from(["Cluster",
                                                                                                           "Local"])))
    return "ingress: externalTrafficPolicy on ClusterIP", ("sigsci:ingress.service.externalTrafficPolicy",)


def _rule_annotation_the_controller_refuses(draw, config):
    """routes[].annotations: snippets, kubernetes.io/ingress.class (and with nginx-ingress, NGINX Plus's) are refused:
    a route carrying one is added."""
    ingress = config.get("sigsci:ingress")
    if not isinstance(ingress, dict):
        return None
    refused = ["kubernetes.io/ingress.class"] + (
        ["nginx.org/server-snippets", "nginx.com/health-checks"] if CHART[ingress["flavour"]] == "nginx-ingress"
        else ["nginx.ingress.kubernetes.io/configuration-snippet", "nginx.ingress.kubernetes.io/server-snippet"])
    key = draw(st.sampled_from(refused))
    routes = ingress.setdefault("routes", [])
    routes.append({"service": {"name": "snippet-route", "port": 80}, "host": "snippet-route.example.com",
                   "path": "/snippet-route", "annotations": {key: "x"}})
    index = len(routes) - 1
    return f"ingress: routes[{index}] annotation {key}", \
        (key_of(("sigsci:ingress", "routes", index, "annotations", key)),)


def _rule_extra_value_of_ours(draw, config):
    ingress = config.get("sigsci:ingress")
    if not ingress:
        return None
    dotted, value = draw(st.sampled_from([("controller.replicaCount", {"controller": {"replicaCount": 3}}),
                                          ("controller.image", {"controller": {"image": {"tag": "1.0.0"}}})]))
    ingress["extraValues"] = value
    return f"ingress: extraValues {dotted}", (f"sigsci:ingress.extraValues.{dotted}",)


def _routes(config: dict, entry: str = "sigsci:ingress") -> list | None:
    settings = config.get(entry)
    return settings.setdefault("routes", []) if isinstance(settings, dict) else None


def _rule_route_twice(draw, config, entry="sigsci:ingress"):
    routes = _routes(config, entry)
    if not routes:
        return None
    routes.append(copy.deepcopy(routes[_pick(draw, routes)]))
    here = (entry, "routes", len(routes) - 1)
    return f"{entry}: a route twice", (key_of((*here, "name")), key_of((*here, "path")))


def _rule_route_to_no_app(draw, config, entry="sigsci:ingress"):
    routes = _routes(config, entry)
    if routes is None:
        return None
    index = _add_route(config, entry, {"app": "no-such-app"})
    return f"{entry}: a route to no app", (key_of((entry, "routes", index, "app")),)


def _rule_route_with_two_backends(draw, config, entry="sigsci:ingress"):
    """A route names "exactly one of app and service"."""
    routes = _routes(config, entry)
    if not routes:
        return None
    index = _pick(draw, routes)
    if "app" in routes[index]:
        routes[index]["service"] = {"name": "other", "port": 80}
    else:
        routes[index]["app"] = draw(st.sampled_from(sorted(_targets(_apps_of(config))) or ["web"]))
    here = (entry, "routes", index)
    return f"{key_of(here)}: app and service", (key_of((*here, "app")), key_of((*here, "service")))


def _add_route(config: dict, entry: str, route: dict) -> int:
    """`route` added to `entry`'s routes, with a host where the ingress's flavour requires one (that is not the
    rule broken); its index."""
    routes = _routes(config, entry)
    if entry == "sigsci:ingress" and config[entry].get("flavour") in HOST_REQUIRED:
        route = {"host": "added.example.com", **route}
    routes.append(route)
    return len(routes) - 1


def _apps_of(config: dict) -> list[dict]:
    return config.get("sigsci:apps") or []


def _routable(config: dict) -> list[dict]:
    """The apps a route can name: those with a Service of ours."""
    return [a for a in _apps_of(config) if gateway_docs.app_service(a) is not None]


def _rule_route_to_an_app_elsewhere(draw, config, entry="sigsci:ingress"):
    """A route's namespace picks the app of that name in it; there is none."""
    routes, apps = _routes(config, entry), _routable(config)
    if routes is None or not apps:
        return None
    index = _add_route(config, entry, {"app": apps[_pick(draw, apps)]["name"], "namespace": "no-app-here"})
    return f"{entry}: a route to an app in a namespace it is not in", (key_of((entry, "routes", index, "namespace")),)


def _rule_route_to_an_ambiguous_app(draw, config, entry="sigsci:ingress"):
    """"a route to an app name used in several namespaces without namespace" is refused: the app gets a twin in
    another namespace, the routes that reached it name its namespace, a new one does not."""
    routes, apps = _routes(config, entry), _routable(config)
    if routes is None or not apps:
        return None
    original = apps[_pick(draw, apps)]
    _apps_of(config).append({**copy.deepcopy(original), "namespace": "twin-here"})
    for key in ("sigsci:ingress", "sigsci:gateway"):
        for other in _routes(config, key) or []:
            if other.get("app") == original["name"]:
                other.setdefault("namespace", original.get("namespace", "default"))
    index = _add_route(config, entry, {"app": original["name"], "path": "/twin"})
    return f"{entry}: a route to app {original['name']} of two namespaces", (key_of((entry, "routes", index, "app")),)


def _rule_unnormalised_path(draw, config, entry="sigsci:ingress"):
    """Prefix and Exact paths without '//', '/./', '/../', '%2f', a trailing '/.' or '/..'."""
    routes = _routes(config, entry)
    if not routes:
        return None
    index = _pick(draw, routes)
    routes[index].update(path=draw(st.sampled_from(["/a//b", "//", "/a/./b", "/a/../b", "/a%2fb", "/a/..", "/a/."])),
                         pathType=draw(st.sampled_from(["Prefix", "Exact"])))
    return f"{entry}: routes[{index}] path not normalised", (key_of((entry, "routes", index, "path")),)


def _rule_tls_without_host(draw, config):
    routes = _routes(config)
    if not routes:
        return None
    index = _pick(draw, routes)
    routes[index].pop("host", None)
    routes[index]["tlsSecret"] = "tls"
    return f"routes[{index}]: tlsSecret without host", (key_of(("sigsci:ingress", "routes", index, "tlsSecret")),)


def _rule_hostless_route_on_f5(draw, config):
    """routes[].host: "required with flavour nginx-ingress": a route loses its host, or one without is added."""
    ingress = config.get("sigsci:ingress")
    if not isinstance(ingress, dict) or ingress["flavour"] not in HOST_REQUIRED:
        return None
    routes = ingress.setdefault("routes", [])
    if routes and draw(st.booleans()):
        index = _pick(draw, routes)
        del routes[index]["host"]
        routes[index].pop("tlsSecret", None)  # tlsSecret "needs host": a rule of its own
    else:
        routes.append({"service": {"name": "any-host", "port": 80}, "path": "/any-host"})
        index = len(routes) - 1
    return f"ingress: routes[{index}] without host on flavour {ingress['flavour']}", \
        (key_of(("sigsci:ingress", "routes", index, "host")),)


# -- placement module's rules -----------------------------------------------------------------------------------

def _module_app(draw, config: dict, existing: bool | None = None) -> int:
    """The index of a module app of sigsci:apps (in an existing Deployment when `existing`, not when False,
    either when None); one is added, fitted, in a namespace of its own when the config has none."""
    apps = config.setdefault("sigsci:apps", [])
    found = [i for i, a in enumerate(apps) if is_module(a) and existing in (None, "deployment" in a)]
    if found:
        return found[_pick(draw, found)]
    entry: dict[str, Any] = {"name": "module-app", "port": 8080, "placement": "module", "namespace": "module-here"}
    entry.update({"deployment": "module-app"} if existing else {"image": "example/api:1.2.3"})
    _fit_app(entry, config)
    apps.append(entry)
    return len(apps) - 1


def _rule_listener_with_module(draw, config):
    """listenerPort: placements "owned, patch, service"; a module calls the agent, which listens for no one."""
    index = _module_app(draw, config)
    config["sigsci:apps"][index]["listenerPort"] = draw(st.sampled_from([LISTENER_PORT, 9000]))
    return f"apps[{index}]: listenerPort with module", (f"sigsci:apps[{index}].listenerPort",)


# What describes a Deployment the stack creates, each with a valid value: refused with `deployment` (image "not with
# deployment", servicePort "all but module with deployment", and the rest of what owned and module share).
OWNED_DEPLOYMENT_VALUES = {
    "image": "example/web:1.0", "args": ["--serve"], "command": ["/app"], "env": {"MODE": "prod"},
    "resources": {"requests": {"cpu": "100m"}}, "healthPath": "/healthz", "readOnlyRootFilesystem": True,
    "writablePaths": ["/data"], "preStopSleepSeconds": 30, "replicas": 2, "serviceType": "ClusterIP",
    "networkPolicy": True, "terminationGracePeriodSeconds": 60, "servicePort": 80,
}


def _rule_own_deployment_key_with_deployment(draw, config):
    index = _module_app(draw, config, existing=True)
    key = draw(st.sampled_from(sorted(OWNED_DEPLOYMENT_VALUES)))
    config["sigsci:apps"][index][key] = copy.deepcopy(OWNED_DEPLOYMENT_VALUES[key])
    return f"apps[{index}]: {key} with module in an existing Deployment", (f"sigsci:apps[{index}].{key}",)


def _rule_rpc_port_on_the_app_port(draw, config):
    """rpcPort "must differ from port"."""
    index = _module_app(draw, config)
    entry = config["sigsci:apps"][index]
    if entry["port"] >= 1024:
        entry["rpcPort"] = entry["port"]
    else:
        entry["port"] = entry.setdefault("rpcPort", 9999)
    return f"apps[{index}]: rpcPort = port", (f"sigsci:apps[{index}].rpcPort",)


def _rule_env_sets_the_rpc_address(draw, config):
    """env: "with module, not rpcAddressEnv"."""
    index = _module_app(draw, config, existing=False)
    entry = config["sigsci:apps"][index]
    entry.setdefault("env", {})[entry.get("rpcAddressEnv", RPC_ADDRESS_ENV)] = draw(st.sampled_from(
        ["/sigsci/tmp/sigsci.sock", "127.0.0.1:9999", ""]))
    return f"apps[{index}]: env sets rpcAddressEnv", (f"sigsci:apps[{index}].env",)


def _rule_container_without_deployment(draw, config):
    """container: "module with deployment"; the stack names the container of an app it creates."""
    index = _module_app(draw, config, existing=False)
    config["sigsci:apps"][index]["container"] = draw(container_name)
    return f"apps[{index}]: container without deployment", (f"sigsci:apps[{index}].container",)


def _rule_container_named_like_the_agent(draw, config):
    index = _module_app(draw, config, existing=True)
    config["sigsci:apps"][index]["container"] = AGENT_CONTAINER
    return f"apps[{index}]: container {AGENT_CONTAINER}", (f"sigsci:apps[{index}].container",)


def _rule_module_named_like_the_agent(draw, config):
    """name: "with owned or module, not sigsci-agent"."""
    index = _module_app(draw, config)
    config["sigsci:apps"][index]["name"] = AGENT_CONTAINER
    return f"apps[{index}]: a module named {AGENT_CONTAINER}", (f"sigsci:apps[{index}].name",)


def _rule_writable_path_over_the_socket(draw, config):
    """writablePaths: "with module, not the agent's tmpMountPath"."""
    index = _module_app(draw, config, existing=False)
    entry = config["sigsci:apps"][index]
    paths = entry.setdefault("writablePaths", [])
    paths.insert(draw(st.integers(0, len(paths))), socket_directory(config, entry.get("agent", {})))
    return f"apps[{index}]: writablePaths over the socket volume", (f"sigsci:apps[{index}].writablePaths",)


def _rule_probe_on_the_rpc_port(draw, config):
    """startupProbe.port: "it shares the pod, so it must differ from" what listens there: a module's rpcPort."""
    index = _module_app(draw, config)
    entry = config["sigsci:apps"][index]
    rpc_port = entry.setdefault("rpcPort", 9999 if entry["port"] != 9999 else 9998)
    entry.setdefault("agent", {}).update(version=AGENT_VERSION, startupProbe={"enabled": True, "port": rpc_port})
    return f"apps[{index}]: startup probe on rpcPort", (f"sigsci:apps[{index}].agent.startupProbe.port",)


def _rule_route_to_a_module_in_an_existing_deployment(draw, config, entry="sigsci:ingress"):
    """A module in an existing Deployment has no Service of ours ("`null` for a module in an existing
    Deployment"): a route cannot name it."""
    routes = _routes(config, entry)
    if routes is None:
        return None
    targets = _targets(_apps_of(config))
    unreachable = [a["name"] for a in _apps_of(config) if gateway_docs.app_service(a) is None
                   and a["name"] not in targets]
    if unreachable:
        name = draw(st.sampled_from(unreachable))
    else:
        index = _module_app(draw, config, existing=True)
        name = config["sigsci:apps"][index]["name"]
    if name in _targets(_apps_of(config)):  # the added one's name is another app's
        return None
    index = _add_route(config, entry, {"app": name, "path": "/module"})
    return f"{entry}: a route to {name}, a module in an existing Deployment", (key_of((entry, "routes", index, "app")),)


def _module_in_an_existing_deployment(draw, config: dict) -> tuple[int, dict, str, str]:
    index = _module_app(draw, config, existing=True)
    entry = config["sigsci:apps"][index]
    live_id = f"{entry.get('namespace', 'default')}/{entry['deployment']}"
    return index, entry, live_id, entry.get("container", entry["name"])


def _rule_module_agent_of_another_user(draw, config):
    """agent.runAsUser: "the app's own agent.runAsUser, if it differs, is refused" (a module's agent runs as the
    app's user, so that the socket it creates is the app's)."""
    index = _module_app(draw, config)
    entry = config["sigsci:apps"][index]
    uid = entry.get("runAsUser", DEFAULT_UID)
    other = draw(st.sampled_from([1000, 2000, uid + 1]).filter(lambda u: u != uid))
    entry.setdefault("agent", {})["runAsUser"] = other
    return f"apps[{index}]: agent.runAsUser {other}, the app's {uid}", (f"sigsci:apps[{index}].agent.runAsUser",)


def _rule_existing_deployment_without_the_container(draw, config):
    """container: "read from the cluster at preview, and refused if missing" (by default the app's name)."""
    index, entry, live_id, container = _module_in_an_existing_deployment(draw, config)
    others = draw(st.lists(st.sampled_from(["app", "logs", "istio-proxy", "main"]).filter(lambda c: c != container),
                           max_size=2, unique=True))
    key = "container" if "container" in entry else "name"
    return f"apps[{index}]: Deployment {live_id} runs {others}, not {container}", \
        (f"sigsci:apps[{index}].{key}",), {live_id: harness.existing_deployment(*others)}


def _rule_existing_deployment_of_another_user(draw, config):
    """runAsUser: "with deployment it must be the user the live container runs as" (the socket is the app's)."""
    index, entry, live_id, container = _module_in_an_existing_deployment(draw, config)
    # Docs (architecture.md) refuse any other user; the package exempts a TCP module (rpcPort): a socket here.
    entry.pop("rpcPort", None)
    uid = entry.get("runAsUser", DEFAULT_UID)
    other = draw(st.sampled_from([1000, 0, uid + 1]).filter(lambda u: u != uid))
    return f"apps[{index}]: Deployment {live_id} runs {container} as {other}, the agent as {uid}", \
        (f"sigsci:apps[{index}].runAsUser",), {live_id: harness.existing_deployment(container, run_as_user=other)}


# -- sigsci:injection's rules ---------------------------------------------------------------------------------

def _on_injection(rule):
    """A rule that breaks sigsci:injection: given its settings, with nothing to break where there are none."""
    @functools.wraps(rule)
    def breaks(draw, config):
        injection = config.get("sigsci:injection")
        return rule(draw, config, injection) if isinstance(injection, dict) else None

    return breaks


@_on_injection
def _rule_no_namespaces(draw, config, injection):
    """namespaces: "1–256"."""
    injection["namespaces"] = []
    return "injection: no namespaces", ("sigsci:injection.namespaces",)


@_on_injection
def _rule_too_many_namespaces(draw, config, injection):
    injection["namespaces"] = [f"opted-{n}" for n in range(INJECTION_NAMESPACES_MAX + 1)]
    injection.pop("paramsNamespace", None)
    return f"injection: {INJECTION_NAMESPACES_MAX + 1} namespaces", ("sigsci:injection.namespaces",)


@_on_injection
def _rule_namespace_twice(draw, config, injection):
    namespaces = injection["namespaces"]
    namespaces.insert(draw(st.integers(0, len(namespaces))), namespaces[_pick(draw, namespaces)])
    return "injection: a namespace twice", ("sigsci:injection.namespaces",)


@_on_injection
def _rule_params_namespace_opted_in(draw, config, injection):
    """paramsNamespace: "not one of namespaces"."""
    namespaces = injection["namespaces"]
    injection["paramsNamespace"] = namespaces[_pick(draw, namespaces)]
    return f"injection: paramsNamespace {injection['paramsNamespace']} opted in", \
        ("sigsci:injection.paramsNamespace",)


@_on_injection
def _rule_root_user(draw, config, injection):
    injection["runAsUser"] = draw(st.sampled_from([0, -1]))
    return f"injection: runAsUser {injection['runAsUser']}", ("sigsci:injection.runAsUser",)


@_on_injection
def _rule_unknown_injection_key(draw, config, injection):
    key = draw(st.sampled_from(["namespace", "params", "agents", "rpcAddress", "runAsGroup", "label", "rpcPort"]))
    injection[key] = draw(st.sampled_from(["shop", ["shop"], 1, True]))
    return f"injection: unknown key {key}", (f"sigsci:injection.{key}",)


# -- sigsci:gateway's own rules ---------------------------------------------------------------------------------

def _gateway(config: dict) -> dict | None:
    gateway = config.get("sigsci:gateway")
    return gateway if isinstance(gateway, dict) else None


def _on_gateway(rule):
    """A rule that breaks sigsci:gateway: given its settings, and with nothing to break where there are none."""
    @functools.wraps(rule)
    def breaks(draw, config):
        gateway = _gateway(config)
        return None if gateway is None else rule(draw, config, gateway)

    return breaks


@_on_gateway
def _rule_timeout_too_short(draw, config, gateway):
    limit = draw(body_limit)
    # The largest whole number of milliseconds under the docs' rule.
    most = math.ceil(gateway_docs.min_timeout_ms(gateway_docs.size_bytes(limit))) - 1
    timeout = draw(st.one_of(st.just(most), st.integers(0, most)))
    gateway.update(bodyLimit=limit, messageTimeout=draw(st.sampled_from(
        [f"{timeout}ms"] + ([f"{timeout // 1000}s"] if timeout >= 1000 else []))))
    return f"gateway: messageTimeout {gateway['messageTimeout']} for bodyLimit {limit}", \
        ("sigsci:gateway.messageTimeout",)


@_on_gateway
def _rule_timeout_too_long(draw, config, gateway):
    """messageTimeout: "at most 1h (Envoy's limit)"."""
    gateway["messageTimeout"] = draw(st.sampled_from(["1h1ms", "61m", "3601s", "2h", "1h0m0s1ms", "99999h"]))
    return f"gateway: messageTimeout {gateway['messageTimeout']}", ("sigsci:gateway.messageTimeout",)


@_on_gateway
def _rule_install_beside_an_existing_gateway(draw, config, gateway):
    """envoyGateway.enabled: "true with existingGateway is refused"."""
    for key in ("name", "gatewayClass", "listeners"):
        gateway.pop(key, None)
    _implementation(gateway, gateway_docs.ENVOY_GATEWAY)
    _existing(gateway)
    gateway.setdefault("envoyGateway", {})["enabled"] = True
    return "gateway: envoyGateway.enabled beside existingGateway", ("sigsci:gateway.envoyGateway.enabled",)


@_on_gateway
def _rule_body_limit_out_of_range(draw, config, gateway):
    gateway["bodyLimit"] = draw(st.one_of(
        st.sampled_from(["1", "1000", "1023", "1k", "65Mi", "67108865", "1Gi", "1G", "1Ti"]),
        st.integers(1, gateway_docs.BODY_LIMIT_MIN - 1).map(str),
        st.integers(gateway_docs.BODY_LIMIT_MAX + 1, 1 << 40).map(str)))
    gateway["messageTimeout"] = "1h"  # the longest allowed: only the range is broken
    return f"gateway: bodyLimit {gateway['bodyLimit']}", ("sigsci:gateway.bodyLimit",)


def _existing(gateway: dict) -> dict:
    """`gateway` on an existing Gateway: envoyGateway.enabled "true is refused with existingGateway"."""
    if (gateway.get("envoyGateway") or {}).get("enabled"):
        del gateway["envoyGateway"]["enabled"]
    return gateway.setdefault("existingGateway", {"namespace": "edge", "name": "public"})


@_on_gateway
def _rule_existing_gateway_with_its_own_keys(draw, config, gateway):
    """existingGateway: "then name, gatewayClass and listeners do not apply"."""
    own = {"name": "mine", "gatewayClass": "mine", "listeners": {"httpPort": 8080}}
    for other in own:
        gateway.pop(other, None)
    _existing(gateway)
    key = draw(st.sampled_from(sorted(own)))
    gateway[key] = own[key]
    return f"gateway: existingGateway and {key}", (f"sigsci:gateway.{key}",)


@_on_gateway
def _rule_https_on_the_http_port(draw, config, gateway):
    gateway.pop("existingGateway", None)
    listeners = gateway.setdefault("listeners", {})
    listeners["tlsSecrets"] = listeners.get("tlsSecrets") or ["tls"]
    listeners["httpsPort"] = listeners.get("httpPort", gateway_docs.HTTP_PORT)
    return "gateway: the HTTPS listener on the HTTP listener's port", ("sigsci:gateway.listeners.httpsPort",)


@_on_gateway
def _rule_probe_on_the_grpc_port(draw, config, gateway):
    """agent: "startupProbe.port must differ from agents.port"."""
    gateway.setdefault("agent", {}).update(version=AGENT_VERSION, startupProbe={
        "enabled": True, "port": gateway.get("agents", {}).get("port", gateway_docs.AGENTS_PORT)})
    return "gateway: the agents' startup probe on their gRPC port", ("sigsci:gateway.agent.startupProbe.port",)


def _rule_implementation_specific(draw, config):
    """routes[].pathType: "ImplementationSpecific has no Gateway API equivalent and is refused"."""
    routes = _routes(config, "sigsci:gateway")
    if routes is None:
        return None
    if not routes:
        routes.append({"service": {"name": "web", "port": 80}})
    index = _pick(draw, routes)
    routes[index]["pathType"] = "ImplementationSpecific"
    return f"gateway: routes[{index}] ImplementationSpecific", (f"sigsci:gateway.routes[{index}].pathType",)


@_on_gateway
def _rule_wildcard_agents_hostname(draw, config, gateway):
    """agents.tls.hostname: a "host name, no wildcard"."""
    _implementation(gateway, gateway_docs.ENVOY_GATEWAY)
    tls = gateway.setdefault("agents", {}).setdefault("tls", {"secret": "agents-tls"})
    tls["hostname"] = draw(st.sampled_from(["*.example.com", "*.sigsci-gateway.svc"]))
    return "gateway: a wildcard agents.tls.hostname", ("sigsci:gateway.agents.tls.hostname",)


# docs/gateway.md: ingress settings with "no key under sigsci:gateway".
INGRESS_ONLY = {"ingressClass": {"name": "sigsci-nginx"}, "agentLifetime": "service", "extraValues": {}}
INGRESS_ONLY_ROUTE = {"annotations": {"nginx.org/rewrites": "x"}, "tlsSecret": "tls"}


@_on_gateway
def _rule_ingress_only_key(draw, config, gateway):
    routes = gateway.get("routes") or []
    if routes and draw(st.booleans()):
        index = _pick(draw, routes)
        key = draw(st.sampled_from(sorted(INGRESS_ONLY_ROUTE)))
        routes[index][key] = copy.deepcopy(INGRESS_ONLY_ROUTE[key])
        return f"gateway: routes[{index}].{key}", (f"sigsci:gateway.routes[{index}].{key}",)
    key = draw(st.sampled_from(sorted(INGRESS_ONLY)))
    gateway[key] = copy.deepcopy(INGRESS_ONLY[key])
    return f"gateway: {key}", (f"sigsci:gateway.{key}",)


# A value for each key of one implementation only.
ONLY_FOR_VALUES = {"envoyGateway": {"enabled": True}, "istio": {"clusterDomain": gateway_docs.CLUSTER_DOMAIN},
                   "agents.tls": {"secret": "agents-tls"}}


@_on_gateway
def _rule_keys_of_the_other_implementation(draw, config, gateway):
    implementation = draw(st.sampled_from(gateway_docs.IMPLEMENTATIONS))
    _implementation(gateway, implementation)
    dotted = draw(st.sampled_from(sorted(k for k, only in gateway_docs.ONLY_FOR.items() if only != implementation)))
    *parents, key = dotted.split(".")
    _within(gateway, parents, make=True)[key] = copy.deepcopy(ONLY_FOR_VALUES[dotted])
    return f"gateway: {dotted} with implementation {implementation}", (f"sigsci:gateway.{dotted}",)


@_on_gateway
def _rule_ingress_routes_without_an_ingress(draw, config, gateway):
    config.pop("sigsci:ingress", None)
    gateway["ingressRoutes"] = True
    return "gateway: ingressRoutes without sigsci:ingress", ("sigsci:gateway.ingressRoutes",)


def _shared_routes(config: dict) -> list | None:
    """The ingress's routes, served on the Gateway too (ingressRoutes) and fitted to it; None without any."""
    gateway, ingress = _gateway(config), config.get("sigsci:ingress")
    if gateway is None or not ingress or not ingress.get("routes"):
        return None
    gateway["ingressRoutes"] = True
    _fit_gateway_routes(gateway, ingress, _targets(_apps_of(config)), invariants.echo_routes(config))
    return ingress["routes"]


def _rule_shared_route_implementation_specific(draw, config):
    """ingressRoutes: "a route's pathType: ImplementationSpecific is refused", naming the ingress route."""
    shared = _shared_routes(config)
    if shared is None:
        return None
    index = _pick(draw, shared)
    shared[index]["pathType"] = "ImplementationSpecific"
    return f"gateway: serves ingress routes[{index}], ImplementationSpecific", \
        (f"sigsci:ingress.routes[{index}].pathType",)


def _rule_shared_route_twice(draw, config):
    """The gateway's own routes and the ingress's it serves are one list: a route in both is twice in it."""
    shared = _shared_routes(config)
    if shared is None:
        return None
    routes = config["sigsci:gateway"].setdefault("routes", [])
    routes.append({k: v for k, v in copy.deepcopy(shared[_pick(draw, shared)]).items()
                   if k not in INGRESS_ONLY_ROUTE})
    here = ("sigsci:gateway", "routes", len(routes) - 1)
    return "gateway: an ingress route it serves, again", (key_of((*here, "name")), key_of((*here, "path")))


@_on_gateway
def _rule_existing_gateway_it_does_not_serve(draw, config, gateway):
    """docs/gateway.md: an existing Gateway "whose class another controller serves" (or, with Istio, in manual
    deployment mode) "is refused, naming existingGateway" once the cluster is read."""
    for key in ("name", "gatewayClass", "listeners"):
        gateway.pop(key, None)
    existing = _existing(gateway)
    implementation = gateway.get("implementation", gateway_docs.IMPLEMENTATIONS[0])
    others = [c for i, c in harness.GATEWAY_CONTROLLERS.items() if i != implementation] + ["example.com/gateway"]
    manual = implementation == gateway_docs.ISTIO and draw(st.booleans())
    controller = harness.GATEWAY_CONTROLLERS[implementation] if manual else draw(st.sampled_from(others))
    live = harness.existing_gateway(existing["namespace"], existing["name"], controller, addresses=[
        {"type": "Hostname", "value": "istio-ingressgateway.istio-system.svc"}] if manual else None)
    return f"gateway: the existing Gateway is {'in manual deployment' if manual else 'of ' + controller}", \
        ("sigsci:gateway.existingGateway",), live


@_on_gateway
def _rule_existing_gateway_with_traffic_ext_proc_cannot_see(draw, config, gateway):
    """docs/gateway.md: the existing Gateway's "listeners must all be HTTP or HTTPS", and one that admits
    ListenerSets is refused, "naming existingGateway"."""
    for key in ("name", "gatewayClass", "listeners"):
        gateway.pop(key, None)
    existing = _existing(gateway)
    implementation = gateway.get("implementation", gateway_docs.IMPLEMENTATIONS[0])
    live = harness.existing_gateway(existing["namespace"], existing["name"],
                                    harness.GATEWAY_CONTROLLERS[implementation])
    spec = live[f"{existing['namespace']}/{existing['name']}"]["spec"]
    if draw(st.booleans()):
        protocol = draw(st.sampled_from(["TLS", "TCP", "UDP"]))
        spec["listeners"].append({"name": "other", "port": 9443, "protocol": protocol})
        what = f"a {protocol} listener"
    else:
        spec["allowedListeners"] = {"namespaces": {"from": draw(st.sampled_from(["All", "Same", "Selector"]))}}
        what = "ListenerSets"
    return f"gateway: the existing Gateway has {what}", ("sigsci:gateway.existingGateway",), live


# -- sigsci:verify's rules ---------------------------------------------------------------------------------------

# A valid value of each key of sigsci:verify but echo.
VERIFY_VALUES = {"namespace": "verify-here", "host": "verify.example.com", "image": "example/echo:1.0",
                 "resources": {"limits": {"memory": "128Mi"}}}


def _echo_of(config: dict) -> dict | None:
    """The config's sigsci:verify with echo, one added in a namespace of its own where it has none; None where the
    config has no entry to route it."""
    if not isinstance(config.get("sigsci:ingress"), dict) and _gateway(config) is None:
        return None
    if "sigsci:verify" not in config:
        config["sigsci:verify"] = {"echo": True}
        _fit_verify(config["sigsci:verify"], config)
    return config["sigsci:verify"]


def _rule_echo_without_an_entry(draw, config):
    """echo: "it needs sigsci:ingress or sigsci:gateway"."""
    if not _apps_of(config) and "sigsci:injection" not in config:
        return None  # nothing would be left: sigsci:apps is required then
    config.pop("sigsci:ingress", None)
    config.pop("sigsci:gateway", None)
    config.setdefault("sigsci:verify", {})["echo"] = True
    return "verify: echo without sigsci:ingress or sigsci:gateway", ("sigsci:verify.echo",)


def _rule_echo_in_a_taken_namespace(draw, config):
    """namespace: "not an app's, nor the ingress's, the gateway's or Envoy Gateway's"."""
    verify = _echo_of(config)
    if verify is None:
        return None
    key, namespace = draw(st.sampled_from(_echo_taken(config)))
    verify["namespace"] = namespace
    return f"verify: namespace {namespace}, as {key}", ("sigsci:verify.namespace",)


def _rule_verify_key_without_echo(draw, config):
    """The keys other than echo "apply only with it"."""
    verify = config.setdefault("sigsci:verify", {})
    key = draw(st.sampled_from(sorted(VERIFY_VALUES)))
    verify.setdefault(key, copy.deepcopy(VERIFY_VALUES[key]))
    if draw(st.booleans()):
        verify["echo"] = False
    else:
        verify.pop("echo", None)
    return f"verify: {key} without echo", tuple(f"sigsci:verify.{k}" for k in verify if k != "echo")


def _rule_route_on_the_echo_path(draw, config):
    """"a route of yours to the same host and path [as the echo's] ... is refused, naming your route"."""
    if _echo_of(config) is None:
        return None
    entry = draw(st.sampled_from([k for k in ("sigsci:ingress", "sigsci:gateway") if isinstance(config.get(k), dict)]))
    echo = invariants.echo_routes(config)[0]
    index = _add_route(config, entry, {"service": {"name": "mine", "port": 80}, "name": "mine-on-the-echo-path",
                                       "host": echo["host"], "path": echo["path"]})
    return f"{entry}: a route on the echo's host and path", (key_of((entry, "routes", index, "path")),)


def _rules(rules: list, prefix: str = "", **bound) -> dict[str, Rule]:
    return {prefix + rule.__name__.removeprefix("_rule_"): functools.partial(rule, **bound) if bound else rule
            for rule in rules}


# Rules an entry's routes or its agent can break, tried on the ingress (or any level) and on the gateway.
ROUTE_RULES = [_rule_route_twice, _rule_route_to_no_app, _rule_route_with_two_backends,
               _rule_route_to_an_app_elsewhere, _rule_route_to_an_ambiguous_app, _rule_unnormalised_path,
               _rule_route_to_a_module_in_an_existing_deployment]
AGENT_RULES = [_rule_known_option_unlisted, _rule_old_agent_with_probe, _rule_old_agent_with_the_default_probe,
               _rule_derived_option,
               _rule_custom_tag_without_pull_policy, _rule_option_of_another_kind]
MODULE_RULES = [_rule_listener_with_module, _rule_own_deployment_key_with_deployment, _rule_rpc_port_on_the_app_port,
                _rule_env_sets_the_rpc_address, _rule_container_without_deployment,
                _rule_container_named_like_the_agent, _rule_module_named_like_the_agent,
                _rule_writable_path_over_the_socket, _rule_probe_on_the_rpc_port,
                _rule_existing_deployment_without_the_container, _rule_existing_deployment_of_another_user,
                _rule_module_agent_of_another_user]
GATEWAY_KIND = "gateway_"  # the kinds that break sigsci:gateway; their configs always have one
INJECTION_KIND = "injection_"  # the kinds that break sigsci:injection; their configs always have it
# Where the kinds of each prefix break: their configs always have that entry.
SCOPED_KINDS = {GATEWAY_KIND: "sigsci:gateway", INJECTION_KIND: "sigsci:injection"}
RULES: dict[str, Rule] = {
    **_rules([_rule_listener_on_the_app_port, *AGENT_RULES, _rule_probe_on_the_listener, _rule_grace_within_the_drain,
              _rule_app_drains_before_its_agent, _rule_sidecar_user, _rule_agent_service_for_a_sidecar,
              _rule_policy_without_external_service, _rule_extra_value_of_ours, _rule_annotation_the_controller_refuses,
              *ROUTE_RULES, _rule_tls_without_host,
              _rule_hostless_route_on_f5, *MODULE_RULES, _rule_echo_without_an_entry, _rule_echo_in_a_taken_namespace,
              _rule_verify_key_without_echo, _rule_route_on_the_echo_path]),
    **_rules(ROUTE_RULES + AGENT_RULES, GATEWAY_KIND, entry="sigsci:gateway"),
    **_rules([_rule_timeout_too_short, _rule_timeout_too_long, _rule_install_beside_an_existing_gateway,
              _rule_body_limit_out_of_range, _rule_existing_gateway_with_its_own_keys,
              _rule_https_on_the_http_port, _rule_probe_on_the_grpc_port, _rule_implementation_specific,
              _rule_wildcard_agents_hostname, _rule_ingress_only_key, _rule_keys_of_the_other_implementation,
              _rule_ingress_routes_without_an_ingress, _rule_shared_route_implementation_specific,
              _rule_shared_route_twice, _rule_existing_gateway_it_does_not_serve,
              _rule_existing_gateway_with_traffic_ext_proc_cannot_see], GATEWAY_KIND),
    **_rules(AGENT_RULES, INJECTION_KIND, entry="sigsci:injection"),
    **_rules([_rule_no_namespaces, _rule_too_many_namespaces, _rule_namespace_twice, _rule_params_namespace_opted_in,
              _rule_root_user, _rule_unknown_injection_key], INJECTION_KIND),
}
# The kinds of break, each with its share of the hostile examples; `gateway_` ones break sigsci:gateway (its
# values replaced, dressed, removed or joined by an unknown key, and its rules), `injection_` ones sigsci:injection.
HOSTILE_KINDS: dict[str, int] = {"replace": 8, "dress": 3, "remove": 3, "unknown-key": 3, "not-json": 1,
                                 "plain-text": 1, "unknown-top-key": 1, f"{GATEWAY_KIND}replace": 4,
                                 f"{GATEWAY_KIND}dress": 1, f"{GATEWAY_KIND}remove": 1,
                                 f"{GATEWAY_KIND}unknown-key": 1, f"{INJECTION_KIND}replace": 2,
                                 f"{INJECTION_KIND}dress": 1, f"{INJECTION_KIND}remove": 1,
                                 **{name: 1 for name in RULES}}


# What an object needs beside the key a replacement breaks, so that the break is the only thing wrong with it.
_NEEDED = {"existingGateway": {"namespace": "edge", "name": "public"}, "agents.tls": {"secret": "agents-tls"},
           "routes[].service": {"name": "web", "port": 80}}


def _documented_path(draw, config: dict) -> tuple:
    """A key of the gateway's table, each as likely as the others, as a path into `config`: where the config
    lacks it, its objects (and a route) are made, with what they need beside it. Its value is replaced next, so
    the one thing wrong is that value (fields are judged before the rules between them)."""
    key = draw(st.sampled_from(sorted(GATEWAY_KEYS)))
    *parents, last = key.split(".")
    node: dict = config["sigsci:gateway"]
    path: list = ["sigsci:gateway"]
    for depth, part in enumerate(parents):
        if part.endswith("[]"):
            items = node.setdefault(part[:-2], [])
            if not items:
                items.append({"service": {"name": "web", "port": 80}, "path": "/replaced"})
            index = _pick(draw, items)
            node, path = items[index], [*path, part[:-2], index]
        else:
            node, path = node.setdefault(part, {}), [*path, part]
        for needed, value in _NEEDED.get(".".join(parents[:depth + 1]), {}).items():
            node.setdefault(needed, value)
    return (*path, last)


def _mutate(draw, config: dict, kind: str) -> tuple | None:
    """Break one thing of `config` in place: what was done and the keys the error may name; None when the
    config has nothing of that kind to break."""
    prefix = next((p for p in SCOPED_KINDS if kind.startswith(p)), "")
    scope = SCOPED_KINDS.get(prefix)
    base = kind.removeprefix(prefix)

    def inside(paths):
        return [p for p in paths if scope is None or p[0] == scope]

    if base == "replace":
        path = _documented_path(draw, config) if scope == "sigsci:gateway" else \
            draw(st.sampled_from(inside(_replaceable(config))))
        value = draw(st.sampled_from(_invalid_values(path)))
        _set(config, path, copy.deepcopy(value))
        return f"replace {key_of(path)} with {value!r:.60}", _expected(path)
    if base == "dress":
        strings = [p for p in inside(_replaceable(config)) if isinstance(_at(config, p), str)
                   and isinstance(node_at(p), Leaf) and node_at(p).kind not in UNDRESSABLE]
        if not strings:
            return None
        path = draw(st.sampled_from(strings))
        dressed = draw(st.sampled_from(["{}\n", "\n{}", "{} ", " {}", "{}\r\n"])).format(_at(config, path))
        _set(config, path, dressed)
        return f"dress {key_of(path)} as {dressed!r}", _expected(path)
    if base == "remove":
        required = _required(config)
        paths = inside(sorted(required, key=key_of))
        if not paths:
            return None
        path = draw(st.sampled_from(paths))
        del _at(config, path[:-1])[path[-1]]
        return f"remove {key_of(path)}", required[path]
    if base == "unknown-key":
        closed = [p for p in inside(_paths(config)) if isinstance(p[-1], str) and len(p) > 1
                  and (isinstance(node_at(p[:-1]), Obj) or getattr(node_at(p[:-1]), "closed_names", False))]
        if not closed:
            return None
        path = draw(st.sampled_from(closed))
        unknown = (*path[:-1], f"{path[-1]}x")
        _set(config, unknown, draw(hostile_value))
        return f"unknown key {key_of(unknown)}", (key_of(unknown),)
    if kind == "not-json":
        key = draw(st.sampled_from(["sigsci:apps", "sigsci:ingress", "sigsci:agent", "sigsci:gateway",
                                    "sigsci:injection", "sigsci:verify"]))
        config[key] = draw(st.sampled_from(["{not json", "[1, 2", "web", ""]))
        return f"{key} is not JSON", (key,)
    if kind == "unknown-top-key":
        key = draw(st.sampled_from(["sigsci:app", "sigsci:Agent", "sigsci:ingres", "sigsci:gateways", "sigsci:foo",
                                    "sigsci:injections", "sigsci:inject"]))
        config[key] = draw(hostile_value)
        return f"unknown key {key}", (key,)
    return RULES[kind](draw, config)


@st.composite
def hostile_config(draw, kind: str) -> Hostile:
    """A valid config with one thing of `kind` (one of HOSTILE_KINDS) broken."""
    config = draw(stack_config(gateway=kind.startswith(GATEWAY_KIND), injection=kind.startswith(INJECTION_KIND)))
    secret_keys = [k for k in harness.SECRET_KEYS if k in config]
    if kind == "plain-text":
        assume(secret_keys)
        return Hostile(config, [], "the keys not marked secret", tuple(secret_keys))
    done = _mutate(draw, config, kind)
    assume(done is not None)
    return Hostile(config, secret_keys, *done)
