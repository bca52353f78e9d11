"""The admission objects of injection by label, as pure functions of the resolved settings.

- A parameter ConfigMap: the agent's image, pull policy, resources and every environment variable but the keys'
  references (options included). Changing the agent version, options or resources changes this one object;
  the policy reads it for each new pod.
- A ValidatingAdmissionPolicy (the guard) and its binding, with the same parameters: a pod with the label, in any
  namespace, must carry the value `module` and come out of admission with the agent the policy adds, checked
  against the parameters (a native sidecar, their image, no command of its own, their environment and keys, the
  socket's mount), and every app container with the socket's mount and the variable naming it; or it is refused.
  In a namespace that is not opted in, the label asks for an agent nothing adds. This is what keeps a pod that
  asked for an agent from starting without a working one, whatever happened to the mutating policy, and whatever
  container named `sigsci-agent` the pod brought itself. On update, the guard keeps the agent's image as admitted
  and refuses the label on a pod that did not have it.
- The MutatingAdmissionPolicy and its binding: for a labelled pod without an agent (and nothing of its own where
  the socket goes), a JSONPatch appends the
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
_AGENT = string(AGENT_CONTAINER)
_LABEL = string(INJECTION_LABEL)
_NO_AGENT = (f"!object.spec.containers.exists(c, c.name == {_AGENT}) && "
             f"(!has(object.spec.initContainers) || "
             f"!object.spec.initContainers.exists(c, c.name == {_AGENT}))")
_AGENT_COUNT = (f"size(object.spec.containers.filter(c, c.name == {_AGENT})) + "
                f"(has(object.spec.initContainers) ? "
                f"size(object.spec.initContainers.filter(c, c.name == {_AGENT})) : 0)")
_SOCKET_VOLUME_IS_OURS = (f"!has(object.spec.volumes) || "
                          f"object.spec.volumes.all(v, v.name != {string(TMP_VOLUME)} || has(v.emptyDir))")
# The guard's own variables: the agents in initContainers, and whether an update leaves the label's value as it
# was (then only the agent's image is checked: a pod admitted earlier, under other parameters, keeps what it has).
_AGENTS = f"has(object.spec.initContainers) ? object.spec.initContainers.filter(c, c.name == {_AGENT}) : []"
_LABEL_KEPT = (f'request.operation == "UPDATE" && has(oldObject.metadata.labels) && {_LABEL} in '
               f"oldObject.metadata.labels && oldObject.metadata.labels[{_LABEL}] == object.metadata.labels[{_LABEL}]")
_LABELLED_EXPR = f"has(object.metadata.labels) && {_LABEL} in object.metadata.labels"
# The names of the agent's variables in the parameters (`env`, comma-separated), as the policy reads them.
_ENV_NAMES = 'params.data["env"] == "" ? [] : params.data["env"].split(",")'


def _agent_images(obj: str) -> str:
    return (f"{obj}.spec.containers.filter(c, c.name == {_AGENT}).map(c, c.image) + "
            f"(has({obj}.spec.initContainers) ? "
            f"{obj}.spec.initContainers.filter(c, c.name == {_AGENT}).map(c, c.image) : [])")


def _unset(field: str) -> str:
    """The string field is absent or empty (the API server drops empty strings)."""
    return f"(!has({field}) || {field} == \"\")"


def _plain_mount(var: str, mount: dict[str, Any]) -> str:
    """`var` is this volume mount, mounted whole (no subPath: the socket is at the volume's root)."""
    return (f"{var}.name == {string(mount['name'])} && {var}.mountPath == {string(mount['mountPath'])} && "
            f"{_unset(var + '.subPath')} && {_unset(var + '.subPathExpr')}")


def _mounts_free(mount: dict[str, Any]) -> str:
    """No app container mounts anything at or under the socket's directory but the socket volume itself, whole,
    nor the socket volume with a subPath: the merge would keep their volume or subPath, and hide the socket."""
    directory = mount["mountPath"]
    at_socket = f"(m.mountPath == {string(directory)} || m.mountPath.startsWith({string(directory + '/')}))"
    whole = f"{_unset('m.subPath')} && {_unset('m.subPathExpr')}"
    return (f"object.spec.containers.all(c, !has(c.volumeMounts) || c.volumeMounts.all(m, {at_socket} ? "
            f"{_plain_mount('m', mount)} : (m.name != {string(mount['name'])} || {whole})))")


def _address_free(env_name: str) -> str:
    """No app container takes the socket's variable from elsewhere (valueFrom): merged, it would carry both."""
    return (f"object.spec.containers.all(c, !has(c.env) || "
            f"c.env.all(e, e.name != {string(env_name)} || !has(e.valueFrom)))")


def _ports_free(ports: list[int]) -> str:
    """No other container of the pod declares a port the agent listens on (one network for the pod)."""
    listed = "[" + ", ".join(str(port) for port in ports) + "]"
    free = f"(!has(c.ports) || c.ports.all(p, !(p.containerPort in {listed})))"
    return (f"object.spec.containers.all(c, {free}) && (!has(object.spec.initContainers) || "
            f"object.spec.initContainers.all(c, c.name == {_AGENT} || {free}))")


def _env_is(var: str, name: str, value: str) -> str:
    """In the env list `var`, the variable `name` is there, only with this value (`value`: CEL)."""
    return (f"has({var}) && {var}.exists(e, e.name == {string(name)}) && {var}.all(e, e.name != {string(name)} || "
            f"(!has(e.valueFrom) && (has(e.value) ? e.value : \"\") == {value}))")


def _is_the_agent(container: dict[str, Any], keys: list[dict[str, Any]]) -> str:
    """The agent `a` is the one the policy adds: the parameters' image, the image's own command, exactly the
    parameters' variables and the keys' references, the builder's mounts whole."""
    names = "variables.envNames"
    checks = ['a.image == params.data["image"]', "!has(a.command)", "!has(a.args)", "!has(a.envFrom)",
              f"has(a.env) && size(a.env) == {len(keys)} + size({names})",
              (f'{names}.all(n, a.env.exists(e, e.name == n && !has(e.valueFrom) && '
               f'(has(e.value) ? e.value : "") == params.data["env." + n]))')]
    for key in keys:
        ref = "e.valueFrom.secretKeyRef"
        checks.append(f"a.env.exists(e, e.name == {string(key['name'])} && has(e.valueFrom) && "
                      f"has({ref}) && {ref}.name == params.data[\"secretName\"] && "
                      f"{ref}.key == {string(key['valueFrom']['secretKeyRef']['key'])} && "
                      f"(!has({ref}.optional) || !{ref}.optional))")
    for mount in container["volumeMounts"]:
        checks.append(f"has(a.volumeMounts) && a.volumeMounts.exists(m, {_plain_mount('m', mount)})")
    return " && ".join(checks)


def _linked(link: dict[str, Any]) -> str:
    """Every app container `c` has what the module placement gives the app: the variable and the socket's mount."""
    checks = [_env_is("c.env", entry["name"], string(entry["value"])) for entry in link["env"]]
    checks += [f"has(c.volumeMounts) && c.volumeMounts.exists(m, {_plain_mount('m', mount)})"
               for mount in link.get("volumeMounts", [])]
    return f"object.spec.containers.all(c, {' && '.join(checks)})"


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
    variables = f'({_ENV_NAMES}).map(name, {env_type}{{name: name, value: params.data["env." + name]}})'
    return {**container, "image": _param("image"), "imagePullPolicy": _param("imagePullPolicy"),
            "resources": resources, "env": Expr(f"{literal(keys, env_type)} + {variables}")}, data


def _uid(default: int) -> str:
    """The app's user: the first container's, else the pod's, else `default`; the agent runs as it (the guard
    refuses root: the agent's container does not run as root)."""
    first = "object.spec.containers[0].securityContext"
    pod = "object.spec.securityContext"
    return (f"has({first}) && has({first}.runAsUser) ? {first}.runAsUser : "
            f"(has({pod}) && has({pod}.runAsUser) ? {pod}.runAsUser : {default})")


# Where the agent is added: the label with the module value.
_LABELLED = {"objectSelector": {"matchLabels": {INJECTION_LABEL: MODULE_VALUE}}}
# What the guard watches: the label with any value (a value other than the module's is refused, not ignored).
_LABEL_SET = {"objectSelector": {"matchExpressions": [{"key": INJECTION_LABEL, "operator": "Exists"}]}}


def _match(injection: ResolvedInjection) -> dict[str, Any]:
    """Labelled pods in the opted-in namespaces: where the agent is added."""
    return {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                        "values": sorted(injection.spec.namespaces)}]},
            **_LABELLED}


def _pod_rules(*operations: str) -> dict[str, Any]:
    return {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                               "resources": ["pods"]}]}


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(PART_OF)}
    if namespace is None:
        metadata["annotations"] = {CHECKED_ANNOTATION: ADMISSION_API}
    else:
        metadata["namespace"] = namespace
    return metadata


def _rule(expression: str, message: str, *, on_update: bool = False) -> dict[str, Any]:
    """A guard validation; unless `on_update`, skipped on an update that keeps the label's value (the pod was
    checked when it got it; what an update may change of a pod's spec is its images, checked on their own)."""
    if not on_update:
        expression = f"variables.labelKept || ({expression})"
    return {"expression": expression, "reason": "Invalid", "message": message}


def _guard_rules(injection: ResolvedInjection, container: dict[str, Any], keys: list[dict[str, Any]],
                 link: dict[str, Any]) -> list[dict[str, Any]]:
    """In the order their messages are the clearest: what the pod brought itself first, then what admission
    made of it."""
    spec = injection.spec
    labelled = f"pods labelled {INJECTION_LABEL}={MODULE_VALUE}"
    [socket] = container["volumeMounts"][:1]
    rules = [
        _rule(f"object.metadata.labels[{_LABEL}] == {string(MODULE_VALUE)}",
              f"the label {INJECTION_LABEL} takes the value {MODULE_VALUE!r} (the agent added beside the app's Fastly "
              f"module); no other value is offered (a reverse proxy by label is not: use placement patch or "
              f"owned). Set it to {MODULE_VALUE!r}, or take the label off"),
        _rule(_SOCKET_VOLUME_IS_OURS,
              f"the volume {TMP_VOLUME} is the agent's socket volume (an emptyDir) in {labelled}: rename the pod's "
              "own volume of that name"),
        _rule(_mounts_free(socket),
              f"in {labelled}, {socket['mountPath']} is where the agent's socket volume {TMP_VOLUME} is mounted, "
              f"whole (no subPath): a container of the pod mounts something else there or under it, or that volume "
              f"with a subPath, which would hide the socket; move the pod's own mount"),
        _rule(_address_free(spec.rpc_address_env),
              f"in {labelled}, {spec.rpc_address_env} is set by admission to the agent's socket: a container of the "
              f"pod sets it itself from valueFrom; take it out of the pod's spec"),
        _rule(f"{_UID} != 0",
              f"in {labelled}, the agent runs as the app's user (the first container's runAsUser, else the pod's) "
              f"so that the socket it creates is the app's, and never as root: this pod's app runs as root (0); "
              f"run it as another user"),
    ]
    ports = [port["containerPort"] for port in container.get("ports", [])]
    if ports:
        names = ", ".join(f"{port['containerPort']} ({port['name']})" for port in container["ports"])
        rules.append(_rule(_ports_free(ports),
                           f"in {labelled}, the agent listens on {names} in the pod's network: a container of "
                           f"the pod declares that port too; move the app's port"))
    rules += [
        _rule(f"{_AGENT_COUNT} == 1 && size(variables.agents) == 1 && "
              f'variables.agents.all(a, has(a.restartPolicy) && a.restartPolicy == "Always")',
              f"a pod labelled {INJECTION_LABEL}={MODULE_VALUE} runs exactly one {AGENT_CONTAINER}, as a native "
              f"sidecar (an init container with restartPolicy Always), which the admission policy {POLICY_NAME} "
              f"adds when the pod is created in the namespaces opted in to it: is this one of them? A pod brings no "
              f"{AGENT_CONTAINER} of its own, and a running pod without one does not take the label"),
        _rule(f"variables.agents.all(a, {_is_the_agent(container, keys)})",
              f"the pod's {AGENT_CONTAINER} is not the one the admission policy {POLICY_NAME} adds (the "
              f"parameters' image, no command or args of its own, exactly the parameters' environment and keys, the "
              f"socket's mount): a pod labelled {INJECTION_LABEL}={MODULE_VALUE} brings no {AGENT_CONTAINER} of "
              f"its own; take it out of the pod's spec"),
        _rule(_linked(link),
              f"in {labelled}, every container has the agent's socket mounted at {socket['mountPath']} and "
              f"{spec.rpc_address_env} naming it, which admission adds: a container of this pod lacks them"),
        _rule(f"!variables.labelKept || {_agent_images('object')} == {_agent_images('oldObject')}",
              f"the {AGENT_CONTAINER} of a running pod labelled {INJECTION_LABEL}={MODULE_VALUE} keeps the image it "
              "was admitted with; new pods get the parameters' image: roll the workload instead", on_update=True),
    ]
    return rules


def build_injection(injection: ResolvedInjection) -> list[dict[str, Any]]:
    """In the order they are created: the parameters, the guard, the policy (deleted in reverse: the policy
    goes before the guard)."""
    spec, settings = injection.spec, injection.agent
    mode = Rpc()
    agent = module_sidecar(settings, SECRET_NAME, mode, _UID, secret=injection.secret)  # type: ignore[arg-type]
    container, data = parameterized(agent.container)
    keys = [entry for entry in agent.container["env"] if "valueFrom" in entry]
    link = module_link(settings, mode, spec.rpc_address_env)
    add_agent = (f"(has(object.spec.initContainers) ? [] : "
                 f"[JSONPatch{{op: \"add\", path: \"/spec/initContainers\", value: []}}]) + "
                 f"[JSONPatch{{op: \"add\", path: \"/spec/initContainers/-\", "
                 f"value: {literal(container, 'Object.spec.initContainers')}}}]")
    each_container = literal({"name": Expr("c.name"), **link}, "Object.spec.containers")
    add_socket = literal({"spec": {"volumes": [agent.volume],
                                   "containers": Expr(f"object.spec.containers.map(c, {each_container})")}},
                         "Object")
    param_kind = {"apiVersion": "v1", "kind": "ConfigMap"}
    param_ref = {"name": PARAMS_NAME, "namespace": spec.params_namespace, "parameterNotFoundAction": "Deny"}
    uid = {"name": "uid", "expression": _uid(spec.run_as_user)}
    params = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(PARAMS_NAME, spec.params_namespace),
              "data": data}
    guard = {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicy", "metadata": _metadata(GUARD_NAME),
             "spec": {"failurePolicy": "Fail", "paramKind": param_kind,
                      "matchConstraints": _pod_rules("CREATE", "UPDATE"),
                      # The label taken off: not its business (the bindings select the old object's labels too).
                      "matchConditions": [{"name": "labelled", "expression": _LABELLED_EXPR}],
                      "variables": [{"name": "labelKept", "expression": _LABEL_KEPT},
                                    {"name": "agents", "expression": _AGENTS},
                                    {"name": "envNames", "expression": _ENV_NAMES},
                                    uid],
                      "validations": _guard_rules(injection, agent.container, keys, link)}}
    guard_binding = {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicyBinding",
                     "metadata": _metadata(GUARD_NAME),
                     # Every namespace, every value of the label: a pod that asks for an agent where none is
                     # added, or asks for it wrongly, is refused, not started bare.
                     "spec": {"policyName": GUARD_NAME, "validationActions": ["Deny"], "paramRef": param_ref,
                              "matchResources": _LABEL_SET}}
    policy = {"apiVersion": ADMISSION, "kind": "MutatingAdmissionPolicy", "metadata": _metadata(POLICY_NAME),
              "spec": {"paramKind": param_kind,
                       "matchConstraints": _pod_rules("CREATE"),
                       # A pod these leave unmutated is refused by the guard, with the reason.
                       "matchConditions": [{"name": "runs-no-agent-yet", "expression": _NO_AGENT},
                                           {"name": "socket-volume-free", "expression": _SOCKET_VOLUME_IS_OURS},
                                           {"name": "socket-mount-free",
                                            "expression": _mounts_free(agent.container["volumeMounts"][0])},
                                           {"name": "address-free", "expression": _address_free(spec.rpc_address_env)}],
                       "variables": [uid],
                       "failurePolicy": "Fail",
                       "reinvocationPolicy": "IfNeeded",
                       "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": add_agent}},
                                     {"patchType": "ApplyConfiguration",
                                      "applyConfiguration": {"expression": add_socket}}]}}
    policy_binding = {"apiVersion": ADMISSION, "kind": "MutatingAdmissionPolicyBinding",
                      "metadata": _metadata(POLICY_NAME),
                      "spec": {"policyName": POLICY_NAME, "paramRef": param_ref, "matchResources": _match(injection)}}
    return [params, guard, guard_binding, policy, policy_binding]
