"""The admission objects of injection by label, as pure functions of the resolved settings.

- A parameter ConfigMap: the agent's image, pull policy, resources and every environment variable but the keys'
  references (options included). Changing the agent version, options or resources changes this one object;
  the policy reads it for each new pod.
- A ValidatingAdmissionPolicy and its binding: a labelled pod, in any namespace, must come out of admission
  with exactly one agent (and the agent's socket volume an emptyDir), or it is refused: in a namespace that is
  not opted in, the label asks for an agent nothing adds. This is what
  keeps a pod that asked for an agent from starting without one, whatever happened to the mutating policy.
- The MutatingAdmissionPolicy and its binding: for a labelled pod without an agent, a JSONPatch appends the
  agent as a native sidecar (`add` of `[]` first when the pod has no init containers: the shape that works on a
  real API server, see docs/injection.md), and an ApplyConfiguration adds the socket volume and, to every
  container (merged by name), the socket mount and the variable naming the socket. `failurePolicy: Fail`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..agent.container import AGENT_CONTAINER, TMP_VOLUME, Rpc, module_link, module_sidecar
from ..agent.workloads import PART_OF
from ..config.injection import INJECTION_LABEL, MODULE_VALUE
from ..config.refs import ADMISSION_API, SECRET_NAME
from .cel import Expr, literal, string

if TYPE_CHECKING:
    from ..resolve.injection import ResolvedInjection

ADMISSION = "admissionregistration.k8s.io/v1"
POLICY_NAME = "sigsci-agent-injection"
GUARD_NAME = "sigsci-agent-required"
PARAMS_NAME = POLICY_NAME
# On the admission objects: the cluster's version, read and found to serve the API (the check passed).
CHECKED_ANNOTATION = "sigsci.fastly.com/admission-api"
_UID = Expr("variables.uid")
_NO_AGENT = (f"!object.spec.containers.exists(c, c.name == {string(AGENT_CONTAINER)}) && "
             f"(!has(object.spec.initContainers) || "
             f"!object.spec.initContainers.exists(c, c.name == {string(AGENT_CONTAINER)}))")
_AGENT_COUNT = (f"size(object.spec.containers.filter(c, c.name == {string(AGENT_CONTAINER)})) + "
                f"(has(object.spec.initContainers) ? "
                f"size(object.spec.initContainers.filter(c, c.name == {string(AGENT_CONTAINER)})) : 0)")
_SOCKET_VOLUME_IS_OURS = (f"!has(object.spec.volumes) || "
                          f"object.spec.volumes.all(v, v.name != {string(TMP_VOLUME)} || has(v.emptyDir))")


def _param(key: str) -> Expr:
    return Expr(f"params.data[{string(key)}]")


def parameterized(container: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The agent container with its image, pull policy, resources and environment read from the parameter
    object, and that object's data. The keys' references stay in the policy (their Secret's name is a
    parameter); every other variable, options included, is listed in the parameters by name (`env`, in the
    builder's order) with its value beside it (`env.<NAME>`), so adding an option changes the parameters only."""
    data: dict[str, Any] = {"image": container["image"], "imagePullPolicy": container["imagePullPolicy"]}
    resources: dict[str, Any] = {}
    for part, quantities in container["resources"].items():
        resources[part] = {}
        for kind, quantity in quantities.items():
            data[f"resources.{part}.{kind}"] = quantity
            resources[part][kind] = _param(f"resources.{part}.{kind}")
    keys, names = [], []
    for entry in container["env"]:
        if "value" in entry:
            names.append(entry["name"])
            data[f"env.{entry['name']}"] = entry["value"]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            data["secretName"] = ref["name"]
            keys.append({**entry, "valueFrom": {"secretKeyRef": {**ref, "name": _param("secretName")}}})
    data["env"] = ",".join(names)
    env_type = "Object.spec.initContainers.env"
    variables = (f'(params.data["env"] == "" ? [] : params.data["env"].split(",").map(name, '
                 f'{env_type}{{name: name, value: params.data["env." + name]}}))')
    return {**container, "image": _param("image"), "imagePullPolicy": _param("imagePullPolicy"),
            "resources": resources, "env": Expr(f"{literal(keys, env_type)} + {variables}")}, data


def _uid(default: int) -> str:
    """The app's user: the first container's, else the pod's, else `default`; the agent runs as it."""
    first = "object.spec.containers[0].securityContext"
    pod = "object.spec.securityContext"
    return (f"has({first}) && has({first}.runAsUser) ? {first}.runAsUser : "
            f"(has({pod}) && has({pod}.runAsUser) ? {pod}.runAsUser : {default})")


_LABELLED = {"objectSelector": {"matchLabels": {INJECTION_LABEL: MODULE_VALUE}}}


def _match(injection: ResolvedInjection) -> dict[str, Any]:
    """Labelled pods in the opted-in namespaces: where the agent is added."""
    return {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                        "values": sorted(injection.spec.namespaces)}]},
            **_LABELLED}


_POD_CREATE = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                  "resources": ["pods"]}]}


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(PART_OF)}
    if namespace is None:
        metadata["annotations"] = {CHECKED_ANNOTATION: ADMISSION_API}
    else:
        metadata["namespace"] = namespace
    return metadata


def build_injection(injection: ResolvedInjection) -> list[dict[str, Any]]:
    """In the order they are created: the parameters, the guard, the policy (deleted in reverse: the policy
    goes before the guard)."""
    spec, settings = injection.spec, injection.agent
    mode = Rpc()
    agent = module_sidecar(settings, SECRET_NAME, mode, _UID, secret=injection.secret)  # type: ignore[arg-type]
    container, data = parameterized(agent.container)
    link = module_link(settings, mode, spec.rpc_address_env)
    add_agent = (f"(has(object.spec.initContainers) ? [] : "
                 f"[JSONPatch{{op: \"add\", path: \"/spec/initContainers\", value: []}}]) + "
                 f"[JSONPatch{{op: \"add\", path: \"/spec/initContainers/-\", "
                 f"value: {literal(container, 'Object.spec.initContainers')}}}]")
    each_container = literal({"name": Expr("c.name"), **link}, "Object.spec.containers")
    add_socket = literal({"spec": {"volumes": [agent.volume],
                                   "containers": Expr(f"object.spec.containers.map(c, {each_container})")}},
                         "Object")
    match = _match(injection)
    params = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(PARAMS_NAME, spec.params_namespace),
              "data": data}
    guard = {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicy", "metadata": _metadata(GUARD_NAME),
             "spec": {"failurePolicy": "Fail", "matchConstraints": _POD_CREATE, "validations": [
                 {"expression": _SOCKET_VOLUME_IS_OURS, "reason": "Invalid",
                  "message": f"the volume {TMP_VOLUME} is the agent's socket volume (an emptyDir) in pods labelled "
                             f"{INJECTION_LABEL}={MODULE_VALUE}: rename the pod's own volume of that name"},
                 {"expression": f"{_AGENT_COUNT} == 1", "reason": "Invalid",
                  "message": f"a pod labelled {INJECTION_LABEL}={MODULE_VALUE} runs exactly one {AGENT_CONTAINER} "
                             f"container, which the admission policy {POLICY_NAME} adds in the namespaces opted "
                             "in to it: is this one of them, and does the pod run no agent of its own besides?"}]}}
    guard_binding = {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicyBinding",
                     "metadata": _metadata(GUARD_NAME),
                     # Every namespace: a pod that asks for an agent where none is added is refused, not started
                     # bare.
                     "spec": {"policyName": GUARD_NAME, "validationActions": ["Deny"], "matchResources": _LABELLED}}
    policy = {"apiVersion": ADMISSION, "kind": "MutatingAdmissionPolicy", "metadata": _metadata(POLICY_NAME),
              "spec": {"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                       "matchConstraints": _POD_CREATE,
                       "matchConditions": [{"name": "runs-no-agent-yet", "expression": _NO_AGENT},
                                           {"name": "socket-volume-free", "expression": _SOCKET_VOLUME_IS_OURS}],
                       "variables": [{"name": "uid", "expression": _uid(spec.run_as_user)}],
                       "failurePolicy": "Fail",
                       "reinvocationPolicy": "IfNeeded",
                       "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": add_agent}},
                                     {"patchType": "ApplyConfiguration",
                                      "applyConfiguration": {"expression": add_socket}}]}}
    policy_binding = {"apiVersion": ADMISSION, "kind": "MutatingAdmissionPolicyBinding",
                      "metadata": _metadata(POLICY_NAME),
                      "spec": {"policyName": POLICY_NAME,
                               "paramRef": {"name": PARAMS_NAME, "namespace": spec.params_namespace,
                                            "parameterNotFoundAction": "Deny"},
                               "matchResources": match}}
    return [params, guard, guard_binding, policy, policy_binding]
