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
    guard(objects, mutated, namespace, params=params)
    schema_check.validate(mutated, "1.36")  # what comes out is a Pod of the 1.36 schema
    return mutated


def guard(objects: dict, candidate: dict, namespace: dict = SHOP, params: dict | None = None, **request) -> None:
    """The guard alone (`request`: operation, old)."""
    admission.validate(objects["ValidatingAdmissionPolicy"], objects["ValidatingAdmissionPolicyBinding"], candidate,
                       namespace=namespace, params=objects["ConfigMap"] if params is None else params, **request)


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
    ("labelled for something else", pod(labels={"app.kubernetes.io/agent": "module"}), SHOP),
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
    # One that brings an agent of its own is refused there too.
    own = pod({"name": "api", "image": "a:1"}, {"name": "sigsci-agent", "image": "x:1"}, labels=LABEL,
              namespace="other")
    with pytest.raises(admission.Refused, match="exactly one sigsci-agent, as a native sidecar"):
        admit(objects, own, OTHER)


@pytest.mark.parametrize("value", ["Module", "MODULE", "true", "yes", "enabled", "revproxy", "module-v2", ""])
@pytest.mark.parametrize("namespace", [SHOP, OTHER], ids=["opted-in", "not-opted-in"])
def test_a_label_value_other_than_module_is_refused_not_ignored(objects, value, namespace):
    candidate = pod(labels={"sigsci.fastly.com/agent": value}, namespace=namespace["metadata"]["name"])
    with pytest.raises(admission.Refused, match="takes the value 'module'.*reverse proxy by label is not"):
        admit(objects, candidate, namespace)


_APP = {"name": "api", "image": "a:1"}
_REAL = "signalsciences/sigsci-agent:4.70.0"


@pytest.mark.parametrize("case, candidate", [
    ("a stand-in in containers", pod(_APP, {"name": "sigsci-agent", "image": "busybox",
                                            "command": ["sleep", "infinity"]}, labels=LABEL)),
    ("a plain init container that exits", pod(_APP, labels=LABEL, initContainers=[
        {"name": "sigsci-agent", "image": "busybox", "command": ["true"]}])),
    ("the real image without keys, as a native sidecar", pod(_APP, labels=LABEL, initContainers=[
        {"name": "sigsci-agent", "image": _REAL, "restartPolicy": "Always"}])),
    ("a reverse proxy sidecar left over", pod(_APP, {"name": "sigsci-agent", "image": _REAL, "env": [
        {"name": "SIGSCI_REVPROXY_LISTENER",
         "value": "app:{listener=http://0.0.0.0:8001,upstreams=http://127.0.0.1:8000}"}]}, labels=LABEL)),
])
def test_a_labelled_pod_that_brings_its_own_agent_is_refused(objects, case, candidate):
    """The label asks admission for the agent: a container of that name the pod brings is not taken for it."""
    with pytest.raises(admission.Refused, match="sigsci-agent"):
        admit(objects, candidate)


@pytest.mark.parametrize("case, change", [
    ("another image", lambda a: a.update(image="busybox")),
    ("a command of its own", lambda a: a.update(command=["sleep", "infinity"])),
    ("args of its own", lambda a: a.update(args=["--help"])),
    ("a variable more", lambda a: a["env"].append({"name": "SIGSCI_REVPROXY_LISTENER", "value": "x:{}"})),
    ("a variable less", lambda a: a["env"].pop()),
    ("a variable changed", lambda a: a["env"][-1].update(value="changed")),
    ("a variable from elsewhere", lambda a: a["env"][-1].update(value=None, valueFrom={
        "configMapKeyRef": {"name": "x", "key": "y"}})),
    ("the keys from another Secret", lambda a: a["env"][0]["valueFrom"]["secretKeyRef"].update(name="other")),
    ("the keys optional", lambda a: a["env"][1]["valueFrom"]["secretKeyRef"].update(optional=True)),
    ("a key swapped", lambda a: a["env"][0]["valueFrom"]["secretKeyRef"].update(key="secretaccesskey")),
    ("variables from a ConfigMap", lambda a: a.update(envFrom=[{"configMapRef": {"name": "x"}}])),
    ("the socket in a subPath", lambda a: a["volumeMounts"][0].update(subPath="agent")),
    ("the socket elsewhere", lambda a: a["volumeMounts"][0].update(mountPath="/var/run/sigsci")),
    ("not a native sidecar", lambda a: a.pop("restartPolicy")),
    # Every field the policy sets has its value, and the agent has no field the policy does not set.
    ("a liveness probe that always fails", lambda a: a.update(livenessProbe={
        "httpGet": {"path": "/", "port": 1}, "periodSeconds": 1, "failureThreshold": 1})),
    ("a hook that deletes the socket", lambda a: a.update(lifecycle={"postStart": {"exec": {"command": [
        "sh", "-c", f"sleep 20; rm -f {SOCKET}"]}}})),
    ("a working directory", lambda a: a.update(workingDir="/tmp")),
    ("the startup probe dropped", lambda a: a.pop("startupProbe")),
    ("the startup probe's threshold", lambda a: a["startupProbe"].update(failureThreshold=100000)),
    ("a defaulted probe field with another value", lambda a: a["startupProbe"].update(timeoutSeconds=30)),
    ("a memory limit of its own", lambda a: a["resources"]["limits"].update(memory="8Mi")),
    ("a resource more", lambda a: a["resources"]["limits"].update({"ephemeral-storage": "1Mi"})),
    ("another user", lambda a: a["securityContext"].update(runAsUser=4242, runAsGroup=4242)),
    ("a capability added", lambda a: a["securityContext"]["capabilities"].update(add=["NET_ADMIN"])),
    ("a writable root", lambda a: a["securityContext"].update(readOnlyRootFilesystem=False)),
    ("another pull policy", lambda a: a.update(imagePullPolicy="Never")),
    ("a port more", lambda a: a["ports"].append({"name": "x", "containerPort": 9999, "protocol": "TCP"})),
    ("a terminationMessagePath of its own", lambda a: a.update(terminationMessagePath="/sigsci/tmp/sigsci.sock")),
    ("a mount more", lambda a: a["volumeMounts"].append({"name": "sigsci-tmp", "mountPath": "/etc/sigsci"})),
    ("a mount over the socket", lambda a: a["volumeMounts"].append({"name": "sigsci-tmp",
                                                                      "mountPath": SOCKET, "subPath": "x"})),
    ("the mount read-only", lambda a: a["volumeMounts"][0].update(readOnly=True)),
    ("a key from two sources", lambda a: a["env"][0]["valueFrom"].update(
        configMapKeyRef={"name": "x", "key": "y"})),
    ("the image from a mirror", lambda a: a.update(image="mirror.example.com/" + a["image"])),
    ("the image with its registry named", lambda a: a.update(image="docker.io/" + a["image"])),
    ("a digest that is not one", lambda a: a.update(image=a["image"] + "@sha256:" + "z" * 64)),
    ("a digest of another length", lambda a: a.update(image=a["image"] + "@sha256:" + "a" * 63)),
])
def test_an_agent_that_is_not_the_injected_one_is_refused(objects, case, change):
    """Each check of the guard's on the agent, one change at a time to the agent admission adds."""
    injected = admit(objects, pod(labels=LABEL))
    [agent] = agents(injected)
    change(agent)
    agent["env"] = [{k: v for k, v in e.items() if v is not None} for e in agent["env"]]
    with pytest.raises(admission.Refused, match="sigsci-agent"):
        admit(objects, injected)


def test_a_pod_that_brings_its_own_agent_and_volumes_for_it_is_refused(objects):
    """Options by file: a ConfigMap mounted where the agent reads its configuration."""
    injected = admit(objects, pod(labels=LABEL))
    agents(injected)[0]["volumeMounts"].append({"name": "conf", "mountPath": "/etc/sigsci"})
    injected["spec"]["volumes"].append({"name": "conf", "configMap": {"name": "agent-conf"}})
    with pytest.raises(admission.Refused, match="its volumeMounts is not the policy's"):
        admit(objects, injected)


def test_the_injected_agent_as_the_api_server_defaults_it_is_admitted(objects):
    """A pod created from an exported one carries the fields the API server fills in, with their defaults."""
    exported = admit(objects, pod(labels=LABEL))
    [agent] = agents(exported)
    agent.update(terminationMessagePath="/dev/termination-log", terminationMessagePolicy="File")
    agent["startupProbe"].update(timeoutSeconds=1, successThreshold=1)
    agent["startupProbe"]["httpGet"].update(scheme="HTTP")
    assert admit(objects, exported) == exported


def test_the_agents_image_pinned_by_digest_after_the_policy_is_admitted(objects):
    """A digest-pinning webhook runs after the policy and adds the digest to the parameters' image."""
    pinned = admit(objects, pod(labels=LABEL))
    agents(pinned)[0]["image"] += "@sha256:" + "0123456789abcdef" * 4
    assert admit(objects, pinned) == pinned


def test_quantities_are_compared_as_the_api_server_shows_them():
    """The API server shows `0.5` as `500m` in admission: the parameters carry that form."""
    objects = _declared({"sigsci:injection": {**INJECTION, "agent": {
        "resources": {"limits": {"cpu": "0.5", "memory": "0.5Gi"}, "requests": {"cpu": "0.25", "memory": "256Mi"}}}}})
    [agent] = agents(admit(objects, pod(labels=LABEL)))
    assert agent["resources"] == {"limits": {"cpu": "500m", "memory": "512Mi"},
                                  "requests": {"cpu": "250m", "memory": "256Mi"}}


@pytest.mark.parametrize("text, shown", [
    ("0.5", "500m"), ("1", "1"), ("100m", "100m"), ("1000m", "1"), ("1.5", "1500m"), ("1000", "1k"),
    ("1500", "1500"), ("512Mi", "512Mi"), ("0.5Gi", "512Mi"), ("1024Mi", "1Gi"), ("2000Mi", "2000Mi"),
    ("1e3", "1e3"), ("129e6", "129e6"), ("129M", "129M"), ("0.0001", "100u"), ("0", "0"),
])
def test_canonical_quantities(text, shown):
    from sigsci_waf.injection.build import canonical_quantity
    assert canonical_quantity(text) == shown


def test_a_pod_with_the_injected_agent_already_is_admitted_as_it_is(objects):
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


def admit_after_webhook(objects: dict, candidate: dict, webhook) -> dict:
    """Admission with a mutating webhook after the policies (the API server's order): the policy, the webhook's
    change, the policy again (`reinvocationPolicy: IfNeeded`, as the webhook changed the pod), then the guard."""
    def policy(p: dict) -> dict:
        return admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"],
                                copy.deepcopy(p), namespace=SHOP, params=objects["ConfigMap"])
    once = policy(candidate)
    changed = copy.deepcopy(once)
    webhook(changed)
    out = policy(changed) if changed != once else once
    guard(objects, out)
    schema_check.validate(out, "1.36")
    return out


_PROXY = {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.28.0",
          "ports": [{"containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom"}]}


@pytest.mark.parametrize("case, webhook", [
    ("a mesh's proxy in containers", lambda p: p["spec"]["containers"].append(copy.deepcopy(_PROXY))),
    ("a mesh's proxy as a native sidecar, first", lambda p: p["spec"]["initContainers"].insert(
        0, {**copy.deepcopy(_PROXY), "restartPolicy": "Always"})),
    ("a secrets agent and its init container", lambda p: (
        p["spec"]["containers"].append({"name": "vault-agent", "image": "hashicorp/vault:1.20"}),
        p["spec"]["initContainers"].insert(0, {"name": "vault-agent-init", "image": "hashicorp/vault:1.20"}))),
])
def test_a_container_a_webhook_adds_after_the_policy_is_linked_when_the_policy_runs_again(objects, case, webhook):
    out = admit_after_webhook(objects, pod(labels=LABEL), webhook)
    assert len(agents(out)) == 1
    for c in out["spec"]["containers"] + [c for c in out["spec"]["initContainers"]
                                          if c.get("restartPolicy") == "Always" and c["name"] != "sigsci-agent"]:
        assert env(c)["SIGSCI_RPC_ADDRESS"] == SOCKET, c["name"]
        assert {"name": "sigsci-tmp", "mountPath": SOCKET_DIR} in c["volumeMounts"], c["name"]
    # An init container that runs to completion is not linked.
    assert all("env" not in c for c in out["spec"]["initContainers"] if c["name"] == "vault-agent-init")


def test_an_app_running_as_a_native_sidecar_is_linked_and_starts_after_the_agent(objects):
    web = {"name": "web", "image": "web:1", "restartPolicy": "Always", "ports": [{"containerPort": 8080}]}
    out = admit(objects, pod({"name": "pause", "image": "registry.k8s.io/pause:3.10"}, labels=LABEL,
                             initContainers=[{"name": "migrate", "image": "m:1"}, web,
                                             {"name": "warm", "image": "m:1"}]))
    assert [c["name"] for c in out["spec"]["initContainers"]] == ["migrate", "sigsci-agent", "web", "warm"]
    linked = out["spec"]["initContainers"][2]
    assert env(linked) == {"SIGSCI_RPC_ADDRESS": SOCKET}
    assert linked["volumeMounts"] == [{"name": "sigsci-tmp", "mountPath": SOCKET_DIR}]
    assert "env" not in out["spec"]["initContainers"][0] and "env" not in out["spec"]["initContainers"][3]
    # Without the link (another mutation took it out), refused.
    del linked["env"]
    with pytest.raises(admission.Refused, match="every container has the agent's socket"):
        guard(objects, out)


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


@pytest.mark.parametrize("candidate", [
    pod({"name": "api", "image": "a:1", "securityContext": {"runAsUser": 0}}, labels=LABEL),
    pod(labels=LABEL, securityContext={"runAsUser": 0}),
    pod({"name": "api", "image": "a:1", "securityContext": {"runAsUser": 0}}, labels=LABEL,
        securityContext={"runAsUser": 5000}),
])
def test_an_app_that_runs_as_root_is_refused_the_agent_would_not_start(objects, candidate):
    with pytest.raises(admission.Refused, match=r"runs as root \(0\)"):
        admit(objects, candidate)
    # The app's own user wins over the pod's: a root pod with a non-root app is fine.
    admit(objects, pod({"name": "api", "image": "a:1", "securityContext": {"runAsUser": 4000}}, labels=LABEL,
                       securityContext={"runAsUser": 0}))


_AT_SOCKET = [
    ("the socket volume in a subPath", {"name": "sigsci-tmp", "mountPath": SOCKET_DIR, "subPath": "app"}),
    ("the socket volume in a subPathExpr", {"name": "sigsci-tmp", "mountPath": SOCKET_DIR,
                                            "subPathExpr": "$(POD_NAME)"}),
    ("the socket volume elsewhere in a subPath", {"name": "sigsci-tmp", "mountPath": "/data", "subPath": "app"}),
    ("another volume where the socket goes", {"name": "data", "mountPath": SOCKET_DIR}),
    ("another volume there with a trailing slash", {"name": "data", "mountPath": SOCKET_DIR + "/"}),
    ("another volume over the socket", {"name": "data", "mountPath": SOCKET}),
]


@pytest.mark.parametrize("case, mount", _AT_SOCKET, ids=[case for case, _ in _AT_SOCKET])
def test_a_mount_of_the_pods_own_where_the_socket_goes_is_refused_not_merged(objects, case, mount):
    candidate = pod({"name": "api", "image": "a:1", "volumeMounts": [mount]}, labels=LABEL,
                    volumes=[{"name": "sigsci-tmp", "emptyDir": {}},
                             {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    # Not mutated (the merge would keep the subPath, or switch the claim to the agent's emptyDir): refused.
    assert admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"],
                            copy.deepcopy(candidate), namespace=SHOP, params=objects["ConfigMap"]) == candidate
    with pytest.raises(admission.Refused, match="mounts something else there or under it"):
        admit(objects, candidate)


def test_the_pods_own_whole_mount_of_the_socket_volume_is_kept(objects):
    for mounts in ([{"name": "sigsci-tmp", "mountPath": SOCKET_DIR}], [{"name": "sigsci-tmp", "mountPath": "/data"}],
                   [{"name": "data", "mountPath": "/sigsci"}]):
        candidate = pod({"name": "api", "image": "a:1", "volumeMounts": mounts}, labels=LABEL,
                        volumes=[{"name": "sigsci-tmp", "emptyDir": {}}, {"name": "data", "emptyDir": {}}])
        [app] = admit(objects, candidate)["spec"]["containers"]
        assert {"name": "sigsci-tmp", "mountPath": SOCKET_DIR} in app["volumeMounts"]


@pytest.mark.parametrize("env_name", ["SIGSCI_RPC_ADDRESS", "APP_AGENT_ADDRESS"])
def test_the_apps_own_address_variable_from_elsewhere_is_refused_a_plain_one_replaced(env_name):
    objects = _declared({"sigsci:injection": {**INJECTION, "rpcAddressEnv": env_name}})
    from_elsewhere = pod({"name": "api", "image": "a:1", "env": [
        {"name": env_name, "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "agent"}}}]}, labels=LABEL)
    assert admission.mutate(objects["MutatingAdmissionPolicy"], objects["MutatingAdmissionPolicyBinding"],
                            copy.deepcopy(from_elsewhere), namespace=SHOP,
                            params=objects["ConfigMap"]) == from_elsewhere
    with pytest.raises(admission.Refused, match=f"{env_name} is set by admission.*from valueFrom"):
        admit(objects, from_elsewhere)
    plain = pod({"name": "api", "image": "a:1", "env": [{"name": env_name, "value": "tcp:10.0.0.9:9999"}]},
                labels=LABEL)
    [app] = admit(objects, plain)["spec"]["containers"]
    assert app["env"] == [{"name": env_name, "value": SOCKET}]


def _startup_probe(enabled: bool) -> dict:
    return _declared({"sigsci:injection": {**INJECTION, "agent": {"startupProbe": {"enabled": enabled,
                                                                                      "port": 2031}}}})


@pytest.mark.parametrize("where", ["containers", "initContainers"])
def test_an_app_port_the_agents_startup_probe_takes_is_refused_when_the_probe_is_on(where):
    """The rule follows the resolved settings: the probe's port, when the probe is on, whatever the default."""
    taken = {"name": "web", "image": "w:1", "ports": [{"containerPort": 2031}]}
    spec = {"initContainers": [{**taken, "restartPolicy": "Always"}]} if where == "initContainers" else {}
    containers = [_APP] + ([taken] if where == "containers" else [])
    on, off = _startup_probe(True), _startup_probe(False)
    [agent] = agents(admit(on, pod(labels=LABEL)))
    assert {"name": "sigsci-startup", "containerPort": 2031, "protocol": "TCP"} in agent["ports"]
    with pytest.raises(admission.Refused, match=r"agent listens on 2031 \(sigsci-startup\)"):
        admit(on, pod(*containers, labels=LABEL, **spec))
    out = admit(off, pod(*containers, labels=LABEL, **spec))
    assert "ports" not in agents(out)[0]


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
            guard(objects, bare)
    # The app containers without the socket's mount or variable (another mutation took them out).
    injected = admit(objects, pod(labels=LABEL))
    for part in ("env", "volumeMounts"):
        bare = copy.deepcopy(injected)
        del bare["spec"]["containers"][0][part]
        with pytest.raises(admission.Refused, match="every container has the agent's socket"):
            guard(objects, bare)
    guard(objects, pod())  # an unlabelled pod is not its business


def test_fail_closed_by_construction(objects):
    for kind in ("MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"):
        assert objects[kind]["spec"]["failurePolicy"] == "Fail"
    for kind in ("MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding"):
        assert objects[kind]["spec"]["paramRef"]["parameterNotFoundAction"] == "Deny"
    # The guard checks the agent against the parameters: without them, a labelled pod is refused.
    elsewhere = copy.deepcopy(objects["ConfigMap"])
    elsewhere["metadata"]["name"] = "another"
    with pytest.raises(admission.Refused, match="no params found"):
        guard(objects, admit(objects, pod(labels=LABEL)), params=elsewhere)
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


def _running(objects: dict) -> dict:
    """A pod as admission made it, and as the API server keeps it."""
    running = admit(objects, pod(labels=LABEL))
    running["metadata"]["uid"] = "1f0c2a9e-0000-4000-8000-000000000001"
    return running


def _updated(running: dict, change) -> dict:
    new = copy.deepcopy(running)
    change(new)
    return new


@pytest.mark.parametrize("case, change", [
    ("the agent's image", lambda p: agents(p)[0].update(image="busybox")),
    ("the label to another value", lambda p: p["metadata"]["labels"].update({"sigsci.fastly.com/agent": "revproxy"})),
])
def test_an_update_that_changes_the_agent_or_the_labels_value_is_refused(objects, case, change):
    running = _running(objects)
    with pytest.raises(admission.Refused, match="keeps the image it was admitted with|takes the value 'module'"):
        guard(objects, _updated(running, change), operation="UPDATE", old=running)


@pytest.mark.parametrize("case, change", [
    ("the app's image", lambda p: p["spec"]["containers"][0].update(image="registry.example.com/api:2")),
    ("a label of its own", lambda p: p["metadata"]["labels"].update(tier="web")),
    ("a finalizer", lambda p: p["metadata"].update(finalizers=["example.com/drain"])),
    ("its owner", lambda p: p["metadata"].update(ownerReferences=[{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d9f", "uid": "0f", "controller": True}])),
    ("an annotation", lambda p: p["metadata"].update(annotations={"example.com/note": "x"})),
])
def test_the_updates_a_running_pod_gets_are_admitted(objects, case, change):
    running = _running(objects)
    guard(objects, _updated(running, change), operation="UPDATE", old=running)


@pytest.mark.parametrize("case, change", [
    ("the label taken off", lambda p: p["metadata"]["labels"].pop("sigsci.fastly.com/agent")),
    ("the labels taken off", lambda p: p["metadata"].pop("labels")),
    ("the agent's image, with the label taken off",
     lambda p: (p["metadata"]["labels"].pop("sigsci.fastly.com/agent"), agents(p)[0].update(image="busybox"))),
])
def test_a_running_pod_with_its_agent_keeps_the_label(objects, case, change):
    """The label is what has the guard check a pod's updates: taken off, the next update could swap the agent."""
    running = _running(objects)
    with pytest.raises(admission.Refused, match="keeps the label sigsci.fastly.com/agent for its life"):
        guard(objects, _updated(running, change), operation="UPDATE", old=running)
    # A labelled pod without an agent (from before injection) may lose it.
    bare = pod(labels=LABEL)
    guard(objects, _updated(bare, change if "image" not in case else lambda p: p["metadata"]["labels"].clear()),
          operation="UPDATE", old=bare)


def _debug(running: dict, **fields) -> dict:
    return _updated(running, lambda p: p["spec"].update(ephemeralContainers=[
        {"name": "debugger", "image": "busybox", "stdin": True, "tty": True, **fields}]))


@pytest.mark.parametrize("case, fields", [
    ("the socket volume mounted", {"volumeMounts": [{"name": "sigsci-tmp", "mountPath": "/x"}]}),
    ("the agent targeted", {"targetContainerName": "sigsci-agent"}),
])
def test_an_ephemeral_container_that_reaches_the_socket_is_refused(objects, case, fields):
    """Ephemeral containers come by their own subresource (its object is the Pod), which the guard watches."""
    running = _running(objects)
    with pytest.raises(admission.Refused, match="ephemeral container"):
        guard(objects, _debug(running, **fields), operation="UPDATE", old=running, subresource="ephemeralcontainers")
    guard(objects, _debug(running, targetContainerName="api"), operation="UPDATE", old=running,
          subresource="ephemeralcontainers")


def test_a_pod_admitted_under_other_parameters_can_still_be_updated(objects):
    """A new agent version changes the parameters; running pods keep theirs, and their updates are not refused."""
    running = _running(objects)
    newer = _declared({"sigsci:injection": {**INJECTION, "agent": {"version": "4.71.0"}}})
    relabelled = _updated(running, lambda p: p["metadata"]["labels"].update(tier="web"))
    guard(newer, relabelled, operation="UPDATE", old=running)
    # Running pods from before injection, bare, or labelled with a value that is now refused, too.
    for value in ("module", "Module"):
        bare = pod(labels={"sigsci.fastly.com/agent": value})
        guard(objects, _updated(bare, lambda p: p["metadata"].update(finalizers=["x/y"])), operation="UPDATE",
              old=bare)


def test_the_label_added_to_a_running_pod_without_an_agent_is_refused(objects):
    bare = pod()
    with pytest.raises(admission.Refused, match="exactly one sigsci-agent"):
        guard(objects, _updated(bare, lambda p: p["metadata"]["labels"].update(LABEL)), operation="UPDATE",
              old=bare)
    with pytest.raises(admission.Refused, match="takes the value 'module'"):
        guard(objects, _updated(bare, lambda p: p["metadata"]["labels"].update({"sigsci.fastly.com/agent": "on"})),
              operation="UPDATE", old=bare)


def test_the_guard_watches_updates_and_the_policy_creations(objects):
    assert objects["ValidatingAdmissionPolicy"]["spec"]["matchConstraints"]["resourceRules"] == [{
        "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
        "resources": ["pods", "pods/ephemeralcontainers"]}]
    assert objects["MutatingAdmissionPolicy"]["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == [
        "CREATE"]
