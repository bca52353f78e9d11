"""Validate captured objects against the official Kubernetes schemas (kubernetes-validate, strict)."""

from __future__ import annotations

import copy
import functools
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils

# The library reads and parses the schema files on every call; the files never change during a run, so
# reading each once makes validating thousands of generated objects affordable. Validation is unchanged.
if not hasattr(kubernetes_validate.utils.schema_contents, "cache_info"):
    kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
        kubernetes_validate.utils.schema_contents)

import harness
from harness import unwrap_secrets

OLDEST_SUPPORTED = "1.29"


def versions() -> list[str]:
    return [OLDEST_SUPPORTED, kubernetes_validate.utils.latest_version()]


# What a patch lands on: a typical Deployment and Service that another tool created.
_EXISTING_DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "existing", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "existing"}},
        "template": {
            "metadata": {"labels": {"app": "existing"}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1.0",
                                     "ports": [{"containerPort": 8080}]}]},
        },
    },
}
_EXISTING_SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "existing", "namespace": "default"},
    "spec": {"selector": {"app": "existing"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}
# Server-side apply merges these lists by key; everything else merges as maps.
_LIST_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "ports": "port", "env": "name",
              "volumeMounts": "mountPath"}
# Kinds Kubernetes serves only from a version on: checked on the versions that have them.
SINCE = {"MutatingAdmissionPolicy": "1.36", "MutatingAdmissionPolicyBinding": "1.36",
         "ValidatingAdmissionPolicy": "1.30", "ValidatingAdmissionPolicyBinding": "1.30"}


def _merge(base: Any, patch: Any, field: str | None = None) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = _merge(base.get(key), value, key) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in _LIST_KEYS:
        key = _LIST_KEYS[field]
        merged = [copy.deepcopy(item) for item in base]
        for item in patch:
            match = next((i for i, old in enumerate(merged) if old.get(key) == item.get(key)), None)
            if match is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[match] = _merge(merged[match], item)
        return merged
    return copy.deepcopy(patch)


def as_applied(resource_type: str, inputs: dict) -> dict:
    """The object the API server would validate: a patch merged onto a typical existing object."""
    obj = unwrap_secrets(inputs)
    if resource_type == "kubernetes:apps/v1:DeploymentPatch":
        # The existing app container is the one the patch names, if it names one (a module's).
        named = [c["name"] for c in obj["spec"]["template"]["spec"].get("containers", [])]
        existing = copy.deepcopy(_EXISTING_DEPLOYMENT)
        if named:
            existing["spec"]["template"]["spec"]["containers"][0]["name"] = named[0]
        return _merge(existing, obj)
    if resource_type == "kubernetes:core/v1:ServicePatch":
        return _merge(_EXISTING_SERVICE, obj)
    return obj


def _numeric(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def served_at(obj: dict, version: str) -> str:
    """The version to validate `obj` at for `version`: the first that serves its kind, if it came later."""
    since = SINCE.get(obj.get("kind", ""))
    return max(version, since, key=_numeric) if since else version


def validate(obj: dict, version: str) -> None:
    """Raise kubernetes_validate.ValidationError when `obj` is not valid for `version`, unknown fields included."""
    kubernetes_validate.validate(obj, version, strict=True)


# Custom resources, checked against their CRDs' own schemas and CEL rules at the pinned versions.
CUSTOM_GROUPS = ("gateway.networking.k8s.io/", "gateway.envoyproxy.io/")


def validate_custom(obj: dict) -> None:
    """Raise AssertionError when the custom resource `obj` is not valid for its CRD (skip the test, saying why,
    when the pinned CRDs are not here)."""
    import pytest

    import crd_schema

    missing = crd_schema.missing()
    if missing:
        pytest.skip(f"custom resources not checked: {missing}")
    errors = crd_schema.validate(obj)
    assert errors == [], f"{obj['kind']} {obj['metadata'].get('name')}: {errors}"


ISTIO_CRDS = "istio-1.30.3"


def validate_envoy_filter(obj: dict) -> None:
    """Raise AssertionError when an Istio EnvoyFilter's patches are not valid Envoy configuration, or (where
    Istio's pinned CRDs are here: tests/test_gateway.py says when they are not) the filter is not valid for its
    CRD."""
    import crd_schema
    import envoy_api

    assert envoy_api.errors(obj) == [], f"EnvoyFilter {obj['metadata'].get('name')}: {envoy_api.errors(obj)}"
    if crd_schema.optional_missing(ISTIO_CRDS) is None:
        errors = crd_schema.validate(obj)
        assert errors == [], f"EnvoyFilter {obj['metadata'].get('name')}: {errors}"


def validate_run(run: "harness.Run", *, custom: bool = True) -> None:
    """Every object a run declares, and the pod each Helm release would run, on every version we support;
    custom resources against their CRDs (unless `custom` is false: for a caller that has said why they are not
    checked, where a skip would lose the rest of its checks)."""
    objects = [(r.type, harness.clean(r.inputs)) for r in run.resources if r.is_object]
    objects += [("kubernetes:core/v1:Pod", pod) for _, pod in harness.chart_pods(run, with_controller=True)]
    for resource_type, obj in objects:
        if obj.get("apiVersion", "").startswith(CUSTOM_GROUPS):
            if custom:
                validate_custom(unwrap_secrets(obj))
            continue
        if obj.get("apiVersion", "").startswith("networking.istio.io/") and obj.get("kind") == "EnvoyFilter":
            validate_envoy_filter(unwrap_secrets(obj))
            continue
        for version in versions():
            validate(as_applied(resource_type, obj), served_at(obj, version))
