"""Secret config is secret wherever it flows, found from the builders' own data path (resolve/secret_flow.py):
generated secret values in every free-text field of every shape reach the engine only as secrets, a builder
that starts using one somewhere new is covered without a list to update, and what cannot be kept secret is
refused, naming the key."""

import json
import string
import typing
from types import UnionType

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import harness
from harness import clean
from invariants import plain_text
from sigsci_waf.config.app import AppSpec
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.config.gateway import GatewaySpec
from sigsci_waf.config.ingress import IngressSpec
from sigsci_waf.config.injection import InjectionSpec
from sigsci_waf.config.model import Model
from sigsci_waf.config.sensitive import STRUCTURE, Sensitive, SensitiveList, SensitiveMap
from sigsci_waf.resolve.secret_flow import ShapesObjects, canary_text, marked, traced

ALL_KEYS = ["sigsci:apps", "sigsci:agent", "sigsci:ingress", "sigsci:gateway", "sigsci:injection"]


# -- the mechanism --------------------------------------------------------------------------------------------------

@given(st.text())
def test_a_canary_keeps_length_and_character_classes_and_never_equals_the_text(text):
    canary = canary_text(text)
    assert canary != text
    if any(c.isascii() and c.isalnum() for c in text):
        assert len(canary) == len(text)
        for a, b in zip(text, canary):
            for kind in (str.islower, str.isupper, str.isdigit):
                assert kind(a) == kind(b) or not a.isascii()
    else:
        assert canary.startswith(text) and len(canary) == len(text) + 1


def test_what_is_the_same_in_both_builds_is_passed_on_untouched():
    shared = {"b": [1, "x"]}
    real = {"kind": "K", "apiVersion": "v1", "spec": {"same": shared, "text": "plain"}}
    twin = {"kind": "K", "apiVersion": "v1", "spec": {"same": shared, "text": "plain"}}
    assert marked(real, twin) is real
    assert marked(real, twin)["spec"]["same"] is shared


def test_text_that_differs_is_sensitive_and_a_number_that_differs_marks_its_map():
    real = {"apiVersion": "v1", "kind": "K", "spec": {"env": [{"name": "A", "value": "tok"}], "n": {"x": 1, "y": 2}}}
    twin = {"apiVersion": "v1", "kind": "K", "spec": {"env": [{"name": "A", "value": "gbx"}], "n": {"x": 1, "y": 3}}}
    out = marked(real, twin)
    value = out["spec"]["env"][0]["value"]
    assert isinstance(value, Sensitive) and value == "tok"
    assert type(out["spec"]["env"][0]["name"]) is str
    assert isinstance(out["spec"]["n"], SensitiveMap) and out["spec"]["n"] == {"x": 1, "y": 2}
    # The input is not changed: only the path to a marked value is copied.
    assert type(real["spec"]["env"][0]["value"]) is str


def test_a_shape_a_secret_decides_is_marked_whole():
    real = {"apiVersion": "v1", "kind": "K", "spec": {"args": ["a", "b"], "labels": {"a": "1"}}}
    twin = {"apiVersion": "v1", "kind": "K", "spec": {"args": ["a"], "labels": {"b": "1"}}}
    out = marked(real, twin)
    assert isinstance(out["spec"]["args"], SensitiveList) and isinstance(out["spec"]["labels"], SensitiveMap)


def test_a_secret_that_decides_which_objects_exist_is_refused_naming_the_key():
    def build(value):
        return [{"apiVersion": "v1", "kind": "ConfigMap"}] * (1 if value.startswith("a") else 2)

    with pytest.raises(ShapesObjects):
        marked(build("abc"), build("nop"))

    class Entry(Model):
        text: str

    with pytest.raises(ConfigError) as error:
        traced(lambda entry: build(entry.text), Entry(text="abc"), True, "sigsci:apps[0]")
    assert error.value.key == "sigsci:apps[0]" and "abc" not in str(error.value)
    assert traced(lambda entry: build(entry.text), Entry(text="abc"), False, "sigsci:apps[0]") == build("abc")


# -- every free-text field of every shape, end to end ---------------------------------------------------------------

def free_text_fields(model: type[Model], path: str = "") -> set[str]:
    """The config fields whose values are free text (their type not marked STRUCTURE), as dotted camelCase paths
    (`[]` for list items, `{}` for map values)."""
    from pydantic.alias_generators import to_camel

    found: set[str] = set()

    def walk(annotation, where):
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            base, *extra = typing.get_args(annotation)
            if STRUCTURE not in extra:
                walk(base, where)
        elif origin in (typing.Union, UnionType):
            for option in typing.get_args(annotation):
                walk(option, where)
        elif origin in (list, tuple):
            walk(typing.get_args(annotation)[0], where + "[]")
        elif origin is dict:
            walk(typing.get_args(annotation)[1], where + "{}")
        elif isinstance(annotation, type) and issubclass(annotation, Model):
            if where.count(".") < 4:
                found.update(free_text_fields(annotation, where))
        elif annotation in (str, typing.Any):
            found.add(where)

    for name, info in model.model_fields.items():
        if STRUCTURE not in info.metadata:
            walk(info.annotation, f"{path}.{to_camel(name)}")
    return found


# Text an agent option of kind Text, an env value, an argument or an annotation may hold ('$' left out: the
# agent's env escapes it, so the planted text would not be found as written).
_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_./:,;=+@%#!?'\"", min_size=1, max_size=12)


@st.composite
def planted(draw) -> list[str]:
    """Distinct secret values, each recognisable wherever it goes."""
    return [f"PLANTED{i}z{draw(_TEXT)}" for i in range(30)]


def _config(words: list[str]) -> dict:
    w = iter(words)
    agent = lambda: {"options": {"server-hostname": next(w)}, "unlistedOptions": {"planted-opt": next(w)}}  # noqa: E731
    apps = [
        {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080, "env": {"TOKEN": next(w)},
         "args": ["--token", next(w)], "command": ["/bin/app", next(w)], "healthPath": "/h" + next(w)
         .replace(" ", "").replace('"', "").replace("'", "").replace("#", "").replace("?", "").replace("%", ""),
         "agent": agent()},
        {"name": "legacy", "placement": "patch", "deployment": "legacy", "service": "legacy", "port": 8080,
         "servicePort": 80, "takeOver": ["service.targetPort"], "agent": agent()},
        {"name": "edge", "placement": "service", "upstreamService": "edge-app", "port": 8080, "agent": agent()},
        {"name": "search", "placement": "module", "image": "example/search:1.0", "port": 8080,
         "env": {"SEARCH_KEY": next(w)}, "agent": agent()},
        {"name": "reviews", "namespace": "shop", "placement": "module", "deployment": "reviews", "port": 8080,
         "agent": agent()},
    ]
    return {
        "sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": apps,
        "sigsci:agent": {"options": {"client-ip-header": next(w)}},
        "sigsci:ingress": {"service": {"annotations": {"example.com/lb": next(w)}},
                           "routes": [{"host": "shop.example.com", "app": "web",
                                       "annotations": {"example.com/route": next(w)}}],
                           "extraValues": {"controller": {"podAnnotations": {"example.com/x": next(w)}}},
                           "agent": {"options": {"server-hostname": next(w)}}},
        "sigsci:gateway": {"routes": [{"app": "web", "host": "gw.example.com"}],
                           "agent": {"options": {"server-hostname": next(w)}}},
        "sigsci:injection": {"namespaces": ["reviews"], "agent": {"options": {"server-hostname": next(w)}}},
    }


# Where each shape's free text is set above: the test fails when a model gains a free-text field this config does
# not fill, so a new field is tried here the day it is added.
COVERED = {
    AppSpec: {".args[]", ".command[]", ".env{}", ".healthPath", ".agent.options{}", ".agent.unlistedOptions{}"},
    IngressSpec: {".service.annotations{}", ".routes[].annotations{}", ".extraValues{}", ".agent.options{}",
                  ".agent.unlistedOptions{}"},
    GatewaySpec: {".agent.options{}", ".agent.unlistedOptions{}"},
    InjectionSpec: {".agent.options{}", ".agent.unlistedOptions{}"},
}


@pytest.mark.parametrize("model", list(COVERED), ids=lambda m: m.__name__)
def test_the_planted_config_fills_every_free_text_field(model):
    assert free_text_fields(model) == COVERED[model]


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(planted())
def test_generated_secret_values_in_every_field_of_every_shape_reach_the_engine_only_as_secrets(words):
    config = _config(words)
    used = [w for w in words if w in json.dumps(config)]
    run = harness.run_config(config, secret_keys=[*harness.SECRET_KEYS, *ALL_KEYS])
    reached = set()
    for resource in run.resources:
        inputs = clean(resource.inputs)
        assert plain_text(inputs, used) == [], f"{resource.type} {resource.name}"
        reached |= {w for w in used if w in json.dumps(harness.unwrap_secrets(inputs))}
    assert reached == set(used), set(used) - reached  # not vacuous: each value reaches some resource
    shown = {k: v for k, v in clean(run.outputs).items() if k not in run.secret_outputs}
    assert plain_text(shown, used) == []
    assert not any(w in warning for w in used for warning in run.warnings)


def test_without_secret_config_the_same_values_are_plain():
    """The twin is built only for secret config: plain config keeps a readable preview diff."""
    words = [f"PLAIN{i}value" for i in range(30)]
    run = harness.run_config(_config(words))
    deployment = clean(run.named("web.default-deployment").inputs)
    container = deployment["spec"]["template"]["spec"]["containers"]
    assert any(words[1] in arg for c in container for arg in c.get("args") or [])


def test_a_builder_that_puts_a_secret_somewhere_new_is_covered_without_a_list(monkeypatch):
    """A field added later: the app's first argument copied into an annotation by a builder. Nothing lists it,
    and it is secret all the same."""
    from sigsci_waf.apps import build

    original = build.BUILDERS[build.Placement.OWNED]

    def with_new_field(app, secret_name, token):
        manifests = original(app, secret_name, token)
        deployment = next(o for o in manifests.owned if o["kind"] == "Deployment")
        deployment["metadata"].setdefault("annotations", {})["example.com/first-arg"] = f"arg={app.spec.args[-1]}!"
        return manifests

    monkeypatch.setitem(build.BUILDERS, build.Placement.OWNED, with_new_field)
    app = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080, "args": ["--t", "PLANTEDnew"]}
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [app]}
    run = harness.run_config(config, secret_keys=[*harness.SECRET_KEYS, "sigsci:apps"])
    deployment = clean(run.named("web.default-deployment").inputs)
    assert plain_text(deployment, ["PLANTEDnew"]) == []
    assert "arg=PLANTEDnew!" in json.dumps(harness.unwrap_secrets(deployment))
    plain = clean(harness.run_config(config).named("web.default-deployment").inputs)
    assert plain["metadata"]["annotations"]["example.com/first-arg"] == "arg=PLANTEDnew!"


def test_structure_from_secret_config_stays_plain():
    """Names, ports and hosts name and route things (resources are named by them): they stay readable, and so do
    the objects that hold nothing else."""
    words = [f"PLANTED{i}value" for i in range(30)]
    run = harness.run_config(_config(words), secret_keys=[*harness.SECRET_KEYS, *ALL_KEYS])
    assert clean(run.named("web.default-deployment").inputs)["metadata"]["name"] == "web"
    service = clean(run.named("web.default-service").inputs)
    assert [p["port"] for p in service["spec"]["ports"]] == [8080]
    route = next(r for r in run.resources if r.type.endswith("Ingress"))
    assert clean(route.inputs)["spec"]["rules"][0]["host"] == "shop.example.com"


def test_values_filled_in_during_the_update_keep_their_secrecy():
    """A component's input known only during the update (a namespace from another resource) is filled into the
    built objects: what was secret stays secret, whole maps and lists included."""
    import pulumi

    from sigsci_waf.resolve.deferred import STAND_INS, Deferred

    deferred = Deferred(outputs={"namespace": pulumi.Output.from_input("team")})
    built = {"a": Sensitive(f"x-{STAND_INS['namespace']}"), "b": SensitiveMap({"n": STAND_INS["namespace"]}),
             "c": SensitiveList([STAND_INS["namespace"]]), "d": f"plain-{STAND_INS['namespace']}"}
    out = deferred.substitute(built)
    assert isinstance(out["b"], SensitiveMap) and isinstance(out["c"], SensitiveList)

    async def secrecy():
        return [await out["a"].is_secret(), await out["d"].is_secret(), await out["a"].future()]

    import asyncio
    assert asyncio.get_event_loop().run_until_complete(secrecy()) == [True, False, "x-team"]
