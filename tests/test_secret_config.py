"""Values set with `pulumi config set --secret` stay secret: in every input, output and Helm value that carries
them, and in no error message or warning."""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import harness
from harness import SECRET_MARKER, clean
from invariants import plain_text
from sigsci_waf.config.errors import ConfigError

TOKEN = "PLANTEDtok3nVALUE"  # an env value, an option value, an annotation value...
OPTION = "PLANTEDopt1onVALUE"
ANNOTATION = "PLANTEDannotVALUE"
EXTRA = "PLANTEDextraVALUE"
SITE = "planted-site-name"
PLANTED = (TOKEN, OPTION, ANNOTATION, EXTRA, SITE)

APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080,
       "env": {"API_TOKEN": TOKEN}, "agent": {"options": {"server-hostname": OPTION}}}
PATCHED = {"name": "legacy", "placement": "patch", "takeOver": ["service.targetPort"], "deployment": "legacy", "service": "legacy", "port": 8080,
           "agent": {"options": {"client-ip-header": OPTION}}}
INGRESS = {"service": {"annotations": {"service.beta.kubernetes.io/aws-load-balancer-name": ANNOTATION}},
           "routes": [{"host": "shop.example.com", "app": "web",
                       "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": ANNOTATION}}],
           "extraValues": {"controller": {"podLabels": {"team": EXTRA}}}}


def _config(**extra):
    return {"sigsci:site": SITE, **harness.KEY_CONFIG, "sigsci:apps": [APP, PATCHED], "sigsci:ingress": INGRESS,
            "sigsci:agent": {"options": {"upload-interval": OPTION}}, **extra}


def _run(config, secret):
    from sigsci_waf.program import main
    return harness.run(main, config, secret_keys=[*harness.SECRET_KEYS, *secret])


ALL_SECRET = ["sigsci:site", "sigsci:apps", "sigsci:ingress", "sigsci:agent"]


def test_every_planted_value_reaches_the_cluster_only_as_a_secret():
    run = _run(_config(), ALL_SECRET)
    reached = set()
    for resource in run.resources:
        inputs = clean(resource.inputs)
        assert plain_text(inputs, PLANTED) == [], f"{resource.type} {resource.name}"
        reached |= {w for w in PLANTED if w in json.dumps(harness.unwrap_secrets(inputs))}
    # The check is not vacuous: every planted value does reach some resource (wrapped).
    assert reached == set(PLANTED)
    shown = {k: v for k, v in clean(run.outputs).items() if k not in run.secret_outputs}
    assert plain_text(shown, PLANTED) == [] and "secretName" in run.secret_outputs
    assert not any(w in "".join(run.warnings) for w in PLANTED)


@pytest.mark.parametrize("key, words", [
    ("sigsci:apps", (TOKEN,)), ("sigsci:agent", (OPTION,)), ("sigsci:ingress", (ANNOTATION, EXTRA)),
    ("sigsci:site", (SITE,)),
])
def test_each_secret_key_alone_keeps_its_values_secret(key, words):
    run = _run(_config(), [key])
    for resource in run.resources:
        assert plain_text(clean(resource.inputs), words) == [], f"{key}: {resource.type} {resource.name}"
    shown = {k: v for k, v in clean(run.outputs).items() if k not in run.secret_outputs}
    assert plain_text(shown, words) == []


def test_without_secret_config_the_same_values_stay_readable():
    """Secrecy follows the config: plain config gives plain values, so the preview diff stays useful."""
    run = _run(_config(), [])
    deployment = clean(run.named("web.default-deployment").inputs)
    env = harness.env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["API_TOKEN"] == TOKEN


def test_secret_site_names_the_secret_as_a_secret():
    run = _run(_config(), ["sigsci:site"])
    secret = clean(run.named("sigsci.default").inputs)
    # The engine keeps secrecy per top-level property: all of metadata is secret.
    assert secret["metadata"][SECRET_MARKER]["name"] == f"sigsci.{SITE}"
    assert run.outputs["secretName"] == f"sigsci.{SITE}" and run.secret_outputs == {"secretName"}


def test_unlisted_option_names_from_secret_config_are_not_logged():
    app = {**APP, "agent": {"unlistedOptions": {"planted-secret-option": "1"}}}
    run = _run(_config(**{"sigsci:apps": [app]}), ["sigsci:apps"])
    assert run.warnings and not any("planted-secret-option" in w for w in run.warnings)
    run = _run(_config(**{"sigsci:apps": [app]}), [])
    assert any("planted-secret-option" in w for w in run.warnings)


# -- errors never echo secret config --------------------------------------------------------------------------

BAD_VALUES = [
    ("sigsci:apps", lambda v: [{**APP, "name": v}]),
    ("sigsci:apps", lambda v: [{**APP, "image": f"{v} bad"}]),
    ("sigsci:apps", lambda v: [{**APP, "env": {f"{v} x": "1"}}]),
    ("sigsci:apps", lambda v: [{**APP, "namespace": v.upper()}]),
    ("sigsci:apps", lambda v: [{**APP, "agent": {"options": {v.lower(): "1"}}}]),
    ("sigsci:apps", lambda v: [{**APP, "placement": v}]),
    ("sigsci:apps", lambda v: [{**APP, v: 1}]),
    ("sigsci:agent", lambda v: {"version": f"{v}!"}),
    ("sigsci:agent", lambda v: {"options": {"max-procs": [v]}}),
    ("sigsci:agent", lambda v: {"tmpMountPath": f"/{v}/"}),
    ("sigsci:ingress", lambda v: {**INGRESS, "routes": [{"host": f"{v}.Example", "app": "web"}]}),
    ("sigsci:ingress", lambda v: {**INGRESS, "routes": [{"host": "a.example.com", "app": v.lower()}]}),
    ("sigsci:ingress", lambda v: {**INGRESS, "releaseName": v}),
    ("sigsci:ingress", lambda v: {**INGRESS, "routes": [{"app": "web", "annotations": {f"{v}/x/y": "1"}}]}),
    ("sigsci:site", lambda v: f"{v}_"),
]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(BAD_VALUES),
       value=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.",
                     min_size=6, max_size=24).map(lambda s: f"Zq{s}"))
def test_errors_about_secret_config_repeat_no_value_or_key_of_it(case, value):
    key, build = case
    config = _config(**{key: build(value)})
    with pytest.raises(ConfigError) as err:
        _run(config, [key])
    message = str(err.value)
    assert message.startswith("sigsci:"), message
    words = {value, value.lower(), value.upper(), f"{value}_", f"{value}!"}
    assert not any(word in message for word in words), message
    # The same mistake in plain config is still reported with its value, so the check above is not vacuous.
    with pytest.raises(ConfigError) as plain:
        _run(config, [])
    assert err.value.key.split("[")[0].split(".")[0] == plain.value.key.split("[")[0].split(".")[0]


# -- long secret values: scrubbed before a long value or message is cut -----------------------------------------

def _long_secret(size: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789") for _ in range(size))


LONG_PLACES = [
    ("sigsci:agent", lambda v: {"options": {"anonymous-ip-secret-key": [v]}}),
    ("sigsci:agent", lambda v: {"options": {"max-procs": v}}),
    ("sigsci:apps", lambda v: [{**APP, "env": {"API_TOKEN": {"value": v}}}]),
    ("sigsci:apps", lambda v: [{**APP, "args": [v, {"k": v}]}]),
    ("sigsci:apps", lambda v: [{**APP, "healthPath": f"{v} x"}]),
    ("sigsci:ingress", lambda v: {**INGRESS, "agentLifetime": "classicSidecar", "extraValues": {"controller": {
        "extraInitContainers": [{"name": "v", "image": "busybox", "command": {"k": v}}]}}}),
]


@pytest.mark.parametrize("size", [61, 96, 400, 1200, 3000])
@pytest.mark.parametrize("key,build", LONG_PLACES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(LONG_PLACES)])
def test_no_fragment_of_a_long_secret_survives_a_cut(key, build, size):
    value = _long_secret(size, size)
    with pytest.raises(ConfigError) as err:
        _run(_config(**{key: build(value)}), [key])
    message = str(err.value)
    assert message.startswith("sigsci:") and len(message) < 1200, message
    fragments = {value[i:i + 8] for i in range(len(value) - 7)}
    assert not any(fragment in message for fragment in fragments), message
    assert f"({size} characters)" not in message


# -- scrubbing keeps the sentence readable, and still hides what is echoed --------------------------------------

@pytest.mark.parametrize("config,secret,expected", [
    ({"sigsci:accessKeyId": " "}, [], "sigsci:accessKeyId: is empty: the agent does not start without both keys"),
    ({"sigsci:apps": [{**APP, "env": {"X": "to"}, "terminationGracePeriodSeconds": 99999}]}, ["sigsci:apps"],
     "sigsci:apps[0].terminationGracePeriodSeconds: must be less than or equal to 7200"),
    ({"sigsci:ingress": {**INGRESS, "extraValues": {"controller": {"extraInitContainers": []}}}}, ["sigsci:ingress"],
     "sigsci:ingress.extraValues.controller.extraInitContainers: it belongs to the WAF wiring"),
    ({"sigsci:agent": {"options": {"max-procs": "agent"}}}, ["sigsci:agent"],
     "sigsci:agent.options.max-procs: '[secret]' is not a whole number"),
    ({"sigsci:apps": [{**APP, "env": {"name": "v"}, "healthPath": "x"}]}, ["sigsci:apps"],
     "sigsci:apps[0].healthPath: '[secret]' is not an HTTP path"),
])
def test_scrubbing_spares_the_products_own_words(config, secret, expected):
    with pytest.raises(ConfigError) as err:
        _run(_config(**config), secret)
    assert str(err.value).startswith(expected), str(err.value)


def test_a_secret_existing_secret_name_stays_secret():
    config = {k: v for k, v in _config().items() if k not in harness.KEY_CONFIG}
    name = "planted-existing-secret"
    run = harness.run_config({**config, "sigsci:existingSecret": name}, secret_keys=["sigsci:existingSecret"])
    for resource in run.resources:
        assert plain_text(clean(resource.inputs), (name,)) == [], f"{resource.type} {resource.name}"
    assert run.outputs["secretName"] == name and "secretName" in run.secret_outputs
    assert not any(name in w for w in run.warnings)
    reached = [r for r in run.resources if name in json.dumps(harness.unwrap_secrets(clean(r.inputs)))]
    assert reached  # the name does reach the pods, as a secret
