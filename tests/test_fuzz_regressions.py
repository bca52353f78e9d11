"""Configs the fuzzing found broken, shrunk by hypothesis and kept as plain cases.

Each failed before its fix: an object Kubernetes would refuse, a broken invariant or a crash. Each must
now stop the preview with a ConfigError on the named key, or build a stack that keeps every invariant.
"""

from collections import Counter

import pytest

import harness
import invariants
from sigsci_waf.config.errors import ConfigError
from test_fuzz import check

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
]


@pytest.mark.parametrize("config,key", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_found_by_fuzzing(config, key):
    secret_keys = [k for k in harness.SECRET_KEYS if k in config]
    if key is None:
        run = harness.run_config(config)
        assert invariants.violations(run, config) == []
    else:
        with pytest.raises(ConfigError) as err:
            harness.run_config(config)
        assert err.value.key == key
    check(config, secret_keys, Counter())
