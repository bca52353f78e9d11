"""Configs the fuzzing found broken, shrunk by hypothesis and kept as plain cases.

Each failed before its fix: an object Kubernetes would refuse, a broken invariant or a crash. Each must
now stop the preview with a ConfigError on the named key, or build a stack that keeps every invariant.

And where the package and the docs still disagree (fuzz_configs.KNOWN_DISAGREEMENTS), what the docs promise,
as strict xfails: each passes, and so fails, once the package changes, and then the generators' detour around it
(marked with its name in tests/fuzz_configs.py) goes too; where the docs change instead, the case and the detour
go with that change.
"""

import pytest

import crd_schema
import harness
from fuzz_configs import KNOWN_DISAGREEMENTS
from test_fuzz import builds, refused

KEYS = {**harness.KEY_CONFIG}
EXISTING = {"sigsci:existingSecret": "web"}

# (id, config, the key the error names, or None when the config is valid)
CASES = [
    # Kubernetes refuses '//' (and '/./', '/../', '%2f', a trailing '/.' or '/..') in Prefix and Exact paths.
    ("ingress-path-double-slash",
     {"sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "nativeSidecar", "namespace": "web",
                         "routes": [{"service": {"name": "web", "port": 80}, "pathType": "Prefix", "name": "web",
                                     "host": "shop.example.com", "path": "//"}]}, **EXISTING},
     "sigsci:ingress.routes[0].path"),
    ("ingress-path-dot-segment-is-fine-when-implementation-specific",
     {"sigsci:ingress": {"routes": [{"service": {"name": "web", "port": 80}, "pathType": "ImplementationSpecific",
                                     "path": "/a/./b"}]}, **EXISTING},
     None),
    # The created Secret is sigsci.<site>: a 253-character site made a 260-character Secret name.
    ("site-too-long-for-the-secret-name",
     {"sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "nativeSidecar"}, **KEYS,
      "sigsci:site": "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61},
     "sigsci:site"),
    # The agents' Service is <release>-sigsci-agent: a 53-character release made a 66-character Service name.
    ("release-too-long-for-the-agent-service",
     {"sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "service", "releaseName": "r" * 53},
      **EXISTING},
     "sigsci:ingress.releaseName"),
    # The charts name the controller Service after the release; a Service name cannot start with a digit.
    ("release-starting-with-a-digit",
     {"sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "nativeSidecar", "createNamespace": False,
                         "namespace": "web", "releaseName": "1st-edge"}, **EXISTING},
     "sigsci:ingress.releaseName"),
    # A union's member type leaked into the key ('options.log-out.str'); now one sentence on the option.
    ("option-value-null",
     {"sigsci:ingress": {"agent": {"options": {"log-out": None}}}, **EXISTING},
     "sigsci:ingress.agent.options.log-out"),
    # true was taken as the quantity 1.
    ("quantity-true",
     {"sigsci:agent": {"resources": {"limits": {"cpu": True}}}, "sigsci:ingress": {}, **EXISTING},
     "sigsci:agent.resources.limits.cpu"),
    # A service-placement app and the ingress agents of a release of the same name carried the same labels:
    # in one namespace each Service would have picked the other's agents. A component label tells them apart.
    ("app-agents-and-ingress-agents-share-a-name",
     {"sigsci:apps": [{"name": "web", "port": 80, "placement": "service", "upstreamService": "api",
                       "namespace": "sigsci-ingress"}],
      "sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "service", "releaseName": "web"}, **EXISTING},
     None),
    # The ingress agents' objects would take the name of an app's in the same namespace.
    ("ingress-agents-named-like-an-app",
     {"sigsci:apps": [{"name": "edge-sigsci-agent", "port": 80, "image": "example/web:1.0",
                       "namespace": "sigsci-ingress"}],
      "sigsci:ingress": {"agentLifetime": "service", "releaseName": "edge"}, **EXISTING},
     "sigsci:ingress.releaseName"),
    # An owned app's selector app.kubernetes.io/name=<app> would pick the controller pods, or the agents' pods.
    ("owned-app-named-like-the-chart",
     {"sigsci:apps": [{"name": "nginx-ingress", "port": 80, "image": "example/web:1.0",
                       "namespace": "sigsci-ingress"}],
      "sigsci:ingress": {"flavour": "nginx-ingress"}, **EXISTING},
     "sigsci:apps[0].name"),
    ("owned-app-named-sigsci-agent",
     {"sigsci:apps": [{"name": "sigsci-agent", "port": 80, "image": "example/web:1.0"}], **EXISTING},
     "sigsci:apps[0].name"),
    # writablePaths: null crashed the path check (a TypeError, not a ConfigError); null means the default.
    ("writable-paths-null",
     {"sigsci:apps": [{"name": "api", "port": 8080, "image": "example/api:1.2.3", "writablePaths": None}],
      **EXISTING},
     None),
    # Two patched apps of one name in a namespace (different Deployments and Services) made two components
    # with the same resource name: a duplicate URN at `pulumi up`, not an error at preview.
    ("two-apps-one-name",
     {"sigsci:apps": [{"name": "web", "port": 613, "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "x", "service": "a"},
                      {"name": "web", "port": 1, "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "a", "service": "web"}],
      **EXISTING},
     "sigsci:apps[1].name"),
    # A patched app listening on 2024 shares its pod with the agent's startup probe listener (default 2024);
    # the clash was only checked for owned apps.
    ("patched-app-on-the-probe-port",
     {"sigsci:apps": [{"name": "shop", "port": 2024, "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "feer", "service": "d",
                       "agent": {"startupProbe": {"enabled": True}}}], **EXISTING},
     "sigsci:apps[0].agent.startupProbe.port"),
    # A missing sigsci:apps (null) next to an ingress is no apps at all, not a crash.
    ("apps-null-with-ingress",
     {"sigsci:apps": None, "sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "nativeSidecar"},
      **EXISTING},
     None),
    # tests/harness.py walked sigsci:apps for modules' existing Deployments and crashed (a TypeError) on a number.
    ("apps-a-number", {"sigsci:apps": 5, **EXISTING}, "sigsci:apps"),
    # One patched app's Service and another's Deployment of one name in a namespace: the mocks answer reads by
    # id, and the made-up Service answered the Deployment's read (test_fuzz.builds merges them).
    ("a-service-and-another-apps-deployment-of-one-name",
     {"sigsci:apps": [{"name": "web", "port": 1210, "placement": "patch", "deployment": "web-deploy", "service": "a",
                       "takeOver": ["service.targetPort"]},
                      {"name": "shop", "port": 130, "placement": "patch", "deployment": "a", "service": "shop",
                       "takeOver": ["service.targetPort"]}], **EXISTING},
     None),
    # An existing Gateway named like a patched app's Service in its namespace: the made-up Service answered the
    # Gateway's read, which then named no class (test_fuzz.builds merges the Gateway with the apps' objects).
    ("an-existing-gateway-and-a-service-of-one-name",
     {"sigsci:apps": [{"name": "api", "port": 8080, "placement": "patch", "deployment": "api", "service": "web",
                       "takeOver": ["service.targetPort"]}],
      "sigsci:gateway": {"implementation": "istio", "existingGateway": {"namespace": "default", "name": "web"}},
      **EXISTING},
     None),
    # Placement module and injection side by side, in every form the fuzzing draws: valid, every invariant kept.
    ("module-and-injection",
     {"sigsci:apps": [{"name": "api", "port": 8080, "placement": "module", "image": "example/api:1.2.3",
                       "rpcAddressEnv": "SIGSCI_AGENT", "writablePaths": ["/tmp", "/data"],
                       "agent": {"tmpMountPath": "/var/run/sigsci"}},
                      {"name": "legacy", "port": 8080, "placement": "module", "deployment": "legacy-web",
                       "container": "web", "rpcPort": 9000, "runAsUser": 1000},
                      {"name": "search", "port": 2024, "placement": "module", "image": "example/search:1",
                       "agent": {"startupProbe": {"enabled": True, "port": 2025}}}],
      "sigsci:injection": {"namespaces": ["shop", "default"], "paramsNamespace": "platform",
                           "rpcAddressEnv": "AGENT", "runAsUser": 2147483647,
                           "agent": {"options": {"max-procs": 2}}}, **KEYS, "sigsci:site": "demo"},
     None),
]


def _outcome(config: dict, key: str | None) -> None:
    """`config` builds a valid stack (key None), or stops with a ConfigError on exactly `key`."""
    secret_keys = [k for k in harness.SECRET_KEYS if k in config]
    if key is None:
        builds(config, secret_keys)
    else:
        assert refused(config, secret_keys, (key,)).key == key


@pytest.mark.parametrize("config,key", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_found_by_fuzzing(config, key):
    _outcome(config, key)


APP = {"name": "web", "port": 8080, "image": "example/web:1.0"}

# Where the package and the docs disagreed, now settled: what the docs promise (the key the error names, or None
# when the config is valid).
GATEWAY_APP = {"sigsci:apps": [APP], "sigsci:existingSecret": "keys"}

SETTLED = [
    ("existing-secret-key-spelling", {"sigsci:apps": [APP], "sigsci:existingSecret": "Bad_Name"},
     "sigsci:existingSecret"),
    ("existing-secret-key-spelling", {"sigsci:apps": [APP], "sigsci:existingSecret": "keys\n"},
     "sigsci:existingSecret"),
    # sigsci:agent is one level of the merge: every app runs agent 4.70.0, which has the startup probe.
    ("shared-agent-merged-first", {"sigsci:agent": {"version": "4.40.0", "startupProbe": {"enabled": True}},
                                   "sigsci:apps": [{**APP, "agent": {"version": "4.70.0"}}],
                                   "sigsci:existingSecret": "keys"}, None),
    # The app's agent has the custom tag and its pull policy.
    ("shared-agent-merged-first", {"sigsci:agent": {"version": "testing"},
                                   "sigsci:apps": [{**APP, "agent": {"imagePullPolicy": "Never"}}],
                                   "sigsci:existingSecret": "keys"}, None),
    # The app's agent has requests.cpu 5m and limits.cpu 10m.
    ("shared-agent-merged-first", {"sigsci:agent": {"resources": {"limits": {"cpu": "10m"}}},
                                   "sigsci:apps": [{**APP, "agent": {"resources": {"requests": {"cpu": "5m"}}}}],
                                   "sigsci:existingSecret": "keys"}, None),
    # A shared setting that no entry mends is still refused, on the shared key.
    ("shared-agent-merged-first", {"sigsci:agent": {"version": "testing"}, "sigsci:apps": [APP],
                                   "sigsci:existingSecret": "keys"}, "sigsci:agent.imagePullPolicy"),
    # ... and on the entry's own key where the entry set the offending value.
    ("shared-agent-merged-first", {"sigsci:agent": {"resources": {"limits": {"cpu": "10m"}}},
                                   "sigsci:apps": [{**APP, "agent": {"resources": {"requests": {"cpu": "50m"}}}}],
                                   "sigsci:existingSecret": "keys"}, "sigsci:apps[0].agent.resources.requests.cpu"),
    ("tmp-mount-over-system-paths", {"sigsci:apps": [{**APP, "agent": {"tmpMountPath": "/tmp"}}],
                                     "sigsci:existingSecret": "keys"}, "sigsci:apps[0].agent.tmpMountPath"),
    ("option-value-number", {"sigsci:apps": [{**APP, "agent": {"options": {"max-procs": 1.5}}}],
                             "sigsci:existingSecret": "keys"}, "sigsci:apps[0].agent.options.max-procs"),
    ("int-accepts-true", {"sigsci:apps": [{**APP, "agent": {"startupProbe": {"failureThreshold": True}}}],
                          "sigsci:existingSecret": "keys"}, "sigsci:apps[0].agent.startupProbe.failureThreshold"),
    ("writable-paths-entry-key", {"sigsci:apps": [{**APP, "writablePaths": ["/data", "relative"]}],
                                  "sigsci:existingSecret": "keys"}, "sigsci:apps[0].writablePaths[1]"),
    # Without an agent drain the app's drain is 0, so a grace period of 5 exceeds it.
    ("app-drain-default-without-agent-drain",
     {"sigsci:apps": [{**APP, "agent": {"preStopSleepSeconds": 0}, "terminationGracePeriodSeconds": 5}],
      "sigsci:existingSecret": "keys"}, None),
    # Found by the gateway's fuzzing: the agents' labels do not carry the Gateway's name, but both implementations
    # put it on their proxies as a label value (Envoy Gateway's owning-gateway-name, envoyproxy/gateway#10048), so
    # at most 63; an app in the gateway's namespace may not take the agents' name; an HTTPRoute path takes Gateway
    # API's characters only; at most 64 TLS Secrets on a listener; no IP as the agents' TLS name; the timeout rule
    # rounded up, never down.
    ("gateway-name-label", {**GATEWAY_APP, "sigsci:gateway": {"name": "x" * 64 + ".example"}},
     "sigsci:gateway.name"),
    ("gateway-name-label", {**GATEWAY_APP, "sigsci:gateway": {"existingGateway": {"namespace": "edge",
                                                                                  "name": "y" * 64}}},
     "sigsci:gateway.existingGateway.name"),
    ("app-named-like-the-gateway-agents",
     {"sigsci:apps": [{**APP, "name": "sigsci-extproc", "namespace": "sigsci-gateway"}], "sigsci:gateway": {},
      "sigsci:existingSecret": "keys"}, "sigsci:apps[0].name"),
    ("gateway-path-characters", {**GATEWAY_APP, "sigsci:gateway": {"routes": [{"app": "web", "path": "/a?b"}]}},
     "sigsci:gateway.routes[0].path"),
    ("gateway-path-characters", {**GATEWAY_APP, "sigsci:gateway": {"routes": [{"app": "web", "path": "/a|b"}]}},
     "sigsci:gateway.routes[0].path"),
    ("gateway-path-characters", {**GATEWAY_APP, "sigsci:ingress": {"routes": [{"app": "web", "path": "/ä"}]},
                                 "sigsci:gateway": {"ingressRoutes": True}}, "sigsci:ingress.routes[0].path"),
    ("gateway-too-many-tls-secrets",
     {**GATEWAY_APP, "sigsci:gateway": {"listeners": {"tlsSecrets": [f"tls-{n}" for n in range(65)]}}},
     "sigsci:gateway.listeners.tlsSecrets"),
    ("tls-hostname-ip", {**GATEWAY_APP, "sigsci:gateway": {"agents": {"tls": {"secret": "agents-tls",
                                                                          "hostname": "10.0.0.1"}}}},
     "sigsci:gateway.agents.tls.hostname"),
    ("timeout-rounded-down", {**GATEWAY_APP, "sigsci:gateway": {"bodyLimit": "1500k", "messageTimeout": "1430ms"}},
     "sigsci:gateway.messageTimeout"),
    ("timeout-rounded-down", {**GATEWAY_APP, "sigsci:gateway": {"bodyLimit": "1500k", "messageTimeout": "1431ms"}},
     None),
]


@pytest.mark.parametrize("config,key", [c[1:] for c in SETTLED], ids=[c[0] for c in SETTLED])
def test_what_the_docs_promise(config, key):
    _outcome(config, key)


# Seen only against the CRDs' own schemas (tests/crd_schema.py), which builds() skips without them.
NEEDS_CRDS = pytest.mark.skipif(crd_schema.missing() is not None, reason=f"{crd_schema.missing()}")

# Where the package and the docs disagree (fuzz_configs.KNOWN_DISAGREEMENTS), what the docs promise, as strict xfails:
# (which disagreement, config, the key the error names, or None when the docs say the config is valid).
DISAGREEMENTS: list[tuple[str, dict, str | None]] = []
_CRD_ONLY: set[str] = set()


@pytest.mark.parametrize("config,key", [
    pytest.param(config, key, id=name, marks=[pytest.mark.xfail(strict=True, raises=AssertionError,
                                                                reason=KNOWN_DISAGREEMENTS[name])]
                 + ([NEEDS_CRDS] if name in _CRD_ONLY else []))
    for name, config, key in DISAGREEMENTS])
def test_what_the_docs_promise_where_the_package_disagrees(config, key):
    _outcome(config, key)


def test_every_known_disagreement_has_its_case():
    """A new one gets its entry in fuzz_configs.KNOWN_DISAGREEMENTS and a strict xfail case here; a settled one
    moves to SETTLED."""
    assert {name for name, _, _ in DISAGREEMENTS} == set(KNOWN_DISAGREEMENTS)
