"""Injection by label: the admission objects the stack declares, run through a model of the API server's
admission (tests/admission.py: the policies' CEL evaluated with a CEL library, the Object types declared from the
Pod's real 1.36 schema) against representative pods, and the stack's own checks around them.

The oracle for what an injected pod must look like is independent of the policy's expressions: the issue's
contract (one agent, the socket volume, each app container's mount and variable), Kubernetes' Pod schema, and the
pod the module placement builds directly in Python for the same agent settings.
"""

from __future__ import annotations

import copy

import pytest

import admission
import harness
import schema_check
from harness import clean, unwrap_secrets
from sigsci_waf import ConfigError

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG}
INJECTION = {"namespaces": ["shop"]}
SHOP = {"metadata": {"name": "shop", "labels": {"team": "shop"}}}
OTHER = {"metadata": {"name": "other"}}
LABEL = {"sigsci.fastly.com/agent": "module"}
SOCKET_DIR = "/sigsci/tmp"  # the agent's documented default tmpMountPath
SOCKET = f"{SOCKET_DIR}/sigsci.sock"


def _declared(config: dict, mocks: harness.CaptureMocks | None = None) -> dict:
    run = harness.run_config({**BASE, **config}, mocks=mocks)
    return {r.inputs["kind"] if "kind" in r.inputs else r.type.rsplit(":", 1)[1]: unwrap_secrets(clean(r.inputs))
            for r in run.resources if r.type.startswith("kubernetes:") and not r.read
            and r.name.startswith("injection-")}


@pytest.fixture(scope="module")
def objects() -> dict:
    return _declared({"sigsci:injection": INJECTION})


def pod(*containers: dict, labels: dict | None = None, namespace: str = "shop", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "api-7d9f", "namespace": namespace, "labels": {"app": "api", **(labels or {})}},
            "spec": {"containers": list(containers) or [{"name": "api", "image": "registry.example.com/api:1"}],
                     **spec}}


def admit(objects: dict, candidate: dict, namespace: dict = SHOP, params: dict | None | str = "given") -> dict:
    """The pod as it comes out of admission: mutated, then validated (what the API server does in that order)."""
    params = objects["ConfigMap"] if params == "given" else params
    mutated = admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"],
                               copy.deepcopy(candidate), namespace=namespace, params=params)
    admission.validate(objects["ValidatingAdmissionPolicy"], objects["ValidatingAdmissionPolicyBinding"], mutated,
                       namespace=namespace)
    return mutated


def agents(p: dict) -> list[dict]:
    return [c for key in ("containers", "initContainers") for c in p["spec"].get(key, [])
            if c["name"] == "sigsci-agent"]


def env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_every_expression_compiles_against_the_pod_schema(objects):
    assert admission.compile_errors(objects["MutatingAdmissionPolicy"]) == []
    assert admission.compile_errors(objects["ValidatingAdmissionPolicy"]) == []


def test_the_contract_a_labelled_pod_in_shop_gets_exactly_one_agent_the_volume_the_mount_and_the_env(objects):
    out = admit(objects, pod(labels=LABEL))
    [agent] = agents(out)
    assert agent in out["spec"]["initContainers"] and agent["restartPolicy"] == "Always"
    assert [v for v in out["spec"]["volumes"] if v["name"] == "sigsci-tmp"] == [{"name": "sigsci-tmp",
                                                                                  "emptyDir": {}}]
    [app] = out["spec"]["containers"]
    assert app["image"] == "registry.example.com/api:1"
    assert env(app) == {"SIGSCI_RPC_ADDRESS": SOCKET}
    assert app["volumeMounts"] == [{"name": "sigsci-tmp", "mountPath": SOCKET_DIR}]
    assert env(agent)["SIGSCI_RPC_ADDRESS"] == SOCKET
    assert {"name": "sigsci-tmp", "mountPath": SOCKET_DIR} in agent["volumeMounts"]
    # The keys come from the namespace's SigsciSecret.
    assert env(agent)["SIGSCI_ACCESSKEYID"] == {"secretKeyRef": {"name": "sigsci.demo", "key": "accesskeyid"}}
    schema_check.validate(out, "1.36")


def test_the_injected_agent_is_the_module_placements_agent(objects):
    """Two paths to one container: the policy's CEL with its parameters, and the module placement's builder."""
    run = harness.run_config({**BASE, "sigsci:apps": [{"name": "api", "namespace": "shop", "port": 8080,
                                                        "placement": "module", "image": "registry.example.com/api:1"}],
                              "sigsci:injection": INJECTION})
    [deployment] = [m for m in run.manifests() if m["kind"] == "Deployment"]
    [built] = unwrap_secrets(deployment)["spec"]["template"]["spec"]["initContainers"]
    [injected] = agents(admit(objects, pod(labels=LABEL)))
    assert injected == built


@pytest.mark.parametrize("case, candidate, namespace", [
    ("unlabelled", pod(), SHOP),
    ("labelled for something else", pod(labels={"sigsci.fastly.com/agent": "revproxy"}), SHOP),
    ("unlabelled, in a namespace not opted in", pod(namespace="other"), OTHER),
])
def test_pods_that_did_not_ask_are_left_alone(objects, case, candidate, namespace):
    assert admit(objects, candidate, namespace) == candidate


def test_a_labelled_pod_in_a_namespace_not_opted_in_is_refused_not_started_bare(objects):
    candidate = pod(labels=LABEL, namespace="other")
    assert admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"],
                            copy.deepcopy(candidate), namespace=OTHER, params=objects["ConfigMap"]) == candidate
    with pytest.raises(admission.Refused, match="namespaces opted in"):
        admit(objects, candidate, OTHER)
    # One that brings its own agent is its own business.
    own = pod({"name": "api", "image": "a:1"}, {"name": "sigsci-agent", "image": "x:1"}, labels=LABEL,
              namespace="other")
    assert admit(objects, own, OTHER) == own


def test_a_pod_that_already_runs_an_agent_is_left_alone(objects):
    own = {"name": "sigsci-agent", "image": "signalsciences/sigsci-agent:4.69.0"}
    for candidate in (pod({"name": "api", "image": "a:1"}, own, labels=LABEL),
                      pod(labels=LABEL, initContainers=[{**own, "restartPolicy": "Always"}])):
        assert admit(objects, candidate) == candidate


def test_admission_twice_is_admission_once(objects):
    once = admit(objects, pod(labels=LABEL))
    assert admit(objects, once) == once


def test_several_containers_init_containers_and_volumes_of_their_own_are_kept(objects):
    candidate = pod({"name": "api", "image": "a:1", "env": [{"name": "MODE", "value": "prod"}],
                     "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
                    {"name": "worker", "image": "w:1"},
                    labels=LABEL, initContainers=[{"name": "migrate", "image": "m:1"}],
                    volumes=[{"name": "cache", "emptyDir": {}}])
    out = admit(objects, candidate)
    assert [c["name"] for c in out["spec"]["initContainers"]] == ["migrate", "sigsci-agent"]
    assert out["spec"]["initContainers"][0] == {"name": "migrate", "image": "m:1"}
    assert [v["name"] for v in out["spec"]["volumes"]] == ["cache", "sigsci-tmp"]
    api, worker = out["spec"]["containers"]
    assert env(api) == {"MODE": "prod", "SIGSCI_RPC_ADDRESS": SOCKET}
    assert {m["mountPath"] for m in api["volumeMounts"]} == {"/cache", SOCKET_DIR}
    assert env(worker) == {"SIGSCI_RPC_ADDRESS": SOCKET}
    assert len(agents(out)) == 1
    schema_check.validate(out, "1.36")


def test_a_socket_volume_of_the_pods_own_is_refused_unless_it_is_an_empty_dir(objects):
    theirs = pod(labels=LABEL, volumes=[{"name": "sigsci-tmp", "configMap": {"name": "settings"}}])
    with pytest.raises(admission.Refused, match="rename the pod's own volume"):
        admit(objects, theirs)
    empty = pod(labels=LABEL, volumes=[{"name": "sigsci-tmp", "emptyDir": {}}])
    out = admit(objects, empty)
    assert [v for v in out["spec"]["volumes"] if v["name"] == "sigsci-tmp"] == [{"name": "sigsci-tmp",
                                                                                  "emptyDir": {}}]
    assert len(agents(out)) == 1


@pytest.mark.parametrize("candidate, uid", [
    (pod({"name": "api", "image": "a:1", "securityContext": {"runAsUser": 4000}}, labels=LABEL), 4000),
    (pod(labels=LABEL, securityContext={"runAsUser": 5000}), 5000),
    (pod({"name": "api", "image": "a:1", "securityContext": {"runAsUser": 4000}}, labels=LABEL,
         securityContext={"runAsUser": 5000}), 4000),
    (pod(labels=LABEL), 10001),
])
def test_the_agent_runs_as_the_apps_user_so_the_socket_is_the_apps(objects, candidate, uid):
    [agent] = agents(admit(objects, candidate))
    assert (agent["securityContext"]["runAsUser"], agent["securityContext"]["runAsGroup"]) == (uid, uid)


def test_without_its_parameters_a_labelled_pod_is_refused_not_admitted_bare(objects):
    with pytest.raises(admission.Refused):
        admit(objects, pod(labels=LABEL), params=None)
    broken = copy.deepcopy(objects["ConfigMap"])
    del broken["data"]["image"]
    with pytest.raises(admission.Refused):
        admit(objects, pod(labels=LABEL), params=broken)


def test_the_guard_refuses_a_labelled_pod_that_comes_through_without_an_agent(objects):
    """What the guard is for: the mutating policy deleted or unbound, or another mutation that took it out."""
    for bare in (pod(labels=LABEL),
                 pod({"name": "api", "image": "a:1"}, {"name": "sigsci-agent", "image": "x:1"},
                     labels=LABEL, initContainers=[{"name": "sigsci-agent", "image": "x:1"}])):
        with pytest.raises(admission.Refused, match="exactly one sigsci-agent"):
            admission.validate(objects["ValidatingAdmissionPolicy"], objects["ValidatingAdmissionPolicyBinding"],
                               bare, namespace=SHOP)
    admission.validate(objects["ValidatingAdmissionPolicy"], objects["ValidatingAdmissionPolicyBinding"], pod(),
                       namespace=SHOP)  # an unlabelled pod is not its business


def test_fail_closed_by_construction(objects):
    for kind in ("MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"):
        assert objects[kind]["spec"]["failurePolicy"] == "Fail"
    assert objects["MutatingAdmissionPolicyBinding"]["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
    assert objects["ValidatingAdmissionPolicyBinding"]["spec"]["validationActions"] == ["Deny"]


def test_the_agent_version_options_and_resources_change_one_object():
    before = _declared({"sigsci:injection": INJECTION})
    after = _declared({"sigsci:injection": {**INJECTION, "agent": {
        "version": "4.71.0", "options": {"debug-log-web-inputs": 1},
        "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}}})
    changed = {kind for kind in before if before[kind] != after[kind]}
    assert changed == {"ConfigMap"}, changed
    [agent] = agents(admit(after, pod(labels=LABEL)))
    assert agent["image"] == "signalsciences/sigsci-agent:4.71.0"
    assert agent["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert env(agent)["SIGSCI_DEBUG_LOG_WEB_INPUTS"] == "1"


def test_the_objects_pass_kubernetes_136_schemas(objects):
    run = harness.run_config({**BASE, "sigsci:injection": INJECTION})
    schema_check.validate_run(run)
    for obj in objects.values():
        schema_check.validate(obj, "1.36")


def test_created_in_order_and_removed_policy_first():
    run = harness.run_config({**BASE, "sigsci:injection": INJECTION})
    names = ["injection-configmap", "injection-validatingadmissionpolicy",
             "injection-validatingadmissionpolicybinding", "injection-mutatingadmissionpolicy",
             "injection-mutatingadmissionpolicybinding"]
    for earlier, later in zip(names, names[1:]):
        assert earlier in run.options[later]["dependsOn"], (later, run.options[later]["dependsOn"])
    # Its parameters' namespace is the stack's; the opted-in namespace gets the keys, and is not the stack's.
    namespaces = {r.name for r in run.resources if r.type == "kubernetes:core/v1:Namespace"}
    assert namespaces == {"namespace-sigsci-injection"}
    assert {r.name for r in run.resources if r.type == "kubernetes:core/v1:Secret"} == {"sigsci.shop"}
    assert run.outputs["injection"] == {"policyName": "sigsci-agent-injection", "paramsNamespace": "sigsci-injection"}


def test_a_cluster_without_the_api_is_refused_at_preview_naming_the_key():
    mocks = harness.CaptureMocks()
    mocks.cluster = harness.CLUSTER_1_35
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:injection": INJECTION}, mocks=mocks)
    assert err.value.key == "sigsci:injection"
    assert "v1.35.4" in str(err.value) and "MutatingAdmissionPolicy" in str(err.value) and "1.36" in str(err.value)
    assert not [r for r in mocks.resources if "AdmissionPolicy" in r.type]


def test_an_unreachable_cluster_is_said_not_guessed():
    mocks = harness.CaptureMocks()
    mocks.cluster = harness.UNREACHABLE
    run = harness.run_config({**BASE, "sigsci:injection": INJECTION}, mocks=mocks)
    assert any("could not be read" in w and "sigsci:injection" in w for w in run.warnings), run.warnings
    assert [r for r in run.resources if r.type.endswith(":MutatingAdmissionPolicy")]


@pytest.mark.parametrize("injection, key, fragment", [
    ({}, "sigsci:injection.namespaces", "required"),
    ({"namespaces": []}, "sigsci:injection.namespaces", ""),
    ({"namespaces": ["shop", "shop"]}, "sigsci:injection.namespaces", "only once"),
    ({"namespaces": ["Shop"]}, "sigsci:injection.namespaces[0]", ""),
    ({"namespaces": ["shop"], "paramsNamespace": "shop"}, "sigsci:injection.paramsNamespace", "opted-in"),
    ({"namespaces": ["shop"], "runAsUser": 0}, "sigsci:injection.runAsUser", ""),
    ({"namespaces": ["shop"], "rpcAddressEnv": "1BAD="}, "sigsci:injection.rpcAddressEnv", ""),
    ({"namespaces": ["shop"], "listenerPort": 8001}, "sigsci:injection.listenerPort", ""),
])
def test_bad_injection_config_names_the_key(injection, key, fragment):
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:injection": injection})
    assert err.value.key == key, str(err.value)
    assert fragment in str(err.value)


def test_option_values_from_secret_config_stay_secret_in_the_parameters():
    run = harness.run_config({**BASE, "sigsci:injection": {**INJECTION, "agent": {
        "options": {"server-hostname": "edge-secret-host"}}}},
        secret_keys=[*harness.SECRET_KEYS, "sigsci:injection"])
    [params] = [r for r in run.resources if r.type == "kubernetes:core/v1:ConfigMap"]
    data = params.inputs["data"]
    # A secret value makes the map that holds it secret as a whole in the engine's view: the value is inside.
    secret = data if data.get(harness.SECRET_SIG) else data["env.SIGSCI_SERVER_HOSTNAME"]
    assert isinstance(secret, dict) and secret.get(harness.SECRET_SIG), data
    assert "edge-secret-host" in repr(secret["value"])
    assert "edge-secret-host" not in repr(run.warnings)
