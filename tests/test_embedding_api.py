"""The components as a Pulumi user embeds them: other resources' outputs as inputs, Python's spelling of keys,
and one line naming the argument for each misuse a new user makes."""

from __future__ import annotations

import pulumi
import pytest

import harness
from sigsci_waf import ConfigError, SigsciIngressController, SigsciRevProxyApp, SigsciSecret
from sigsci_waf.resolve.deferred import STAND_INS

KEYS = {"site": "demo", "access_key_id": "id", "secret_access_key": "key"}


def _later(value):
    """An output as another resource gives it: its value reached only through the engine."""
    return pulumi.Output.from_input(value).apply(lambda v: v)


def _app(namespaces=("web",), **app):
    def program():
        keys = SigsciSecret("keys", {"namespaces": list(namespaces), **KEYS})
        SigsciRevProxyApp("web", {"secret_name": keys.secret_name, "credentials_hash": keys.credentials_hash,
                                  "port": 8080, **app})
    return program


def _values(run) -> str:
    return repr([harness.unwrap_secrets(harness.clean(r.inputs)) for r in run.resources])


@pytest.mark.parametrize("tag, policy", [("1.4.2", "IfNotPresent"), ("latest", "Always")])
def test_an_image_from_another_resource_is_taken_and_its_pull_policy_follows_it(tag, policy):
    run = harness.run(_app(namespace="web", image=_later(f"registry.example/web:{tag}")))
    container = harness.clean(run.named("web-deployment").inputs)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.example/web:{tag}"
    assert container["imagePullPolicy"] == policy
    assert not any(stand_in in _values(run) for stand_in in STAND_INS.values())


@pytest.mark.parametrize("placement, extra", [
    ("owned", {"image": "example/web:1.4.2"}),
    ("service", {"upstream_service": "web-app"}),
    ("patch", {"deployment": "web", "service": "web", "take_over": ["service.targetPort"]}),
])
def test_a_namespace_from_another_resource_reaches_every_object_and_string_made_from_it(placement, extra):
    run = harness.run(_app(namespace=_later("web"), placement=placement, **extra))
    objects = [harness.clean(r.inputs) for r in run.resources if r.is_object and r.type != "kubernetes:core/v1:Secret"]
    assert objects and all(o["metadata"]["namespace"] == "web" for o in objects)
    assert not any(stand_in in _values(run) for stand_in in STAND_INS.values())
    if placement == "service":
        env = harness.env_of(harness.clean(run.named("web-deployment").inputs)["spec"]["template"]["spec"]
                             ["containers"][0])
        assert "upstreams=http://web-app.web.svc:8080" in env["SIGSCI_REVPROXY_LISTENER"]
    if placement == "patch":
        live = next(r for r in run.resources if r.read)
        assert live.name == "web-service-live"


def test_the_controller_namespace_from_another_resource_reaches_the_release_and_the_module():
    def program():
        keys = SigsciSecret("keys", {"namespaces": ["edge"], **KEYS})
        SigsciIngressController("edge", {"secret_name": keys.secret_name, "namespace": _later("edge"),
                                         "agent_lifetime": "service"})
    run = harness.run(program)
    release = harness.unwrap_secrets(harness.clean(run.of_type(harness.RELEASE_TYPE)[0].inputs))
    assert release["namespace"] == "edge"
    assert release["values"]["controller"]["config"]["http-snippet"] == \
        "sigsci_agent_host sigsci-ingress-nginx-sigsci-agent.edge.svc:9999;"
    assert not any(stand_in in _values(run) for stand_in in STAND_INS.values())


@pytest.mark.parametrize("args, key, words", [
    ({"namespace": "Web", "image": "example/web:1"}, "namespace", "DNS-1123 label"),
    ({"namespace": "shop", "image": "example/web:1"}, "secret_name", "only in web"),
    ({"namespace": "web", "image": "Not An Image"}, "image", "container image reference"),
    ({"namespace": None, "image": "example/web:1"}, "namespace", "must be set"),
])
def test_outputs_are_checked_when_known_naming_the_key(args, key, words):
    deferred = {k: _later(v) for k, v in args.items()}
    with pytest.raises(ConfigError) as err:
        harness.run(_app(**deferred))
    assert err.value.key == f"SigsciRevProxyApp 'web'.{key}" and words in err.value.problem
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("args, key, words", [
    # Python args are snake_case; camelCase is the stack config's spelling, at any depth.
    ({"listenerPort": 9000}, "listenerPort", "did you mean listener_port?"),
    ({"secretName": "x"}, "secretName", "did you mean secret_name?"),
    ({"agent": {"startupProbe": {"enabled": True}}}, "agent.startupProbe", "did you mean startup_probe?"),
    # Misspelt keys get a suggestion at any depth.
    ({"agent": {"startup_probe": {"enabeld": True}}}, "agent.startup_probe.enabeld", "did you mean enabled?"),
    ({"listner_port": 9000}, "listner_port", "did you mean listener_port?"),
])
def test_keys_are_spelled_as_python_args_with_a_suggestion(args, key, words):
    with pytest.raises(ConfigError) as err:
        harness.run(_app(namespace="web", image="example/web:1", **args))
    assert err.value.key == f"SigsciRevProxyApp 'web'.{key}" and words in err.value.problem


def test_stack_config_keys_get_a_suggestion_at_any_depth():
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG,
              "sigsci:apps": [{"name": "web", "image": "example/web:1", "port": 8080,
                               "agent": {"startupProbe": {"enabeld": True}}}]}
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == "sigsci:apps[0].agent.startupProbe.enabeld"
    assert "did you mean enabled?" in err.value.problem


def test_a_secret_name_given_twice_in_two_spellings_names_the_wrong_one():
    with pytest.raises(ConfigError) as err:
        harness.run(_app(namespace="web", image="example/web:1", secretName="sigsci.demo"))
    assert err.value.key == "SigsciRevProxyApp 'web'.secretName"


def test_one_app_instead_of_a_list_and_apps_in_the_args_are_named():
    def one_app():
        keys = SigsciSecret("keys", {"namespaces": ["web", "sigsci-ingress"], **KEYS})
        web = SigsciRevProxyApp("web", {"secret_name": keys.secret_name, "namespace": "web",
                                        "image": "example/web:1", "port": 8080})
        SigsciIngressController("edge", {"secret_name": keys.secret_name}, apps=web)

    with pytest.raises(ConfigError) as err:
        harness.run(one_app)
    assert err.value.key == "SigsciIngressController 'edge'.apps" and "a list" in err.value.problem

    def in_args():
        SigsciIngressController("edge", {"secret_name": "sigsci.demo", "apps": []})

    with pytest.raises(ConfigError) as err:
        harness.run(in_args)
    assert err.value.key == "SigsciIngressController 'edge'.apps" and "keyword argument" in err.value.problem


def test_an_output_in_chart_values_is_refused_since_the_guards_could_not_read_it():
    """A value known only during the update would pass the chart guards unread: refused, naming its key."""
    import pulumi

    from sigsci_waf import ConfigError, SigsciIngressController

    with pytest.raises(ConfigError) as err:
        harness.run(lambda: SigsciIngressController("edge", {"secret_name": "s", "extra_values": {
            "controller": {"config": pulumi.Output.from_input({"main-snippet": "x"})}}}))
    assert err.value.key == "SigsciIngressController 'edge'.extra_values.controller.config"
    assert "plain value (only namespace may be)" in err.value.problem
