"""The admission objects of injection by label, as pure functions of the resolved settings.

- A parameter ConfigMap: the agent's image, pull policy, resources and every environment variable but the keys'
  references (options included). Changing the agent version, options or resources changes this one object;
  the policy reads it for each new pod.
- A ValidatingAdmissionPolicy (the guard) and its binding, with the same parameters: a pod with the label, in any
  namespace, must carry the value `module` and come out of admission with the agent the policy adds, checked
  against the parameters field by field (rules generated from the container the policy writes: no field it does
  not set but those the API server fills in, with their defaults; each of its fields with its value; the image
  maybe pinned by digest after the policy), and every app container (native sidecars too) with the socket's mount
  and the variable naming it; or it is refused. In a namespace that is not opted in, the label asks for an agent
  nothing adds. This is what keeps a pod that asked for an agent from starting without a working one, whatever
  happened to the mutating policy, and whatever container named `sigsci-agent` the pod brought itself. On update
  (the label on the new or the stored pod), the guard keeps the agent's image as admitted, keeps the label on a
  pod that runs an agent, and refuses the label on a pod that did not have it; on the ephemeral containers
  subresource, a debug container that mounts the socket volume or targets the agent.
- The MutatingAdmissionPolicy and its binding: for a labelled pod (and nothing of its own where the socket goes), a
  JSONPatch inserts the agent as a native sidecar when the pod has none yet, before the first native sidecar of the
  pod (`add` of `[]` first when the pod has no init containers: the shape that works on a real API server, see
  docs/injection.md), and an ApplyConfiguration adds the socket volume and, to every container and native sidecar
  (merged by name), the socket mount and the variable naming the socket. The link runs on every invocation, so a
  container a webhook adds after the policy gets it when the policy runs again (`reinvocationPolicy: IfNeeded`).
  `failurePolicy: Fail`.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING
from typing import TYPE_CHECKING, Any

from ..agent.container import AGENT_CONTAINER, TMP_VOLUME, Rpc, module_link, module_sidecar
from ..agent.workloads import PART_OF
from ..config.injection import INJECTION_LABEL, MODULE_VALUE
from ..config.kube import quantity_value
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
# An init container that keeps running (a native sidecar): an app may run as one, and gets the socket too.
_NATIVE = 'has(c.restartPolicy) && c.restartPolicy == "Always"'
# Where the agent goes in initContainers: before the first native sidecar (they start in order, so the agent is up
# before an app that runs as one), else last (after the init containers that run to completion).
_SIDECAR_AT = f"has(object.spec.initContainers) ? object.spec.initContainers.transformList(i, c, {_NATIVE}, i) : []"
# The guard's own variables: the agents in initContainers; whether the object has the label; whether the stored pod
# ran an agent (an update); and whether an update leaves the label's value as it was (then what the pod was
# admitted with is not checked again: a pod admitted earlier, under other parameters, keeps what it has).
_AGENTS = f"has(object.spec.initContainers) ? object.spec.initContainers.filter(c, c.name == {_AGENT}) : []"
_HAS_LABEL = f"has({{obj}}.metadata.labels) && {_LABEL} in {{obj}}.metadata.labels"
_OBJECT_LABELLED = _HAS_LABEL.format(obj="object")
_OLD_LABELLED = _HAS_LABEL.format(obj="oldObject")
_LABEL_KEPT = (f'request.operation == "UPDATE" && variables.labelled && {_OLD_LABELLED} && '
               f"oldObject.metadata.labels[{_LABEL}] == object.metadata.labels[{_LABEL}]")
_OLD_AGENT = (f'request.operation == "UPDATE" && (oldObject.spec.containers.exists(c, c.name == {_AGENT}) || '
              f"(has(oldObject.spec.initContainers) && oldObject.spec.initContainers.exists(c, c.name == {_AGENT})))")
# What the guard watches: the label on the pod, or on the stored pod of an update (taking the label off is an
# update of a labelled pod too).
_LABELLED_EXPR = f'{_OBJECT_LABELLED} || (request.operation == "UPDATE" && {_OLD_LABELLED})'
# The names of the agent's variables in the parameters (`env`, comma-separated), as the policy reads them.
_ENV_NAMES = 'params.data["env"] == "" ? [] : params.data["env"].split(",")'
# What the API server fills in on a container when it is absent, with the value it fills in (defaults.go of
# k8s.io/kubernetes pkg/apis/core/v1, 1.36: SetDefaults_Container, SetDefaults_Probe, SetDefaults_HTTPGetAction,
# a port's protocol): a pod created from an exported one carries them. By the field's path in the container
# (`[]`: an item of a list); the agent may carry them, with those values only.
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
_DEFAULTED: dict[tuple[str, ...], dict[str, Any]] = {
    (): {"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
    **{(probe,): _PROBE_DEFAULTS for probe in ("startupProbe", "readinessProbe", "livenessProbe")},
    **{(probe, "httpGet"): {"scheme": "HTTP", "path": "/"}
       for probe in ("startupProbe", "readinessProbe", "livenessProbe")},
    ("ports", "[]"): {"protocol": "TCP"},
}
# An image reference pinned by digest after the policy (a digest-pinning webhook): the parameters' image with it.
_DIGEST = "@sha256:"
_DIGEST_HEX = "^[0-9a-f]{64}$"


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


def _field(var: str, key: str) -> str:
    return f"{var}.{key}" if key.isidentifier() else f"{var}[{string(key)}]"


def _present(var: str, key: str) -> str:
    return f"has({var}.{key})" if key.isidentifier() else f"{string(key)} in {var}"


def _same(var: str, value: Any, path: tuple[str, ...]) -> list[str]:
    """`var` is `value` as the policy writes it (a CEL expression where the value is one): the same fields with the
    same values, and of the fields the API server fills in (`_DEFAULTED`) only those, with the value it fills in."""
    if isinstance(value, dict):
        defaults = {key: default for key, default in _DEFAULTED.get(path, {}).items() if key not in value}
        allowed = "[" + ", ".join(string(key) for key in [*value, *defaults]) + "]"
        checks = [f"{var}.all(k, k in {allowed})"]
        for key, item in value.items():
            checks.append(_present(var, key))
            checks += _same(_field(var, key), item, (*path, key))
        checks += [f"(!{_present(var, key)} || {_field(var, key)} == {literal(default, '')})"
                   for key, default in defaults.items()]
        return checks
    if isinstance(value, list) and not isinstance(value, Expr):
        checks = [f"size({var}) == {len(value)}"]
        for index, item in enumerate(value):
            checks += _same(f"{var}[{index}]", item, (*path, "[]"))
        return checks
    return [f"{var} == {literal(value, '')}"]


def _image_is(var: str) -> str:
    """The parameters' image, or that image pinned by digest after the policy (a digest-pinning webhook adds
    `@sha256:<64 hex>` to a reference without one). A registry rewritten is not the parameters' image."""
    image = 'params.data["image"]'
    return (f"{var} == {image} || (!{image}.contains(\"@\") && {var}.startsWith({image} + {string(_DIGEST)}) && "
            f"{var}.substring(size({image}) + {len(_DIGEST)}).matches({string(_DIGEST_HEX)}))")


def _env_exact(var: str, keys: list[dict[str, Any]]) -> str:
    """The env list `var` is the parameters' variables (plain values) and the keys' references (the parameters'
    Secret, not optional), nothing else: as many entries as those names, each of them there."""
    names = "variables.envNames"
    checks = [f"size({var}) == {len(keys)} + size({names})",
              (f'{names}.all(n, {var}.exists(e, e.name == n && !has(e.valueFrom) && '
               f'(has(e.value) ? e.value : "") == params.data["env." + n]))')]
    for key in keys:
        ref = "e.valueFrom.secretKeyRef"
        checks.append(f"{var}.exists(e, e.name == {string(key['name'])} && !has(e.value) && has(e.valueFrom) && "
                      f"e.valueFrom.all(k, k == \"secretKeyRef\") && "
                      f"{ref}.name == params.data[\"secretName\"] && "
                      f"{ref}.key == {string(key['valueFrom']['secretKeyRef']['key'])} && "
                      f"(!has({ref}.optional) || !{ref}.optional))")
    return " && ".join(checks)


def _agent_checks(container: dict[str, Any], keys: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What makes the agent `a` the one the policy adds, one check per field of the container the policy writes
    (`container`: the module placement's agent, parameterized), as (expression, what differs): the fields it has
    are the policy's (and the ones the API server fills in), and each of the policy's fields has the policy's
    value: objects compared field by field, lists item by item, in order."""
    defaults = _DEFAULTED[()]
    fields = [*container, *defaults]
    only = [f"a.all(k, k in [{', '.join(string(key) for key in fields)}])"]
    only += [f"(!has(a.{key}) || a.{key} == {literal(value, '')})" for key, value in defaults.items()]
    checks = [(" && ".join(only), f"it sets a field the policy does not (the policy's: {', '.join(container)}; and "
                                  f"{', '.join(defaults)} with the API server's defaults)")]
    for key, value in container.items():
        if key in ("name", "restartPolicy"):  # how it is found, and checked with the number of agents
            continue
        if key == "image":
            check = _image_is("a.image")
        elif key == "env":
            check = _env_exact("a.env", keys)
        else:
            check = " && ".join(_same(f"a.{key}", value, (key,)))
        what = "the parameters' image, or it pinned by digest" if key == "image" else "the policy's"
        checks.append((f"has(a.{key}) && {check}", f"its {key} is not {what}"))
    return checks


def _linked(link: dict[str, Any]) -> str:
    """Every app container `c` (a native sidecar's too) has what the module placement gives the app: the variable
    and the socket's mount."""
    checks = [_env_is("c.env", entry["name"], string(entry["value"])) for entry in link["env"]]
    checks += [f"has(c.volumeMounts) && c.volumeMounts.exists(m, {_plain_mount('m', mount)})"
               for mount in link.get("volumeMounts", [])]
    each = " && ".join(checks)
    return (f"object.spec.containers.all(c, {each}) && (!has(object.spec.initContainers) || "
            f"object.spec.initContainers.all(c, c.name == {_AGENT} || !({_NATIVE}) || ({each})))")


_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


def canonical_quantity(text: str) -> str:
    """A quantity as the API server shows it in admission (apimachinery's Quantity.CanonicalizeBytes): the pod the
    guard sees carries `500m` for `0.5`, `512Mi` for `0.5Gi`, `1k` for `1000`. Binary suffixes stay binary for whole
    values of 1024 and more; otherwise the value, rounded up to nano units, is an integer times a power of 1000
    (a suffix, or `e<n>` for a quantity written with an exponent)."""
    value = quantity_value(text)
    if text.endswith(_BINARY[1:]) and value >= 1024 and value == value.to_integral_value():
        whole, power = int(value), 0
        while power < len(_BINARY) - 1 and whole % 1024 == 0:
            whole, power = whole // 1024, power + 1
        return f"{whole}{_BINARY[power]}"
    units, exponent = int((value * 10**9).to_integral_value(rounding=ROUND_CEILING)), -9
    if units == 0:
        return "0"
    while units % 1000 == 0 and exponent < 18:
        units, exponent = units // 1000, exponent + 3
    if re.search(r"[eE][-+]?[0-9]+$", text):
        return f"{units}e{exponent}" if exponent else str(units)
    return f"{units}{_DECIMAL[exponent]}"


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
            # As the API server shows it to the guard, which compares it: the policy writes that form too.
            data[f"resources.{part}.{kind}"] = canonical_quantity(quantity)
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


def _pod_rules(*operations: str, resources: tuple[str, ...] = ("pods",)) -> dict[str, Any]:
    return {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                               "resources": list(resources)}]}


def _metadata(name: str, namespace: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": dict(PART_OF)}
    if namespace is None:
        metadata["annotations"] = {CHECKED_ANNOTATION: ADMISSION_API}
    else:
        metadata["namespace"] = namespace
    return metadata


def _rule(expression: str, message: str, *, on_update: bool = False) -> dict[str, Any]:
    """A guard validation; unless `on_update`, skipped on an update that keeps the label's value (the pod was
    checked when it got it; what an update may change of a pod's spec is its images, checked on their own) and on
    one that takes the label off (refused on its own when the pod runs an agent)."""
    if not on_update:
        expression = f"!variables.labelled || variables.labelKept || ({expression})"
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
    ]
    rules += [_rule(f"variables.agents.all(a, {check})",
                    f"the pod's {AGENT_CONTAINER} is not the one the admission policy {POLICY_NAME} adds: {what}. A "
                    f"pod labelled {INJECTION_LABEL}={MODULE_VALUE} brings no {AGENT_CONTAINER} of its own; take it "
                    f"out of the pod's spec")
              for check, what in _agent_checks(container, keys)]
    rules += [
        _rule(_linked(link),
              f"in {labelled}, every container has the agent's socket mounted at {socket['mountPath']} and "
              f"{spec.rpc_address_env} naming it, which admission adds: a container of this pod lacks them"),
        _rule("variables.labelled || !variables.oldAgent",
              f"a running pod with a {AGENT_CONTAINER} keeps the label {INJECTION_LABEL} for its life (the agent "
              f"stays with it, and the label is what has its updates checked): to run pods without the agent, take "
              f"the label off the workload's pod template and roll it", on_update=True),
        _rule(f'request.operation != "UPDATE" || {_agent_images("object")} == {_agent_images("oldObject")}',
              f"the {AGENT_CONTAINER} of a running pod labelled {INJECTION_LABEL}={MODULE_VALUE} keeps the image it "
              "was admitted with; new pods get the parameters' image: roll the workload instead", on_update=True),
        _rule(f"!has(object.spec.ephemeralContainers) || object.spec.ephemeralContainers.all(c, "
              f"(!has(c.targetContainerName) || c.targetContainerName != {_AGENT}) && "
              f"(!has(c.volumeMounts) || c.volumeMounts.all(m, m.name != {string(TMP_VOLUME)})))",
              f"an ephemeral container of a pod labelled {INJECTION_LABEL}={MODULE_VALUE} neither mounts the agent's "
              f"socket volume {TMP_VOLUME} nor targets the {AGENT_CONTAINER}: debug the app's container without it",
              on_update=True),
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
    # Only to a pod without an agent: on a re-invocation (after a webhook changed the pod) the agent is there.
    at = ('size(variables.sidecarAt) == 0 ? "/spec/initContainers/-" : '
          '"/spec/initContainers/" + string(variables.sidecarAt[0])')
    add_agent = (f"!({_NO_AGENT}) ? [] : "
                 f"(has(object.spec.initContainers) ? [] : "
                 f"[JSONPatch{{op: \"add\", path: \"/spec/initContainers\", value: []}}]) + "
                 f"[JSONPatch{{op: \"add\", path: {at}, "
                 f"value: {literal(container, 'Object.spec.initContainers')}}}]")
    # The link, to every container and every native sidecar but the agent: on every invocation, so that a
    # container a webhook adds after the policy (a mesh's proxy, a secrets agent) gets it when the policy runs again.
    each_container = literal({"name": Expr("c.name"), **link}, "Object.spec.containers")
    each_sidecar = literal({"name": Expr("c.name"), **link}, "Object.spec.initContainers")
    add_socket = literal({"spec": {"volumes": [agent.volume],
                                   "containers": Expr(f"object.spec.containers.map(c, {each_container})"),
                                   "initContainers": Expr(
                                       f"object.spec.initContainers.filter(c, c.name != {_AGENT} && {_NATIVE})"
                                       f".map(c, {each_sidecar})")}},
                         "Object")
    param_kind = {"apiVersion": "v1", "kind": "ConfigMap"}
    param_ref = {"name": PARAMS_NAME, "namespace": spec.params_namespace, "parameterNotFoundAction": "Deny"}
    uid = {"name": "uid", "expression": _uid(spec.run_as_user)}
    params = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(PARAMS_NAME, spec.params_namespace),
              "data": data}
    guard = {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicy", "metadata": _metadata(GUARD_NAME),
             "spec": {"failurePolicy": "Fail", "paramKind": param_kind,
                      # Ephemeral containers come by their own subresource (its object is the Pod).
                      "matchConstraints": _pod_rules("CREATE", "UPDATE",
                                                     resources=("pods", "pods/ephemeralcontainers")),
                      # The bindings select the old object's labels too: an update that takes the label off is
                      # checked.
                      "matchConditions": [{"name": "labelled", "expression": _LABELLED_EXPR}],
                      "variables": [{"name": "labelled", "expression": _OBJECT_LABELLED},
                                    {"name": "labelKept", "expression": _LABEL_KEPT},
                                    {"name": "oldAgent", "expression": _OLD_AGENT},
                                    {"name": "agents", "expression": _AGENTS},
                                    {"name": "envNames", "expression": _ENV_NAMES},
                                    uid],
                      "validations": _guard_rules(injection, container, keys, link)}}
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
                       "matchConditions": [{"name": "socket-volume-free", "expression": _SOCKET_VOLUME_IS_OURS},
                                           {"name": "socket-mount-free",
                                            "expression": _mounts_free(agent.container["volumeMounts"][0])},
                                           {"name": "address-free", "expression": _address_free(spec.rpc_address_env)}],
                       "variables": [uid, {"name": "sidecarAt", "expression": _SIDECAR_AT}],
                       "failurePolicy": "Fail",
                       # Run again when a webhook changed the pod after it: the link reaches containers added then.
                       "reinvocationPolicy": "IfNeeded",
                       "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": add_agent}},
                                     {"patchType": "ApplyConfiguration",
                                      "applyConfiguration": {"expression": add_socket}}]}}
    policy_binding = {"apiVersion": ADMISSION, "kind": "MutatingAdmissionPolicyBinding",
                      "metadata": _metadata(POLICY_NAME),
                      "spec": {"policyName": POLICY_NAME, "paramRef": param_ref, "matchResources": _match(injection)}}
    return [params, guard, guard_binding, policy, policy_binding]
