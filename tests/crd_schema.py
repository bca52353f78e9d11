"""Validate Gateway API and Envoy Gateway objects against their CRDs' own schemas, CEL rules included.

The oracle is the CRD files of the pinned releases in the reference folder (tests/reference.py), never a
hand-written schema: each file's sha256 is pinned below, so a different release is refused rather than used.

`validate(obj)` does what the API server does on create, in its order, and is strict where the server would
change an object silently:

1. metadata: name present and a DNS subdomain (the CRD schemas do not cover metadata), namespace a DNS label,
   label and annotation keys (and label values) as Kubernetes has them; unknown metadata fields, a namespace on
   a cluster-scoped kind, and `status` where the status subresource is on (the server drops these) are errors.
2. defaults: every `default` of the schema is applied into (a copy of) the object, as the server does before it
   validates anything.
3. the OpenAPI v3 schema with structural-schema semantics, through `jsonschema` (Draft 4, the dialect OpenAPI
   3.0 extends): types, required, enum, pattern (RE2, as Go's regexp), min/max, lengths, item counts,
   formats int32/int64/byte/date-time/ipv4/ipv6 (a CRD with any other format is refused, not half-checked),
   `nullable`, `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`. A field the schema does not
   declare is an error (the server would prune it silently), and so is a null for a field that is not nullable
   (pruned, or replaced by its default).
4. `x-kubernetes-list-type` set/map: duplicate items or keys.
5. every `x-kubernetes-validations` rule at its place in the schema, `self` bound to the (defaulted) value
   there, in CEL through `cel-expr-python` (the CEL C++ runtime, RE2 for `matches`) with the Kubernetes
   additions these CRDs use: field names escaped as Kubernetes does (`__namespace__`), `isIP`,
   `format.<name>().validate()`. Transition rules (those reading `oldSelf`) do not apply on create and are
   skipped. A rule that does not compile (an unknown function, say) raises UnsupportedCELRule naming it when
   an object reaches it: never a silent pass.

Parsing, schema conversion and rule compilation are cached for the run.

Mind the channel: gateway-api-v1.6.1/standard-crds.yaml is, by its own header and its CRDs' annotations, the
experimental channel install (XBackend, XMesh and experimental fields included), so it accepts fields a
standard-channel cluster prunes. `CRDVersion.channel` says which channel a Gateway API CRD came from.
"""

from __future__ import annotations

import base64
import copy
import datetime
import functools
import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import jsonschema
import yaml
from cel_expr_python import cel
from cel_expr_python.ext import ext_optional, ext_strings

import reference

# The pinned releases: each folder of the reference folder, its files and their sha256.
GATEWAY_API = "v1.6.1"
ENVOY_GATEWAY = "v1.9.0"
# The pinned CRD files and their sha256: scripts/fetch_reference.py's, which fetches them.
CRD_FILES: dict[str, dict[str, str]] = {
    r.folder: r.files for r in reference.fetcher().REFERENCES
    if r.folder in (f"gateway-api-{GATEWAY_API}", f"envoy-gateway-{ENVOY_GATEWAY}")}


# CRDs used where they are here, skipped with a reason where not (scripts/fetch_reference.py's OPTIONAL): Istio's.
OPTIONAL_CRD_FILES: dict[str, dict[str, str]] = {r.folder: r.files for r in reference.fetcher().OPTIONAL}
# Every object has these at its root whether its CRD's schema declares them or not (Istio's do not).
_IMPLICIT_ROOT = ("apiVersion", "kind", "metadata")


class CRDVersion(NamedTuple):
    """One version of one CRD. `schema` is its openAPIV3Schema as the file has it: read it, never change it."""

    group: str
    version: str
    kind: str
    plural: str
    scope: str  # "Namespaced" or "Cluster"
    served: bool
    storage: bool
    deprecated: bool
    status_subresource: bool
    schema: Mapping[str, Any]
    source: Path
    channel: str | None  # the Gateway API bundle's channel annotation (standard or experimental), else None


class CELRule(NamedTuple):
    """One `x-kubernetes-validations` entry and where it sits: `path` as `spec.listeners[*].tls`."""

    group: str
    version: str
    kind: str
    path: str
    rule: str
    message: str | None
    message_expression: str | None
    field_path: str | None
    reason: str | None

    @property
    def transition(self) -> bool:
        """A transition rule (it reads `oldSelf`): it applies to updates only, so never on create."""
        return _reads_old_self(self.rule) or _reads_old_self(self.message_expression or "")


class UnsupportedCELRule(Exception):
    """A CRD's CEL rule this evaluator cannot compile: it names the rule, and validation stops."""


# --- the reference files -------------------------------------------------------------------------------

def missing() -> str | None:
    """Why the CRD files cannot be read here (with what is absent), or None when all are present."""
    where = reference.folder()
    if where is None:
        return (f"no CRD reference files: {reference.ENV} is not set and {reference.BESIDE} does not exist; "
                f"it needs {', '.join(CRD_FILES)}")
    absent = []
    for folder, files in CRD_FILES.items():
        lost = [name for name in files if not (where / folder / name).is_file()]
        if len(lost) == len(files) > 1:
            absent.append(f"{where / folder}/ ({len(files)} CRD files)")
        else:
            absent += [str(where / folder / name) for name in lost]
    return f"no CRD reference files: {', '.join(absent)} missing" if absent else None


def crd_files() -> list[Path]:
    """The pinned CRD files in the reference folder, each checked against its sha256."""
    why = missing()
    if why is not None:
        raise FileNotFoundError(why)
    return _pinned(CRD_FILES)


def _pinned(folders: Mapping[str, Mapping[str, str]]) -> list[Path]:
    """The files of `folders` (folder -> file -> sha256) in the reference folder, each checked by its sha256."""
    where = reference.folder()
    paths = []
    for folder, files in folders.items():
        for name, digest in files.items():
            path = where / folder / name
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
            if actual != digest:
                raise ValueError(f"{path}: sha256 {actual}, not the pinned {digest}: not the pinned release")
            paths.append(path)
    return paths


def optional_missing(folder: str) -> str | None:
    """Why an optional CRD folder cannot be read here (absent, or not the pinned files), or None when its pinned
    files are there."""
    where = reference.folder()
    files = OPTIONAL_CRD_FILES[folder]
    if where is None or not all((where / folder / name).is_file() for name in files):
        return (f"{folder} CRDs not here ({where / folder if where else folder}/{', '.join(files)}): "
                "`python scripts/fetch_reference.py <folder>` fetches them")
    for name, digest in files.items():  # a file of another release is not the reference: said, not used
        actual = hashlib.sha256((where / folder / name).read_bytes()).hexdigest()
        if actual != digest:
            return f"{where / folder / name} has sha256 {actual}, not the pinned {digest}"
    return None


@functools.cache
def load_optional_crds() -> Mapping[tuple[str, str, str], CRDVersion]:
    """The CRDs of the optional folders that are here, each file checked against its sha256."""
    return _read_crds(_pinned({folder: files for folder, files in OPTIONAL_CRD_FILES.items()
                               if optional_missing(folder) is None}))


@functools.cache
def load_crds() -> Mapping[tuple[str, str, str], CRDVersion]:
    """Every version of every CRD in the pinned files, by (group, version, kind)."""
    return _read_crds(crd_files())


def _read_crds(paths: list[Path]) -> Mapping[tuple[str, str, str], CRDVersion]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds: dict[tuple[str, str, str], CRDVersion] = {}
    for path in paths:
        with path.open(encoding="utf-8") as stream:
            for doc in yaml.load_all(stream, Loader=loader):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                annotations = doc.get("metadata", {}).get("annotations") or {}
                for entry in spec["versions"]:
                    key = (spec["group"], entry["name"], spec["names"]["kind"])
                    if key in crds:
                        raise ValueError(f"{path}: {key} is defined twice")
                    crds[key] = CRDVersion(
                        group=spec["group"], version=entry["name"], kind=spec["names"]["kind"],
                        plural=spec["names"]["plural"], scope=spec["scope"],
                        served=bool(entry.get("served")), storage=bool(entry.get("storage")),
                        deprecated=bool(entry.get("deprecated", False)),
                        status_subresource="status" in (entry.get("subresources") or {}),
                        schema=entry["schema"]["openAPIV3Schema"], source=path,
                        channel=annotations.get("gateway.networking.k8s.io/channel"))
    return MappingProxyType(crds)


def _subschemas(schema: Mapping[str, Any], path: str, branch: bool = False
                ) -> Iterator[tuple[str, Mapping[str, Any], bool]]:
    """Each schema node with its path, the node first; `branch` for allOf/anyOf/oneOf/not value validations."""
    yield path, schema, branch
    for name, prop in (schema.get("properties") or {}).items():
        yield from _subschemas(prop, f"{path}.{name}" if path else name, branch)
    if isinstance(schema.get("items"), dict):
        yield from _subschemas(schema["items"], f"{path}[*]", branch)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _subschemas(schema["additionalProperties"], f"{path}[*]", branch)
    for combinator in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(combinator) or []:
            yield from _subschemas(sub, path, True)
    if isinstance(schema.get("not"), dict):
        yield from _subschemas(schema["not"], path, True)


def _rules_at(crd: CRDVersion, path: str, node: Mapping[str, Any]) -> list[CELRule]:
    return [CELRule(crd.group, crd.version, crd.kind, path, entry["rule"], entry.get("message"),
                    entry.get("messageExpression"), entry.get("fieldPath"), entry.get("reason"))
            for entry in node.get("x-kubernetes-validations") or []]


@functools.cache
def cel_rules() -> tuple[CELRule, ...]:
    """Every `x-kubernetes-validations` rule of every CRD version in the pinned files."""
    rules = []
    for crd in load_crds().values():
        for path, node, branch in _subschemas(crd.schema, ""):
            found = _rules_at(crd, path, node)
            if found and branch:  # validate() evaluates rules where values are, not in value validations
                raise UnsupportedCELRule(f"{crd.group}/{crd.version} {crd.kind} at {path}: a rule inside "
                                         f"allOf/anyOf/oneOf/not: {found[0].rule!r}")
            rules += found
    return tuple(rules)


# --- CEL with the Kubernetes additions ---------------------------------------------------------------

# Kubernetes' escaping of property names for CEL (k8s.io/apiserver/pkg/cel/escaping.go).
_CEL_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
                           "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
                           "void", "while"})
_ESCAPABLE = re.compile(r"[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*")


def _escape(name: str) -> str | None:
    """The CEL name of a property, or None where Kubernetes leaves the property out of reach of CEL."""
    if name in _CEL_RESERVED:
        return f"__{name}__"
    if not _ESCAPABLE.fullmatch(name):
        return None
    return (name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__")
            .replace("/", "__slash__"))


def _reads_old_self(expression: str) -> bool:
    return re.search(r"\boldSelf\b", expression) is not None


# Kubernetes' name rules (k8s.io/apimachinery/pkg/util/validation).
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def dns1123_label_errors(value: str) -> list[str]:
    out = [] if _DNS1123_LABEL.fullmatch(value) else [
        ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
         "and end with an alphanumeric character")]
    return out + (["must be no more than 63 characters"] if len(value) > 63 else [])


def dns1123_subdomain_errors(value: str) -> list[str]:
    out = [] if _DNS1123_SUBDOMAIN.fullmatch(value) else [
        ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
         "must start and end with an alphanumeric character")]
    return out + (["must be no more than 253 characters"] if len(value) > 253 else [])


def dns1035_label_errors(value: str) -> list[str]:
    out = [] if _DNS1035_LABEL.fullmatch(value) else [
        ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
         "character, and end with an alphanumeric character")]
    return out + (["must be no more than 63 characters"] if len(value) > 63 else [])


def qualified_name_errors(value: str) -> list[str]:
    prefix, slash, name = value.rpartition("/")
    out = []
    if slash and (not prefix or prefix.count("/")):
        return ["a qualified name must consist of an optional DNS subdomain prefix and '/' and a name"]
    if slash:
        out += [f"prefix part {error}" for error in dns1123_subdomain_errors(prefix)]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME_PART.fullmatch(name):
        out.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                   "end with an alphanumeric character")
    return out


def label_value_errors(value: str) -> list[str]:
    out = [] if _LABEL_VALUE.fullmatch(value) else [
        ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
         "must start and end with an alphanumeric character")]
    return out + (["must be no more than 63 characters"] if len(value) > 63 else [])


# `format.<name>()` of Kubernetes' format library (k8s.io/apiserver/pkg/cel/library/format.go), the named
# formats that share the name rules above. Others stay undeclared, so a rule using one does not compile.
_FORMATS = {
    "dns1123Label": dns1123_label_errors,
    "dns1123Subdomain": dns1123_subdomain_errors,
    "dns1035Label": dns1035_label_errors,
    "qualifiedName": qualified_name_errors,
    "labelValue": label_value_errors,
}
# The CEL stand-ins for Kubernetes' Format and optional<list<string>> values: maps that only these functions
# build or read. Like the optional they stand for, a validate() result never equals null.
_FORMAT_KEY = "k8s.format"
_RESULT_KEY = "k8s.format.errors"


def _format_validate(fmt: Mapping[str, str], value: str) -> dict[str, list[str]]:
    return {_RESULT_KEY: list(_FORMATS[fmt[_FORMAT_KEY]](value))}


def _result_value(result: Mapping[str, list[str]]) -> list[str]:
    if not result[_RESULT_KEY]:
        raise ValueError("optional.none() dereference")
    return list(result[_RESULT_KEY])


def _is_ip(value: str) -> bool:
    """isIP of Kubernetes' ip library: IPv4 or IPv6, no zone, no IPv4-mapped IPv6, no leading zeros."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return "%" not in value and not (address.version == 6 and address.ipv4_mapped is not None)


@functools.cache
def _cel_env():
    string, dyn = cel.Type.STRING, cel.Type.DYN
    format_type = cel.Type.Map(cel.Type.STRING, cel.Type.STRING)
    result_type = cel.Type.Map(cel.Type.STRING, cel.Type.List(cel.Type.STRING))
    functions = [
        cel.FunctionDecl("isIP", [cel.Overload("k8s_is_ip", cel.Type.BOOL, [string], impl=_is_ip)]),
        cel.FunctionDecl("validate", [cel.Overload("k8s_format_validate", dyn, [format_type, string],
                                                   is_member=True, impl=_format_validate)]),
        cel.FunctionDecl("hasValue", [cel.Overload("k8s_format_result_has_value", cel.Type.BOOL, [result_type],
                                                   is_member=True, impl=lambda r: bool(r[_RESULT_KEY]))]),
        cel.FunctionDecl("value", [cel.Overload("k8s_format_result_value", cel.Type.List(string), [result_type],
                                                is_member=True, impl=_result_value)]),
    ]
    for name in _FORMATS:
        functions.append(cel.FunctionDecl(f"format.{name}", [
            cel.Overload(f"k8s_format_{name}", format_type, [], impl=lambda name=name: {_FORMAT_KEY: name})]))
    kubernetes = cel.CelExtension("kubernetes", functions)
    return cel.NewEnv(variables={"self": dyn},
                      extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional(), kubernetes])


@functools.cache
def _compile(expression: str):
    """A compiled CEL expression; the compiler's error (an undeclared function, say) as RuntimeError."""
    return _cel_env().compile(expression)


def compile_rule(rule: CELRule) -> None:
    """Compile a rule and its messageExpression; UnsupportedCELRule naming the rule where either fails."""
    for expression in (rule.rule, rule.message_expression):
        if expression is None:
            continue
        try:
            _compile(expression)
        except Exception as error:  # the binding raises RuntimeError with the compiler's message
            raise UnsupportedCELRule(f"{rule.group}/{rule.version} {rule.kind} at {rule.path or '(root)'}: "
                                     f"cannot compile {expression!r}: {error}") from error


def _evaluate(expression: str, value: Any) -> tuple[bool, Any]:
    """(True, result) or (False, the evaluation error)."""
    return _evaluate_compiled(_compile(expression), value)


def _evaluate_compiled(expression, value: Any) -> tuple[bool, Any]:
    result = expression.eval(data={"self": value})
    if result.type() == cel.Type.ERROR:
        return False, result.value()
    return True, result.value()


@functools.cache
def _re2_matcher():
    return _cel_env().compile("self[0].matches(self[1])")


def _re2_search(pattern: str, value: str) -> bool:
    """Go's regexp.MatchString (RE2, unanchored), as the API server applies `pattern`."""
    ok, result = _evaluate_compiled(_re2_matcher(), [value, pattern])
    if not ok:
        raise ValueError(f"pattern {pattern!r}: {result}")
    return result is True


# --- the OpenAPI v3 schema as JSON Schema -------------------------------------------------------------

_KEPT = ("type", "required", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
         "minLength", "maxLength", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties",
         "multipleOf", "format")


def _to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A structural OpenAPI v3 schema as Draft 4 JSON Schema, strict about fields it does not declare."""
    out: dict[str, Any] = {key: schema[key] for key in _KEPT if key in schema}
    if "format" in schema and schema["format"] not in _CHECKED_FORMATS | _UNCHECKED_FORMATS:
        raise ValueError(f"format {schema['format']!r}: not checked here; add it to _format_checker")
    if "properties" in schema:
        out["properties"] = {name: _to_json_schema(prop) for name, prop in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = _to_json_schema(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _to_json_schema(schema["additionalProperties"])
    elif "additionalProperties" in schema:
        out["additionalProperties"] = schema["additionalProperties"]
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in schema:
            out[combinator] = [_to_json_schema(branch) for branch in schema[combinator]]
    if isinstance(schema.get("not"), dict):
        out["not"] = _to_json_schema(schema["not"])
    if schema.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if (schema.get("type") == "object" and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False  # pruned by the server: strict here
    if schema.get("nullable"):
        return {"anyOf": [{"type": "null"}, out]}
    return out


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    def ranged(bits: int):
        def check(value: Any) -> bool:
            return (not isinstance(value, int) or isinstance(value, bool)
                    or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1))
        return check

    def byte(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            return False
        return True

    def date_time(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
            return False
        try:
            datetime.datetime.fromisoformat(value.upper())
        except ValueError:
            return False
        return True

    def ip(version: int):
        def check(value: Any) -> bool:  # strfmt: net.ParseIP accepts it, with "." (ipv4) or ":" (ipv6)
            if not isinstance(value, str):
                return True
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                return False
            return "%" not in value and ("." if version == 4 else ":") in value and (
                address.version == version or (address.version == 6 and address.ipv4_mapped is not None))
        return check

    checker.checks("int32")(ranged(32))
    checker.checks("int64")(ranged(64))
    checker.checks("byte")(byte)
    checker.checks("date-time")(date_time)
    checker.checks("ipv4")(ip(4))
    checker.checks("ipv6")(ip(6))
    return checker


# The formats the API server checks that _format_checker checks too; "float" and "double" it does not check.
_CHECKED_FORMATS = frozenset({"int32", "int64", "byte", "date-time", "ipv4", "ipv6"})
_UNCHECKED_FORMATS = frozenset({"float", "double"})


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _re2_search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _pattern})
_validators: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _validator_for(crd: CRDVersion):
    entry = _validators.get(id(crd.schema))
    if entry is None:
        converted = _to_json_schema(crd.schema)
        if "metadata" in converted.get("properties", {}):
            converted["properties"]["metadata"] = {"type": "object"}  # ObjectMeta: checked by _metadata_errors
        entry = (crd.schema, _Validator(converted, format_checker=_format_checker()))
        _validators[id(crd.schema)] = entry
    return entry[1]


# --- validation -----------------------------------------------------------------------------------------

def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


_OBJECT_META_FIELDS = frozenset({"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
                                 "generation", "creationTimestamp", "deletionTimestamp",
                                 "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
                                 "finalizers", "managedFields"})


def _metadata_errors(metadata: Any, crd: CRDVersion) -> list[str]:
    if not isinstance(metadata, dict):
        return ["metadata: Required value: an object with a name"]
    errors = [f'unknown field "metadata.{key}"' for key in metadata if key not in _OBJECT_META_FIELDS]
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        errors.append("metadata.name: Required value: name is required")
    else:
        errors += [f"metadata.name: Invalid value: {name!r}: {e}" for e in dns1123_subdomain_errors(name)]
    namespace = metadata.get("namespace")
    if namespace is not None:
        if crd.scope == "Cluster":
            errors.append(f"metadata.namespace: {crd.kind} is cluster-scoped: the API server drops a namespace")
        elif not isinstance(namespace, str):
            errors.append("metadata.namespace: must be a string")
        else:
            errors += [f"metadata.namespace: Invalid value: {namespace!r}: {e}"
                       for e in dns1123_label_errors(namespace)]
    for field in ("labels", "annotations"):
        entries = metadata.get(field)
        if entries is None:
            continue
        if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
            errors.append(f"metadata.{field}: must be a map of strings")
            continue
        for key, value in entries.items():
            key_errors = qualified_name_errors(key.lower() if field == "annotations" else key)
            errors += [f"metadata.{field}: Invalid value: {key!r}: {e}" for e in key_errors]
            if field == "labels":
                errors += [f"metadata.labels: Invalid value: {value!r}: {e}" for e in label_value_errors(value)]
    annotations = metadata.get("annotations")
    if isinstance(annotations, dict) and sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
        errors.append("metadata.annotations: Too long: must have at most 262144 bytes")
    return errors


def _is_non_nullable_null(value: Any, schema: Mapping[str, Any]) -> bool:
    return value is None and not schema.get("nullable")


def _apply_defaults(value: Any, schema: Mapping[str, Any], path: list, errors: list[str]) -> None:
    """Kubernetes' structural defaulting, in place, top-down (apiextensions-apiserver schema/defaulting)."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name, prop in properties.items():
            if "default" not in prop:
                continue
            if name not in value:
                value[name] = copy.deepcopy(prop["default"])
            elif _is_non_nullable_null(value[name], prop):
                errors.append(f"{_path(path + [name])}: null for a field that is not nullable "
                              f"(the API server replaces it with the default {prop['default']!r})")
                value[name] = copy.deepcopy(prop["default"])
        additional = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                _apply_defaults(item, properties[name], path + [name], errors)
            elif isinstance(additional, dict):
                _apply_defaults(item, additional, path + [name], errors)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _apply_defaults(item, schema["items"], path + [index], errors)


def _type_fits(value: Any, schema: Mapping[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, (int, str)) and not isinstance(value, bool)
    kind = schema.get("type")
    if kind is None:
        return True
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
                              "number": (int, float)}[kind])


def _schema_type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__)


def _list_errors(value: list, schema: Mapping[str, Any], path: list) -> list[str]:
    """x-kubernetes-list-type: set items and map keys are unique."""
    list_type = schema.get("x-kubernetes-list-type")
    errors, seen = [], set()
    for index, item in enumerate(value):
        if list_type == "set":
            key = repr(item)
        elif list_type == "map" and isinstance(item, dict):
            key = repr(tuple(item.get(k) for k in schema.get("x-kubernetes-list-map-keys") or []))
        else:
            return []
        if key in seen:
            shown = item if list_type == "set" else {k: item.get(k) for k in schema["x-kubernetes-list-map-keys"]}
            errors.append(f"{_path(path + [index])}: Duplicate value: {shown!r}")
        seen.add(key)
    return errors


class _Walk:
    """The CEL pass: builds each node's CEL view bottom-up and evaluates the node's rules on it."""

    def __init__(self, crd: CRDVersion) -> None:
        self.crd = crd
        self.errors: list[str] = []

    def node(self, value: Any, schema: Mapping[str, Any] | None, path: list, schema_path: str) -> Any:
        if schema is None or value is None or not _type_fits(value, schema):
            return value  # a type error the schema pass reports; its rules cannot run on it
        view: Any = value
        if isinstance(value, dict):
            properties = schema.get("properties")
            additional = schema.get("additionalProperties")
            if properties:
                view = {}
                for name, item in value.items():
                    if name in properties:
                        child = self.node(item, properties[name], path + [name], f"{schema_path}.{name}".lstrip("."))
                        escaped = _escape(name)
                        if escaped is not None:
                            view[escaped] = child
                    elif schema.get("x-kubernetes-preserve-unknown-fields"):
                        view[name] = item
            elif isinstance(additional, dict):
                view = {name: self.node(item, additional, path + [name], f"{schema_path}[*]")
                        for name, item in value.items()}
        elif isinstance(value, list):
            self.errors += _list_errors(value, schema, path)
            items = schema.get("items") if isinstance(schema.get("items"), dict) else None
            view = [self.node(item, items, path + [index], f"{schema_path}[*]") for index, item in enumerate(value)]
        elif schema.get("type") == "number" and isinstance(value, int):
            view = float(value)
        elif schema.get("format") == "byte" and isinstance(value, str):
            try:
                view = base64.b64decode(value, validate=True)
            except ValueError:
                pass  # the schema pass reports it
        for rule in _rules_at(self.crd, schema_path, schema):
            self.rule(rule, view, value, path)
        return view

    def rule(self, rule: CELRule, view: Any, value: Any, path: list) -> None:
        if rule.transition:
            return
        compile_rule(rule)
        ok, result = _evaluate(rule.rule, view)
        where = _path(path + ([rule.field_path.lstrip(".")] if rule.field_path else []))
        shown = f'Invalid value: "{_schema_type_name(value)}"'
        message = (rule.message or "").strip() or f"failed rule: {rule.rule}"
        if not ok:  # as the API server words it: "no such key: x evaluating rule: <message>"
            self.errors.append(f"{where}: {shown}: {result} evaluating rule: {message} "
                               f"(x-kubernetes-validations rule: {rule.rule})")
            return
        if result is True:
            return
        if result is not False:
            self.errors.append(f"{where}: {shown}: rule returned {result!r}, not a bool: {message} "
                               f"(x-kubernetes-validations rule: {rule.rule})")
            return
        if rule.message_expression:
            ok, text = _evaluate(rule.message_expression, view)
            if ok and isinstance(text, str) and text.strip():
                message = text
        reason = f" [{rule.reason}]" if rule.reason else ""
        self.errors.append(f"{where}: {shown}: {message}{reason} (x-kubernetes-validations rule: {rule.rule})")


def _schema_errors(validator, obj: dict) -> list[str]:
    errors = []
    for error in validator.iter_errors(obj):
        where = list(error.absolute_path)
        if error.validator == "additionalProperties" and error.validator_value is False:
            declared = error.schema.get("properties") or {}
            errors += [f'unknown field "{_path(where + [name])}"' for name in error.instance
                       if name not in declared and not (where == [] and name in _IMPLICIT_ROOT)]
        else:
            errors.append(f"{_path(where)}: {error.message}")
    return errors


def validate(obj: Mapping[str, Any], *, crd: CRDVersion | None = None) -> list[str]:
    """What the API server would refuse (or silently change) in creating `obj`: [] when it takes it as is.

    `crd` overrides the look-up by apiVersion and kind (for testing the validator itself). Raises
    UnsupportedCELRule where the object reaches a rule this evaluator cannot compile.
    """
    if not isinstance(obj, Mapping):
        return [f"(root): not an object: {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["apiVersion and kind: Required value"]
    group, _, version = api_version.rpartition("/")
    if crd is None:
        crd = load_crds().get((group, version, kind)) or load_optional_crds().get((group, version, kind))
        if crd is None:
            return [(f"{api_version} {kind}: no CRD version in the pinned files (Gateway API {GATEWAY_API}, "
                     f"Envoy Gateway {ENVOY_GATEWAY}) defines it")]
    elif (crd.group, crd.version, crd.kind) != (group, version, kind):
        return [f"{api_version} {kind}: not {crd.group}/{crd.version} {crd.kind}"]
    if not crd.served:
        return [f"{api_version} {kind}: that version is not served"]

    errors = _metadata_errors(obj.get("metadata"), crd)
    body = copy.deepcopy(dict(obj))
    if "status" in body and crd.status_subresource:
        errors.append("status: the status subresource is on: the API server drops status on create")
        del body["status"]
    # ObjectMeta is checked above; CEL sees metadata.name and generateName only, as Kubernetes exposes them.
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    body["metadata"] = {k: copy.deepcopy(v) for k, v in metadata.items() if k in ("name", "generateName")}
    _apply_defaults(body, crd.schema, [], errors)
    errors += _schema_errors(_validator_for(crd), body)
    walk = _Walk(crd)
    walk.node(body, crd.schema, [], "")
    return errors + walk.errors
