"""Every Kubernetes object we emit passes `kubernetes-validate --strict` on the oldest and newest versions."""

import kubernetes_validate
import pytest

import harness
from ingress_configs import INGRESS_CONFIGS
from harness import clean
from schema_check import CUSTOM_GROUPS, as_applied, served_at, validate, validate_custom, versions

EXTRA_CONFIGS = {
    # Shapes the stack files do not cover.
    "options-and-probe": {"sigsci:site": "demo", **harness.KEY_CONFIG,
                          "sigsci:agent": {"tmpMountPath": "/var/run/sigsci", "startupProbe": {"enabled": True},
                                           "options": {"log-out": "/dev/stdout", "inspect-websocket": True}},
                          "sigsci:apps": [{"name": "api", "image": "example/api:1.2.3", "port": 9000,
                                           "command": ["/api"], "args": ["--port", "9000"], "env": {"A": "1"},
                                           "healthPath": "/healthz", "writablePaths": ["/tmp", "/cache"],
                                           "serviceType": "LoadBalancer", "servicePort": 80}]},
}


def _objects():
    runs = {f"stack-{name}": harness.run_stack(name) for name in harness.stack_names()}
    runs.update({name: harness.run_config(cfg) for name, cfg in {**EXTRA_CONFIGS, **INGRESS_CONFIGS}.items()})
    for run_name, run in runs.items():
        for resource in run.resources:
            if resource.is_object:
                yield f"{run_name}:{resource.name}", resource.type, clean(resource.inputs)
        for release, pod in harness.chart_pods(run, with_controller=True):
            yield f"{run_name}:{release}:pod", "kubernetes:core/v1:Pod", pod


ALL_OBJECTS = list(_objects())
# Custom resources have their CRDs' schemas (test_custom_resources_valid_for_their_crds), not Kubernetes' own.
OBJECTS = [o for o in ALL_OBJECTS if not o[2].get("apiVersion", "").startswith(CUSTOM_GROUPS)]
CUSTOM = [o for o in ALL_OBJECTS if o[2].get("apiVersion", "").startswith(CUSTOM_GROUPS)]


def test_there_is_something_to_validate():
    kinds = {t for _, t, _ in OBJECTS}
    assert {"kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", "kubernetes:core/v1:Secret",
            "kubernetes:apps/v1:DeploymentPatch", "kubernetes:core/v1:ServicePatch", "kubernetes:core/v1:Namespace",
            "kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:core/v1:Pod"} <= kinds


@pytest.mark.parametrize("version", versions())
@pytest.mark.parametrize("name,resource_type,obj", OBJECTS, ids=[o[0] for o in OBJECTS])
def test_valid_in_strict_mode(name, resource_type, obj, version):
    validate(as_applied(resource_type, obj), served_at(obj, version))


@pytest.mark.parametrize("name,resource_type,obj", CUSTOM, ids=[o[0] for o in CUSTOM])
def test_custom_resources_valid_for_their_crds(name, resource_type, obj):
    validate_custom(harness.unwrap_secrets(obj))


def test_there_are_custom_resources_to_validate():
    kinds = {o[2]["kind"] for o in CUSTOM}
    assert {"GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant", "EnvoyExtensionPolicy",
            "ClientTrafficPolicy"} <= kinds


def test_the_validator_rejects_unknown_fields():
    _, resource_type, obj = next(o for o in OBJECTS if o[1] == "kubernetes:apps/v1:Deployment")
    broken = as_applied(resource_type, obj)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, versions()[0])
