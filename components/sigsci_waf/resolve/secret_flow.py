"""Where values from secret stack config end up, found by the builders themselves rather than by a list of fields.

An entry whose config is secret is built twice: once as configured, and once as a twin whose every free-text
value (each string of the config that is not structure, see `config.sensitive.STRUCTURE`) is replaced by a
canary of the same length and character classes. Whatever differs between the two builds was made from a secret
value, whichever builder, field or f-string it went through: that string is marked `Sensitive`, a map or list
whose shape or numbers differ is marked whole. A field added later is covered without anything to update here.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Callable, TypeVar

from ..config.model import Model
from ..config.errors import ConfigError
from ..config.sensitive import (STRUCTURE, Sensitive, SensitiveList, SensitiveMap, copied_on_write,
                                sensitive_tree)

T = TypeVar("T")


def traced(build: Callable[[T], Any], resolved: T, secret: bool, key: str) -> Any:
    """`build(resolved)`, with every value made from `resolved`'s free text marked sensitive when `secret`
    (`key`: the entry's config key, named when its secret values cannot be kept secret)."""
    real = build(resolved)
    if not secret:
        return real
    try:
        return marked(real, build(canaried(resolved)))
    except ShapesObjects:
        raise ConfigError(key, "is secret config, and a value in it decides which Kubernetes objects are made or "
                               "their kind, which cannot be kept secret; set that value as plain config") from None


# -- the twin ------------------------------------------------------------------------------------------------------

def canaried(value: Any) -> Any:
    """`value` with the free text set in every config model in it replaced by canaries; nothing else changes
    (defaults, the resolve stage's own strings, keys and names). No validation runs: the twin is only built."""
    if isinstance(value, Model):
        update = {}
        for name in value.model_fields_set:
            info = type(value).model_fields[name]
            if STRUCTURE in info.metadata:
                continue
            current = getattr(value, name)
            twin = _canary(current, info.annotation)
            if twin is not current:
                update[name] = twin
        return value.model_copy(update=update) if update else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_with(value, lambda _, field: canaried(field))
    if isinstance(value, (list, tuple)):
        return _sequence_with(value, [canaried(item) for item in value])
    return value


def _dataclass_with(value: Any, new: Callable[[str, Any], Any]) -> Any:
    """`value` (a dataclass) with each field replaced by `new(name, field)`: itself when none changes."""
    changed = {}
    for f in dataclasses.fields(value):
        if not f.init:
            continue
        current = getattr(value, f.name)
        if (replaced := new(f.name, current)) is not current:
            changed[f.name] = replaced
    return dataclasses.replace(value, **changed) if changed else value


def _sequence_with(value: Any, items: list) -> Any:
    """`value` (a list or tuple) with `items` in its place: itself when every item is the one it had."""
    return value if all(a is b for a, b in zip(items, value)) else type(value)(items)


def _canary(value: Any, annotation: Any) -> Any:
    """The twin of a config value of type `annotation`: text canaried unless the type is structure; a number or
    a true/false only where the type also takes text (an agent option), since there it is written as text."""
    if value is None:
        return None
    base, extra = _unwrap(annotation, value)
    if STRUCTURE in extra:
        return value
    if isinstance(value, Model):
        return canaried(value)
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return canary_text(value)
    if isinstance(value, bool):
        return (not value) if _takes_text(base) else value
    if isinstance(value, (int, float)):
        return value + 1 if _takes_text(base) else value
    if isinstance(value, dict):
        item = _args(base)[1] if len(_args(base)) == 2 else Any
        return {k: _canary(v, item) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        item = _args(base)[0] if _args(base) else Any
        return type(value)(_canary(v, item) for v in value)
    return value


def canary_text(text: str) -> str:
    """Another string of the same length and character classes (letters stay letters of the same case, digits
    digits), never equal to `text`: one that has neither gets a character more."""
    swapped = "".join(_swap(c) for c in text)
    return swapped if swapped != text else text + "0"


def _swap(c: str) -> str:
    if "a" <= c <= "z":
        return chr((ord(c) - 97 + 13) % 26 + 97)
    if "A" <= c <= "Z":
        return chr((ord(c) - 65 + 13) % 26 + 65)
    if "0" <= c <= "9":
        return chr((ord(c) - 48 + 5) % 10 + 48)
    return c


def _unwrap(annotation: Any, value: Any) -> tuple[Any, list]:
    """The type `value` has among `annotation`'s alternatives, and the metadata of its `Annotated` layers."""
    extra: list = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *more = typing.get_args(annotation)
            extra.extend(more)
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            fits = [a for a in options if _fits(a, value)]
            if len(fits) != 1:  # a text-or-number type: its alternatives together, with their metadata
                for option in fits or options:
                    extra.extend(_unwrap(option, value)[1])
                return annotation, extra
            annotation = fits[0]
        else:
            return annotation, extra


def _fits(annotation: Any, value: Any) -> bool:
    base = annotation
    while typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    base = typing.get_origin(base) or base
    return base is Any or (isinstance(base, type) and isinstance(value, base))


def _takes_text(annotation: Any) -> bool:
    if annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_takes_text(typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a)
                   for a in typing.get_args(annotation))
    return annotation is str


def _args(annotation: Any) -> tuple:
    return typing.get_args(annotation) if typing.get_origin(annotation) in (list, dict, tuple) else ()


# -- the comparison ------------------------------------------------------------------------------------------------

class _Differs(Exception):
    """A number or true/false differs: the map or list holding it is marked whole."""


def marked(real: Any, twin: Any) -> Any:
    """`real` with every part that differs from `twin` marked sensitive (a built value: dataclasses, tuples,
    lists and maps of Kubernetes objects). Parts that are the same object in both are passed on untouched, and
    so are config models (what was built from, not what is declared)."""
    try:
        return _marked(real, twin)
    except _Differs:
        return _whole(real)


def _marked(real: Any, twin: Any) -> Any:
    if real is twin or isinstance(real, (SensitiveMap, SensitiveList, Model)):
        return real
    if isinstance(real, str) and isinstance(twin, str):
        return real if real == twin or isinstance(real, Sensitive) else Sensitive(real)
    if dataclasses.is_dataclass(real) and not isinstance(real, type) and type(real) is type(twin):
        return _dataclass_with(real, lambda name, field: marked(field, getattr(twin, name)))
    if isinstance(real, tuple) and isinstance(twin, tuple) and len(real) == len(twin):
        return _sequence_with(real, [marked(a, b) for a, b in zip(real, twin)])
    if isinstance(real, dict) and isinstance(twin, dict):
        if real.keys() != twin.keys():
            return _whole(real)
        return _rebuilt(real, real.items(), lambda k, v: _marked(v, twin[k]))
    if isinstance(real, list) and isinstance(twin, list):
        if len(real) != len(twin):
            return _whole(real)
        return _rebuilt(real, enumerate(real), lambda i, v: _marked(v, twin[i]))
    if type(real) is type(twin) and real == twin:
        return real
    if isinstance(real, (dict, list, str)) or isinstance(twin, (dict, list, str)):
        return _whole(real)  # a value whose kind itself depends on a secret
    if isinstance(real, (bool, int, float)) and isinstance(twin, (bool, int, float)):
        raise _Differs
    raise ShapesObjects()  # anything else that differs cannot be marked: refused, not passed on plain


def _whole(real: Any) -> Any:
    """`real` marked whole, unless it holds Kubernetes objects: a resource cannot be declared secretly, so a
    secret that decides which objects exist, or their kind, cannot be kept secret."""
    if _is_object(real) or (isinstance(real, list) and any(_is_object(item) for item in real)):
        raise ShapesObjects()
    return sensitive_tree(real)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and "apiVersion" in value and "kind" in value


class ShapesObjects(Exception):
    """A value from secret config decides which Kubernetes objects are built, or their kind."""


def _rebuilt(real: Any, items: Any, mark: Callable[[Any, Any], Any]) -> Any:
    """`real` itself when no item changed, else a copy of its kind with the changed items; a number that differs
    marks `real` whole."""
    try:
        return copied_on_write(real, items, dict if isinstance(real, dict) else list, mark)
    except _Differs:
        return _whole(real)
