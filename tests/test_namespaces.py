"""`pulumi up` on a fresh cluster: every namespace an object of the stack goes to exists first (the stack
creates it, and the object depends on it), or is one the stack must never create."""

from __future__ import annotations

import pytest

import harness
from harness import clean

SYSTEM = {"default", "kube-system", "kube-public", "kube-node-lease"}
NAMESPACE = "kubernetes:core/v1:Namespace"
APP = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}
PATCHED = {"name": "legacy", "placement": "patch", "deployment": "legacy", "service": "legacy", "port": 8080,
           "takeOver": ["service.targetPort"]}


def _closure(run, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for dep in run.options.get(todo.pop(), {}).get("dependsOn", []):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def _existing(config: dict) -> set[str]:
    """What must exist already: the cluster's own, patched apps' namespaces (a module's existing Deployment too),
    injection's opted-in namespaces, the ones the config lists, the
    namespaces of Services routes name (they are someone's), and the ingress's with createNamespace false."""
    import json
    apps = config.get("sigsci:apps") or []
    apps = json.loads(apps) if isinstance(apps, str) else apps
    ingress = config.get("sigsci:ingress") or {}
    given = set(config.get("sigsci:existingNamespaces") or [])
    # A Deployment the stack patches proves its namespace is someone's, as do the namespaces opted in to
    # injection, where others create the pods.
    given |= {a.get("namespace", "default") for a in apps if a.get("placement") in ("patch", "module")
              and "deployment" in a}
    given |= set((config.get("sigsci:injection") or {}).get("namespaces", []))
    given |= {r.get("namespace", "default") for r in ingress.get("routes", []) if "service" in r}
    if ingress and ingress.get("createNamespace") is False:
        given.add(ingress.get("namespace", "sigsci-ingress"))
    return SYSTEM | given


def _check(run, config) -> list[str]:
    created = {clean(r.inputs)["metadata"]["name"]: r.name for r in run.of_type(NAMESPACE)}
    problems = [f"declares namespace {n}" for n in created if n in _existing(config) - SYSTEM or n in SYSTEM]
    problems += [f"declares namespace {n}, which must exist already" for n in created
                 if n in _existing(config)]
    for resource in run.resources:
        if not resource.is_object or resource.type == NAMESPACE:
            continue
        namespace = clean(resource.inputs).get("metadata", {}).get("namespace")
        if namespace is None or namespace in _existing(config):
            continue
        if namespace not in created:
            problems.append(f"{resource.name} goes to {namespace}, which nothing creates")
        elif created[namespace] not in _closure(run, resource.name):
            problems.append(f"{resource.name} may be applied before namespace {namespace} exists")
    return problems


@pytest.mark.parametrize("stack", harness.stack_names())
def test_every_stack_works_on_a_fresh_cluster(stack, stack_runs):
    assert _check(stack_runs[stack], harness.stack_config(stack)) == []


CASES = {
    "owned-apps-in-new-namespaces": {"sigsci:apps": [APP, {**APP, "namespace": "shop"},
                                                     {**APP, "name": "api", "namespace": "billing"}]},
    "patched-namespace-is-someone-elses": {"sigsci:apps": [{**APP, "namespace": "shop"},
                                                           {**PATCHED, "namespace": "shop"}]},
    "system-namespaces": {"sigsci:apps": [{**APP, "namespace": "kube-system"}],
                          "sigsci:ingress": {"namespace": "default"}},
    "listed-as-existing": {"sigsci:apps": [{**APP, "namespace": "shop"}], "sigsci:existingNamespaces": ["shop"]},
    "ingress-namespace-not-created": {"sigsci:ingress": {"namespace": "edge", "createNamespace": False}},
    "module-apps": {"sigsci:apps": [{**APP, "placement": "module", "namespace": "api"},
                                    {"name": "legacy", "placement": "module", "deployment": "legacy", "port": 8080,
                                     "namespace": "legacy"}]},
    "injection-params-namespace-is-the-stacks": {"sigsci:injection": {"namespaces": ["shop", "team-b"]}},
}


@pytest.mark.parametrize("name", list(CASES))
def test_namespaces_are_created_exactly_where_the_stack_owns_them(name):
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, **CASES[name]}
    run = harness.run_config(config)
    assert _check(run, config) == []


def test_which_namespaces_are_declared():
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:existingNamespaces": ["billing"],
              "sigsci:apps": [APP, {**APP, "namespace": "shop"}, {**PATCHED, "namespace": "shop"},
                              {**APP, "name": "api", "namespace": "billing"},
                              {**APP, "name": "edge", "placement": "service", "upstreamService": "edge-app",
                               "image": None, "namespace": "edge"}],
              "sigsci:ingress": {"namespace": "kube-system"}}
    config["sigsci:apps"][-1].pop("image")
    run = harness.run_config(config)
    assert sorted(clean(r.inputs)["metadata"]["name"] for r in run.of_type(NAMESPACE)) == ["edge"]


def test_existing_namespaces_must_be_names():
    from sigsci_waf.config.errors import ConfigError
    with pytest.raises(ConfigError) as err:
        harness.run_config({"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:apps": [APP],
                            "sigsci:existingNamespaces": ["shop", "Bad_NS"]})
    assert err.value.key == "sigsci:existingNamespaces[1]"
