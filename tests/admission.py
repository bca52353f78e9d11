"""A test-side model of Kubernetes 1.36 admission of a Pod under one admission policy and its binding.

`mutate(policy, binding, pod, ...)` applies a MutatingAdmissionPolicy (admissionregistration.k8s.io/v1) as the API
server's MutatingAdmissionPolicy plugin does; `validate(...)` runs a ValidatingAdmissionPolicy (v1);
`compile_errors(policy)` compiles every CEL expression of either. Both refuse with `Refused`, whose str() is the
API server's message ("policy 'p' with binding 'b' denied request: ...", "ValidatingAdmissionPolicy 'p' with
binding 'b' denied request: ...").

The oracle is the API server's code (k8s.io/apiserver admission/plugin/policy/{generic,matching,mutating,validating},
admission/plugin/cel, the webhook predicates, structured-merge-diff's typed merge, evanphx/json-patch v4), followed
step by step below, and the Pod's OpenAPI schema of Kubernetes 1.36 as `kubernetes-validate` ships it
(kubernetes-json-schema/v1.36.0-local-strict: pod-v1.json and _definitions.json). Nothing about Pod fields is
written by hand here: field names, types, list types and keys, and atomic markers come from that schema; the only
hand-written schema fact is `_KEY_DEFAULTS` (ContainerPort.protocol defaults to "TCP": the Go type's `+default`
marker is in the API server's OpenAPI, and so in structured-merge-diff's schema, but the JSON schema files drop
defaults).

CEL is evaluated by the CEL C++ runtime through `cel-expr-python`, never by matching or rewriting expression text:

* `object`, `oldObject` and `params` are dyn (as in Kubernetes: plain JSON values, so a missing field is a
  "no such key" error), `request` and `namespaceObject` are typed messages with exactly the fields of the API
  server's `kubernetes.AdmissionRequest` / `kubernetes.Namespace` declarations, `variables.<name>` is typed with
  the variable's output type as the API server declares it (lists and maps keep their structure, message and
  optional types become dyn), and is evaluated lazily for each expression as in the API server (a variable is
  computed only when the expression reads it; an error in it fails only the expressions that read it).
* The typed object construction of mutations (`Object{...}`, `Object.spec.initContainers{...}`,
  `Object.spec.volumes.emptyDir{}`, `JSONPatch{op:, path:, value:, from:}`) is declared to the CEL compiler as
  protobuf messages built (once, on first use) from the Pod schema: message `Object` for the Pod, a message per object
  field path (`Object.spec`, `Object.spec.initContainers`, ...; list items take the list field's path), proto2
  `optional` scalars for presence, `repeated` for arrays, `map<string, ...>` for string maps, int32/int64 per the
  schema's format, quantities as strings, and int-or-string and free-form fields as google.protobuf.Value (dyn).
  A field is named `Object.spec` and the type of that field is named `Object.spec` as well, which one protobuf
  pool cannot hold, so each depth of path types lives under its own package prefix (`_k8s_t0._k8s_t1...`) and the
  mutation expressions are compiled in the container `_k8s_t0. ... ._k8s_tN`: CEL resolves a type name against
  the container from the longest prefix down, so `Object.spec.initContainers` finds the depth-2 type and never
  the field. These prefixes are removed from the compiler's messages.
  So a misspelled field (`Object.spec.initContainers{restartPolcy: "Always"}`), a wrong type (`runAsUser: "10"`,
  also a number for a quantity, which the API server would take) or a type name that is not a Pod field path
  fails to compile here. The API server resolves `Object.*` types
  dynamically instead (any field, dyn values) and rejects the same mistakes only when it applies the mutation
  (structured-merge-diff's typed conversion, the strict decoding after a JSON patch), that is as an admission
  error under the policy's failurePolicy. `mutate` does the same: an expression that does not compile is an
  error at admission (the API server stores compile errors and raises them at invocation), under failurePolicy.
  Use `compile_errors` to see them at once.
* Libraries: the CEL standard library and macros (has, all, exists, exists_one, map, filter), ext strings
  version 2 (split, join, lowerAscii, upperAscii, replace, indexOf, lastIndexOf, substring, trim, charAt, format,
  strings.quote), optional types (`?field`, `[?key]`, orValue, hasValue, optional.of/none), ext sets
  (sets.contains/equivalent/intersects), two-variable comprehensions (all, exists, existsOne, transformList),
  Kubernetes' list library (isSorted, sum, min, max, indexOf, lastIndexOf, on lists, with dyn results) and, in
  mutation expressions only, `jsonpatch.escapeKey`.

Modelled: the policy's matchConstraints and the binding's matchResources (namespaceSelector over the namespace's
labels, `kubernetes.io/metadata.name` added when missing; objectSelector over the object's labels, and for UPDATE
the old object's too; resourceRules and excludeResourceRules with apiGroups/apiVersions/resources (`*`, `pods`,
`pods/*`, `*/*`)/operations/scope/resourceNames; a malformed selector is a configuration error); paramRef
(name or selector, namespace, parameterNotFoundAction, paramKind apiVersion/kind when the params object carries
them; Deny on a missing param is a configuration error: refused under failurePolicy Fail, ignored under Ignore,
as the dispatcher does); matchConditions (any false: not matched; otherwise any error: failurePolicy);
mutations in order, each on the object left by the previous one, a failing mutation refused under Fail and
skipped (the next ones still applied) under Ignore; JSONPatch with evanphx/json-patch v4's semantics (add,
remove, replace, move, copy, test; `-`, negative indexes, `~0`/`~1`; a failed `test` leaves the object as it
was; its quirks kept: `replace` of a missing object key adds it, `copy` from a missing key adds null) followed by
the strict decoding of the result into a Pod (unknown fields, wrong types, bad quantities or timestamps: an
internal error, refused whatever the failurePolicy); ApplyConfiguration with structured-merge-diff's merge
(structs and granular maps merged per key, `map` lists merged per key in its order rules, `set` lists united,
atomic lists/maps/structs replaced) after its checks (duplicate or missing list keys in the apply configuration,
"may not mutate atomic arrays, maps or structs"; the live object converted with typed.AllowDuplicates, as since
kubernetes/kubernetes#135560 (merged December 2025, in 1.36): a live item with a duplicate key is kept as it is, or,
when the apply configuration sets that key, the duplicates become the one item of the configuration); validations
with message / messageExpression (trimmed; ignored when empty, multi-line or longer than 5 KiB) / the "failed
expression" fallback, reason, validationActions (only Deny refuses), auditAnnotations' errors under Fail; the API
server's messages; the subresource `ephemeralcontainers` (`subresource=`: an UPDATE whose object is the Pod, matched
by rules naming `pods/ephemeralcontainers`, `pods/*` or `*/*`). The API server's order across plugins (mutating
policies, then mutating webhooks, then the policies with `reinvocationPolicy: IfNeeded` again when a webhook changed
the object, then validation) is the caller's: call `mutate` again after a webhook's change.

Not modelled (exactly): the `authorizer` variable and the authz, quantity, URL, IP, CIDR, regex (find/findAll),
format, semver and image libraries (an expression using them does not compile here); transformMap and
transformMapEntry (cel-expr-python 0.1.3 has no runtime for their `cel.@mapInsert`: reported as compile errors,
marked as this model's limitation); cross-type numeric comparisons (`1 < 1.5` does not compile here; the API server
allows it) and the API server's rejection of mixed-type list/map literals (accepted here); an optional value held by
a variable cannot cross from one CEL evaluation to the next in cel-expr-python, so reading such a variable raises
NotImplementedError; the runtime cost budget; CONNECT (pods' subresources only) and the other
subresources; a field of
`request` / `namespaceObject` the request or namespace lacks reads as its zero value here (the API server: no such
key); other policies and webhooks (see the order above); the server-side defaulting of the Pod after
each mutation and the Go zero values the API server's serialization shows (`resources: {}`, `status: {}`,
`creationTimestamp: null`): the pod is taken as given; Pod validation after admission (required fields, name syntax,
immutable fields); an explicitly empty list or map in an `Object{}` literal is dropped (protobuf has no presence for
repeated fields), so `args: []` is not refused as an atomic-list mutation. For UPDATE the old object is `old` when
given (which fields an update may change is not checked: the caller's business), else the pod itself (an update
that changes nothing); for DELETE `object` is null and no mutation applies. The request's userInfo
is USER_INFO. metadata.namespace, apiVersion and kind are filled in for the policy (the API server has them on every
object in admission) and left out of the result when the caller's pod had none and the policy did not change them;
null fields of a mutated pod drop out (the decoding into the Go type). A pod that is not a valid v1 Pod of the
schema (unknown fields, wrong types), a metadata.namespace other than the namespace's name, or a binding of another
policy is a ValueError: a mistake of the caller, not an admission outcome.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, struct_pb2, timestamp_pb2

__all__ = ["KUBERNETES_VERSION", "USER_INFO", "Refused", "compile_errors", "mutate", "validate"]

KUBERNETES_VERSION = "1.36"
# The user the requests come from (request.userInfo).
USER_INFO: dict[str, Any] = {"username": "kubernetes-admin", "uid": "",
                             "groups": ["kubeadm:cluster-admins", "system:authenticated"]}


class Refused(Exception):
    """The API server refuses the request (failurePolicy Fail on an error, a missing param with Deny, a failed
    validation). str() = the reason."""

    def __init__(self, message: str, *, reason: str = "Forbidden", code: int = 403):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return self.message


# --- the Pod schema ------------------------------------------------------------------------------------------

_SCHEMA_DIR = (resources.files("kubernetes_validate") / "kubernetes-json-schema"
               / f"v{KUBERNETES_VERSION}.0-local-strict")

# Defaults of list-map key fields: in the API server's OpenAPI (Go `+default` markers), dropped by the JSON schema
# files. structured-merge-diff uses them for a list item that omits the key field.
_KEY_DEFAULTS = {("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP"}


@dataclasses.dataclass(eq=False)
class _Node:
    """A schema node. kind: struct, map, list, string, int32, int64, double, bool, int-or-string, quantity,
    date-time, bytes, any."""
    kind: str
    definition: str = ""
    fields: dict[str, _Node] = dataclasses.field(default_factory=dict)
    item: _Node | None = None          # list item, map value
    list_type: str = "atomic"          # atomic | set | map
    keys: tuple[str, ...] = ()
    atomic: bool = False               # struct / map: x-kubernetes-map-type atomic

    def key_default(self, key: str) -> Any:
        return _KEY_DEFAULTS.get((self.definition, key), _MISSING)


def _types(raw: Mapping[str, Any]) -> set[str]:
    kinds = raw.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    return {kind for kind in kinds if kind != "null"}


def _node(raw: Mapping[str, Any], definitions: Mapping[str, Any], stack: tuple[str, ...] = ()) -> _Node:
    definition = ""
    if "$ref" in raw:
        definition = raw["$ref"].rsplit("/", 1)[-1]
        if definition in stack:
            raise ValueError(f"recursive schema at {definition}: not supported")
        stack += (definition,)
        raw = {**definitions[definition], **{key: value for key, value in raw.items() if key != "$ref"}}
    if raw.get("x-kubernetes-int-or-string"):
        return _Node("int-or-string", definition)
    if "oneOf" in raw:
        branches = set().union(*(_types(branch) for branch in raw["oneOf"]))
        if branches == {"string", "integer"}:
            return _Node("int-or-string", definition)
        if branches == {"string", "number"}:
            return _Node("quantity", definition)  # Kubernetes CEL and the API's JSON have quantities as strings
        return _Node("any", definition)
    types = _types(raw)
    if "properties" in raw:
        return _Node("struct", definition, atomic=raw.get("x-kubernetes-map-type") == "atomic",
                     fields={name: _node(prop, definitions, stack) for name, prop in raw["properties"].items()})
    if types == {"object"}:
        if isinstance(raw.get("additionalProperties"), dict):
            return _Node("map", definition, item=_node(raw["additionalProperties"], definitions, stack),
                         atomic=raw.get("x-kubernetes-map-type") == "atomic")
        return _Node("any", definition)
    if types == {"array"}:
        return _Node("list", definition, item=_node(raw["items"], definitions, stack),
                     list_type=raw.get("x-kubernetes-list-type", "atomic"),
                     keys=tuple(raw.get("x-kubernetes-list-map-keys", ())))
    if types == {"string"}:
        return _Node({"date-time": "date-time", "byte": "bytes"}.get(raw.get("format"), "string"), definition)
    if types == {"integer"}:
        return _Node("int32" if raw.get("format") == "int32" else "int64", definition)
    if types == {"number"}:
        return _Node("double", definition)
    if types == {"boolean"}:
        return _Node("bool", definition)
    return _Node("any", definition)


@functools.cache
def _pod_schema() -> _Node:
    definitions = json.loads((_SCHEMA_DIR / "_definitions.json").read_text())["$defs"]
    return _node(json.loads((_SCHEMA_DIR / "pod-v1.json").read_text()), definitions)


# --- the protobuf types of the CEL environment -----------------------------------------------------------------

_F = descriptor_pb2.FieldDescriptorProto
_SCALAR_FIELDS = {"string": _F.TYPE_STRING, "quantity": _F.TYPE_STRING, "date-time": _F.TYPE_STRING,
                  "bytes": _F.TYPE_STRING, "int32": _F.TYPE_INT32, "int64": _F.TYPE_INT64,
                  "double": _F.TYPE_DOUBLE, "bool": _F.TYPE_BOOL}
_VALUE = "google.protobuf.Value"
_SEGMENT = "_k8s_t"
_PREFIX = re.compile(rf"(?:{_SEGMENT}\d+\.)+")


class _Types:
    """The descriptor pool: `Object` and its field-path types, `JSONPatch`, and the kubernetes.* request types."""

    def __init__(self, root: _Node):
        self.depth = self._depth(root) + 1
        self.segments = [f"{_SEGMENT}{i}" for i in range(self.depth)]
        self.container = ".".join(self.segments)
        self.files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        self._message(root, [])
        jsonpatch = self._file(self.container).message_type.add(name="JSONPatch")
        for number, name in enumerate(("op", "path", "from"), 1):
            jsonpatch.field.add(name=name, json_name=name, number=number, label=_F.LABEL_OPTIONAL,
                                type=_F.TYPE_STRING)
        jsonpatch.field.add(name="value", json_name="value", number=4, label=_F.LABEL_OPTIONAL,
                            type=_F.TYPE_MESSAGE, type_name="." + _VALUE)
        self.jsonpatch = self.container + ".JSONPatch"
        self.object = self.container + ".Object"
        self.pool = descriptor_pool.DescriptorPool()
        for module in (struct_pb2, timestamp_pb2):
            proto = descriptor_pb2.FileDescriptorProto()
            module.DESCRIPTOR.CopyToProto(proto)
            self.pool.Add(proto)
        self._link()
        for proto in sorted(self.files.values(), key=lambda f: -self._file_depth[f.name]):
            self.pool.Add(proto)
        self.pool.Add(_kubernetes_file())
        self._classes: dict[str, type] = {}

    @classmethod
    def _depth(cls, node: _Node, depth: int = 0) -> int:
        if node.kind == "struct":
            return max([depth] + [cls._depth(field, depth + 1) for field in node.fields.values()])
        if node.kind == "list":
            return cls._depth(node.item, depth)
        return depth

    def name(self, path: list[str]) -> str:
        """The protobuf full name of the CEL type `Object.<path>`."""
        return ".".join(self.segments[:self.depth - len(path)] + ["Object"] + path)

    def _file(self, package: str) -> descriptor_pb2.FileDescriptorProto:
        if package not in self.files:
            self.files[package] = descriptor_pb2.FileDescriptorProto(
                name=package.replace(".", "/") + ".proto", package=package, syntax="proto2",
                dependency=["google/protobuf/struct.proto"])
        return self.files[package]

    def _message(self, node: _Node, path: list[str]) -> None:
        package, short = self.name(path).rsplit(".", 1)
        message = self._file(package).message_type.add(name=short)
        for number, (field_name, field) in enumerate(sorted(node.fields.items()), 1):
            proto = message.field.add(name=field_name, json_name=field_name, number=number,
                                      label=_F.LABEL_OPTIONAL)
            if field.kind == "list":
                proto.label = _F.LABEL_REPEATED
                field = field.item
            if field.kind == "struct":
                proto.type, proto.type_name = _F.TYPE_MESSAGE, "." + self.name(path + [field_name])
                self._message(field, path + [field_name])
            elif field.kind == "map" and proto.label == _F.LABEL_OPTIONAL:
                entry = message.nested_type.add(name=field_name[0].upper() + field_name[1:] + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", json_name="key", number=1, label=_F.LABEL_OPTIONAL,
                                type=_F.TYPE_STRING)
                value = entry.field.add(name="value", json_name="value", number=2, label=_F.LABEL_OPTIONAL)
                if field.item.kind in _SCALAR_FIELDS:
                    value.type = _SCALAR_FIELDS[field.item.kind]
                else:
                    value.type, value.type_name = _F.TYPE_MESSAGE, "." + _VALUE
                proto.label, proto.type = _F.LABEL_REPEATED, _F.TYPE_MESSAGE
                proto.type_name = "." + self.name(path) + "." + entry.name
            elif field.kind in _SCALAR_FIELDS:
                proto.type = _SCALAR_FIELDS[field.kind]
            else:  # int-or-string, free-form objects, lists of lists or maps: dyn
                proto.type, proto.type_name = _F.TYPE_MESSAGE, "." + _VALUE

    def _link(self) -> None:
        """Each file's dependencies (the packages of its fields' types) and depth, for the order of adding."""
        self._file_depth = {}
        for proto in self.files.values():
            parts = proto.package.split(".")
            self._file_depth[proto.name] = len(parts) - parts.index("Object") if "Object" in parts else 0
            needed = set()
            for message in proto.message_type:
                for field in message.field:
                    if field.type_name.startswith("." + _SEGMENT):
                        package = field.type_name[1:].rsplit(".", 1)[0]
                        while package not in self.files:
                            package = package.rsplit(".", 1)[0]
                        if package != proto.package:
                            needed.add(self.files[package].name)
            proto.dependency.extend(sorted(needed))

    def message_class(self, full_name: str) -> type:
        if full_name not in self._classes:
            self._classes[full_name] = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))
        return self._classes[full_name]


def _kubernetes_file() -> descriptor_pb2.FileDescriptorProto:
    """kubernetes.AdmissionRequest and kubernetes.Namespace with the fields the API server declares for CEL
    (k8s.io/apiserver/pkg/admission/plugin/cel BuildRequestType / BuildNamespaceType)."""
    proto = descriptor_pb2.FileDescriptorProto(name="kubernetes/admission.proto", package="kubernetes",
                                               syntax="proto2", dependency=["google/protobuf/struct.proto",
                                                                            "google/protobuf/timestamp.proto"])
    kinds = {"string": (_F.TYPE_STRING, ""), "bool": (_F.TYPE_BOOL, ""), "int": (_F.TYPE_INT64, ""),
             "time": (_F.TYPE_MESSAGE, ".google.protobuf.Timestamp"), "dyn": (_F.TYPE_MESSAGE, "." + _VALUE),
             "struct": (_F.TYPE_MESSAGE, ".google.protobuf.Struct")}

    def message(name: str, fields: list[tuple[str, str]], maps: tuple[str, ...] = ()) -> None:
        msg = proto.message_type.add(name=name)
        for number, (field_name, kind) in enumerate(fields, 1):
            repeated = kind.startswith("[]")
            kind = kind.removeprefix("[]")
            field = msg.field.add(name=field_name, json_name=field_name, number=number,
                                  label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL)
            if field_name in maps:
                entry = msg.nested_type.add(name=field_name[0].upper() + field_name[1:] + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", json_name="key", number=1, label=_F.LABEL_OPTIONAL, type=_F.TYPE_STRING)
                entry.field.add(name="value", json_name="value", number=2, label=_F.LABEL_OPTIONAL,
                                type=_F.TYPE_STRING)
                field.label, field.type = _F.LABEL_REPEATED, _F.TYPE_MESSAGE
                field.type_name = f".kubernetes.{name}.{entry.name}"
            elif kind in kinds:
                field.type, type_name = kinds[kind]
                if type_name:
                    field.type_name = type_name
            else:
                field.type, field.type_name = _F.TYPE_MESSAGE, ".kubernetes." + kind

    message("GroupVersionKind", [("group", "string"), ("version", "string"), ("kind", "string")])
    message("GroupVersionResource", [("group", "string"), ("version", "string"), ("resource", "string")])
    message("UserInfo", [("username", "string"), ("uid", "string"), ("groups", "[]string"), ("extra", "struct")])
    message("AdmissionRequest", [
        ("kind", "GroupVersionKind"), ("resource", "GroupVersionResource"), ("subResource", "string"),
        ("requestKind", "GroupVersionKind"), ("requestResource", "GroupVersionResource"),
        ("requestSubResource", "string"), ("name", "string"), ("namespace", "string"), ("operation", "string"),
        ("userInfo", "UserInfo"), ("dryRun", "bool"), ("options", "dyn")])
    message("NamespaceSpec", [("finalizers", "[]string")])
    message("NamespaceCondition", [("status", "string"), ("type", "string"), ("lastTransitionTime", "time"),
                                   ("message", "string"), ("reason", "string")])
    message("NamespaceStatus", [("conditions", "[]NamespaceCondition"), ("phase", "string")])
    message("NamespaceMetadata", [
        ("name", "string"), ("generateName", "string"), ("namespace", "string"), ("labels", "map"),
        ("annotations", "map"), ("UID", "string"), ("creationTimestamp", "time"),
        ("deletionGracePeriodSeconds", "int"), ("deletionTimestamp", "time"), ("generation", "int"),
        ("resourceVersion", "string"), ("finalizers", "[]string")], maps=("labels", "annotations"))
    message("Namespace", [("metadata", "NamespaceMetadata"), ("spec", "NamespaceSpec"),
                          ("status", "NamespaceStatus")])
    return proto


@functools.cache
def _types_pool() -> _Types:
    return _Types(_pod_schema())


# --- CEL environments ------------------------------------------------------------------------------------------

_T = cel.Type
_LIST = _T.List(_T.DYN)


def _cel_key(value: Any) -> Any:
    """A hashable key with CEL equality between plain values (1 == 1.0, true != 1)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value)) if not isinstance(value, int) or abs(value) < 2 ** 53 else ("int", value)
    if isinstance(value, list):
        return ("list", tuple(_cel_key(v) for v in value))
    if isinstance(value, dict):
        return ("map", frozenset((_cel_key(k), _cel_key(v)) for k, v in value.items()))
    try:
        hash(value)
        return ("other", value)
    except TypeError:
        return ("other", repr(value))


def _sorted_check(values: list) -> bool:
    return all(a <= b for a, b in itertools.pairwise(values))


def _extreme(name: str, pick: Callable) -> Callable:
    def impl(values: list) -> Any:
        if not values:
            raise ValueError(f"{name} called on empty list")
        return pick(values)
    return impl


def _index_of(values: list, item: Any, last: bool = False) -> int:
    keys = [_cel_key(v) for v in values]
    wanted = _cel_key(item)
    positions = [i for i, key in enumerate(keys) if key == wanted]
    return (positions[-1] if last else positions[0]) if positions else -1


def _escape_key(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _kubernetes_library(patch: bool) -> cel.CelExtension:
    """Kubernetes' list library (k8s.io/apiserver/pkg/cel/library/lists.go) and, for mutations, jsonpatch."""
    member = functools.partial(cel.Overload, is_member=True)
    functions = [
        cel.FunctionDecl("isSorted", [member("k8s_list_is_sorted", _T.BOOL, [_LIST], impl=_sorted_check)]),
        cel.FunctionDecl("sum", [member("k8s_list_sum", _T.DYN, [_LIST], impl=lambda values: sum(values))]),
        cel.FunctionDecl("min", [member("k8s_list_min", _T.DYN, [_LIST], impl=_extreme("min", min))]),
        cel.FunctionDecl("max", [member("k8s_list_max", _T.DYN, [_LIST], impl=_extreme("max", max))]),
        cel.FunctionDecl("indexOf", [member("k8s_list_index_of", _T.INT, [_LIST, _T.DYN], impl=_index_of)]),
        cel.FunctionDecl("lastIndexOf", [member("k8s_list_last_index_of", _T.INT, [_LIST, _T.DYN],
                                                impl=lambda values, item: _index_of(values, item, True))]),
    ]
    if patch:
        functions.append(cel.FunctionDecl("jsonpatch.escapeKey", [
            cel.Overload("string_jsonpatch_escapeKey_string", _T.STRING, [_T.STRING], impl=_escape_key)]))
    return cel.CelExtension("kubernetes_patch" if patch else "kubernetes", functions)


_ENVS: dict[tuple, Any] = {}


def _env(patch: bool, variables: Mapping[str, Any]):
    """The environment of plain (patch False) or mutation (patch True) expressions with these variables."""
    key = (patch, tuple(sorted((name, str(kind)) for name, kind in variables.items())))
    if key not in _ENVS:
        types = _types_pool()
        config = cel.NewEnvConfigFromYaml("name: kubernetes\nextensions:\n  - name: sets\n"
                                          "  - name: two-var-comprehensions\n")
        options = {"container": types.container} if patch else {}
        _ENVS[key] = cel.NewEnv(descriptor_pool=types.pool, config=config, variables=dict(variables),
                                extensions=[ext_strings.ExtStrings(2), ext_optional.ExtOptional(),
                                            _kubernetes_library(patch)], **options)
    return _ENVS[key]


def _base_variables(has_params: bool) -> dict[str, Any]:
    variables = {"object": _T.DYN, "oldObject": _T.DYN, "request": _T("kubernetes.AdmissionRequest"),
                 "namespaceObject": _T("kubernetes.Namespace")}
    if has_params:
        variables["params"] = _T.DYN
    return variables


_TYPE_TOKEN = re.compile(r"\s*([^<>,\s]+|[<>,])")


def _declared_type(output: Any) -> Any:
    """The type the API server gives a variable from its expression's output type (composition.go
    convertCelTypeToDeclType): primitives kept, lists and maps rebuilt from their parameters, the rest dyn.
    Read from the type's printed form, the binding's only view of type parameters."""
    tokens = _TYPE_TOKEN.findall(str(output))
    position = 0

    def parse() -> Any:
        nonlocal position
        name = tokens[position]
        position += 1
        parameters = []
        if position < len(tokens) and tokens[position] == "<":
            position += 1
            while True:
                parameters.append(parse())
                position += 1  # "," or ">"
                if tokens[position - 1] == ">":
                    break
        simple = {"BOOL": _T.BOOL, "INT": _T.INT, "UINT": _T.UINT, "DOUBLE": _T.DOUBLE, "STRING": _T.STRING,
                  "BYTES": _T.BYTES, "NULL": _T.NULL, "DURATION": _T.DURATION, "TIMESTAMP": _T.TIMESTAMP}
        if name in simple and not parameters:
            return simple[name]
        if name == "LIST" and len(parameters) == 1:
            return _T.List(parameters[0])
        if name == "MAP" and len(parameters) == 2:
            return _T.Map(parameters[0], parameters[1])
        return _T.DYN

    try:
        return parse()
    except IndexError:
        return _T.DYN


def _is_optional(output: Any) -> bool:
    return str(output).startswith("optional")


def _clean(message: str) -> str:
    """The compiler's message with the type prefixes of this model taken out."""
    message = re.sub(r" \(in container '[^']*'\)", "", message)
    message = _PREFIX.sub("", message)
    message = re.sub(r"\s*\[INVALID_ARGUMENT\]\s*$", "", message)
    return message.replace("INVALID_ARGUMENT: ", "", 1).strip()


def _type_text(kind: Any) -> str:
    """A type as the API server prints it: bool, list(JSONPatch), map(string, dyn), Object.spec."""
    tokens = _TYPE_TOKEN.findall(_PREFIX.sub("", str(kind)))
    text = ""
    for token in tokens:
        if token == "<":
            text += "("
        elif token == ">":
            text += ")"
        elif token == ",":
            text += ", "
        else:
            text += token.lower() if token.isupper() else token
    return text


@dataclasses.dataclass
class _Expr:
    where: str
    source: str
    program: Any = None
    error: str | None = None
    output: Any = None


def _compile(where: str, source: Any, env, expected: list | None) -> _Expr:
    if not isinstance(source, str):
        return _Expr(where, str(source), error=f"{where}: expression must be a string")
    try:
        program = env.compile(source)
    except RuntimeError as error:
        message = "compilation failed: " + _clean(str(error))
        if "undeclared reference to 'authorizer'" in message:
            message += "\n(the authorizer variable is not modelled by tests/admission.py)"
        if "cel.@mapInsert" in message:
            message += ("\n(transformMap / transformMapEntry: cel-expr-python cannot run them; a limitation of "
                        "tests/admission.py, not of the policy)")
        return _Expr(where, source, error=message)
    output = program.return_type()
    if expected and not any(output == kind for kind in expected):
        wanted = " or ".join(_type_text(kind) for kind in expected)
        return _Expr(where, source, error=f"must evaluate to {wanted} but got {_type_text(output)}", output=output)
    return _Expr(where, source, program, output=output)


@dataclasses.dataclass
class _Program:
    kind: str
    name: str
    spec: dict
    variables: list[tuple[str, _Expr]]
    match_conditions: list[tuple[str, _Expr]]
    mutations: list[tuple[str, _Expr]] = dataclasses.field(default_factory=list)
    validations: list[tuple[dict, _Expr, _Expr | None]] = dataclasses.field(default_factory=list)
    audit_annotations: list[tuple[str, _Expr]] = dataclasses.field(default_factory=list)

    def expressions(self) -> list[_Expr]:
        found = [expr for _, expr in self.variables] + [expr for _, expr in self.match_conditions]
        found += [expr for _, expr in self.mutations] + [expr for _, expr in self.audit_annotations]
        for _, expr, message in self.validations:
            found += [expr] + ([message] if message else [])
        return found


_PROGRAMS: dict[str, _Program] = {}
_KINDS = ("MutatingAdmissionPolicy", "ValidatingAdmissionPolicy")


def _program(policy: Mapping[str, Any]) -> _Program:
    key = json.dumps(policy, sort_keys=True, default=str)
    if key in _PROGRAMS:
        return _PROGRAMS[key]
    kind = policy.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"not a MutatingAdmissionPolicy or ValidatingAdmissionPolicy: kind {kind!r}")
    spec = policy.get("spec") or {}
    types = _types_pool()
    declared = _base_variables(spec.get("paramKind") is not None)
    variables = []
    for i, variable in enumerate(spec.get("variables") or []):
        expr = _compile(f"spec.variables[{i}].expression", variable.get("expression"), _env(False, declared), None)
        variables.append((variable.get("name"), expr))
        declared[f"variables.{variable.get('name')}"] = _declared_type(expr.output) if expr.program else _T.DYN
    plain, patch = _env(False, declared), _env(True, declared)
    program = _Program(kind, (policy.get("metadata") or {}).get("name", ""), spec, variables, [
        (condition.get("name"), _compile(f"spec.matchConditions[{i}].expression", condition.get("expression"),
                                         plain, [_T.BOOL]))
        for i, condition in enumerate(spec.get("matchConditions") or [])])
    if kind == "MutatingAdmissionPolicy":
        for i, mutation in enumerate(spec.get("mutations") or []):
            patch_type = mutation.get("patchType")
            where = f"spec.mutations[{i}]"
            if patch_type == "JSONPatch":
                expr = _compile(where + ".jsonPatch.expression", (mutation.get("jsonPatch") or {}).get("expression"),
                                patch, [_T.List(_T(types.jsonpatch))])
            elif patch_type == "ApplyConfiguration":
                expr = _compile(where + ".applyConfiguration.expression",
                                (mutation.get("applyConfiguration") or {}).get("expression"), patch,
                                [_T(types.object)])
            else:
                expr = _Expr(where + ".patchType", "", error=f"unsupported patchType {patch_type!r}")
            program.mutations.append((patch_type, expr))
    else:
        for i, validation in enumerate(spec.get("validations") or []):
            message = None
            if validation.get("messageExpression") is not None:
                message = _compile(f"spec.validations[{i}].messageExpression", validation["messageExpression"],
                                   plain, [_T.STRING])
            program.validations.append((validation, _compile(f"spec.validations[{i}].expression",
                                                             validation.get("expression"), plain, [_T.BOOL]),
                                        message))
        for i, annotation in enumerate(spec.get("auditAnnotations") or []):
            program.audit_annotations.append((annotation.get("key"), _compile(
                f"spec.auditAnnotations[{i}].valueExpression", annotation.get("valueExpression"), plain,
                [_T.STRING, _T.NULL])))
    _PROGRAMS[key] = program
    return program


def compile_errors(policy: dict) -> list[str]:
    """Every CEL expression of a MAP or VAP (matchConditions, variables, mutations, validations,
    messageExpressions) compiled with the policy's declared types; the compiler's errors, empty when all compile."""
    return [f"{expr.where}: {expr.error}" for expr in _program(policy).expressions() if expr.error]


# --- values between Python and CEL ------------------------------------------------------------------------------

def _number(value: float) -> int | float:
    """A JSON number as the API server's decoding gives it: integral numbers are integers."""
    if math.isfinite(value) and value == int(value) and abs(value) < 2 ** 63:
        return int(value)
    return value


def _from_proto(message: Any) -> Any:
    full_name = message.DESCRIPTOR.full_name
    if full_name == _VALUE:
        kind = message.WhichOneof("kind")
        if kind is None or kind == "null_value":
            return None
        if kind == "number_value":
            return _number(message.number_value)
        if kind == "struct_value":
            return _from_proto(message.struct_value)
        if kind == "list_value":
            return _from_proto(message.list_value)
        return getattr(message, kind)
    if full_name == "google.protobuf.Struct":
        return {key: _from_proto(value) for key, value in message.fields.items()}
    if full_name == "google.protobuf.ListValue":
        return [_from_proto(value) for value in message.values]
    if full_name == "google.protobuf.Timestamp":
        return json_format.MessageToJson(message).strip('"')
    result = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            result[field.name] = {key: _from_proto(item) if value_field.message_type else item
                                  for key, item in value.items()}
        elif field.label == field.LABEL_REPEATED:
            result[field.name] = [_from_proto(item) if field.message_type else item for item in value]
        elif field.message_type is not None:
            result[field.name] = _from_proto(value)
        else:
            result[field.name] = value
    return result


def _to_python(value: Any) -> Any:
    """A CEL result (plain_value()) as JSON-like Python data."""
    if hasattr(value, "DESCRIPTOR"):
        return _from_proto(value)
    if isinstance(value, list):
        return [_to_python(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_python(item) for key, item in value.items()}
    return value


class _EvalError(Exception):
    pass


_MISSING_VARIABLE = re.compile(r'No value with name "variables\.([^"]+)" found in Activation')


class _Activation:
    """The inputs of one admission evaluation, with the policy's variables evaluated lazily for each expression
    (as the API server's composition context does)."""

    def __init__(self, program: _Program, data: dict[str, Any]):
        self.program = program
        self.data = data
        self.variables = dict(program.variables)

    def evaluate(self, expr: _Expr) -> Any:
        """The expression's value as Python data; _EvalError with the API server's message on an error."""
        value = self._run(expr, {})
        try:
            return _to_python(value.plain_value())
        except (TypeError, RuntimeError) as error:
            raise NotImplementedError(f"{expr.where}: cel-expr-python cannot return this value "
                                      f"({error}); not modelled") from None

    def _run(self, expr: _Expr, computed: dict[str, Any]) -> Any:
        if expr.error:
            raise _EvalError(expr.error)
        data = dict(self.data)
        data.update({f"variables.{name}": value for name, value in computed.items()})
        while True:
            try:
                result = expr.program.eval(data=data)
            except RuntimeError as error:
                raise _EvalError(f"expression '{expr.source}' resulted in error: {_clean(str(error))}") from None
            if result.type() != _T.ERROR:
                return result
            try:
                message = str(result.value())
            except (TypeError, RuntimeError):  # an optional value: the binding reports it as an error type
                return result
            missing = _MISSING_VARIABLE.search(message)
            if missing is None or missing.group(1) not in self.variables or missing.group(1) in computed:
                raise _EvalError(f"expression '{expr.source}' resulted in error: {_clean(message)}")
            name = missing.group(1)
            variable = self.variables[name]
            if variable.error:
                raise _EvalError(f"composited variable \"{name}\" fails to compile: {variable.error}")
            try:
                value = self._run(variable, computed)
            except _EvalError as error:
                raise _EvalError(f"composited variable \"{name}\" fails to evaluate: {error}") from None
            if _is_optional(variable.output):
                raise NotImplementedError(f"variable {name!r} holds an optional value, which cel-expr-python "
                                          f"cannot pass to another expression; not modelled")
            computed[name] = value.plain_value()
            data[f"variables.{name}"] = computed[name]


# --- the request -----------------------------------------------------------------------------------------------

_MISSING = object()
_OPERATIONS = ("CREATE", "UPDATE", "DELETE")  # CONNECT reaches pods' subresources only: not modelled
# The subresources modelled: those whose request object is the Pod itself (an UPDATE of pods/ephemeralcontainers
# sends the whole Pod with its new spec.ephemeralContainers).
_SUBRESOURCES = ("", "ephemeralcontainers")


def _labels_of(obj: Any) -> dict:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


@dataclasses.dataclass
class _Request:
    pod: dict                    # the caller's pod
    view: dict                   # the pod as the API server has it (apiVersion, kind, namespace filled in)
    namespace: dict
    namespace_name: str
    operation: str
    old_view: dict | None = None  # UPDATE: the stored pod, when the caller gave one
    subresource: str = ""         # "" or a subresource of pods whose object is the Pod (ephemeralcontainers)

    @property
    def object(self) -> dict | None:
        return None if self.operation == "DELETE" else self.view

    @property
    def old_object(self) -> dict | None:
        if self.operation == "CREATE":
            return None
        return self.view if self.old_view is None else self.old_view


def _request(pod: Any, namespace: Any, operation: str, old: Any = None, subresource: str = "") -> _Request:
    if operation not in _OPERATIONS:
        raise ValueError(f"operation {operation!r}: one of {', '.join(_OPERATIONS)}")
    if subresource not in _SUBRESOURCES:
        raise ValueError(f"subresource {subresource!r}: one of {_SUBRESOURCES}")
    if subresource and operation != "UPDATE":
        raise ValueError(f"subresource {subresource!r}: only an UPDATE")
    if old is not None:
        if operation != "UPDATE":
            raise ValueError("old: only an UPDATE has an old object")
        old_view = _request(old, namespace, "CREATE").view
    if not isinstance(pod, dict):
        raise ValueError("pod: not a mapping")
    name = ((namespace or {}).get("metadata") or {}).get("name")
    if not isinstance(namespace, dict) or not isinstance(name, str) or not name:
        raise ValueError("namespace: a Namespace object with metadata.name")
    errors = _check(pod, _pod_schema(), "")
    if errors:
        raise ValueError("pod: not a valid v1 Pod for Kubernetes " + KUBERNETES_VERSION + ": " + "; ".join(errors))
    if pod.get("apiVersion", "v1") != "v1" or pod.get("kind", "Pod") != "Pod":
        raise ValueError("pod: apiVersion v1, kind Pod expected")
    pod_namespace = (pod.get("metadata") or {}).get("namespace")
    if pod_namespace not in (None, "", name):
        raise ValueError(f"pod: metadata.namespace {pod_namespace!r} is not the request's namespace {name!r} "
                         "(the API server refuses the request before admission)")
    view = copy.deepcopy(pod)
    view.setdefault("apiVersion", "v1")
    view.setdefault("kind", "Pod")
    metadata = view.get("metadata")
    if not isinstance(metadata, dict):
        metadata = view["metadata"] = {}
    metadata["namespace"] = name
    namespace = copy.deepcopy(namespace)
    namespace_metadata = namespace.setdefault("metadata", {})
    labels = dict(namespace_metadata.get("labels") or {})
    labels.setdefault("kubernetes.io/metadata.name", name)  # the API server labels every namespace so
    namespace_metadata["labels"] = labels
    return _Request(pod, view, namespace, name, operation, old_view if old is not None else None, subresource)


def _result(request: _Request, view: dict) -> dict:
    """The mutated pod as the caller gave it: the fields filled in for admission taken out again."""
    result = _drop_nulls(view)
    for key, value in (("apiVersion", "v1"), ("kind", "Pod")):
        if key not in request.pod and result.get(key) == value:
            del result[key]
    metadata = result.get("metadata")
    if isinstance(metadata, dict) and metadata.get("namespace") == request.namespace_name:
        if "namespace" not in (request.pod.get("metadata") or {}):
            del metadata["namespace"]
        if not metadata and "metadata" not in request.pod:
            del result["metadata"]
    return result


def _drop_nulls(value: Any) -> Any:
    """Null fields drop out when the API server decodes the object into its Go type."""
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


def _request_message(request: _Request, operation: str):
    types = _types_pool()
    options_kind = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}
    message = {
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "subResource": request.subresource,
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "requestSubResource": request.subresource,
        "name": (request.view.get("metadata") or {}).get("name") or "",
        "namespace": request.namespace_name,
        "operation": operation,
        "userInfo": {key: value for key, value in USER_INFO.items() if value is not None},
        "dryRun": False,
    }
    if operation in options_kind:
        message["options"] = {"apiVersion": "meta.k8s.io/v1", "kind": options_kind[operation]}
    return json_format.ParseDict(message, types.message_class("kubernetes.AdmissionRequest")())


_NAMESPACE_METADATA = ("name", "generateName", "namespace", "labels", "annotations", "creationTimestamp",
                       "deletionGracePeriodSeconds", "deletionTimestamp", "generation", "resourceVersion",
                       "finalizers")


def _namespace_message(namespace: dict):
    """namespaceObject: the fields cel.CreateNamespaceObject keeps."""
    metadata = namespace.get("metadata") or {}
    kept = {key: metadata[key] for key in _NAMESPACE_METADATA if metadata.get(key) is not None}
    if metadata.get("uid"):
        kept["UID"] = metadata["uid"]
    message = {"metadata": kept}
    if namespace.get("spec"):
        message["spec"] = {"finalizers": list((namespace["spec"] or {}).get("finalizers") or [])}
    if namespace.get("status"):
        status = namespace["status"]
        message["status"] = {"phase": status.get("phase", ""), "conditions": [
            {key: condition[key] for key in ("status", "type", "lastTransitionTime", "message", "reason")
             if condition.get(key) is not None} for condition in status.get("conditions") or []]}
    return json_format.ParseDict(message, _types_pool().message_class("kubernetes.Namespace")())


# --- matching --------------------------------------------------------------------------------------------------

class _ConfigError(Exception):
    pass


def _selector(selector: Any, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); _ConfigError for a malformed selector."""
    if not selector:
        return True
    requirements = [(key, "In", [value]) for key, value in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        operator, values = expression.get("operator"), list(expression.get("values") or [])
        if operator in ("In", "NotIn") and not values:
            raise _ConfigError("for 'in', 'notin' operators, values set can't be empty")
        if operator in ("Exists", "DoesNotExist") and values:
            raise _ConfigError("values set must be empty for exists and does not exist")
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise _ConfigError(f"{operator!r} is not a valid label selector operator")
        requirements.append((expression.get("key"), operator, values))
    for key, operator, values in requirements:
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _rule_matches(rule: Mapping[str, Any], request: _Request) -> bool:
    """webhook/predicates/rules Matcher for a v1 Pod request (`pods/*` and `*/*` take every subresource and the
    resource itself, `pods` only the resource)."""
    operations = rule.get("operations") or []
    if "*" not in operations and request.operation not in operations:
        return False
    if not {"*", ""} & set(rule.get("apiGroups") or []):
        return False
    if not {"*", "v1"} & set(rule.get("apiVersions") or []):
        return False
    resource_match = False
    for resource in rule.get("resources") or []:
        name, _, sub = resource.partition("/")
        if name in ("*", "pods") and sub in ("*", request.subresource):
            resource_match = True
    if not resource_match:
        return False
    return (rule.get("scope") or "*") in ("*", "Namespaced")


def _rules_match(rules: list, request: _Request) -> bool:
    name = (request.view.get("metadata") or {}).get("name") or ""
    for rule in rules or []:
        if _rule_matches(rule, request) and (not rule.get("resourceNames") or name in rule["resourceNames"]):
            return True
    return False


def _matches(match: Mapping[str, Any] | None, request: _Request) -> bool:
    """matching.Matcher.Matches; _ConfigError for a malformed selector of a request it otherwise matches."""
    if match is None:
        return True
    errors = []

    def selected(selector: Any, *objects: Any) -> bool | None:
        try:
            return any(_selector(selector, _labels_of(obj)) for obj in objects if obj is not None) \
                if selector else True
        except _ConfigError as error:
            errors.append(str(error))
            return None

    namespace_ok = selected(match.get("namespaceSelector"), request.namespace)
    if namespace_ok is False:
        return False
    object_ok = selected(match.get("objectSelector"), request.object, request.old_object)
    if object_ok is False:
        return False
    if _rules_match(match.get("excludeResourceRules") or [], request):
        return False
    rules = match.get("resourceRules") or []
    if rules and not _rules_match(rules, request):
        return False
    if errors:
        raise _ConfigError(errors[0])
    return True


# --- params ----------------------------------------------------------------------------------------------------

def _params(program: _Program, binding_spec: Mapping[str, Any], params: Any, request: _Request) -> list:
    """generic.CollectParams for the one params object given: [object], [None] (no params used), [] (not found,
    Allow); _ConfigError for Deny and configuration errors."""
    kind = program.spec.get("paramKind")
    ref = binding_spec.get("paramRef")
    if kind is None or ref is None:
        return [None]
    metadata = (params or {}).get("metadata") or {} if isinstance(params, dict) else {}
    namespaced = params is None or bool(metadata.get("namespace"))
    if ref.get("namespace") and params is not None and not namespaced:
        raise _ConfigError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
    found = isinstance(params, dict)
    if found and (params.get("apiVersion", kind.get("apiVersion")) != kind.get("apiVersion")
                  or params.get("kind", kind.get("kind")) != kind.get("kind")):
        found = False
    if found and namespaced and metadata.get("namespace") != (ref.get("namespace") or request.namespace_name):
        found = False
    if ref.get("name"):
        if ref.get("selector") is not None:
            raise _ConfigError("paramRef.name and paramRef.selector are mutually exclusive")
        found = found and metadata.get("name") == ref["name"]
    elif ref.get("selector") is not None:
        found = found and _selector(ref["selector"], metadata.get("labels") or {})
    else:
        raise _ConfigError("one of name or selector must be provided")
    if found:
        return [params]
    if ref.get("parameterNotFoundAction") == "Deny":
        raise _ConfigError("no params found for policy binding with `Deny` parameterNotFoundAction")
    return []


# --- the schema check (typed conversion, strict decoding) ------------------------------------------------------

_QUANTITY = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")
_INT_RANGES = {"int32": 2 ** 31, "int64": 2 ** 63}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    return {int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(type(value),
                                                                                              type(value).__name__)


def _check(value: Any, node: _Node, path: str) -> list[str]:
    """Why `value` does not decode into the schema's Go type (unknown fields included); empty when it does."""
    where = path.lstrip(".") or "(root)"
    if value is None or node.kind == "any":
        return []
    if node.kind == "struct":
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {_type_name(value)}"]
        errors = []
        for key, item in value.items():
            if key not in node.fields:
                errors.append(f"unknown field \"{(path + '.' + key).lstrip('.')}\"")
            else:
                errors += _check(item, node.fields[key], f"{path}.{key}")
        return errors
    if node.kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected object, got {_type_name(value)}"]
        return [error for key, item in value.items() for error in _check(item, node.item, f"{path}.{key}")]
    if node.kind == "list":
        if not isinstance(value, list):
            return [f"{where}: expected array, got {_type_name(value)}"]
        return [error for i, item in enumerate(value) for error in _check(item, node.item, f"{path}[{i}]")]
    if node.kind in _INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected integer, got {_type_name(value)} {value!r}"]
        bound = _INT_RANGES[node.kind]
        return [] if -bound <= value < bound else [f"{where}: {value} overflows {node.kind}"]
    if node.kind == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected number, got {_type_name(value)}"]
    if node.kind == "bool":
        return [] if isinstance(value, bool) else [f"{where}: expected boolean, got {_type_name(value)}"]
    if node.kind == "int-or-string":
        ok = isinstance(value, str) or isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected integer or string, got {_type_name(value)}"]
    if node.kind == "quantity":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return []
        if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
            return [(f"{where}: quantities must match the regular expression "
                     f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {value!r}")]
        return []
    if not isinstance(value, str):
        return [f"{where}: expected string, got {_type_name(value)}"]
    if node.kind == "date-time" and not _DATE_TIME.fullmatch(value):
        return [f"{where}: parsing time {value!r}: not RFC 3339"]
    if node.kind == "bytes":
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            return [f"{where}: illegal base64 data"]
    return []


# --- JSON patch (evanphx/json-patch v4, as the API server applies it) -----------------------------------------

class _PatchError(Exception):
    pass


class _TestFailed(Exception):
    pass


_INDEX = re.compile(r"[+-]?\d+")


def _decode_key(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _atoi(key: str) -> int:
    if not _INDEX.fullmatch(key):
        raise _PatchError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _get(container: Any, key: str) -> Any:
    """partialDoc/partialArray get: a missing object key is None (no error)."""
    if isinstance(container, dict):
        return container.get(key)
    index = _atoi(key)
    if index < 0:
        if index < -len(container):
            raise _PatchError(f"Unable to access invalid index: {index}: invalid index referenced")
        index += len(container)
    if index >= len(container):
        raise _PatchError(f"Unable to access invalid index: {index}: invalid index referenced")
    return container[index]


def _find(doc: Any, path: str) -> tuple[Any, str]:
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    current = doc
    for part in split[1:-1]:
        try:
            current = _get(current, _decode_key(part))
        except _PatchError:
            return None, ""
        if not isinstance(current, (dict, list)):
            return None, ""
    return current, _decode_key(split[-1])


def _add(container: Any, key: str, value: Any, path: str) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    if not _INDEX.fullmatch(key):
        raise _PatchError(f"error in add for path: '{path}': value was not a proper array index: '{key}'")
    index, size = int(key), len(container) + 1
    if index >= size or index < -size:
        raise _PatchError(f"error in add for path: '{path}': Unable to access invalid index: {index}: "
                          "invalid index referenced")
    container.insert(index + size if index < 0 else index, value)


def _remove(container: Any, key: str, path: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _PatchError(f"error in remove for path: '{path}': Unable to remove nonexistent key: {key}: "
                              "missing value")
        del container[key]
        return
    try:
        index = _atoi(key)
    except _PatchError as error:
        raise _PatchError(f"error in remove for path: '{path}': {error}") from None
    if index >= len(container) or index < -len(container):
        raise _PatchError(f"error in remove for path: '{path}': Unable to access invalid index: {index}: "
                          "invalid index referenced")
    del container[index]


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _apply_json_patch(doc: dict, operations: list[dict]) -> Any:
    """Patch.Apply: the patched document; _TestFailed when a test operation fails, _PatchError otherwise."""
    doc = copy.deepcopy(doc)
    for operation in operations:
        kind, path = operation.get("op", ""), operation.get("path", "")
        value = copy.deepcopy(operation.get("value", None))
        has_value = "value" in operation
        if kind == "add":
            container, key = _find(doc, path)
            if container is None:
                raise _PatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')
            _add(container, key, value, path)
        elif kind == "remove":
            container, key = _find(doc, path)
            if container is None:
                raise _PatchError(f'remove operation does not apply: doc is missing path: "{path}": missing value')
            _remove(container, key, path)
        elif kind == "replace":
            if path == "":
                if not isinstance(value, (dict, list)):
                    raise _PatchError("replace operation value must be object or array")
                doc = value
                continue
            container, key = _find(doc, path)
            if container is None:
                raise _PatchError(f"replace operation does not apply: doc is missing path: {path}: missing value")
            try:
                _get(container, key)
            except _PatchError:
                raise _PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value") \
                    from None
            if isinstance(container, dict):
                container[key] = value
            else:
                index = int(key)
                container[index + len(container) if index < 0 else index] = value
        elif kind in ("move", "copy"):
            source = operation.get("from", None)
            if source is None:
                raise _PatchError(f"{kind} operation, missing from field: missing value")
            container, key = _find(doc, source)
            if container is None:
                raise _PatchError(f"{kind} operation does not apply: doc is missing from path: {source}: "
                                  "missing value")
            try:
                moved = _get(container, key)
            except _PatchError as error:
                raise _PatchError(f"error in {kind} for path: '{key if kind == 'move' else source}': {error}") \
                    from None
            if kind == "move":
                _remove(container, key, key)
            else:
                moved = copy.deepcopy(moved)
            container, key = _find(doc, path)
            if container is None:
                raise _PatchError(f"{kind} operation does not apply: doc is missing destination path: {path}: "
                                  "missing value")
            _add(container, key, moved, path)
        elif kind == "test":
            if path == "":
                if not _json_equal(doc, value):
                    raise _TestFailed(f"testing value {path} failed: test failed")
                continue
            container, key = _find(doc, path)
            if container is None:
                raise _PatchError(f"test operation does not apply: is missing path: {path}: missing value")
            try:
                current = _get(container, key)
            except _PatchError as error:
                raise _PatchError(f"error in test for path: '{path}': {error}") from None
            if current is None:
                if not has_value:
                    continue
                raise _TestFailed(f"testing value {path} failed: test failed")
            if not has_value or not _json_equal(current, value):
                raise _TestFailed(f"testing value {path} failed: test failed")
        else:
            raise _PatchError(f"Unexpected kind: {kind}")
    return doc


# --- ApplyConfiguration (structured-merge-diff) ------------------------------------------------------------------

def _path_element(node: _Node, index: int, item: Any) -> tuple:
    """listItemToPathElement: the key of a list item; _PatchError when it has none."""
    if node.list_type == "map":
        if not isinstance(item, dict):
            raise _PatchError(f"element {index}: associative list with keys may not have non-map elements")
        keys = []
        for key in node.keys:
            if key in item:
                keys.append((key, json.dumps(item[key], sort_keys=True)))
            elif node.item.key_default(key) is not _MISSING:
                keys.append((key, json.dumps(node.item.key_default(key))))
            else:
                raise _PatchError(f"element {index}: associative list with keys has an element that omits key "
                                  f"field \"{key}\" (and doesn't have default value)")
        return ("key",) + tuple(keys)
    if node.list_type == "set":
        return ("value", json.dumps(item, sort_keys=True))
    return ("index", index)


def _element_text(element: tuple) -> str:
    if element[0] == "key":
        return "[" + ",".join(f"{key}={value}" for key, value in element[1:]) + "]"
    if element[0] == "value":
        return f"[={element[1]}]"
    return f"[{element[1]}]"


def _validate_typed(value: Any, node: _Node, path: str, duplicates_allowed: bool) -> list[str]:
    """The typed conversion's checks the Python type of the patch does not already give: list keys."""
    errors = []
    if node.kind == "struct" and isinstance(value, dict):
        for key, item in value.items():
            if key in node.fields:
                errors += _validate_typed(item, node.fields[key], f"{path}.{key}", duplicates_allowed)
    elif node.kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += _validate_typed(item, node.item, f"{path}.{key}", duplicates_allowed)
    elif node.kind == "list" and isinstance(value, list):
        seen = set()
        for i, item in enumerate(value):
            try:
                element = _path_element(node, i, item)
            except _PatchError as error:
                errors.append(f"{path}: {error}")
                continue
            if element in seen and not duplicates_allowed and node.list_type != "atomic":
                errors.append(f"{path}: duplicate entries for key {_element_text(element)}")
            seen.add(element)
            errors += _validate_typed(item, node.item, f"{path}{_element_text(element)}", duplicates_allowed)
    return errors


def _find_atomics(value: Any, node: _Node, path: str) -> list[str]:
    """patch/smd.go findAtomics: the paths of atomic lists, maps and structs in the apply configuration."""
    found = []
    if isinstance(value, dict) and node.kind in ("struct", "map"):
        if node.atomic:
            found.append(path)
        for key, item in value.items():
            if node.kind == "struct" and key in node.fields:
                found += _find_atomics(item, node.fields[key], f"{path}.{key}")
    if isinstance(value, list) and node.kind == "list":
        if node.list_type == "atomic":
            found.append(path)
        for i, item in enumerate(value):
            found += _find_atomics(item, node.item, f"{path}[{i}]")
    return found


def _empty(value: Any) -> bool:
    return value is _MISSING or value is None or value == {} or value == []


def _merge(lhs: Any, rhs: Any, node: _Node) -> Any:
    """typed.TypedValue.Merge (ruleKeepRHS) of the live object (lhs) and the apply configuration (rhs)."""
    if rhs is _MISSING:
        return copy.deepcopy(lhs)
    if node.kind in ("struct", "map") and isinstance(rhs, (dict, type(None))) and isinstance(lhs, (dict, type(None),
                                                                                                 type(_MISSING))):
        if node.atomic or (_empty(lhs) and _empty(rhs)):
            return copy.deepcopy(rhs)
        lhs_map = lhs if isinstance(lhs, dict) else {}
        rhs_map = rhs if isinstance(rhs, dict) else {}
        out = {}
        for key in list(lhs_map) + [key for key in rhs_map if key not in lhs_map]:
            child = node.fields.get(key, _Node("any")) if node.kind == "struct" else node.item
            out[key] = _merge(lhs_map.get(key, _MISSING), rhs_map.get(key, _MISSING), child)
        return out
    if node.kind == "list" and isinstance(rhs, (list, type(None))) and isinstance(lhs, (list, type(None),
                                                                                    type(_MISSING))):
        if node.list_type == "atomic" or (_empty(lhs) and _empty(rhs)):
            return copy.deepcopy(rhs)
        return _merge_list_items(node, lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [])
    return copy.deepcopy(rhs)


def _merge_list_items(node: _Node, lhs: list, rhs: list) -> list:
    """mergingWalker.visitListItems, in its order."""
    rhs_elements, observed_rhs = [], {}
    for i, item in enumerate(rhs):
        element = _path_element(node, i, item)
        observed_rhs[element] = item
        rhs_elements.append(element)
    lhs_elements, observed_lhs = [], {}
    for i, item in enumerate(lhs):
        element = _path_element(node, i, item)
        observed_lhs[element] = None if element in observed_lhs else item  # duplicates are not merged
        lhs_elements.append(element)
    shared = [element for element in rhs_elements if element in observed_lhs]
    next_shared = shared.pop(0) if shared else None
    merged_rhs, out = set(), []
    left, right = 0, 0

    def merge_item(element: tuple, lchild: Any, rchild: Any) -> None:
        merged = _merge(_MISSING if lchild is None else lchild, _MISSING if rchild is None else rchild, node.item)
        if merged is not _MISSING:
            out.append(merged)

    while left < len(lhs_elements) or right < len(rhs_elements):
        if left < len(lhs_elements) and right < len(rhs_elements):
            element = lhs_elements[left]
            if element == rhs_elements[right]:
                merged_rhs.add(element)
                merge_item(element, observed_lhs.get(element), observed_rhs.get(element))
                left, right = left + 1, right + 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in observed_rhs and next_shared is not None and next_shared != element:
                left += 1
                continue
        if left < len(lhs_elements):
            element = lhs_elements[left]
            if element not in observed_rhs:
                merge_item(element, lhs[left], None)
                left += 1
                continue
            if element in merged_rhs:
                left += 1
        if right < len(rhs_elements):
            element = rhs_elements[right]
            merged_rhs.add(element)
            merge_item(element, observed_lhs.get(element), observed_rhs.get(element))
            right += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
    return out


def _apply_configuration(live: dict, patch: dict) -> dict:
    """patch/smd.go ApplyStructuredMergeDiff; _PatchError with the API server's message."""
    schema = _pod_schema()
    patch = {**patch, "apiVersion": "v1", "kind": "Pod"}  # patchObject.SetGroupVersionKind
    errors = _check(patch, schema, "") + _validate_typed(patch, schema, "", False)
    if errors:
        raise _PatchError("error applying patch: failed to convert patch object to typed object: " + errors[0])
    atomics = _find_atomics(patch, schema, "")
    if atomics:
        raise _PatchError("error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or "
                          "structs: " + ", ".join(atomics))
    errors = _validate_typed(live, schema, "", True)  # typed.AllowDuplicates (kubernetes#135560, in 1.36)
    if errors:
        raise _PatchError("error applying patch: failed to convert original object to typed object: " + errors[0])
    return _merge(live, patch, schema)


# --- admission ---------------------------------------------------------------------------------------------------

def _check_binding(program: _Program, binding: Any) -> dict:
    wanted = program.kind + "Binding"
    if not isinstance(binding, dict) or binding.get("kind") != wanted:
        raise ValueError(f"binding: a {wanted} expected")
    spec = binding.get("spec") or {}
    if spec.get("policyName") != program.name:
        raise ValueError(f"binding {(binding.get('metadata') or {}).get('name')!r} binds policy "
                         f"{spec.get('policyName')!r}, not {program.name!r}")
    return spec


def _data(program: _Program, request: _Request, view: dict | None, param: Any) -> dict[str, Any]:
    data = {"object": None if request.operation == "DELETE" else view,
            "oldObject": request.old_object,
            "request": _request_message(request, request.operation),
            "namespaceObject": _namespace_message(request.namespace)}
    if program.spec.get("paramKind") is not None:
        data["params"] = param
    return data


def _match_conditions(program: _Program, activation: _Activation) -> list[str] | None:
    """matchconditions.Matcher.Match: None when not matched, [] when matched, the errors otherwise."""
    errors = []
    for _, expr in program.match_conditions:
        try:
            if activation.evaluate(expr) is False:
                return None
        except _EvalError as error:
            errors.append(str(error))
    return errors


def _aggregate(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _failure_policy(program: _Program) -> str:
    return program.spec.get("failurePolicy") or "Fail"


def _dispatch(program: _Program, binding: dict, request: _Request, params: Any,
              on_config_error: Callable[[str, bool], None]) -> list:
    """The generic dispatcher up to the invocations: the params to evaluate with ([] when the policy or binding
    does not apply)."""
    binding_spec = _check_binding(program, binding)
    try:
        if not _matches(program.spec.get("matchConstraints"), request):
            return []
    except _ConfigError as error:
        on_config_error(str(error), False)
        return []
    try:
        if not _matches(binding_spec.get("matchResources"), request):
            return []
        return _params(program, binding_spec, params, request)
    except _ConfigError as error:
        on_config_error(str(error), True)
        return []


def mutate(policy: dict, binding: dict, pod: dict, *, namespace: dict, params: dict | None = None,
           operation: str = "CREATE", old: dict | None = None, subresource: str = "") -> dict:
    """The pod after this MutatingAdmissionPolicy (as the API server would apply it): unchanged when the binding's
    matchResources / the policy's matchConstraints / matchConditions do not match. Raises Refused per failurePolicy."""
    program = _program(policy)
    if program.kind != "MutatingAdmissionPolicy":
        raise ValueError("mutate: a MutatingAdmissionPolicy expected")
    request = _request(pod, namespace, operation, old, subresource)
    binding_name = (binding.get("metadata") or {}).get("name", "") if isinstance(binding, dict) else ""
    failure_policy = _failure_policy(program)

    def fail(message: str, reason: str = "Forbidden", with_binding: bool = True) -> None:
        if failure_policy == "Ignore":
            return
        prefix = (f"policy '{program.name}' with binding '{binding_name}' denied request: " if with_binding
                  else f"policy {json.dumps(program.name)} denied request: ")
        raise Refused(prefix + message, reason=reason)  # admission.NewForbidden: 403 whatever the reason

    def config_error(message: str, with_binding: bool) -> None:
        fail(("failed to configure binding: " if with_binding else "failed to configure policy: ") + message,
             with_binding=with_binding)

    invocations = _dispatch(program, binding, request, params, config_error)
    if not invocations:
        return copy.deepcopy(pod)
    view = request.view
    for param in invocations:
        activation = _Activation(program, _data(program, request, view, param))
        matched = _match_conditions(program, activation)
        if matched is None:
            continue
        if matched:
            fail(_aggregate(matched), "Invalid")
            continue
        if request.operation == "DELETE":
            continue  # no object to patch
        for patch_type, expr in program.mutations:
            activation = _Activation(program, _data(program, request, view, param))
            try:
                view = _mutate_once(patch_type, expr, activation, view)
            except _EvalError as error:
                fail(str(error), "Invalid")
            except _PatchError as error:
                fail(str(error), "Invalid")
    if view is request.view:
        return copy.deepcopy(pod)
    return _result(request, view)


def _mutate_once(patch_type: str, expr: _Expr, activation: _Activation, view: dict) -> dict:
    """One mutation on the object: the new object; _EvalError / _PatchError under failurePolicy; Refused for the
    internal errors the API server returns whatever the failurePolicy."""
    value = activation.evaluate(expr)
    if patch_type == "JSONPatch":
        operations = []
        for item in value:
            operation = {"op": item.get("op", ""), "path": item.get("path", "")}
            if item.get("from"):
                operation["from"] = item["from"]
            if "value" in item:
                operation["value"] = item["value"]
            operations.append(operation)
        try:
            patched = _apply_json_patch(view, operations)
        except _TestFailed:
            return view
        except _PatchError as error:
            raise _PatchError(f"JSONPath: {error}") from None
        errors = []
        if not isinstance(patched, dict) or patched.get("apiVersion") != "v1" or patched.get("kind") != "Pod":
            errors.append("the patched object is no longer a v1 Pod")
        else:
            errors = _check(patched, _pod_schema(), "")
        if errors:
            raise Refused("Internal error occurred: " + "; ".join(errors), reason="InternalError", code=500)
        return patched
    merged = _apply_configuration(view, {key: item for key, item in value.items()
                                         if key not in ("apiVersion", "kind")})
    errors = _check(merged, _pod_schema(), "")
    if errors:
        raise _PatchError("; ".join(errors))
    return merged


_MAX_MESSAGE = 5 * 1024
_REASON_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


def validate(policy: dict, binding: dict, pod: dict, *, namespace: dict, params: dict | None = None,
             operation: str = "CREATE", old: dict | None = None, subresource: str = "") -> None:
    """Raises Refused (with the validation's message or messageExpression) when a ValidatingAdmissionPolicy with
    validationActions [Deny] refuses the pod; returns when admitted or not matched."""
    program = _program(policy)
    if program.kind != "ValidatingAdmissionPolicy":
        raise ValueError("validate: a ValidatingAdmissionPolicy expected")
    request = _request(pod, namespace, operation, old, subresource)
    binding_name = (binding.get("metadata") or {}).get("name", "") if isinstance(binding, dict) else ""
    failure_policy = _failure_policy(program)
    denied: list[tuple[str, str, bool]] = []  # (message, reason, with the binding's name)

    def config_error(message: str, with_binding: bool) -> None:
        if failure_policy == "Fail":
            denied.append((("failed to configure binding: " if with_binding else "failed to configure policy: ")
                           + message, "", with_binding))
        elif failure_policy != "Ignore":
            denied.append((f"unrecognized failure policy: '{failure_policy}'", "", with_binding))

    actions = (binding.get("spec") or {}).get("validationActions") or [] if isinstance(binding, dict) else []
    for param in _dispatch(program, binding, request, params, config_error):
        if isinstance(param, dict) and not (param.get("apiVersion") and param.get("kind")):
            param = {**param, "apiVersion": program.spec["paramKind"].get("apiVersion"),
                     "kind": program.spec["paramKind"].get("kind")}  # wrappedParam: TypeMeta for CEL
        for decision in _validate_once(program, request, param, failure_policy):
            if decision[0] == "deny-always" or "Deny" in actions:
                denied.append(decision[1:] + (True,))
    if denied:
        message, reason, with_binding = denied[0]
        prefix = f"ValidatingAdmissionPolicy '{program.name}'" + (
            f" with binding '{binding_name}'" if with_binding else "")
        reason = reason or "Invalid"
        raise Refused(f"{prefix} denied request: {message}", reason=reason, code=_REASON_CODES.get(reason, 422))


def _validate_once(program: _Program, request: _Request, param: Any, failure_policy: str) -> list[tuple]:
    """validator.Validate: the denying decisions, ("deny", message, reason) subject to validationActions and
    ("deny-always", ...) for audit annotation errors."""
    activation = _Activation(program, _data(program, request, request.view, param))
    error_action = failure_policy != "Ignore"
    matched = _match_conditions(program, activation)
    if matched is None:
        return []
    if matched:
        return [("deny", _aggregate(matched), "")] if error_action else []
    decisions = []
    for validation, expr, message_expr in program.validations:
        try:
            admitted = activation.evaluate(expr) is True
        except _EvalError as error:
            if error_action:
                decisions.append(("deny", str(error), ""))
            continue
        if admitted:
            continue
        message = ""
        if message_expr is not None and message_expr.error is None:
            try:
                evaluated = activation.evaluate(message_expr)
            except _EvalError:
                evaluated = None
            if isinstance(evaluated, str):
                message = evaluated.strip()
                if len(message.encode()) > _MAX_MESSAGE or "\n" in message:
                    message = ""
        if not message and validation.get("message"):
            message = validation["message"].strip()
        if not message:
            message = f"failed expression: {str(validation.get('expression', '')).strip()}"
        decisions.append(("deny", message, validation.get("reason") or "Invalid"))
    for key, expr in program.audit_annotations:
        try:
            value = activation.evaluate(expr)
        except _EvalError as error:
            if error_action:
                decisions.append(("deny-always", str(error), ""))
            continue
        if value is not None and not isinstance(value, str):
            decisions.append(("deny-always", f"valueExpression '{expr.source}' resulted in unsupported return type",
                              ""))
    return decisions
