"""Misuse ends in one line naming the argument, before anything is declared: never a traceback."""

from __future__ import annotations

import pulumi
import pytest

import harness
from sigsci_waf import ConfigError, SigsciIngressController, SigsciRevProxyApp, SigsciSecret

APP = {"image": "nginxinc/nginx-unprivileged:1.27", "port": 8080, "secret_name": "sigsci.demo"}


def _deep(levels: int):
    value = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


CALLS = {
    "app-args-none": (lambda: SigsciRevProxyApp("web", None), "SigsciRevProxyApp 'web'.args"),
    "app-args-list": (lambda: SigsciRevProxyApp("web", [APP]), "SigsciRevProxyApp 'web'.args"),
    "app-name-none": (lambda: SigsciRevProxyApp(None, APP), "SigsciRevProxyApp.name"),
    "app-name-empty": (lambda: SigsciRevProxyApp("", APP), "SigsciRevProxyApp.name"),
    "app-opts-str": (lambda: SigsciRevProxyApp("web", APP, opts="parent"), "SigsciRevProxyApp 'web'.opts"),
    "app-secret-none": (lambda: SigsciRevProxyApp("web", {**APP, "secret_name": None}),
                        "SigsciRevProxyApp 'web'.secret_name"),
    "app-secret-int": (lambda: SigsciRevProxyApp("web", {**APP, "secret_name": 7}),
                       "SigsciRevProxyApp 'web'.secret_name"),
    "app-secret-output-of-none": (lambda: SigsciRevProxyApp("web", {**APP, "secret_name":
                                                                    pulumi.Output.from_input(None)}),
                                  "SigsciRevProxyApp 'web'.secret_name"),
    "app-deep-agent": (lambda: SigsciRevProxyApp("web", {**APP, "agent": _deep(500)}),
                       "SigsciRevProxyApp 'web'.agent"),
    "secret-args-none": (lambda: SigsciSecret("keys", None), "SigsciSecret 'keys'.args"),
    "ingress-args-none": (lambda: SigsciIngressController("edge", None), "SigsciIngressController 'edge'.args"),
    "ingress-app-names": (lambda: SigsciIngressController("edge", {"secret_name": "s"}, apps=["web"]),
                          "SigsciIngressController 'edge'.apps[0]"),
    "ingress-deep-extra": (lambda: SigsciIngressController("edge", {"secret_name": "s",
                                                                    "extra_values": _deep(500)}),
                           "SigsciIngressController 'edge'.extra_values"),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_python_api_misuse_names_the_argument(name):
    build, key = CALLS[name]
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run(build, mocks=mocks)
    assert err.value.key.startswith(key), err.value
    assert "\n" not in str(err.value)
    # Nothing of the component, apart from what an Output needs to resolve, was registered.
    if "output" not in name:
        assert mocks.resources == []


def test_apps_none_means_no_apps():
    harness.run(lambda: SigsciIngressController("edge", {"secret_name": "s"}, apps=None))


@pytest.mark.parametrize("key", ["sigsci:ingress", "sigsci:agent", "sigsci:apps"])
@pytest.mark.parametrize("levels", [40, 600])
def test_deeply_nested_config_is_refused_in_one_line(key, levels):
    value = {
        "sigsci:ingress": {"extraValues": _deep(levels)},
        "sigsci:agent": {"options": _deep(levels)},
        "sigsci:apps": [{"name": "web", "image": "x/y:1", "port": 80, "env": _deep(levels)}],
    }[key]
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, key: value}, mocks=mocks)
    assert err.value.key.startswith(key) and "levels deep" in err.value.problem
    assert mocks.resources == []
