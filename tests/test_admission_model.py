"""The admission model (tests/admission.py) on small hand-written policies, against what the API server does.

Each test pins concrete output: the pod after a MutatingAdmissionPolicy, the refusal and its message, the compiler's
complaint. The behaviour pinned is the API server's (k8s.io/apiserver admission/plugin/policy, structured-merge-diff,
evanphx/json-patch v4), as tests/admission.py's docstring cites it.
"""

import copy

import pytest

import admission
from admission import Refused, compile_errors, mutate, validate

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"tier": "apps"}}}


def pod(**spec_extra) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "team-a", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:1.27",
                 "env": [{"name": "MODE", "value": "prod"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "busybox:1.36",
                 "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            **spec_extra,
        },
    }


def pod_rules(operations=("CREATE",)) -> dict:
    return {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": list(operations),
                               "resources": ["pods"]}]}


def map_policy(name: str, *mutations: dict, **spec) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {"matchConstraints": pod_rules(), "failurePolicy": "Fail", "reinvocationPolicy": "Never",
                     "mutations": list(mutations), **spec}}


def map_binding(policy: dict, **spec) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": policy["metadata"]["name"] + "-binding"},
            "spec": {"policyName": policy["metadata"]["name"], **spec}}


def json_patch(expression: str) -> dict:
    return {"patchType": "JSONPatch", "jsonPatch": {"expression": expression}}


def apply_configuration(expression: str) -> dict:
    return {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": expression}}


def vap(name: str, *validations: dict, **spec) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {"matchConstraints": pod_rules(("CREATE", "UPDATE")), "failurePolicy": "Fail",
                     "validations": list(validations), **spec}}


def vap_binding(policy: dict, actions=("Deny",), **spec) -> dict:
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": policy["metadata"]["name"] + "-binding"},
            "spec": {"policyName": policy["metadata"]["name"], "validationActions": list(actions), **spec}}


# --- JSONPatch ---------------------------------------------------------------------------------------------------

INIT_CONTAINER = ('Object.spec.initContainers{name: "setup", image: "busybox:1.36", command: ["sh", "-c", "true"], '
                  'securityContext: Object.spec.initContainers.securityContext{runAsUser: 1000, '
                  'allowPrivilegeEscalation: false}}')
ADD_INIT = map_policy("add-init", json_patch(
    '(has(object.spec.initContainers) ? [] : [JSONPatch{op: "add", path: "/spec/initContainers", value: []}]) + '
    f'[JSONPatch{{op: "add", path: "/spec/initContainers/-", value: {INIT_CONTAINER}}}]'))
SETUP = {"name": "setup", "image": "busybox:1.36", "command": ["sh", "-c", "true"],
         "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": False}}


def test_json_patch_creates_the_list_then_appends():
    assert compile_errors(ADD_INIT) == []
    before = pod()
    after = mutate(ADD_INIT, map_binding(ADD_INIT), before, namespace=NAMESPACE)
    assert after["spec"]["initContainers"] == [SETUP]
    assert type(after["spec"]["initContainers"][0]["securityContext"]["runAsUser"]) is int
    assert {key: value for key, value in after["spec"].items() if key != "initContainers"} == before["spec"]
    assert after["metadata"] == before["metadata"]
    assert before == pod()  # the caller's pod is not touched


def test_json_patch_appends_after_existing_init_containers():
    existing = {"name": "first", "image": "busybox:1.36"}
    after = mutate(ADD_INIT, map_binding(ADD_INIT), pod(initContainers=[existing]), namespace=NAMESPACE)
    assert after["spec"]["initContainers"] == [existing, SETUP]


def test_json_patch_append_to_a_missing_list_fails_as_on_the_server():
    append_only = map_policy("append-only", json_patch(
        f'[JSONPatch{{op: "add", path: "/spec/initContainers/-", value: {INIT_CONTAINER}}}]'))
    with pytest.raises(Refused) as refused:
        mutate(append_only, map_binding(append_only), pod(), namespace=NAMESPACE)
    assert str(refused.value) == ("policy 'append-only' with binding 'append-only-binding' denied request: "
                                  'JSONPath: add operation does not apply: doc is missing path: '
                                  '"/spec/initContainers/-": missing value')
    ignored = copy.deepcopy(append_only)
    ignored["spec"]["failurePolicy"] = "Ignore"
    assert mutate(ignored, map_binding(ignored), pod(), namespace=NAMESPACE) == pod()


def test_json_patch_failed_test_operation_leaves_the_pod_and_escape_key_works():
    policy = map_policy("label", json_patch(
        '[JSONPatch{op: "test", path: "/metadata/labels/app", value: "web"}, '
        'JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/owner"), value: "me"}]'))
    after = mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE)
    assert after["metadata"]["labels"] == {"app": "web", "example.com/owner": "me"}
    other = pod()
    other["metadata"]["labels"]["app"] = "db"
    assert mutate(policy, map_binding(policy), other, namespace=NAMESPACE) == other


def test_json_patch_result_must_decode_as_a_pod_whatever_the_failure_policy():
    policy = map_policy("bad-type", json_patch('[JSONPatch{op: "add", path: "/spec/hostNetwork", value: "yes"}]'),
                        failurePolicy="Ignore")
    with pytest.raises(Refused) as refused:
        mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE)
    assert str(refused.value) == "Internal error occurred: spec.hostNetwork: expected boolean, got string"


# --- ApplyConfiguration --------------------------------------------------------------------------------------------

ADD_CACHE = map_policy("add-cache", apply_configuration(
    'Object{spec: Object.spec{'
    'volumes: [Object.spec.volumes{name: "cache", emptyDir: Object.spec.volumes.emptyDir{}}], '
    'containers: object.spec.containers.map(c, Object.spec.containers{name: c.name, '
    'volumeMounts: [Object.spec.containers.volumeMounts{name: "cache", mountPath: "/cache"}], '
    'env: [Object.spec.containers.env{name: "CACHE_DIR", value: "/cache"}]})}}'))


def test_apply_configuration_merges_lists_by_their_keys():
    assert compile_errors(ADD_CACHE) == []
    after = mutate(ADD_CACHE, map_binding(ADD_CACHE), pod(), namespace=NAMESPACE)
    assert after["spec"]["volumes"] == [{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}]
    app, sidecar = after["spec"]["containers"]
    assert app == {"name": "app", "image": "nginx:1.27",
                   "env": [{"name": "MODE", "value": "prod"}, {"name": "CACHE_DIR", "value": "/cache"}],
                   "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/cache"}]}
    # volumeMounts merge by mountPath: the sidecar's /cache mount is there once; env is new for it
    assert sidecar == {"name": "sidecar", "image": "busybox:1.36",
                       "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                       "env": [{"name": "CACHE_DIR", "value": "/cache"}]}
    assert after["metadata"] == pod()["metadata"]


def test_apply_configuration_is_idempotent_and_replaces_scalars_of_matching_items():
    once = mutate(ADD_CACHE, map_binding(ADD_CACHE), pod(), namespace=NAMESPACE)
    assert mutate(ADD_CACHE, map_binding(ADD_CACHE), once, namespace=NAMESPACE) == once
    rename = map_policy("mode", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", '
        'env: [Object.spec.containers.env{name: "MODE", value: "debug"}]}]}}'))
    after = mutate(rename, map_binding(rename), pod(), namespace=NAMESPACE)
    assert after["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "debug"}]
    assert after["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]


def test_apply_configuration_ports_merge_by_port_and_default_protocol():
    live = pod()
    live["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    policy = map_policy("ports", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", ports: ['
        'Object.spec.containers.ports{containerPort: 80, name: "http"}, '
        'Object.spec.containers.ports{containerPort: 9090, protocol: "UDP"}]}]}}'))
    after = mutate(policy, map_binding(policy), live, namespace=NAMESPACE)
    assert after["spec"]["containers"][0]["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"},
                                                      {"containerPort": 9090, "protocol": "UDP"}]


def test_apply_configuration_may_not_set_atomic_structs_or_lists():
    secret = map_policy("secret-env", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", env: ['
        'Object.spec.containers.env{name: "PASSWORD", valueFrom: Object.spec.containers.env.valueFrom{'
        'secretKeyRef: Object.spec.containers.env.valueFrom.secretKeyRef{name: "db", key: "password"}}}]}]}}'))
    assert compile_errors(secret) == []  # it compiles: the refusal is at admission, as on the server
    with pytest.raises(Refused) as refused:
        mutate(secret, map_binding(secret), pod(), namespace=NAMESPACE)
    assert str(refused.value) == (
        "policy 'secret-env' with binding 'secret-env-binding' denied request: error applying patch: invalid "
        "ApplyConfiguration: may not mutate atomic arrays, maps or structs: "
        ".spec.containers[0].env[0].valueFrom.secretKeyRef")
    args = map_policy("args", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", args: ["--debug"]}]}}'))
    with pytest.raises(Refused, match=r"may not mutate atomic arrays, maps or structs: \.spec\.containers\[0\]\.args$"):
        mutate(args, map_binding(args), pod(), namespace=NAMESPACE)


def test_mutations_apply_in_order():
    policy = map_policy(
        "two-steps",
        json_patch('[JSONPatch{op: "add", path: "/metadata/labels/step", value: "one"}]'),
        apply_configuration('Object{metadata: Object.metadata{labels: {"seen": object.metadata.labels.step}}}'))
    after = mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE)
    assert after["metadata"]["labels"] == {"app": "web", "step": "one", "seen": "one"}


# --- matching ----------------------------------------------------------------------------------------------------

LABEL = apply_configuration('Object{metadata: Object.metadata{labels: {"mutated": "yes"}}}')


def test_match_conditions_on_a_label():
    policy = map_policy("only-web", LABEL, matchConditions=[
        {"name": "is-web", "expression": "has(object.metadata.labels) && object.metadata.labels['app'] == 'web'"}])
    assert mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE)["metadata"]["labels"] == \
        {"app": "web", "mutated": "yes"}
    db = pod()
    db["metadata"]["labels"] = {"app": "db"}
    assert mutate(policy, map_binding(policy), db, namespace=NAMESPACE) == db


def test_match_condition_errors_follow_the_failure_policy():
    erroring = [{"name": "missing-key", "expression": "object.metadata.labels['tier'] == 'web'"}]
    failing = map_policy("strict", LABEL, matchConditions=erroring)
    with pytest.raises(Refused, match=r"^policy 'strict' with binding 'strict-binding' denied request: "
                                      r"expression 'object\.metadata\.labels\['tier'\] == 'web'' resulted in error"):
        mutate(failing, map_binding(failing), pod(), namespace=NAMESPACE)
    lenient = map_policy("lenient", LABEL, matchConditions=erroring, failurePolicy="Ignore")
    assert mutate(lenient, map_binding(lenient), pod(), namespace=NAMESPACE) == pod()
    # a false condition wins over an error: not matched, no refusal
    false_first = map_policy("false-first", LABEL, matchConditions=erroring + [
        {"name": "never", "expression": "false"}])
    assert mutate(false_first, map_binding(false_first), pod(), namespace=NAMESPACE) == pod()


def test_namespace_and_object_selectors():
    policy = map_policy("selected", LABEL)
    by_label = map_binding(policy, matchResources={"namespaceSelector": {"matchLabels": {"tier": "apps"}}})
    assert mutate(policy, by_label, pod(), namespace=NAMESPACE)["metadata"]["labels"]["mutated"] == "yes"
    other_namespace = {"metadata": {"name": "team-b", "labels": {"tier": "batch"}}}
    other_pod = pod()
    other_pod["metadata"]["namespace"] = "team-b"
    assert mutate(policy, by_label, other_pod, namespace=other_namespace) == other_pod
    # kubernetes.io/metadata.name is on every namespace, whether the caller wrote it or not
    by_name = map_binding(policy, matchResources={"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a"]},
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}})
    assert mutate(policy, by_name, pod(), namespace=NAMESPACE)["metadata"]["labels"]["mutated"] == "yes"
    only_system = map_binding(policy, matchResources={"namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["kube-system"]}]}})
    assert mutate(policy, only_system, pod(), namespace=NAMESPACE) == pod()
    not_web = map_binding(policy, matchResources={"objectSelector": {"matchExpressions": [
        {"key": "app", "operator": "DoesNotExist"}]}})
    assert mutate(policy, not_web, pod(), namespace=NAMESPACE) == pod()
    malformed = map_binding(policy, matchResources={"namespaceSelector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": []}]}})
    with pytest.raises(Refused, match="failed to configure binding: for 'in', 'notin' operators, values set"):
        mutate(policy, malformed, pod(), namespace=NAMESPACE)


def test_resource_rules_and_operations():
    policy = map_policy("updates-only", LABEL, matchConstraints=pod_rules(("UPDATE",)))
    assert mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE) == pod()
    updated = mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE, operation="UPDATE")
    assert updated["metadata"]["labels"]["mutated"] == "yes"
    deployments = map_policy("deployments", LABEL, matchConstraints={"resourceRules": [
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["*"], "resources": ["deployments"]}]})
    assert mutate(deployments, map_binding(deployments), pod(), namespace=NAMESPACE) == pod()
    everything = map_policy("all", LABEL, matchConstraints={"resourceRules": [
        {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]}],
        "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["*"],
                                  "resources": ["pods"], "resourceNames": ["web"]}]})
    assert mutate(everything, map_binding(everything), pod(), namespace=NAMESPACE) == pod()



def test_the_ephemeral_containers_subresource():
    """An UPDATE of pods/ephemeralcontainers carries the Pod; rules naming `pods` alone do not match it."""
    no_debug = {"expression": '!has(object.spec.ephemeralContainers) && request.subResource == ""',
                "message": "no debugging"}
    debugged = pod(ephemeralContainers=[{"name": "debugger", "image": "busybox"}])
    pods_only = vap("pods-only", no_debug)
    validate(pods_only, vap_binding(pods_only), debugged, namespace=NAMESPACE, operation="UPDATE", old=pod(),
             subresource="ephemeralcontainers")
    for resources in (["pods", "pods/ephemeralcontainers"], ["pods/*"], ["*/*"]):
        policy = vap("with-debug", no_debug, matchConstraints={"resourceRules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": resources}]})
        with pytest.raises(Refused, match="no debugging"):
            validate(policy, vap_binding(policy), debugged, namespace=NAMESPACE, operation="UPDATE", old=pod(),
                     subresource="ephemeralcontainers")
    with pytest.raises(ValueError, match="only an UPDATE"):
        validate(pods_only, vap_binding(pods_only), debugged, namespace=NAMESPACE, subresource="ephemeralcontainers")

# --- params and variables ----------------------------------------------------------------------------------------

PARAMS = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "team-a"},
          "data": {"team": "blue"}}
WITH_PARAMS = map_policy(
    "team-label", apply_configuration('Object{metadata: Object.metadata{labels: {"team": variables.team}}}'),
    paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
    variables=[{"name": "team", "expression": "params.data.team"}])


def test_params_deny_when_missing_and_allow_skips():
    deny = map_binding(WITH_PARAMS, paramRef={"name": "settings", "parameterNotFoundAction": "Deny"})
    assert mutate(WITH_PARAMS, deny, pod(), namespace=NAMESPACE, params=PARAMS)["metadata"]["labels"] == \
        {"app": "web", "team": "blue"}
    with pytest.raises(Refused) as refused:
        mutate(WITH_PARAMS, deny, pod(), namespace=NAMESPACE)
    assert str(refused.value) == ("policy 'team-label' with binding 'team-label-binding' denied request: failed to "
                                  "configure binding: no params found for policy binding with `Deny` "
                                  "parameterNotFoundAction")
    wrong_name = {**PARAMS, "metadata": {"name": "other", "namespace": "team-a"}}
    with pytest.raises(Refused, match="no params found"):
        mutate(WITH_PARAMS, deny, pod(), namespace=NAMESPACE, params=wrong_name)
    elsewhere = map_binding(WITH_PARAMS, paramRef={"name": "settings", "namespace": "config",
                                                   "parameterNotFoundAction": "Deny"})
    with pytest.raises(Refused, match="no params found"):
        mutate(WITH_PARAMS, elsewhere, pod(), namespace=NAMESPACE, params=PARAMS)
    allow = map_binding(WITH_PARAMS, paramRef={"name": "settings", "parameterNotFoundAction": "Allow"})
    assert mutate(WITH_PARAMS, allow, pod(), namespace=NAMESPACE) == pod()


def test_variables_are_lazy_and_typed():
    policy = map_policy(
        "lazy", apply_configuration('Object{metadata: Object.metadata{labels: {"count": string(variables.count)}}}'),
        variables=[{"name": "broken", "expression": "object.spec.nodeName"},  # no such key: only fails if read
                   {"name": "count", "expression": "size(object.spec.containers)"}])
    assert compile_errors(policy) == []
    assert mutate(policy, map_binding(policy), pod(), namespace=NAMESPACE)["metadata"]["labels"]["count"] == "2"
    reads_broken = map_policy("reads-broken", apply_configuration(
        'Object{metadata: Object.metadata{labels: {"node": variables.broken}}}'),
        variables=policy["spec"]["variables"])
    with pytest.raises(Refused, match='composited variable "broken" fails to evaluate'):
        mutate(reads_broken, map_binding(reads_broken), pod(), namespace=NAMESPACE)
    later = map_policy("later", LABEL, variables=[{"name": "a", "expression": "variables.b"},
                                                   {"name": "b", "expression": "1"}])
    assert compile_errors(later) and "variables.b" in compile_errors(later)[0]


# --- compile errors: the Pod schema of 1.36 --------------------------------------------------------------------

def test_misspelled_field_does_not_compile():
    good = map_policy("good", apply_configuration(
        'Object{spec: Object.spec{initContainers: [Object.spec.initContainers{name: "x", restartPolicy: "Always"}]}}'))
    assert compile_errors(good) == []
    typo = map_policy("typo", apply_configuration(
        'Object{spec: Object.spec{initContainers: [Object.spec.initContainers{name: "x", restartPolcy: "Always"}]}}'))
    errors = compile_errors(typo)
    assert len(errors) == 1
    assert errors[0].startswith("spec.mutations[0].applyConfiguration.expression: compilation failed: ")
    assert "undefined field 'restartPolcy' not found in struct 'Object.spec.initContainers'" in errors[0]
    wrong_path = map_policy("wrong-path", json_patch(
        '[JSONPatch{op: "add", path: "/spec/initContainers/-", value: Object.spec.initContainer{name: "x"}}]'))
    assert "undeclared reference to 'Object.spec.initContainer'" in compile_errors(wrong_path)[0]
    # an expression that does not compile is an error at admission, under the failure policy
    with pytest.raises(Refused, match="restartPolcy"):
        mutate(typo, map_binding(typo), pod(), namespace=NAMESPACE)


def test_wrong_field_types_do_not_compile():
    def security(value: str) -> dict:
        return map_policy("security", apply_configuration(
            'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", '
            f'securityContext: Object.spec.containers.securityContext{{runAsUser: {value}}}}}]}}}}'))

    assert compile_errors(security("10")) == []
    errors = compile_errors(security('"10"'))
    assert len(errors) == 1 and "expected type of field 'runAsUser' is 'int' but provided type is 'string'" in errors[0]
    # int-or-string takes both; a quantity is a string
    probe = map_policy("probe", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", '
        'readinessProbe: Object.spec.containers.readinessProbe{httpGet: '
        'Object.spec.containers.readinessProbe.httpGet{port: "http"}}, '
        'livenessProbe: Object.spec.containers.livenessProbe{httpGet: '
        'Object.spec.containers.livenessProbe.httpGet{port: 8080}}, '
        'resources: Object.spec.containers.resources{limits: {"memory": "64Mi"}}}]}}'))
    assert compile_errors(probe) == []
    app = mutate(probe, map_binding(probe), pod(), namespace=NAMESPACE)["spec"]["containers"][0]
    assert app["readinessProbe"] == {"httpGet": {"port": "http"}}
    assert app["livenessProbe"] == {"httpGet": {"port": 8080}} and type(app["livenessProbe"]["httpGet"]["port"]) is int
    assert app["resources"] == {"limits": {"memory": "64Mi"}}
    quantity_as_int = map_policy("quantity", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", '
        'resources: Object.spec.containers.resources{limits: {"memory": 64}}}]}}'))
    assert compile_errors(quantity_as_int) != []


def test_return_types_are_checked():
    not_bool = vap("dyn", {"expression": "object.spec.hostNetwork"})
    assert compile_errors(not_bool) == ["spec.validations[0].expression: must evaluate to bool but got dyn"]
    not_patches = map_policy("not-patches", json_patch('["add"]'))
    assert compile_errors(not_patches)[0].startswith("spec.mutations[0].jsonPatch.expression: must evaluate to")
    # Object types exist for mutations only
    object_in_condition = map_policy("object-in-condition", LABEL, matchConditions=[
        {"name": "c", "expression": 'Object{} == Object{}'}])
    assert "undeclared reference to 'Object'" in compile_errors(object_in_condition)[0]


def test_the_schema_is_the_real_one():
    node = admission._pod_schema()
    containers = node.fields["spec"].fields["containers"]
    assert (containers.list_type, containers.keys) == ("map", ("name",))
    assert containers.item.fields["volumeMounts"].keys == ("mountPath",)
    assert containers.item.fields["ports"].keys == ("containerPort", "protocol")
    assert containers.item.fields["args"].list_type == "atomic"
    assert node.fields["spec"].fields["nodeSelector"].atomic
    secret_ref = containers.item.fields["env"].item.fields["valueFrom"].fields["secretKeyRef"]
    assert secret_ref.atomic and secret_ref.kind == "struct"
    assert node.fields["metadata"].fields["finalizers"].list_type == "set"


# --- ValidatingAdmissionPolicy -----------------------------------------------------------------------------------

TAGGED = vap("tagged-images", {
    "expression": "object.spec.containers.all(c, c.image.contains(':'))",
    "messageExpression": "'untagged images in ' + object.spec.containers.filter(c, !c.image.contains(':'))"
                         ".map(c, c.name).join(', ')",
    "message": "images must be tagged",
    "reason": "Forbidden"})


def test_vap_refuses_with_the_message_expression():
    assert compile_errors(TAGGED) == []
    validate(TAGGED, vap_binding(TAGGED), pod(), namespace=NAMESPACE)
    untagged = pod()
    untagged["spec"]["containers"][0]["image"] = "nginx"
    with pytest.raises(Refused) as refused:
        validate(TAGGED, vap_binding(TAGGED), untagged, namespace=NAMESPACE)
    assert str(refused.value) == ("ValidatingAdmissionPolicy 'tagged-images' with binding 'tagged-images-binding' "
                                  "denied request: untagged images in app")
    assert (refused.value.reason, refused.value.code) == ("Forbidden", 403)
    validate(TAGGED, vap_binding(TAGGED, ("Warn", "Audit")), untagged, namespace=NAMESPACE)  # no Deny: admitted


def test_vap_message_fallbacks_and_errors():
    policy = vap("fallbacks",
                 {"expression": "size(object.spec.containers) > 5", "message": "  too few containers  "},
                 {"expression": "size(object.spec.containers) > 6"})
    with pytest.raises(Refused) as refused:
        validate(policy, vap_binding(policy), pod(), namespace=NAMESPACE)
    assert str(refused.value).endswith("denied request: too few containers")
    assert refused.value.reason == "Invalid"
    second = vap("expression-fallback", {"expression": "size(object.spec.containers) > 6"})
    with pytest.raises(Refused, match=r"denied request: failed expression: size\(object\.spec\.containers\) > 6$"):
        validate(second, vap_binding(second), pod(), namespace=NAMESPACE)
    erroring = vap("erroring", {"expression": "object.spec.nodeName == 'n1'"})
    with pytest.raises(Refused, match=r"expression 'object\.spec\.nodeName == 'n1'' resulted in error"):
        validate(erroring, vap_binding(erroring), pod(), namespace=NAMESPACE)
    ignored = vap("ignored", {"expression": "object.spec.nodeName == 'n1'"}, failurePolicy="Ignore")
    validate(ignored, vap_binding(ignored), pod(), namespace=NAMESPACE)


def test_vap_request_namespace_and_params():
    policy = vap("context", {
        "expression": "request.operation == 'CREATE' && request.namespace == 'team-a' && "
                      "request.userInfo.username == 'kubernetes-admin' && "
                      "namespaceObject.metadata.labels['tier'] == params.data.tier && params.kind == 'ConfigMap'",
        "messageExpression": "'tier ' + params.data.tier + ' expected'"},
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"})
    assert compile_errors(policy) == []
    binding = vap_binding(policy, paramRef={"name": "tiers", "parameterNotFoundAction": "Deny"})
    tiers = {"metadata": {"name": "tiers", "namespace": "team-a"}, "data": {"tier": "apps"}}  # no TypeMeta
    validate(policy, binding, pod(), namespace=NAMESPACE, params=tiers)
    with pytest.raises(Refused, match="denied request: tier batch expected$"):
        validate(policy, binding, pod(), namespace=NAMESPACE,
                 params={**tiers, "data": {"tier": "batch"}})
    with pytest.raises(Refused, match="failed to configure binding: no params found"):
        validate(policy, binding, pod(), namespace=NAMESPACE)


def test_update_sees_the_old_object_and_its_labels():
    policy = vap("image-kept", {"expression": 'request.operation != "UPDATE" || '
                                              "object.spec.containers[0].image == oldObject.spec.containers[0].image",
                                "message": "image kept"})
    binding = vap_binding(policy, matchResources={"objectSelector": {"matchLabels": {"app": "web"}}})
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.28"
    with pytest.raises(Refused, match="image kept"):
        validate(policy, binding, new, namespace=NAMESPACE, operation="UPDATE", old=old)
    validate(policy, binding, old, namespace=NAMESPACE, operation="UPDATE", old=old)
    validate(policy, binding, new, namespace=NAMESPACE, operation="UPDATE")  # no old given: the pod itself
    # The binding's objectSelector matches the old object's labels too: the label taken off is still matched.
    unlabelled = copy.deepcopy(new)
    unlabelled["metadata"]["labels"] = {}
    with pytest.raises(Refused, match="image kept"):
        validate(policy, binding, unlabelled, namespace=NAMESPACE, operation="UPDATE", old=old)
    with pytest.raises(ValueError, match="only an UPDATE"):
        validate(policy, binding, new, namespace=NAMESPACE, old=old)


def test_apply_configuration_on_a_pod_with_duplicate_list_items():
    """kubernetes/kubernetes#135560 (in 1.36): the live object converts with duplicates allowed; an item the
    configuration does not set keeps its duplicates, one it sets becomes that one item."""
    duplicated = pod()
    duplicated["spec"]["containers"][0]["env"] = [{"name": "MODE", "value": "prod"}, {"name": "MODE", "value": "dev"},
                                                  {"name": "KEEP", "value": "1"}, {"name": "KEEP", "value": "2"}]
    policy = map_policy("set-mode", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", env: '
        '[Object.spec.containers.env{name: "MODE", value: "test"}]}]}}'))
    out = mutate(policy, map_binding(policy), duplicated, namespace=NAMESPACE)
    assert out["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "test"}, {"name": "KEEP", "value": "1"},
                                                   {"name": "KEEP", "value": "2"}]
    # The configuration itself may not carry duplicates.
    twice = map_policy("twice", apply_configuration(
        'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", env: '
        '[Object.spec.containers.env{name: "A", value: "1"}, Object.spec.containers.env{name: "A", value: "2"}]}]}}'))
    with pytest.raises(Refused, match="failed to convert patch object to typed object: .*duplicate entries"):
        mutate(twice, map_binding(twice), pod(), namespace=NAMESPACE)
