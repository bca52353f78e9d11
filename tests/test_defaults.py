"""Each default is declared once, in the settings models: a field's default, or, for a key whose field stays
unset (so that a key given for a placement it does not apply to is an error), a named constant beside the
model. Everything that shows a default shows that one.

Checked here: the docstrings of every Args TypedDict, which Pulumi's schema analyzer copies into the package
schema and every generated SDK (so they stay literal text; they are read here the way the analyzer reads
them), and the defaults the prose of the docs restates. tests/test_readme_config.py checks the tables of
docs/configuration.md against the same oracle (`expectation`).

A docstring states a default in one form, as its last sentence: "Default: `8001`." for a value, spelt as in
stack config (`true`, `["/tmp"]`), or "Default: <words>." for a default worked out from other keys; each of
those is in DERIVED below, with where its numbers come from.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pydantic import BaseModel

import harness
from sigsci_waf.config.gateway import AgentTls, EnvoyGatewayInstall, GatewayRoute, GatewaySpec
from sigsci_waf.agent.container import AGENT_CONTAINER
from sigsci_waf.agent.workloads import SHUTDOWN_MARGIN_SECONDS
from sigsci_waf.apps.component import SigsciRevProxyAppArgs
from sigsci_waf.config.agent import AGENT_RESOURCES, APP_RESOURCES, AgentSettings, Resources, StartupProbe
from sigsci_waf.config.app import (DEFAULT_LISTENER_PORT, DEFAULT_RPC_ADDRESS_ENV, DEFAULT_NETWORK_POLICY, DEFAULT_READ_ONLY_ROOT, DEFAULT_REPLICAS,
                                   DEFAULT_SERVICE_TYPE, DEFAULT_WRITABLE_PATHS, AppSpec)
from sigsci_waf.config.args import AgentArgs
from sigsci_waf.config.choices import Flavour, PullPolicy
from sigsci_waf.config.ingress import (CONTROLLER_RESOURCES, AgentService, Chart, ControllerImage, ControllerService,
                                       ControllerSpec, IngressClass, IngressSpec, Route)
from sigsci_waf.config.kube import DEFAULT_UID, KUBERNETES_DEFAULT_NAMESPACE
from sigsci_waf.config.verify import ECHO_RESOURCES, VerifySpec
from sigsci_waf.ingress.flavours import FLAVOURS
from sigsci_waf.resolve.app import APP_OUTLIVES_AGENT_SECONDS
from test_typed_schema import ALL_ARGS

REQUIRED = "(required)"
# Keys whose field stays None in the model, and the named constant the builders take instead.
UNSET = {
    (AppSpec, "replicas"): DEFAULT_REPLICAS,
    (AppSpec, "service_type"): DEFAULT_SERVICE_TYPE,
    (AppSpec, "network_policy"): DEFAULT_NETWORK_POLICY,
    (AppSpec, "read_only_root_filesystem"): DEFAULT_READ_ONLY_ROOT,
    (AppSpec, "writable_paths"): list(DEFAULT_WRITABLE_PATHS),
    (AppSpec, "run_as_user"): DEFAULT_UID,
    (AppSpec, "listener_port"): DEFAULT_LISTENER_PORT,
    (AppSpec, "rpc_address_env"): DEFAULT_RPC_ADDRESS_ENV,
}
# Defaults worked out from other keys, as the words that state them. A Resources stands for the phrase
# "requests `cpu`/`memory`, limits `cpu`/`memory`" (or "memory limit `memory`, no CPU limit"), read back
# into requests and limits and compared with the constant the builders fill gaps from.
DERIVED: dict[tuple[type[BaseModel], str], str | Resources] = {
    # The vendor guide's pull policy, which the agent container follows: a release pinned by tag changes only
    # with a new tag, `latest` moves.
    (AgentSettings, "image_pull_policy"): f"`{PullPolicy.IF_NOT_PRESENT}` for a release, "
                                          f"`{PullPolicy.ALWAYS}` for `latest`",
    (AgentSettings, "resources"): AGENT_RESOURCES,
    (AppSpec, "resources"): APP_RESOURCES,
    (ControllerSpec, "resources"): CONTROLLER_RESOURCES,
    (VerifySpec, "resources"): ECHO_RESOURCES,
    (AppSpec, "service_port"): "`port`",
    (AppSpec, "owner_target_port"): "`port`",
    # The app keeps serving APP_OUTLIVES_AGENT_SECONDS after the agent's drain (resolve/app.py) ...
    # A module's app serves the traffic itself, and its agent (a native sidecar) outlives it: the app drains.
    (AppSpec, "pre_stop_sleep_seconds"): f"owned: 0 without an agent drain, else the agent's + "
                                         f"{APP_OUTLIVES_AGENT_SECONDS}; module: the agent's",
    (AppSpec, "container"): "`name`",
    # ... and the pod gets SHUTDOWN_MARGIN_SECONDS beyond its longest sleep (agent/workloads.py).
    # test_the_stated_defaults_are_what_an_app_gets checks both numbers on the built objects.
    (AppSpec, "termination_grace_period_seconds"): f"the longest preStop sleep + {SHUTDOWN_MARGIN_SECONDS}",
    # Per flavour (ingress/flavours.py), shown for each flavour in docs/ingress.md's table (checked below).
    (IngressSpec, "release_name"): "`sigsci-<chart>`",
    (Chart, "version"): "per flavour",
    (Chart, "repository"): "the flavour's repository",
    (ControllerImage, "repository"): "the flavour's Fastly image",
    (ControllerImage, "tag"): "the Fastly build for `chart.version`",
    (Route, "name"): "the backend Service's name",
    (Route, "host"): "any host",
    (Route, "namespace"): f"`{KUBERNETES_DEFAULT_NAMESPACE}` with service",
    # The gateway's routes share the route shape (config/routes.py) and so its defaults.
    (GatewayRoute, "name"): "the backend Service's name",
    (GatewayRoute, "host"): "any host",
    (GatewayRoute, "namespace"): f"`{KUBERNETES_DEFAULT_NAMESPACE}` with service",
    # The CA beside the certificate (cert-manager's layout), and the name the agents' Service has.
    (AgentTls, "ca_secret"): "`secret`",
    # Per implementation (config/gateway.py: GatewaySpec.gateway_class_name).
    (GatewaySpec, "gateway_class"): "`sigsci-envoy`, which the stack creates for Envoy Gateway; `istio`, Istio's "
                                    "own, with implementation istio",
    (AgentTls, "hostname"): "the agents' Service's name, `sigsci-extproc.<namespace>.svc`",
    # An existing Gateway of Envoy Gateway means it runs (config/gateway.py: GatewaySpec.installs_envoy_gateway).
    (EnvoyGatewayInstall, "enabled"): "`true`; `false` with `existingGateway`",
}
# Defaults only a component has: the stack config requires the key.
COMPONENT_DERIVED = {(SigsciRevProxyAppArgs, "name"): "the resource name"}


def expectation(model: type[BaseModel], name: str) -> tuple[str, Any]:
    """What must be shown as the default of `model.name`: ("value", v), ("derived", words or a Resources),
    ("empty", {} or [] or a model with nothing set: nothing to show), or ("none", None): no default."""
    if (model, name) in DERIVED:
        return "derived", DERIVED[model, name]
    if (model, name) in UNSET:
        return "value", UNSET[model, name]
    field = model.model_fields[name]
    if field.is_required():
        return "none", REQUIRED
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "none", None
    if isinstance(default, (bool, int, str)):  # enum members are str
        return "value", default
    if default in ({}, []) or (isinstance(default, BaseModel) and not default.model_fields_set):
        return "empty", default
    raise AssertionError(f"{model.__name__}.{name}: no way to show the default {default!r}; add it to DERIVED")


def shown_value(text: str) -> Any:
    """A value as the docs spell it inside backticks: JSON (`8001`, `true`, `["/tmp"]`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_RESOURCES = re.compile(r"requests `(?P<rc>[^`]+)`/`(?P<rm>[^`]+)`, (?:limits `(?P<lc>[^`]+)`/`(?P<lm>[^`]+)`|"
                        r"memory limit `(?P<mem>[^`]+)`, no CPU limit)")


def shown_resources(text: str) -> dict | None:
    match = _RESOURCES.fullmatch(text)
    if match is None:
        return None
    return {"requests": {"cpu": match["rc"], "memory": match["rm"]},
            "limits": {"cpu": match["lc"], "memory": match["lm"] or match["mem"]}}


def agrees(text: str, kind: str, expected: Any) -> bool:
    """Whether `text`, as shown in a docstring or a table, is the expected default."""
    if kind == "derived" and isinstance(expected, Resources):
        return shown_resources(text) == expected.model_dump()
    if kind == "derived":
        return text == expected
    if kind == "value":
        literal = re.fullmatch(r"`([^`]+)`", text)
        if literal is None:
            return False
        value = shown_value(literal.group(1))
        # `1` is not `true`: bool is an int in Python.
        return value == expected and isinstance(value, bool) == isinstance(expected, bool)
    return False


# ---- the docstrings of the Args --------------------------------------------------------------------------

_ANALYZER = Analyzer("sigsci")
# The one form: the last sentence (no ". " inside; a version's dots are not followed by a space).
_STATEMENT = re.compile(r"(?:^|(?<=[.:;)]\s))Default: (?P<text>(?:[^.]|\.(?!\s))+)\.$")
# Any other statement of a default, once the one form is taken out: a capital "Default", "(default", or
# "default" before a value ("default True", "default `x`", "defaults to", "default per flavour"). The plain
# word stays allowed: "the cluster's default class", "over the defaults".
_OTHER_FORM = re.compile(r"(?-i:\bDefault)|\(default\b|"
                         r"\bdefaults?\b(?=\s*(?:[:`\d'\"\[]|(?:to|true|false|per|name)\b))", re.IGNORECASE)


def docstring(shape: type, name: str) -> str:
    """The field's docstring as the schema analyzer reads it, whitespace folded."""
    return " ".join((_ANALYZER.get_docstring(shape, name) or "").split())


def stated(doc: str) -> str | None:
    """The default a docstring states: the words of its last sentence `Default: ...`."""
    match = _STATEMENT.search(doc)
    return match["text"] if match else None


def other_forms(doc: str) -> list[str]:
    """Defaults stated otherwise than by the one last sentence."""
    return _OTHER_FORM.findall(_STATEMENT.sub("", doc))


FIELDS = [(shape, model, name, name in shape_only)
          for shape, model, shape_only, _ in ALL_ARGS for name in shape.__annotations__]


def _expected_for(shape: type, model: type[BaseModel], name: str, only_in_args: bool) -> tuple[str, Any]:
    if (shape, name) in COMPONENT_DERIVED:
        return "derived", COMPONENT_DERIVED[shape, name]
    if only_in_args:  # the component's own inputs (the Secret, the keys): none has a default
        return "none", None
    return expectation(model, name)


@pytest.mark.parametrize("shape, model, name, only_in_args", FIELDS,
                         ids=[f"{s.__name__}.{n}" for s, _, n, _ in FIELDS])
def test_each_docstring_states_the_models_default(shape, model, name, only_in_args):
    """A field with a default says it, in the one form, and it is the model's; a field without says none."""
    doc = docstring(shape, name)
    assert doc, f"{shape.__name__}.{name} has no docstring"
    assert other_forms(doc) == [], f"{shape.__name__}.{name}: state the default as the last sentence " \
                                   f"'Default: ...': {doc!r}"
    kind, expected = _expected_for(shape, model, name, only_in_args)
    text = stated(doc)
    if kind in ("none", "empty"):
        assert text is None, f"{shape.__name__}.{name} states a default ({text}) the model does not have"
    else:
        assert text is not None, f"{shape.__name__}.{name} has a default ({expected!r}) its docstring does not state"
        assert agrees(text, kind, expected), f"{shape.__name__}.{name}: the docstring states {text!r}, " \
                                             f"the model's default is {expected!r}"


@pytest.mark.parametrize("text", [
    "The agent's listener port (>= 1024). Default 8001.",
    "Namespace of the app. Default `default`.",
    "Service type, `ClusterIP` (default), `NodePort` or `LoadBalancer`.",
    "owned: default True; set False for apps that must write outside `writable_paths`.",
    "App name; names the Deployment and Service. Defaults to the resource name.",
    "The agent image tag: a release (default 4.70.0), `latest`, or a custom tag.",
    "Default: `300`. The controller's drain.",
    "With service: its namespace (default `default`); with app: which app of that name.",
    "The chart version. Default per flavour.",
])
def test_the_check_sees_a_default_stated_otherwise(text):
    assert other_forms(text) or stated(text) is None


def test_the_check_takes_plain_words_and_the_one_form():
    doc = "Make it the cluster's default class, over the defaults. Default: `false`."
    assert other_forms(doc) == [] and stated(doc) == "`false`"
    assert agrees("`false`", "value", False) and not agrees("`0`", "value", False)
    assert not agrees("`2`", "value", True) and agrees('`["/tmp"]`', "value", ["/tmp"])
    assert agrees("requests `100m`/`128Mi`, memory limit `512Mi`, no CPU limit", "derived", CONTROLLER_RESOURCES)
    assert not agrees("requests `100m`/`128Mi`, limits `1`/`512Mi`", "derived", CONTROLLER_RESOURCES)


def _docstring_value(shape: type, name: str) -> Any:
    """The value a docstring states as the default (its `...` literal), for the checks on built objects."""
    return shown_value(re.fullmatch(r"`([^`]+)`", stated(docstring(shape, name))).group(1))


def _docstring_number(shape: type, name: str) -> int:
    """The number in a derived default's words ('the agent's + 5' -> 5)."""
    return int(re.fullmatch(r".*? \+ (\d+)(;.*)?", stated(docstring(shape, name))).group(1))


def test_the_stated_defaults_are_what_an_app_gets():
    """The docstrings as the oracle: an owned app with nothing but its name, port and image gets the defaults
    they state, and the derived sleeps worked out by hand from the numbers they state."""
    run = harness.run_config({"sigsci:existingSecret": "sigsci.demo",
                              "sigsci:apps": [{"name": "web", "port": 8080, "image": "nginx:1.27"}]})
    objects = {(m["kind"], m["metadata"]["name"]): m for m in run.manifests()}
    deployment, service = objects["Deployment", "web"], objects["Service", "web"]
    pod = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    app, agent = containers["web"], containers[AGENT_CONTAINER]

    def doc(name):
        return _docstring_value(SigsciRevProxyAppArgs, name)

    def agent_doc(name):
        return _docstring_value(AgentArgs, name)

    assert deployment["metadata"]["namespace"] == doc("namespace")
    assert deployment["spec"]["replicas"] == doc("replicas")
    assert service["spec"]["type"] == doc("service_type")
    assert service["spec"]["ports"][0]["port"] == 8080  # servicePort: `port`
    assert service["spec"]["ports"][0]["targetPort"] == doc("listener_port")
    assert (("NetworkPolicy", "web") in objects) is doc("network_policy")
    assert app["securityContext"]["readOnlyRootFilesystem"] is doc("read_only_root_filesystem")
    assert app["securityContext"]["runAsUser"] == doc("run_as_user")
    assert [m["mountPath"] for m in app["volumeMounts"]] == doc("writable_paths")
    assert app["resources"] == shown_resources(stated(docstring(SigsciRevProxyAppArgs, "resources")))

    assert agent["image"] == f"{agent_doc('repository')}:{agent_doc('version')}"
    assert agent["imagePullPolicy"] == "IfNotPresent"  # stated for a release
    assert agent["securityContext"]["runAsUser"] == agent_doc("run_as_user")
    assert agent["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(agent_doc("pre_stop_sleep_seconds"))]
    assert [m["mountPath"] for m in agent["volumeMounts"]] == [agent_doc("tmp_mount_path")]
    assert agent["resources"] == shown_resources(stated(docstring(AgentArgs, "resources")))

    # By hand from the numbers stated: the app sleeps the agent's sleep plus its margin; the pod's grace is the
    # longer of the two plus the shutdown margin.
    agent_sleep = agent_doc("pre_stop_sleep_seconds")
    app_sleep = agent_sleep + _docstring_number(SigsciRevProxyAppArgs, "pre_stop_sleep_seconds")
    assert app["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(app_sleep)]
    assert pod["terminationGracePeriodSeconds"] == \
        max(agent_sleep, app_sleep) + _docstring_number(SigsciRevProxyAppArgs, "termination_grace_period_seconds")


# Every shape an agent runs in, none setting startupProbe: apps in each placement (a module's in its own Deployment
# and in an existing one), the ingress controller's agent, the gateway's ext_proc agents, injection's.
EVERY_SHAPE = {
    "sigsci:site": "demo", **harness.KEY_CONFIG,
    "sigsci:apps": [
        {"name": "web", "port": 8080, "image": "nginx:1.27"},
        {"name": "checkout", "placement": "patch", "deployment": "checkout", "service": "checkout", "port": 8080,
         "takeOver": ["service.targetPort"]},
        {"name": "payments", "placement": "service", "upstreamService": "payments-api", "port": 9000},
        {"name": "search", "placement": "module", "image": "example/search:1", "port": 8080},
        {"name": "legacy", "placement": "module", "deployment": "legacy", "port": 8080},
        {"name": "rpc", "placement": "module", "image": "example/rpc:1", "port": 8080, "rpcPort": 9999},
    ],
    "sigsci:gateway": {},
    "sigsci:injection": {"namespaces": ["reviews"]},
}


def _agents(config: dict) -> list[tuple[str, str, dict]]:
    """(where, initContainers or containers, the agent) for every agent the stack runs in a pod of its shaping."""
    import invariants

    run = harness.run_config(config)
    return [(where, kind, container)
            for where, _, _, _, spec in invariants.pods(run, config, harness.chart_pods(run, with_controller=True))
            for kind in ("initContainers", "containers") for container in spec.get(kind, [])
            if container["name"] == AGENT_CONTAINER]


def _injected_agent(config: dict) -> dict:
    """The agent injection adds to a labelled pod, as the API server's admission would (tests/admission.py)."""
    import admission

    run = harness.run_config(config)
    objects = {o["kind"]: o for o in (harness.unwrap_secrets(harness.clean(r.inputs)) for r in run.resources
                                      if r.type.startswith("kubernetes:") and not r.read
                                      and r.name.startswith("injection-"))}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "api", "namespace": "reviews", "labels": {"sigsci.fastly.com/agent": "module"}},
           "spec": {"containers": [{"name": "api", "image": "example/api:1"}]}}
    out = admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"], pod,
                           namespace={"metadata": {"name": "reviews"}}, params=objects["ConfigMap"])
    [agent] = [c for c in out["spec"]["initContainers"] if c["name"] == AGENT_CONTAINER]
    return agent


@pytest.mark.parametrize("lifetime", ["nativeSidecar", "classicSidecar", "service"])
def test_the_startup_probe_is_on_in_every_shape(lifetime):
    """The secure default: each agent is started (a native sidecar: the app's or nginx's start waits for it) or
    ready only once it answers with its rules loaded; without it, the module fails open while the agent starts."""
    config = {**EVERY_SHAPE, "sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": lifetime}}
    probe = {"httpGet": {"path": "/startup", "port": 2024}, "failureThreshold": 90, "periodSeconds": 2}
    agents = _agents(config)
    # owned, patch, service, three modules, the gateway's, the controller's (as a sidecar or as a Service).
    assert len(agents) == 8, [where for where, _, _ in agents]
    for where, kind, agent in [*agents, ("injection", "initContainers", _injected_agent(config))]:
        assert agent["startupProbe"] == probe, where
        assert harness.env_of(agent)["SIGSCI_STARTUP_PROBE_LISTENER"] == "0.0.0.0:2024", where
        assert {"name": "sigsci-startup", "containerPort": 2024, "protocol": "TCP"} in agent["ports"], where
        if kind == "initContainers":  # a native sidecar: the pod's containers start once its probe passes
            assert agent["restartPolicy"] == "Always", where
    native = {where for where, kind, _ in agents if kind == "initContainers"}
    assert len(native) == 3 + (lifetime == "nativeSidecar"), native


def test_the_startup_probe_is_opted_out_of_in_every_shape():
    config = {**EVERY_SHAPE, "sigsci:agent": {"startupProbe": {"enabled": False}},
              "sigsci:ingress": {"flavour": "ingress-nginx"}}
    agents = _agents(config)
    assert len(agents) == 8
    for where, _, agent in [*agents, ("injection", "", _injected_agent(config))]:
        assert "startupProbe" not in agent, where
        assert "SIGSCI_STARTUP_PROBE_LISTENER" not in harness.env_of(agent), where


_APP = {"name": "web", "image": "nginx:1.27", "port": 8080}
PROBE_WAYS_OUT = ("the agent's startup probe listens there (on by default); pick another startupProbe.port or set "
                  "startupProbe.enabled: false")


@pytest.mark.parametrize("config, key, taken_by", [
    ({"sigsci:apps": [{**_APP, "port": 2024}]}, "sigsci:apps[0].agent.startupProbe.port", "port"),
    ({"sigsci:apps": [{**_APP, "listenerPort": 2024}]}, "sigsci:apps[0].agent.startupProbe.port", "listenerPort"),
    ({"sigsci:apps": [{**_APP, "placement": "module", "port": 2024}]}, "sigsci:apps[0].agent.startupProbe.port",
     "port"),
    ({"sigsci:apps": [{**_APP, "placement": "module", "rpcPort": 2024}]}, "sigsci:apps[0].agent.startupProbe.port",
     "rpcPort"),
    ({"sigsci:apps": [{"name": "web", "placement": "service", "upstreamService": "web-app", "port": 8080,
                       "listenerPort": 2024}]}, "sigsci:apps[0].agent.startupProbe.port", "listenerPort"),
    ({"sigsci:ingress": {"flavour": "ingress-nginx", "agentLifetime": "service", "agentService": {"port": 2024}}},
     "sigsci:ingress.agent.startupProbe.port", "agentService.port"),
    ({"sigsci:gateway": {"agents": {"port": 2024}}}, "sigsci:gateway.agent.startupProbe.port", "agents.port"),
])
def test_the_default_probe_port_is_taken_in_every_shared_pod(config, key, taken_by):
    """The probe is on by default, so its port (2024) is the pod's: what else would listen there is refused,
    naming startupProbe.port; turning the probe off frees it."""
    from sigsci_waf import ConfigError

    base = {"sigsci:site": "demo", **harness.KEY_CONFIG}
    with pytest.raises(ConfigError) as err:
        harness.run_config({**base, **config})
    assert err.value.key == key and "2024" in err.value.problem and taken_by in err.value.problem, str(err.value)
    assert "\n" not in str(err.value)
    # On by default, so the message says so, and both ways out: another port, or the probe off.
    assert err.value.problem.endswith(PROBE_WAYS_OUT), str(err.value)
    entry = next(k for k in config)
    off = {"startupProbe": {"enabled": False}}
    freed = {entry: [{**app, "agent": off} for app in config[entry]] if isinstance(config[entry], list)
             else {**config[entry], "agent": off}}
    harness.run_config({**base, **freed})


@pytest.mark.parametrize("config, key", [
    ({"sigsci:agent": {"version": "4.50.0"}, "sigsci:apps": [_APP]}, "sigsci:agent.version"),
    ({"sigsci:apps": [{**_APP, "agent": {"version": "4.40.0"}}]}, "sigsci:apps[0].agent.version"),
    ({"sigsci:agent": {"version": "4.40.0", "startupProbe": {"enabled": True}}, "sigsci:apps": [_APP]},
     "sigsci:agent.startupProbe.enabled"),
    ({"sigsci:ingress": {"flavour": "ingress-nginx", "agent": {"version": "4.40.0"}}}, "sigsci:ingress.agent.version"),
    ({"sigsci:gateway": {"agent": {"version": "4.40.0"}}}, "sigsci:gateway.agent.version"),
    ({"sigsci:injection": {"namespaces": ["reviews"], "agent": {"version": "4.40.0"}}},
     "sigsci:injection.agent.version"),
])
def test_an_agent_without_the_probe_is_refused_while_it_is_on(config, key):
    """Agent 4.51.0 brought the startup probe: an older release is refused at preview in one line that names the
    key and both ways out; the same config with the probe turned off builds."""
    from sigsci_waf import ConfigError

    base = {"sigsci:site": "demo", **harness.KEY_CONFIG}
    with pytest.raises(ConfigError) as err:
        harness.run_config({**base, **config})
    assert err.value.key == key, str(err.value)
    assert "4.51.0" in err.value.problem and "startupProbe.enabled: false" in err.value.problem
    assert "\n" not in str(err.value)
    shared = config.get("sigsci:agent", {})
    harness.run_config({**base, **config, "sigsci:agent": {**shared, "startupProbe": {"enabled": False}}})


def test_each_flavour_has_the_derived_defaults_stated():
    """"per flavour" and `sigsci-<chart>` hold for every flavour: each has a default chart version with a
    known Fastly image, and its default release name is `sigsci-` and its chart's name."""
    for flavour in Flavour:
        spec = FLAVOURS[flavour]
        assert spec.default_chart_version in spec.images
        assert spec.default_release_name == DERIVED[IngressSpec, "release_name"].strip("`").replace(
            "<chart>", spec.chart)


# ---- defaults the prose of the docs restates -------------------------------------------------------------

def _text(path: str) -> str:
    return " ".join((harness.ROOT / path).read_text().split())


def _default(model: type[BaseModel], name: str) -> Any:
    kind, value = expectation(model, name)
    assert kind == "value", (model, name)
    return value


def _words(model: type[BaseModel], name: str) -> tuple[str, str]:
    return "derived", DERIVED[model, name]


# Each restated default: where, the words (`v`: the value shown, parsed as in the tables), and the default, or
# ("derived", the words of a derived default).
PROSE = [
    ("docs/ingress.md", r"`controller\.terminationGracePeriodSeconds` \(default (?P<v>\d+) s\)",
     _default(ControllerSpec, "termination_grace_period_seconds")),
    ("docs/ingress.md", r"\| `(?P<v>\w+)` \(default\) \| in the controller pod",
     _default(IngressSpec, "agent_lifetime")),
    ("docs/ingress.md", r"`(?P<v>\w+)` is the default because", _default(IngressSpec, "agent_lifetime")),
    ("docs/ingress.md", r"`(?P<v>[\w-]+)` by default \(`ingressClass\.name`\)", _default(IngressClass, "name")),
    ("docs/ingress.md", r"`(?P<v>\w+)` by default, with `externalTrafficPolicy", _default(ControllerService, "type")),
    ("docs/ingress.md", r"by default, with `externalTrafficPolicy: (?P<v>\w+)`",
     _default(ControllerService, "external_traffic_policy")),
    ("docs/ingress.md", r"named `name` \(default: (?P<v>[^)]+)\)", _words(Route, "name")),
    ("docs/ingress.md", r"in `namespace` \(default `(?P<v>[\w-]+)`\)", KUBERNETES_DEFAULT_NAMESPACE),
    ("docs/ingress.md", r"creates `namespace` \(default `(?P<v>[\w-]+)`\)", _default(IngressSpec, "namespace")),
    ("docs/ingress.md", r"\(`agent\.preStopSleepSeconds`\) plus (?P<v>\d+) s is their grace period",
     SHUTDOWN_MARGIN_SECONDS),
    ("docs/ingress.md", r"`agent\.startupProbe\.enabled: (?P<v>\w+)`, the default", _default(StartupProbe, "enabled")),
    ("docs/architecture.md", r"The agent's preStop sleeps (?P<v>\d+) s \(configurable\)",
     _default(AgentSettings, "pre_stop_sleep_seconds")),
    ("docs/architecture.md", r"the app's preStop sleeps (?P<v>\d+) s longer", APP_OUTLIVES_AGENT_SECONDS),
    ("docs/architecture.md", r"`terminationGracePeriodSeconds` is the longest sleep plus (?P<v>\d+) s",
     SHUTDOWN_MARGIN_SECONDS),
    ("docs/architecture.md", r"non-root \(UID (?P<v>\d+)\)", DEFAULT_UID),
    ("docs/architecture.md", r"revproxy listener :(?P<v>\d+)", _default(AppSpec, "listener_port")),
    ("docs/architecture.md", r"or over TCP, port (?P<v>\d+)", _default(AgentService, "port")),
    ("docs/architecture.md", r"Ingress rules of class (?P<v>[\w-]+)", _default(IngressClass, "name")),
    ("docs/patched-apps.md", r"\(`ownerTargetPort`, default (?P<v>`port`)", _words(AppSpec, "owner_target_port")),
    ("docs/operations.md", r"\(the default `releaseName`, (?P<v>`sigsci-<chart>`)\)",
     _words(IngressSpec, "release_name")),
]


@pytest.mark.parametrize("path, pattern, default", PROSE, ids=[f"{p}: {r[:40]}" for p, r, _ in PROSE])
def test_each_default_the_prose_restates_is_the_models(path, pattern, default):
    matches = list(re.finditer(pattern, _text(path)))
    assert len(matches) == 1, f"{path}: {pattern!r} found {len(matches)} times"
    shown = matches[0]["v"]
    if isinstance(default, tuple):
        assert agrees(shown, *default), f"{path} says {shown}; the default is {default[1]!r}"
    else:
        assert shown_value(shown) == default, f"{path} says {shown}; the default is {default!r}"


# Uses of the word that state no default: the flavour table's column, the cluster's default class, the
# charts' default values, and the README's pointers to the tables.
PLAIN = ["| default chart version |", "the one for the default chart version", "the cluster default only with",
         "the charts' default values", "with its type and default"]
SWEPT = ["README.md", "docs/ingress.md"]


@pytest.mark.parametrize("path", SWEPT)
def test_every_default_the_prose_states_is_checked(path):
    """In the README and docs/ingress.md, each `default` either is in a statement checked above, or in a
    known phrase that states none: a new one must be checked, or point to docs/configuration.md."""
    text = _text(path)
    checked = [m.span() for p, pattern, _ in PROSE if p == path for m in re.finditer(pattern, text)]
    checked += [(m.start(), m.end()) for phrase in PLAIN for m in re.finditer(re.escape(phrase), text)]
    checked += [m.span() for m in re.finditer(r"`[^`]*`", text)]  # keys and values: `ingressClass.default`
    flavours = _flavour_rows(text)
    checked += [span for _, _, span in flavours]
    loose = [text[max(0, m.start() - 40):m.end() + 40] for m in re.finditer(r"\bdefault\b", text, re.IGNORECASE)
             if not any(start <= m.start() < end for start, end in checked)]
    assert loose == [], f"{path}: a default stated in prose without a check"


def _flavour_rows(text: str) -> list[tuple[str, list[str], tuple[int, int]]]:
    """The rows of docs/ingress.md's flavour table: flavour cell, the other cells, span."""
    rows = []
    names = "|".join(re.escape(f) for f in Flavour)
    for match in re.finditer(rf"\| `(?P<flavour>{names})`(?P<mark> \(default\))? \|(?P<rest>(?:[^|]*\|){{3}})", text):
        rows.append((match["flavour"] + (match["mark"] or ""), [c.strip() for c in match["rest"].split("|")[:3]],
                     match.span()))
    return rows


def test_the_flavour_table_shows_each_flavours_defaults():
    """docs/ingress.md's table: one row per flavour, the default one marked, each with its default chart
    version and the Fastly image for it."""
    rows = _flavour_rows(_text("docs/ingress.md"))
    assert sorted(f.removesuffix(" (default)") for f, _, _ in rows) == sorted(Flavour)
    assert [f for f, _, _ in rows if f.endswith(" (default)")] == [f"{_default(IngressSpec, 'flavour')} (default)"]
    for flavour, (_, version, image), _ in rows:
        spec = FLAVOURS[flavour.removesuffix(" (default)")]
        assert version == f"`{spec.default_chart_version}`"
        assert image == f"`{spec.image_repository}:{spec.images[spec.default_chart_version]}`"
