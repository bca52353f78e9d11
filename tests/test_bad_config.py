"""Bad input stops the preview with one sentence that names the key and says what is allowed."""

import pytest

import harness
from sigsci_waf.config.errors import ConfigError

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}


def base(**overrides):
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [APP]}
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def ingress(_=None, *, raw=None, **spec):
    return base(**{"sigsci:ingress": raw if raw is not None else spec})


def app(**fields):
    merged = {**APP, **fields}
    return base(**{"sigsci:apps": [{k: v for k, v in merged.items() if v is not None}]})


CASES = [
    # (id, config, expected key, fragment of the message)
    ("listener-equals-port", app(listenerPort=8080), "sigsci:apps[0].listenerPort", "must differ from port"),
    ("port-out-of-range", app(port=70000), "sigsci:apps[0].port", "less than or equal to 65535"),
    ("port-zero", app(port=0), "sigsci:apps[0].port", "greater than or equal to 1"),
    ("privileged-listener", app(listenerPort=80), "sigsci:apps[0].listenerPort", "greater than or equal to 1024"),
    ("name-not-dns", app(name="Web_App"), "sigsci:apps[0].name", "DNS-1035"),
    ("namespace-not-dns", app(namespace="Team.A"), "sigsci:apps[0].namespace", "DNS-1123 label"),
    ("missing-image", app(image=None), "sigsci:apps[0].image", "required for placement owned"),
    ("bad-image", app(image="not an image"), "sigsci:apps[0].image", "container image reference"),
    ("unknown-app-key", app(replica=3), "sigsci:apps[0].replica", "unknown key"),
    ("unknown-top-key", base(**{"sigsci:app": [APP]}), "sigsci:app", "did you mean sigsci:apps"),
    ("unknown-agent-key", base(**{"sigsci:agent": {"verison": "4.70.0"}}), "sigsci:agent.verison", "unknown key"),
    ("patch-without-service", app(placement="patch", image=None, deployment="web"),
     "sigsci:apps[0].service", "required for placement patch"),
    ("patch-without-deployment", app(placement="patch", image=None, service="web"),
     "sigsci:apps[0].deployment", "required for placement patch"),
    ("image-in-patch", app(placement="patch", deployment="web", service="web"),
     "sigsci:apps[0].image", "applies only to placement module or owned"),
    ("service-without-upstream", app(placement="service", image=None),
     "sigsci:apps[0].upstreamService", "required for placement service"),
    ("bad-placement", app(placement="mesh"), "sigsci:apps[0].placement", "'owned', 'patch', 'service' or 'module'"),
    ("no-apps", base(**{"sigsci:apps": None}), "sigsci:apps", "is required"),
    ("apps-not-a-list", base(**{"sigsci:apps": {"name": "web"}}), "sigsci:apps", "must be a list"),
    ("duplicate-app", base(**{"sigsci:apps": [APP, APP]}), "sigsci:apps[1].name", "already used by sigsci:apps[0]"),
    ("no-credentials", {"sigsci:site": "demo", "sigsci:apps": [APP]}, "sigsci:accessKeyId", "existingSecret"),
    ("one-key-only", {"sigsci:site": "demo", "sigsci:accessKeyId": harness.PLANTED_KEY_ID, "sigsci:apps": [APP]},
     "sigsci:secretAccessKey", "set both agent keys"),
    ("keys-and-existing", base(**{"sigsci:existingSecret": "waf-keys"}), "sigsci:existingSecret", "either"),
    ("keys-without-site", base(**{"sigsci:site": None}), "sigsci:site", "sigsci.<site>"),
    ("bad-site", base(**{"sigsci:site": "My Site"}), "sigsci:site", "DNS-1123 subdomain"),
    ("custom-tag-no-policy", base(**{"sigsci:agent": {"version": "testing"}}),
     "sigsci:agent.imagePullPolicy", "Never"),
    ("bad-pull-policy", base(**{"sigsci:agent": {"imagePullPolicy": "Sometimes"}}),
     "sigsci:agent.imagePullPolicy", "'Always', 'IfNotPresent' or 'Never'"),
    ("bad-quantity", base(**{"sigsci:agent": {"resources": {"limits": {"memory": "lots"}}}}),
     "sigsci:agent.resources.limits.memory", "Kubernetes quantity"),
    ("request-over-limit", base(**{"sigsci:agent": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}}),
     "sigsci:agent.resources.requests.cpu", "exceeds limits.cpu"),
    ("relative-mount", base(**{"sigsci:agent": {"tmpMountPath": "sigsci/tmp"}}),
     "sigsci:agent.tmpMountPath", "absolute path"),
    ("env-form-option", base(**{"sigsci:agent": {"options": {"SIGSCI_MAX_PROCS": 2}}}),
     "sigsci:agent.options.SIGSCI_MAX_PROCS", "lower case with dashes"),
    ("owned-option", base(**{"sigsci:agent": {"options": {"revproxy-listener": "x"}}}),
     "sigsci:agent.options.revproxy-listener", "derived from the app's port"),
    ("per-app-agent-override", app(agent={"version": "latest!"}), "sigsci:apps[0].agent.version", "valid image tag"),
    ("probe-port-clash", app(listenerPort=2024, agent={"startupProbe": {"enabled": True}}),
     "sigsci:apps[0].agent.startupProbe.port", "already used by listenerPort"),
    ("app-dies-before-agent", app(preStopSleepSeconds=10), "sigsci:apps[0].preStopSleepSeconds",
     "must outlive the agent's drain"),
    ("grace-too-short", app(terminationGracePeriodSeconds=20), "sigsci:apps[0].terminationGracePeriodSeconds",
     "greater than the longest preStop"),
    ("upstream-is-self", app(placement="service", image=None, upstreamService="web"),
     "sigsci:apps[0].upstreamService", "must differ from name"),
    ("negative-replicas", app(replicas=-1), "sigsci:apps[0].replicas", "greater than or equal to 0"),
    ("string-port", app(port="8080"), "sigsci:apps[0].port",
     "must be a whole number, not text ('8080'): write it without quotes"),
    ("agent-not-object", base(**{"sigsci:agent": ["4.70.0"]}), "sigsci:agent", "must be an object"),
    ("bad-env-name", app(env={"1BAD": "x"}), "sigsci:apps[0].env.1BAD", "environment variable name"),
    ("agent-request-over-default-limit", base(**{"sigsci:agent": {"resources": {"requests": {"memory": "1Gi"}}}}),
     "sigsci:agent.resources.requests.memory", "set resources.limits.memory as well"),
    ("app-limit-under-default-request", app(resources={"limits": {"memory": "64Mi"}}),
     "sigsci:apps[0].resources.limits.memory", "below the default requests.memory"),
    # sigsci:ingress
    ("ingress-not-object", ingress(None, raw=["ingress-nginx"]), "sigsci:ingress", "must be an object"),
    ("unknown-flavour", ingress(flavour="traefik"), "sigsci:ingress.flavour", "nginx-ingress"),
    ("unknown-ingress-key", ingress(flavor="nginx-ingress"), "sigsci:ingress.flavor", "unknown key"),
    ("chart-without-image", ingress(chart={"version": "4.14.0"}), "sigsci:ingress.chart.version",
     "no known Fastly controller image"),
    ("f5-chart-without-image", ingress(flavour="nginx-ingress", chart={"version": "4.15.1"}),
     "sigsci:ingress.chart.version", "sigsci-nginxinc-ingress-controller:5.4.0"),
    ("latest-controller-tag", ingress(controller={"image": {"tag": "latest"}}),
     "sigsci:ingress.controller.image.tag", "semantic version"),
    ("bad-chart-version", ingress(chart={"version": "v4"}), "sigsci:ingress.chart.version", "chart version"),
    ("bad-chart-repo", ingress(chart={"repository": "kubernetes.github.io"}), "sigsci:ingress.chart.repository",
     "is not a chart repository URL"),
    ("extra-values-image", ingress(extraValues={"controller": {"image": {"tag": "v1.15.1"}}}),
     "sigsci:ingress.extraValues.controller.image.tag", "sigsci:ingress.controller.image"),
    ("extra-values-snippet", ingress(extraValues={"controller": {"config": {"http-snippet": "x;"}}}),
     "sigsci:ingress.extraValues.controller.config.http-snippet", "cannot be overridden"),
    ("extra-values-sidecar", ingress(extraValues={"controller": {"extraInitContainers": []}}),
     "sigsci:ingress.extraValues.controller.extraInitContainers", "cannot be overridden"),
    ("extra-values-volumes-f5", ingress(flavour="nginx-ingress", extraValues={"controller": {"volumes": [{}]}}),
     "sigsci:ingress.extraValues.controller.volumes", "cannot be overridden"),
    ("extra-values-replace-config", ingress(extraValues={"controller": {"config": "raw"}}),
     "sigsci:ingress.extraValues.controller.config", "must be a map"),
    ("extra-values-service-type", ingress(extraValues={"controller": {"service": {"type": "NodePort"}}}),
     "sigsci:ingress.extraValues.controller.service.type", "sigsci:ingress.service"),
    ("route-unknown-app", ingress(routes=[{"app": "shop"}]), "sigsci:ingress.routes[0].app",
     "not an app of sigsci:apps (known: web)"),
    ("route-no-backend", ingress(routes=[{"host": "a.example.com"}]), "sigsci:ingress.routes[0].app",
     "or service instead"),
    ("route-both-backends", ingress(routes=[{"app": "web", "service": {"name": "web", "port": 80}}]),
     "sigsci:ingress.routes[0].app", "not both"),
    ("route-bad-host", ingress(routes=[{"app": "web", "host": "https://a.example.com"}]),
     "sigsci:ingress.routes[0].host", "host name"),
    ("route-bad-path", ingress(routes=[{"app": "web", "path": "api"}]), "sigsci:ingress.routes[0].path",
     "is not in the form this key takes (the pattern"),
    ("route-wrong-family-annotation", ingress(flavour="nginx-ingress", routes=[{"app": "web", "annotations": {
        "nginx.ingress.kubernetes.io/rewrite-target": "/"}}]),
     "sigsci:ingress.routes[0].annotations.nginx.ingress.kubernetes.io/rewrite-target", "flavour nginx-ingress ignores it"),
    ("route-bad-annotation", ingress(routes=[{"app": "web", "annotations": {"bad key": "x"}}]),
     "sigsci:ingress.routes[0].annotations", "'bad key' is not a valid annotation key"),
    ("route-duplicate-rule", ingress(routes=[{"app": "web", "name": "a"}, {"app": "web", "name": "b"}]),
     "sigsci:ingress.routes[1].path", "already routed by routes[0]"),
    ("route-tls-without-host", ingress(routes=[{"app": "web", "tlsSecret": "tls"}]),
     "sigsci:ingress.routes[0].tlsSecret", "needs host"),
    ("route-namespace-for-app", ingress(routes=[{"app": "web", "namespace": "other"}]),
     "sigsci:ingress.routes[0].namespace", "is not in namespace other"),
    ("route-without-host-on-f5", ingress(flavour="nginx-ingress", routes=[
        {"app": "web", "host": "web.example.com"}, {"app": "web", "name": "any-host", "path": "/any"}]),
     "sigsci:ingress.routes[1].host", "F5's NGINX Ingress Controller serves only Ingress rules with a host"),
    ("agent-service-without-lifetime", ingress(agentService={"replicas": 3}), "sigsci:ingress.agentService",
     "only to agentLifetime service"),
    ("bad-lifetime", ingress(agentLifetime="sidecar"), "sigsci:ingress.agentLifetime", "nativeSidecar"),
    ("sidecar-prestop", ingress(agent={"preStopSleepSeconds": 10}), "sigsci:ingress.agent.preStopSleepSeconds",
     "derived"),
    ("ingress-agent-override", ingress(agent={"version": "4.70"}), "sigsci:ingress.agent.imagePullPolicy",
     "custom tag"),
    ("traffic-policy-on-cluster-ip", ingress(service={"type": "ClusterIP", "externalTrafficPolicy": "Local"}),
     "sigsci:ingress.service.externalTrafficPolicy", "LoadBalancer or NodePort"),
    ("short-grace", ingress(controller={"terminationGracePeriodSeconds": 5}),
     "sigsci:ingress.controller.terminationGracePeriodSeconds", "greater than or equal to 30"),
    ("long-release-name", ingress(releaseName="a" * 54), "sigsci:ingress.releaseName", "53 characters"),
    ("agent-probe-on-rpc-port", ingress(agentLifetime="service", agentService={"port": 2024},
                                        agent={"startupProbe": {"enabled": True}}),
     "sigsci:ingress.agent.startupProbe.port", "RPC port"),
    ("agent-probe-on-controller-port", ingress(agent={"startupProbe": {"enabled": True, "port": 10254}}),
     "sigsci:ingress.agent.startupProbe.port", "already used by the controller in the same pod (health checks"),
    ("agent-probe-on-f5-status-port", ingress(flavour="nginx-ingress", agentLifetime="classicSidecar",
                                              agent={"startupProbe": {"enabled": True, "port": 8080}}),
     "sigsci:ingress.agent.startupProbe.port", "(the NGINX status)"),
    ("release-name-leading-digit", ingress(releaseName="1st"), "sigsci:ingress.releaseName", "starting with a letter"),
    ("long-release-for-agent-service", ingress(releaseName="a" * 51, agentLifetime="service"),
     "sigsci:ingress.releaseName", "at most 50 characters"),
    ("ingress-path-dot-segment", ingress(routes=[{"service": {"name": "web", "port": 80}, "path": "/a/../b"}]),
     "sigsci:ingress.routes[0].path", "contains '/../'"),
    ("quantity-as-bool", base(**{"sigsci:agent": {"resources": {"limits": {"cpu": True}}}}),
     "sigsci:agent.resources.limits.cpu", "not a Kubernetes quantity"),
    ("option-value-list", base(**{"sigsci:agent": {"options": {"log-out": ["a"]}}}),
     "sigsci:agent.options.log-out", "a string, true/false or a whole number"),
    # Option values are checked by the kind the catalogue gives each option (agent/option_catalogue.py).
    ("max-procs-negative", base(**{"sigsci:agent": {"options": {"max-procs": -5}}}),
     "sigsci:agent.options.max-procs", "-5 is out of range: it takes a whole number of CPUs, 1 or more"),
    ("max-procs-text", base(**{"sigsci:agent": {"options": {"max-procs": "lots"}}}),
     "sigsci:agent.options.max-procs", "'lots' is not a whole number"),
    ("app-option-duration", app(agent={"options": {"cleaner-interval": "10x"}}),
     "sigsci:apps[0].agent.options.cleaner-interval", "a positive duration such as '10s'"),
    ("option-bool-yes", base(**{"sigsci:agent": {"options": {"debug-log-all-the-things": "yes"}}}),
     "sigsci:agent.options.debug-log-all-the-things", "'yes' is not true or false"),
    ("option-level-out-of-set", base(**{"sigsci:agent": {"options": {"debug-log-web-inputs": 3}}}),
     "sigsci:agent.options.debug-log-web-inputs", "one of 0 (off), 1 (on), 2 (more detail)"),
    ("option-relative-path", base(**{"sigsci:agent": {"options": {"waf-data-log": "waf.log"}}}),
     "sigsci:agent.options.waf-data-log", "'waf.log' is not an absolute path"),
    ("option-address-no-port", ingress(agent={"options": {"statsd-address": "statsd.monitoring"}}),
     "sigsci:ingress.agent.options.statsd-address", "has no port (host:port)"),
    ("bad-service-annotation", ingress(service={"annotations": {"-x": "y"}}),
     "sigsci:ingress.service.annotations", "'-x' is not a valid annotation key"),
]


@pytest.mark.parametrize("config,key,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_names_the_key(config, key, fragment):
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == key, str(err.value)
    assert fragment in str(err.value), str(err.value)
    assert str(err.value).startswith(f"{key}: ")


def test_at_least_fifteen_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("config,key,fragment", [c[1:] for c in CASES[:5]], ids=[c[0] for c in CASES[:5]])
def test_nothing_is_declared_before_validation_fails(config, key, fragment):
    from sigsci_waf.program import main

    # What the mocks received, kept when the program raises (a run's own list is never returned then).
    mocks = harness.CaptureMocks()
    with pytest.raises(ConfigError):
        harness.run(main, config, harness.SECRET_KEYS, mocks=mocks)
    assert mocks.resources == []


# -- what pydantic would say, in the product's words ----------------------------------------------------------

@pytest.mark.parametrize("config,key,message", [
    (app(agent=5), "sigsci:apps[0].agent", "must be an object (keys and values), not a number"),
    (base(**{"sigsci:agent": {"options": "x"}}), "sigsci:agent.options", "must be an object (keys and values), not text"),
    (app(healthPath="health"), "sigsci:apps[0].healthPath",
     "'health' is not an HTTP path: it starts with '/' and holds no whitespace or control character, like '/healthz'"),
    (app(port="8080"), "sigsci:apps[0].port", "must be a whole number, not text ('8080'): write it without quotes"),
    (app(replicas=[1]), "sigsci:apps[0].replicas", "must be a whole number, not a list"),
    (app(readOnlyRootFilesystem="yes"), "sigsci:apps[0].readOnlyRootFilesystem",
     "must be true or false, not text ('yes'): write it without quotes"),
    (app(args="run"), "sigsci:apps[0].args", "must be a list, not text"),
    (app(terminationGracePeriodSeconds=99999), "sigsci:apps[0].terminationGracePeriodSeconds",
     "must be less than or equal to 7200"),
])
def test_type_errors_are_the_products_sentences(config, key, message):
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert str(err.value) == f"{key}: {message}"
    assert "Input should" not in str(err.value) and "instance of" not in str(err.value)


# -- tags, versions and free text: ASCII where Kubernetes and Helm read them, no control characters -----------

# Digits and letters outside ASCII that Python's and pydantic's \d and \w would take.
NON_ASCII = ["\u0664.\u0667\u0660.\u0660", "4.70.0\u00e9", "4.7\uff10.0"]
VERSIONED_KEYS = [
    ("sigsci:agent.version", lambda v: base(**{"sigsci:agent": {"version": v}})),
    ("sigsci:apps[0].image", lambda v: app(image=f"nginxinc/nginx-unprivileged:{v}")),
    ("sigsci:ingress.controller.image.tag", lambda v: ingress(flavour="nginx-ingress",
                                                              controller={"image": {"tag": v}})),
    ("sigsci:ingress.controller.image.tag", lambda v: ingress(controller={"image": {"tag": v}})),
    ("sigsci:ingress.chart.version", lambda v: ingress(chart={"version": v})),
    ("sigsci:gateway.envoyGateway.version", lambda v: base(**{"sigsci:gateway": {"envoyGateway": {"version": f"v{v}"}}})),
    ("sigsci:verify.image", lambda v: base(**{"sigsci:verify": {"echo": True, "image": f"mendhak/http-https-echo:{v}"}})),
]


def test_a_port_in_other_digits_is_not_a_port():
    with pytest.raises(ConfigError) as err:
        harness.run_config(app(port="\u0668\u0660\u0668\u0660"))
    assert err.value.key == "sigsci:apps[0].port"


CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85"]
FREE_TEXT_KEYS = [
    ("sigsci:agent.options.server-hostname", lambda c: base(**{"sigsci:agent": {"options": {"server-hostname": f"a{c}b"}}})),
    ("sigsci:agent.unlistedOptions.some-option", lambda c: base(**{"sigsci:agent": {"unlistedOptions": {"some-option": c}}})),
    ("sigsci:apps[0].env.TOKEN", lambda c: app(env={"TOKEN": f"x{c}"})),
    ("sigsci:apps[0].args[1]", lambda c: app(args=["--ok", f"{c}x"])),
    ("sigsci:apps[0].command[0]", lambda c: app(command=[f"/bin/app{c}"])),
    ("sigsci:apps[0].healthPath", lambda c: app(healthPath=f"/h{c}")),
    ("sigsci:ingress.service.annotations.example.com/note", lambda c: ingress(service={"annotations": {"example.com/note": c}})),
]


# Tags and versions are ASCII (any sentence); free text refuses control characters (and says so).
REFUSED = [(key, build, value, "") for key, build in VERSIONED_KEYS for value in NON_ASCII] + \
    [(key, build, char, "control character") for key, build in FREE_TEXT_KEYS for char in CONTROL]


@pytest.mark.parametrize("key,build,value,fragment", REFUSED, ids=[f"{k}-{v!r}" for k, _, v, _ in REFUSED])
def test_refused_text_names_the_key(key, build, value, fragment):
    with pytest.raises(ConfigError) as err:
        harness.run_config(build(value))
    assert err.value.key == key, str(err.value)
    assert fragment in err.value.problem and str(err.value).isprintable()


def test_free_text_keeps_tabs_and_line_breaks():
    run = harness.run_config(app(env={"PEM": "-----BEGIN-----\r\nAAA\n\t-----END-----"}, args=["sh", "-c", "a\nb"]))
    assert run.resources


def test_a_command_starts_with_a_program():
    with pytest.raises(ConfigError) as err:
        harness.run_config(app(command=[""]))
    assert err.value.key == "sigsci:apps[0].command" and "empty executable" in err.value.problem


@pytest.mark.parametrize("key", ["sigsci:accessKeyId", "sigsci:secretAccessKey"])
@pytest.mark.parametrize("value,problem", [("abc\n", "line break before or after it"), (" abc", "whitespace"),
                                           ("\x00", "control character"), ("ab\x1bcd", "control character")])
def test_agent_keys_are_the_key_alone(key, value, problem):
    with pytest.raises(ConfigError) as err:
        harness.run_config({**base(), key: value})
    assert err.value.key == key and problem in err.value.problem
    assert value.strip() not in str(err.value) or not value.strip()


@pytest.mark.parametrize("entry", ["sigsci:ingress", "sigsci:gateway"])
def test_a_prefix_route_with_and_without_its_trailing_slash_is_one_route(entry):
    routes = [{"host": "a.example.com", "app": "web", "path": "/a"},
              {"host": "a.example.com", "app": "web", "path": "/a/", "name": "again"}]
    with pytest.raises(ConfigError) as err:
        harness.run_config(base(**{entry: {"routes": routes}}))
    assert err.value.key == f"{entry}.routes[1].path" and "is already routed by" in err.value.problem


# -- what only the cluster shows is refused before anything is declared ----------------------------------------

def _declared(mocks: harness.CaptureMocks) -> list[str]:
    """What was registered to be created: not a read of a live object, not a component (which creates nothing)."""
    return [f"{r.type} {r.name}" for r in mocks.resources if not r.read and r.type.startswith(("kubernetes:", "random:"))]


def test_a_module_app_without_its_container_is_refused_before_any_resource():
    mocks = harness.CaptureMocks()
    mocks.live["shop/legacy"] = harness.existing_deployment("other")
    legacy = {"name": "legacy", "placement": "module", "deployment": "legacy", "port": 8080, "namespace": "shop"}
    with pytest.raises(ConfigError) as err:
        harness.run_config(base(**{"sigsci:apps": [APP, legacy]}), mocks=mocks)
    assert err.value.key == "sigsci:apps[1].name" and "has no container 'legacy'" in err.value.problem
    assert _declared(mocks) == []


def test_injection_on_a_cluster_without_the_api_is_refused_before_any_resource():
    mocks = harness.CaptureMocks()
    mocks.cluster = harness.CLUSTER_1_35
    with pytest.raises(ConfigError) as err:
        harness.run_config(base(**{"sigsci:injection": {"namespaces": ["shop"]}}), mocks=mocks)
    assert err.value.key == "sigsci:injection"
    assert _declared(mocks) == []
