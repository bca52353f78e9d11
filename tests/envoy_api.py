"""Check an Istio EnvoyFilter's patches against Envoy's own API: each patch value is parsed, strictly (unknown
fields, wrong enum names, malformed durations refused), into the Envoy message its `applyTo` patches, from the
compiled protos of Envoy's data-plane API (the xds-protos package), `typed_config` resolved by its `@type`; then
every field the patch sets is held to the validation rules Envoy's API declares on it (protoc-gen-validate's
`validate.rules`: ranges of durations and numbers, wrapped numbers included, lengths and patterns of strings,
enum values, list sizes), which Envoy enforces when it loads the configuration.

What this does not check: the EnvoyFilter's own envelope (Istio's CRD, where fetched, tests/test_gateway.py),
and `required` rules (a MERGE patch is partial by design; what it merges into is Istio's).
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import any_pb2, descriptor, json_format, message_factory, symbol_database, wrappers_pb2
# Imported for the descriptor pool: `typed_config` names these types by URL.
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.extensions.filters.http.ext_proc.v3 import ext_proc_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
from validate import validate_pb2

# What each `applyTo` of ours patches, as Istio's EnvoyFilter reference has it.
PATCHED = {"HTTP_FILTER": http_connection_manager_pb2.HttpFilter, "LISTENER": listener_pb2.Listener,
           "NETWORK_FILTER": listener_components_pb2.Filter}

_NUMBERS = {"int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64",
            "float", "double"}
_WRAPPERS = {w.DESCRIPTOR.full_name for w in (wrappers_pb2.UInt32Value, wrappers_pb2.UInt64Value,
                                              wrappers_pb2.Int32Value, wrappers_pb2.Int64Value,
                                              wrappers_pb2.DoubleValue, wrappers_pb2.FloatValue,
                                              wrappers_pb2.StringValue, wrappers_pb2.BoolValue)}
_BOUNDS = (("const", lambda v, b: v == b, "="), ("lt", lambda v, b: v < b, "<"), ("lte", lambda v, b: v <= b, "<="),
           ("gt", lambda v, b: v > b, ">"), ("gte", lambda v, b: v >= b, ">="))


def errors(envoy_filter: dict[str, Any]) -> list[str]:
    """Each patch whose value Envoy's API refuses, with the reason."""
    found = []
    for index, patch in enumerate(envoy_filter["spec"]["configPatches"]):
        message = PATCHED.get(patch["applyTo"])
        if message is None:
            found.append(f"configPatches[{index}]: no Envoy message known for applyTo {patch['applyTo']}")
            continue
        try:
            parsed = json_format.ParseDict(patch["patch"]["value"], message())
        except json_format.ParseError as error:
            found.append(f"configPatches[{index}] ({patch['applyTo']}): {error}")
            continue
        found += [f"configPatches[{index}] ({patch['applyTo']}): {problem}" for problem in rule_errors(parsed)]
    return found


def rule_errors(message: Any, path: str = "") -> list[str]:
    """Every field `message` sets that breaks its `validate.rules`, recursively (into `Any`s by their type)."""
    if message.DESCRIPTOR.full_name == any_pb2.Any.DESCRIPTOR.full_name:
        return rule_errors(_unpacked(message), path)
    problems = []
    for field, value in message.ListFields():
        where = f"{path}.{field.name}" if path else field.name
        options = field.GetOptions()
        rules = options.Extensions[validate_pb2.rules] if options.HasExtension(validate_pb2.rules) else None
        repeated = field.label == descriptor.FieldDescriptor.LABEL_REPEATED
        if rules is not None:
            problems += _field_errors(field, value, rules, where, repeated)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            values = [v for v in value.values() if hasattr(v, "ListFields")]
        elif field.message_type is not None:
            values = list(value) if repeated else [value]
        else:
            values = []
        for i, item in enumerate(values):
            problems += rule_errors(item, f"{where}[{i}]" if repeated else where)
    return problems


def _unpacked(packed: Any) -> Any:
    name = packed.type_url.split("/")[-1]
    cls = message_factory.GetMessageClass(symbol_database.Default().pool.FindMessageTypeByName(name))
    inner = cls()
    packed.Unpack(inner)
    return inner


def _field_errors(field, value, rules, where: str, repeated: bool) -> list[str]:
    kind = rules.WhichOneof("type")
    if repeated and kind == "repeated":
        problems = []
        count = len(value)
        if rules.repeated.HasField("min_items") and count < rules.repeated.min_items:
            problems.append(f"{where}: {count} items, fewer than {rules.repeated.min_items}")
        if rules.repeated.HasField("max_items") and count > rules.repeated.max_items:
            problems.append(f"{where}: {count} items, more than {rules.repeated.max_items}")
        if rules.repeated.HasField("items"):
            for i, item in enumerate(value):
                problems += _value_errors(field, item, rules.repeated.items, f"{where}[{i}]")
        return problems
    if repeated:
        return [e for i, item in enumerate(value) for e in _value_errors(field, item, rules, f"{where}[{i}]")]
    return _value_errors(field, value, rules, where)


def _value_errors(field, value, rules, where: str) -> list[str]:
    kind = rules.WhichOneof("type")
    if kind is None or kind in ("message", "any", "map", "repeated", "timestamp", "bool", "bytes"):
        return []
    rule = getattr(rules, kind)
    if kind == "duration":
        return _bounded(where, value.ToNanoseconds(), rule, lambda d: d.seconds * 10 ** 9 + d.nanos,
                        lambda nanos: f"{nanos / 1e9:.9g}s", "in", "not_in")
    if field.message_type is not None and field.message_type.full_name in _WRAPPERS:
        value = value.value
    if kind in _NUMBERS:
        if getattr(rule, "ignore_empty", False) and value == 0:
            return []
        return _bounded(where, value, rule, lambda b: b, str, "in", "not_in")
    if kind == "enum":
        problems = []
        if rule.defined_only and field.enum_type.values_by_number.get(value) is None:
            problems.append(f"{where}: {value} is not a value of {field.enum_type.full_name}")
        return problems + _membership(where, value, rule, "in", "not_in")
    if kind == "string":
        return _string_errors(where, value, rule)
    return []


def _bounded(where, value, rule, number, spelled, in_name, not_in_name) -> list[str]:
    problems = []
    for name, holds, sign in _BOUNDS:
        if rule.HasField(name):
            bound = getattr(rule, name)
            if not holds(value, number(bound)):
                problems.append(f"{where}: must be {sign} {spelled(number(bound))} (Envoy's validate rule), is "
                                f"{spelled(value)}")
    return problems + _membership(where, value, rule, in_name, not_in_name, number)


def _membership(where, value, rule, in_name, not_in_name, number=lambda b: b) -> list[str]:
    allowed = [number(b) for b in getattr(rule, in_name)]
    refused = [number(b) for b in getattr(rule, not_in_name)]
    problems = []
    if allowed and value not in allowed:
        problems.append(f"{where}: {value} is not one of {allowed}")
    if value in refused:
        problems.append(f"{where}: {value} is one of the refused {refused}")
    return problems


def _string_errors(where: str, value: str, rule) -> list[str]:
    if rule.ignore_empty and value == "":
        return []
    problems = []
    checks = (("min_len", lambda b: len(value) >= b, "at least {} characters"),
              ("max_len", lambda b: len(value) <= b, "at most {} characters"),
              ("len", lambda b: len(value) == b, "exactly {} characters"),
              ("min_bytes", lambda b: len(value.encode()) >= b, "at least {} bytes"),
              ("max_bytes", lambda b: len(value.encode()) <= b, "at most {} bytes"),
              ("prefix", lambda b: value.startswith(b), "starting with {!r}"),
              ("suffix", lambda b: value.endswith(b), "ending with {!r}"),
              ("contains", lambda b: b in value, "containing {!r}"),
              ("not_contains", lambda b: b not in value, "not containing {!r}"),
              ("pattern", lambda b: re.search(b, value) is not None, "matching {!r}"),
              ("const", lambda b: value == b, "exactly {!r}"))
    for name, holds, wanted in checks:
        if rule.HasField(name) and not holds(getattr(rule, name)):
            problems.append(f"{where}: {value!r} is not {wanted.format(getattr(rule, name))} (Envoy's validate rule)")
    return problems + _membership(where, value, rule, "in", "not_in")
