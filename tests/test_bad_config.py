"""Bad input stops the preview with one sentence that names the key and says what is allowed."""

import pytest

import harness
from sigsci_waf.errors import ConfigError

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}


def base(**overrides):
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [APP]}
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


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
     "sigsci:apps[0].image", "applies only to placement owned"),
    ("service-without-upstream", app(placement="service", image=None),
     "sigsci:apps[0].upstreamService", "required for placement service"),
    ("bad-placement", app(placement="mesh"), "sigsci:apps[0].placement", "'owned', 'patch' or 'service'"),
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
    mocks_seen = []
    from sigsci_waf.program import main

    with pytest.raises(ConfigError):
        run = harness.run(main, config, harness.SECRET_KEYS)
        mocks_seen = run.resources
    assert mocks_seen == []
