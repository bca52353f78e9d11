"""The package schema other languages get: required inputs marked, closed choices as enums, nested inputs as
typed objects (not Any), the Secret's name an Input, and every typed shape in step with the config schema."""

from __future__ import annotations

import collections.abc
import importlib.util
import types
import typing
from enum import Enum

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pydantic import BaseModel

import harness
from sigsci_waf.apps.component import SigsciRevProxyAppArgs
from sigsci_waf.config import args as typed
from sigsci_waf.config.choices import ServiceType
from sigsci_waf.config.secret import SecretSpec
from sigsci_waf.ingress.component import SigsciIngressControllerArgs
from sigsci_waf.secret.component import SigsciSecretArgs
from sigsci_waf.config.gateway import (AgentTls, EnvoyGatewayInstall, ExistingGateway, GatewayAgents, GatewayListeners,
                                       IstioSettings,
                                       GatewayRoute, GatewaySpec)
from sigsci_waf.config.routes import ServiceBackend
from sigsci_waf.gateway.component import SigsciGatewayArgs
from sigsci_waf.injection.component import SigsciInjectionArgs
from sigsci_waf.config.injection import InjectionSpec
from sigsci_waf.config.ingress import (AgentService, Chart, ControllerImage, ControllerService, ControllerSpec,
                                       IngressClass, IngressSpec, Route)
from sigsci_waf.config.agent import AgentSettings, Quantities, Resources, StartupProbe
from sigsci_waf.config.app import AppSpec


@pytest.fixture(scope="module")
def schema():
    spec = importlib.util.spec_from_file_location("sigsci_provider", harness.ROOT / "provider" / "__main__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Analyzer(module.PACKAGE).analyze(module.COMPONENTS)


REQUIRED = {"SigsciRevProxyApp": {"secretName", "port"}, "SigsciSecret": {"namespaces"},
            "SigsciIngressController": {"secretName"}}


@pytest.mark.parametrize("component", sorted(REQUIRED))
def test_required_inputs_are_marked_required(schema, component):
    inputs = schema["component_definitions"][component].inputs
    assert {name for name, prop in inputs.items() if not prop.optional} == REQUIRED[component]


ENUMS = {("SigsciRevProxyApp", "placement"): (AppSpec, "placement"),
         ("SigsciRevProxyApp", "serviceType"): (AppSpec, "service_type"),
         ("SigsciRevProxyApp", "takeOver"): (AppSpec, "take_over"),
         ("SigsciIngressController", "flavour"): (IngressSpec, "flavour"),
         ("SigsciIngressController", "agentLifetime"): (IngressSpec, "agent_lifetime")}


def _enum_of(annotation):
    """The enum inside a field's annotation (`X`, `X | None`, `list[X] | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    return next(filter(None, (_enum_of(a) for a in typing.get_args(annotation))), None)


def _schema_enum(schema, prop):
    ref = prop.ref or (prop.items.ref if prop.items is not None else None)
    assert ref and ref.startswith("#/types/sigsci:index:"), ref
    return schema["type_definitions"][ref.rsplit(":", 1)[-1]]


@pytest.mark.parametrize("component, name", sorted(ENUMS))
def test_each_closed_choice_is_one_enum_for_the_schema_and_the_validation(schema, component, name):
    """The enum the package schema declares is the very enum the settings model validates against: one
    declaration, so the generated SDKs and the checks cannot disagree."""
    model, field = ENUMS[(component, name)]
    enum = _enum_of(model.model_fields[field].annotation)
    assert enum is not None and enum.__module__ == "sigsci_waf.config.choices"
    declared = _schema_enum(schema, schema["component_definitions"][component].inputs[name])
    assert declared.name == enum.__name__
    assert {v.value for v in declared.enum} == {m.value for m in enum}
    if name == "flavour":
        from sigsci_waf.ingress.flavours import FLAVOURS
        assert set(FLAVOURS) == set(enum)


def test_pull_policy_is_an_enum_in_both_images(schema):
    types = schema["type_definitions"]
    for owner, field in (("AgentArgs", "imagePullPolicy"), ("ControllerImageArgs", "pullPolicy")):
        assert types[owner].properties[field].ref == "#/types/sigsci:index:PullPolicy"
    assert {v.value for v in types["PullPolicy"].enum} == {"Always", "IfNotPresent", "Never"}


def _any(prop) -> bool:
    return prop.ref == "pulumi.json#/Any" or (prop.additional_properties is not None
                                              and prop.additional_properties.ref == "pulumi.json#/Any")


def test_nested_inputs_are_typed_objects_not_any(schema):
    """Only extraValues is free-form: it is the chart's own values layout."""
    untyped = [f"{component}.{name}" for component, definition in schema["component_definitions"].items()
               for name, prop in definition.inputs.items() if _any(prop)]
    untyped += [f"{t}.{name}" for t, definition in schema["type_definitions"].items()
                for name, prop in (definition.properties or {}).items() if _any(prop)]
    assert untyped == ["SigsciIngressController.extraValues"]


def test_the_secret_name_and_keys_accept_outputs_of_other_resources(schema):
    components = schema["component_definitions"]
    for component, name in (("SigsciRevProxyApp", "secretName"), ("SigsciIngressController", "secretName"),
                            ("SigsciRevProxyApp", "credentialsHash"), ("SigsciSecret", "accessKeyId"),
                            ("SigsciSecret", "secretAccessKey")):
        assert components[component].inputs[name].plain is not True, f"{component}.{name}"


# Each typed shape against the config model that validates it: same keys, nothing missing, nothing invented.
SHAPES = [(typed.AgentArgs, AgentSettings), (typed.ResourcesArgs, Resources), (typed.QuantitiesArgs, Quantities),
          (typed.StartupProbeArgs, StartupProbe), (typed.ChartArgs, Chart), (typed.ControllerArgs, ControllerSpec),
          (typed.ControllerImageArgs, ControllerImage), (typed.AgentServiceArgs, AgentService),
          (typed.IngressClassArgs, IngressClass), (typed.ControllerServiceArgs, ControllerService),
          (typed.RouteArgs, Route), (typed.ServiceBackendArgs, ServiceBackend),
          (typed.GatewayRouteArgs, GatewayRoute), (typed.ExistingGatewayArgs, ExistingGateway),
          (typed.EnvoyGatewayInstallArgs, EnvoyGatewayInstall), (typed.GatewayListenersArgs, GatewayListeners),
          (typed.GatewayAgentsArgs, GatewayAgents), (typed.AgentTlsArgs, AgentTls),
          (typed.IstioArgs, IstioSettings)]


# The components' own Args against the models that validate them, with the keys only one side has: each
# component is handed the keys' Secret and the rotation token (secret_name, credentials_hash), which are not
# settings; SigsciSecret takes the keys themselves and the namespaces to create the Secret in, where the model
# only knows whether keys were given (has_keys).
COMPONENT_ARGS = [(SigsciRevProxyAppArgs, AppSpec, {"secret_name", "credentials_hash"}, set()),
                  (SigsciIngressControllerArgs, IngressSpec, {"secret_name", "credentials_hash"}, set()),
                  (SigsciGatewayArgs, GatewaySpec, {"secret_name", "credentials_hash"}, set()),
                  (SigsciInjectionArgs, InjectionSpec, {"secret_name"}, set()),
                  (SigsciSecretArgs, SecretSpec, {"namespaces", "access_key_id", "secret_access_key"}, {"has_keys"})]
# Every Args TypedDict: (shape, model, keys only the shape has, fields only the model has).
ALL_ARGS = [(shape, model, set(), set()) for shape, model in SHAPES] + COMPONENT_ARGS
# Keys the model requires but the component fills in itself: the app's name defaults to the resource name.
FILLED_BY_COMPONENT = {(SigsciRevProxyAppArgs, "name")}
# Pulumi's schema analyzer refuses union types, so where the model takes a union the Args take one member of it,
# which the model accepts as well: option values as text (the agent reads every option as an environment
# variable), and a Service targetPort as text (digits for a number, or a port name).
NARROWED = {(typed.AgentArgs, "options"), (typed.AgentArgs, "unlisted_options"),
            (SigsciRevProxyAppArgs, "owner_target_port")}
_MODEL_OF = {shape: model for shape, model, _, _ in ALL_ARGS}


def _kind(annotation) -> object:
    """A type as both sides spell it: 'str', 'int', 'bool', 'any', an enum class, ('list', kind),
    ('dict', key kind, value kind), ('object', settings model), or a frozenset of alternatives.

    Unwrapped: Required/NotRequired, Optional, pulumi.Input (its Awaitable and Output members), the models'
    Annotated rules (a DnsLabel is a str, a Port an int, StrictBool a bool); a TypedDict stands for the model
    it is paired with, so a nested shape agrees only with the nested model it is checked against."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Required, typing.NotRequired, typing.Annotated):
        return _kind(args[0])
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None) and not isinstance(a, typing.ForwardRef)
                   and typing.get_origin(a) is not collections.abc.Awaitable]  # pulumi.Input[T] is T here
        kinds = frozenset(_kind(a) for a in members)
        return next(iter(kinds)) if len(kinds) == 1 else kinds
    if origin is list:
        return ("list", _kind(args[0]))
    if origin is dict:
        return ("dict", _kind(args[0]), _kind(args[1]))
    if annotation is typing.Any:
        return "any"
    if typing.is_typeddict(annotation):
        return ("object", _MODEL_OF[annotation])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("object", annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    assert annotation in (str, int, bool), f"no kind for {annotation!r}"
    return annotation.__name__


@pytest.mark.parametrize("shape, model, shape_only, model_only", ALL_ARGS, ids=[a[0].__name__ for a in ALL_ARGS])
def test_each_typed_shape_matches_its_config_model(shape, model, shape_only, model_only):
    """One definition per field: the Args other languages' SDKs are generated from have exactly the fields of
    the settings model that validates them, each of the same type (the same enum, int for int, a nested Args
    for the nested model), and required where the model requires it."""
    assert set(shape.__annotations__) - shape_only == set(model.model_fields) - model_only
    assert shape_only <= set(shape.__annotations__) and model_only <= set(model.model_fields)
    disagreements = []
    for name in sorted(set(shape.__annotations__) - shape_only):
        ours, theirs = _kind(shape.__annotations__[name]), _kind(model.model_fields[name].annotation)
        if (shape, name) in NARROWED:
            agrees = _narrows(ours, theirs)
        else:
            agrees = ours == theirs
        if not agrees:
            disagreements.append(f"{shape.__name__}.{name}: {ours} in the Args, {theirs} in {model.__name__}")
    assert disagreements == []
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    filled = {n for s, n in FILLED_BY_COMPONENT if s is shape}
    assert set(shape.__required_keys__) - shape_only == required - filled


def _narrows(ours, theirs) -> bool:
    """`ours` takes one member of the union `theirs` (at any depth of lists and maps)."""
    if isinstance(theirs, frozenset):
        return ours in theirs
    if isinstance(ours, tuple) and isinstance(theirs, tuple) and len(ours) == len(theirs) and ours[0] == theirs[0]:
        return all(_narrows(a, b) for a, b in zip(ours[1:], theirs[1:]))
    return ours == theirs


def test_the_type_check_sees_a_disagreement():
    """A planted wrong type, enum or nested shape is told apart from the model's."""
    from sigsci_waf.config.choices import PathType

    assert _kind(int) != _kind(AppSpec.model_fields["namespace"].annotation)
    assert _kind(ServiceType) != _kind(AppSpec.model_fields["placement"].annotation)
    assert _kind(PathType) != _kind(AppSpec.model_fields["placement"].annotation)
    assert _kind(typed.QuantitiesArgs) != _kind(AgentSettings.model_fields["resources"].annotation)
    assert _kind(list[str]) != _kind(AppSpec.model_fields["take_over"].annotation)
    assert _kind(dict[str, str]) != _kind(AgentSettings.model_fields["options"].annotation)
    assert _narrows(_kind(dict[str, str]), _kind(AgentSettings.model_fields["options"].annotation))
    assert not _narrows(("dict", "str", "float"), _kind(AgentSettings.model_fields["options"].annotation))


def test_enums_pass_through_the_components_as_their_values():
    from sigsci_waf import SigsciRevProxyApp

    from sigsci_waf.config.choices import Placement, PullPolicy, TakeOver

    run = harness.run(lambda: SigsciRevProxyApp("web", {
        "secret_name": "sigsci.demo", "port": 8080, "placement": Placement.PATCH, "deployment": "web",
        "service": "web", "take_over": [TakeOver.SERVICE_TARGET_PORT],
        "agent": {"image_pull_policy": PullPolicy.ALWAYS}}))
    patch = harness.clean(run.named("web-deployment-patch").inputs)
    assert patch["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
