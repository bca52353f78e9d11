"""What preview accepts, up applies: values are checked with Kubernetes' own rules, whole (no trailing newline
slips through a `$`), and the tables here are Kubernetes' documented cases, not our regexes."""

from __future__ import annotations

import pytest

import harness
from harness import clean, env_of
from sigsci_waf.config.errors import ConfigError

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}


def _config(apps=None, **extra):
    return {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": apps if apps is not None else [APP], **extra}


def _refused(config, key_start: str) -> ConfigError:
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError) as err:
        harness.run_config(config, mocks=mocks)
    assert err.value.key.startswith(key_start), err.value
    assert mocks.resources == []
    return err.value


# (config with the value at a key, the key errors name). Each is valid as written.
FIELDS = [
    (lambda v: _config([{**APP, "name": v}]), "sigsci:apps[0].name", "web"),
    (lambda v: _config([{**APP, "namespace": v}]), "sigsci:apps[0].namespace", "shop"),
    (lambda v: _config([{**APP, "image": v}]), "sigsci:apps[0].image", "nginxinc/nginx-unprivileged:1.27"),
    (lambda v: _config([{**APP, "env": {v: "1"}}]), "sigsci:apps[0].env", "API_TOKEN"),
    (lambda v: _config([{**APP, "healthPath": v}]), "sigsci:apps[0].healthPath", "/healthz"),
    (lambda v: _config([{**APP, "resources": {"limits": {"cpu": v}}}]), "sigsci:apps[0].resources", "500m"),
    (lambda v: _config(**{"sigsci:agent": {"version": v}}), "sigsci:agent.version", "4.70.0"),
    (lambda v: _config(**{"sigsci:agent": {"tmpMountPath": v}}), "sigsci:agent.tmpMountPath", "/var/run/sigsci"),
    (lambda v: _config(**{"sigsci:agent": {"repository": v}}), "sigsci:agent.repository",
     "signalsciences/sigsci-agent"),
    (lambda v: _config(**{"sigsci:agent": {"options": {v: "1"}}}), "sigsci:agent.options", "upload-interval"),
    (lambda v: _config(**{"sigsci:site": v}), "sigsci:site", "demo"),
    (lambda v: _config(**{"sigsci:ingress": {"routes": [{"host": v, "app": "web"}]}}), "sigsci:ingress.routes",
     "shop.example.com"),
    (lambda v: _config(**{"sigsci:ingress": {"routes": [{"app": "web", "annotations": {v: "x"}}]}}),
     "sigsci:ingress.routes", "nginx.ingress.kubernetes.io/proxy-body-size"),
    (lambda v: _config(**{"sigsci:ingress": {"releaseName": v}}), "sigsci:ingress.releaseName", "edge"),
    (lambda v: _config(**{"sigsci:ingress": {"ingressClass": {"name": v}}}), "sigsci:ingress.ingressClass", "waf"),
    (lambda v: _config(**{"sigsci:ingress": {"controller": {"image": {"tag": v}}}}), "sigsci:ingress.controller",
     "1.15.1-fastly1.4.0"),
    (lambda v: _config(**{"sigsci:ingress": {"routes": [{"app": "web", "path": v}]}}), "sigsci:ingress.routes", "/shop"),
]


@pytest.mark.parametrize("build, key, valid", FIELDS)
@pytest.mark.parametrize("dress", [lambda v: v + "\n", lambda v: "\n" + v, lambda v: v + "\r\n", lambda v: v + " "])
def test_whitespace_around_a_valid_value_is_refused(build, key, valid, dress):
    harness.run_config(build(valid))  # as written it passes
    _refused(build(dress(valid)), key)


def test_no_newline_reaches_the_listener_or_the_snippets():
    _refused(_config(**{"sigsci:agent": {"tmpMountPath": "/sigsci/tmp\n"}}), "sigsci:agent.tmpMountPath")
    run = harness.run_config(_config())
    agent = clean(run.named("web.default-deployment").inputs)["spec"]["template"]["spec"]["containers"][1]
    assert "\n" not in env_of(agent)["SIGSCI_REVPROXY_LISTENER"]


# Kubernetes' documentation of quantities: "128974848, 129e6, 129M, 128974848000m, 123Mi" and "0.5" / ".5".
VALID_MEMORY = ["128974848", "129e6", "129M", "128974848000m", "123Mi", "1Gi", "1e3", "+1", "1.", "0.5", ".5",
                "1E3", "5e-1", "512Ki"]
VALID_CPU = ["100m", "0.5", ".5", "1", "2", "1e3", "1E1", "250000u", "500000000n", "+4"]
INVALID = ["1K", "1KiB", "1_000", "1 ", " 1", "١", "-1", "1.5.5", "e3", "0x10", "inf", "nan", "1e", "1mi", "", "."]
ABSURD = {"cpu": ["1E", "10001", "1e5", "1" + "0" * 4400, 1e300], "memory": ["2Pi", "1E", "1" + "0" * 4400, 1e300]}


@pytest.mark.parametrize("value", VALID_MEMORY)
def test_kubernetes_memory_quantities_are_accepted(value):
    app = {**APP, "resources": {"requests": {"memory": value}, "limits": {"memory": value}}}
    run = harness.run_config(_config([app]))
    container = clean(run.named("web.default-deployment").inputs)["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == value


@pytest.mark.parametrize("value", VALID_CPU)
def test_kubernetes_cpu_quantities_are_accepted(value):
    app = {**APP, "resources": {"requests": {"cpu": "1m"}, "limits": {"cpu": value}}}
    harness.run_config(_config([app]))


@pytest.mark.parametrize("value", INVALID)
def test_what_kubernetes_refuses_as_a_quantity_is_refused(value):
    _refused(_config([{**APP, "resources": {"limits": {"cpu": value}}}]), "sigsci:apps[0].resources.limits.cpu")


@pytest.mark.parametrize("kind, value", [(k, v) for k, vs in ABSURD.items() for v in vs])
def test_absurd_quantities_are_refused_with_a_sentence(kind, value):
    err = _refused(_config([{**APP, "resources": {"limits": {kind: value}}}]),
                   f"sigsci:apps[0].resources.limits.{kind}")
    assert len(str(err)) < 400


@pytest.mark.parametrize("value", ["yes", "no", "off", "on", "0", "1", 0, 1, "true", "True"])
@pytest.mark.parametrize("build, key", [
    (lambda v: _config([{**APP, "networkPolicy": v}]), "sigsci:apps[0].networkPolicy"),
    (lambda v: _config([{**APP, "readOnlyRootFilesystem": v}]), "sigsci:apps[0].readOnlyRootFilesystem"),
    (lambda v: _config(**{"sigsci:ingress": {"ingressClass": {"default": v}}}), "sigsci:ingress.ingressClass.default"),
    (lambda v: _config(**{"sigsci:ingress": {"createNamespace": v}}), "sigsci:ingress.createNamespace"),
    (lambda v: _config(**{"sigsci:agent": {"startupProbe": {"enabled": v}}}), "sigsci:agent.startupProbe.enabled"),
])
def test_switches_take_true_or_false_only(build, key, value):
    _refused(build(value), key)


@pytest.mark.parametrize("path", ["/", "/.", "/..", "/etc", "/etc/nginx", "/usr", "/usr/lib", "/usr/lib/nginx/modules",
                                  "/usr/local/certificates", "/tmp", "/var/run", "/run", "/sigsci", "/sigsci/bin",
                                  "/proc/sigsci", "/sys", "/dev/shm", "/a/../etc", "/a/./b", "/a//b", "/a/", "a/b"])
@pytest.mark.parametrize("ingress", [False, True])
def test_the_temp_volume_cannot_cover_a_system_or_chart_path(path, ingress):
    extra = {"sigsci:ingress": {"agent": {"tmpMountPath": path}}} if ingress else \
        {"sigsci:agent": {"tmpMountPath": path}}
    _refused(_config(**extra), "sigsci:ingress.agent.tmpMountPath" if ingress else "sigsci:agent.tmpMountPath")


@pytest.mark.parametrize("path", ["/sigsci/tmp", "/var/run/sigsci", "/tmp/sigsci", "/opt/sigsci-tmp"])
def test_a_path_of_its_own_is_fine(path):
    run = harness.run_config(_config(**{"sigsci:agent": {"tmpMountPath": path}}))
    assert run.named("web.default-deployment")


@pytest.mark.parametrize("items", [[None], [{}], [{"name": "Bad_Name", "emptyDir": {}}], "cache", [{"name": 7}]])
def test_chart_pod_lists_in_extra_values_are_checked(items):
    ingress = {"agentLifetime": "service", "extraValues": {"controller": {"extraVolumes": items}}}
    _refused(_config(**{"sigsci:ingress": ingress}), "sigsci:ingress.extraValues.controller.extraVolumes")


# -- names the charts and Kubernetes derive from ours ---------------------------------------------------------

def _ingress(**ingress):
    return _config(**{"sigsci:ingress": ingress})


def test_a_release_name_whose_admission_service_would_be_too_long_is_refused():
    # ingress-nginx names its webhook Service `<release>-ingress-nginx-controller-admission`, uncut: 28 + 35 = 63.
    harness.run_config(_ingress(releaseName="r" * 28))
    err = _refused(_ingress(releaseName="r" * 29), "sigsci:ingress.releaseName")
    assert "at most 28" in err.problem
    # With the webhook off there is no such Service, and the chart's own 63-character cut applies.
    harness.run_config(_ingress(releaseName="r" * 40, extraValues={
        "controller": {"admissionWebhooks": {"enabled": False}}}))


def test_the_ingress_class_controller_value_fits_kubernetes_limit():
    name = "a" * 243
    harness.run_config(_ingress(ingressClass={"name": name}))
    _refused(_ingress(ingressClass={"name": "a" * 244}), "sigsci:ingress.ingressClass.name")
    # F5's controller value is the chart's own, not derived from the class name.
    harness.run_config(_ingress(flavour="nginx-ingress", ingressClass={"name": "a" * 244}))


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.20", "1.2.3.4"])
def test_an_ip_address_is_not_an_ingress_host(host):
    _refused(_ingress(routes=[{"app": "web", "host": host}]), "sigsci:ingress.routes[0].host")


def _two_webs():
    return [APP, {**APP, "namespace": "shop"}]


def test_a_route_to_an_app_name_used_in_two_namespaces_must_say_which():
    err = _refused(_config(_two_webs(), **{"sigsci:ingress": {"routes": [{"app": "web"}]}}),
                   "sigsci:ingress.routes[0].app")
    assert "default, shop" in err.problem
    run = harness.run_config(_config(_two_webs(), **{"sigsci:ingress": {"routes": [{"app": "web", "namespace": "shop"}]}}))
    route = next(clean(r.inputs) for r in run.resources if r.type == "kubernetes:networking.k8s.io/v1:Ingress")
    assert route["metadata"]["namespace"] == "shop"


def test_the_same_host_and_path_in_two_namespaces_is_refused():
    routes = [{"host": "shop.example.com", "app": "web", "namespace": "default"},
              {"host": "shop.example.com", "app": "web", "namespace": "shop", "name": "web-shop"}]
    err = _refused(_config(_two_webs(), **{"sigsci:ingress": {"routes": routes}}), "sigsci:ingress.routes[1].path")
    assert "routes[0]" in err.problem


def test_resource_names_built_from_parts_cannot_collide():
    """Joined with '-', namespace a-b with route c and namespace a with route b-c made one URN (refused at up)."""
    routes = [{"service": {"name": "svc", "port": 80}, "namespace": "a-b", "name": "c", "path": "/one"},
              {"service": {"name": "svc", "port": 80}, "namespace": "a", "name": "b-c", "path": "/two"}]
    run = harness.run_config(_ingress(routes=routes))
    ingresses = [r.name for r in run.resources if r.type == "kubernetes:networking.k8s.io/v1:Ingress"]
    assert sorted(ingresses) == ["ingress-route-a-b.c", "ingress-route-a.b-c"]
    assert len({(r.type, r.name) for r in run.resources}) == len(run.resources)


# Values from Kubernetes' documentation and apimachinery's quantity tests, worked out by hand.
QUANTITY_VALUES = [("128974848", 128974848), ("129e6", 129000000), ("129M", 129000000), ("123Mi", 128974848),
                   ("128974848000m", 128974848), ("1e3", 1000), ("1E3", 1000), (".5", 0.5), ("1.", 1), ("+1", 1),
                   ("500m", 0.5), ("100u", 0.0001), ("5n", 0.000000005), ("1Ki", 1024), ("1k", 1000),
                   ("5e-1", 0.5), ("1.5e1", 15), ("2e0.5", None), ("3Ei", 3 * 2 ** 60), ("2E", 2 * 10 ** 18),
                   ("1Pi", 2 ** 50)]


@pytest.mark.parametrize("text, value", QUANTITY_VALUES)
def test_quantities_are_valued_as_kubernetes_values_them(text, value):
    from decimal import Decimal

    from sigsci_waf.config.kube import quantity_value
    if value is None:  # a fractional exponent: valid grammar, irrational value; only its size matters here
        assert 6.32 < quantity_value(text) < 6.33  # 2 x 10^0.5
    else:
        assert quantity_value(text) == Decimal(str(value))


def test_huge_exponents_are_refused_not_overflowed():
    _refused(_config([{**APP, "resources": {"limits": {"cpu": "1e" + "9" * 60}}}]), "sigsci:apps[0].resources")
    harness.run_config(_config([{**APP, "resources": {"requests": {"cpu": "1e-" + "9" * 60}}}]))
