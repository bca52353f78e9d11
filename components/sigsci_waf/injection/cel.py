"""Kubernetes objects written as CEL, for admission policies that build them.

A MutatingAdmissionPolicy builds objects in CEL with typed literals named by their field path
(`Object.spec.initContainers{name: "x", env: [Object.spec.initContainers.env{...}]}`). The agent container the
policy adds is the one the builders make for every other shape, turned into such a literal here, so there is no
second, hand-written copy of it.
"""

from __future__ import annotations

import json
from typing import Any

# CEL's reserved words: Kubernetes escapes a field of that name (`__namespace__`); none of ours may need it.
_RESERVED = frozenset({"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
                       "package", "namespace", "return", "var", "void", "while", "in", "true", "false", "null"})
# The maps (string keys, not fields) in the objects we write: a container's resource quantities.
_MAP_SUFFIXES = (".resources.limits", ".resources.requests")


class Expr(str):
    """CEL source embedded as it is (a variable, a parameter, a call), not as a string literal."""

    __slots__ = ()


def string(value: str) -> str:
    """A CEL string literal (CEL's escapes include JSON's)."""
    return json.dumps(value, ensure_ascii=False)


def literal(value: Any, type_name: str) -> str:
    """`value` (a Kubernetes object as dicts and lists) as a CEL literal of type `type_name` (`Object.spec`)."""
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(item, type_name) for item in value) + "]"
    if isinstance(value, dict):
        if type_name.endswith(_MAP_SUFFIXES):
            return "{" + ", ".join(f"{string(k)}: {literal(v, type_name)}" for k, v in value.items()) + "}"
        fields = []
        for key, item in value.items():
            if key in _RESERVED or not key.isidentifier():
                raise ValueError(f"{type_name}.{key}: not a plain CEL field name")
            fields.append(f"{key}: {literal(item, f'{type_name}.{key}')}")
        return f"{type_name}{{{', '.join(fields)}}}"
    raise TypeError(f"{type_name}: no CEL literal for {type(value).__name__}")
