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
    ("string-port", app(port="8080"), "sigsci:apps[0].port", "valid integer"),
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
     "should match pattern"),
    ("extra-values-image", ingress(extraValues={"controller": {"image": {"tag": "v1.15.1"}}}),
     "sigsci:ingress.extraValues.controller.image.tag", "sigsci:ingress.controller.image"),
    ("extra-values-snippet", ingress(extraValues={"controller": {"config": {"http-snippet": "x;"}}}),
     "sigsci:ingress.extraValues.controller.config.http-snippet", "cannot be overridden"),
    ("extra-values-sidecar", ingress(extraValues={"controller": {"extraInitContainers": []}}),
     "sigsci:ingress.extraValues.controller.extraInitContainers", "cannot be overridden"),
    ("extra-values-volumes-f5", ingress(flavour="nginx-ingress", extraValues={"controller": {"volumes": [{}]}}),
     "sigsci:ingress.extraValues.controller.volumes", "cannot be overridden"),
    ("extra-values-replace-config", ingress(extraValues={"controller": {"config": "raw"}}),
     "sigsci:ingress.extraValues.controller.config", "cannot be overridden"),
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
     "should match pattern"),
    ("route-wrong-family-annotation", ingress(flavour="nginx-ingress", routes=[{"app": "web", "annotations": {
        "nginx.ingress.kubernetes.io/rewrite-target": "/"}}]), "sigsci:ingress.routes[0].annotations",
     "flavour nginx-ingress ignores it"),
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
