"""The package schema other languages get: required inputs marked, closed choices as enums, nested inputs as
typed objects (not Any), the Secret's name an Input, and every typed shape in step with the config schema."""

from __future__ import annotations

import importlib.util
import typing
from enum import Enum

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pydantic.alias_generators import to_camel

import harness
from sigsci_waf.config import args as typed
from sigsci_waf.config.ingress import (AgentService, Chart, ControllerImage, ControllerService, ControllerSpec,
                                       IngressClass, IngressSpec, Route, ServiceBackend)
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
          (typed.RouteArgs, Route), (typed.ServiceBackendArgs, ServiceBackend)]


@pytest.mark.parametrize("shape, model", SHAPES, ids=[s.__name__ for s, _ in SHAPES])
def test_each_typed_shape_matches_its_config_model(shape, model):
    assert set(shape.__annotations__) == set(model.model_fields)


def test_enums_pass_through_the_components_as_their_values():
    from sigsci_waf import SigsciRevProxyApp

    from sigsci_waf.config.choices import Placement, PullPolicy, TakeOver

    run = harness.run(lambda: SigsciRevProxyApp("web", {
        "secret_name": "sigsci.demo", "port": 8080, "placement": Placement.PATCH, "deployment": "web",
        "service": "web", "take_over": [TakeOver.SERVICE_TARGET_PORT],
        "agent": {"image_pull_policy": PullPolicy.ALWAYS}}))
    patch = harness.clean(run.named("web-deployment-patch").inputs)
    assert patch["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
