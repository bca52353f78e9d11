"""Values that came from secret stack config, and how they stay secret on the way to the engine.

Stack config marks secrecy per top-level key (`pulumi config set --secret --path sigsci:apps[0].env.TOKEN`
makes all of `sigsci:apps` secret), so the program cannot tell which leaf was meant. It treats every
free-text value of a secret key as secret: any config value whose type is not marked `STRUCTURE`. Structure
names, locates or routes something, and stays plain so that resources can be named by it and reviewers and the
policy pack can read it: names and namespaces, images, hosts, ports, route paths and mount paths, chart sources
and versions, quantities, numbers and choices. A new text field is free text, and so secret, unless its type
says otherwise.

Where free text goes is not listed field by field: resolve/secret_flow.py finds it by building a secret entry
twice. The builders' output marks such values with `Sensitive`, a `str` that compares and prints like any
other (or a map or list as a whole, `SensitiveMap` / `SensitiveList`); `reveal` turns each mark into a Pulumi
secret where resources are declared.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterable, Mapping

from .refs import Ref

REDACTED = "[secret]"


class Sensitive(str):
    """A string from secret config: the builders treat it as text, the resource shell as a secret."""

    __slots__ = ()


class SensitiveMap(dict):
    """A map a secret value shaped (its keys, or a number in it): secret as a whole."""

    __slots__ = ()


class SensitiveList(list):
    """A list a secret value shaped (its length, or a number in it): secret as a whole."""

    __slots__ = ()


def sensitive_tree(value: Any) -> Any:
    """`value` marked secret as a whole: text as `Sensitive`, a map or list as its sensitive kind."""
    if isinstance(value, str):
        return value if isinstance(value, Sensitive) else Sensitive(value)
    if isinstance(value, Mapping):
        return value if isinstance(value, SensitiveMap) else SensitiveMap(value)
    if isinstance(value, list):
        return value if isinstance(value, SensitiveList) else SensitiveList(value)
    raise TypeError(f"a {type(value).__name__} cannot be marked secret on its own")


class _Structure:
    """The mark of a config type that is structure, not free text: see the module's docstring."""

    def __repr__(self) -> str:
        return "STRUCTURE"


# In a field's `Annotated[...]`: values of this type are never secret (they name, locate or route something).
STRUCTURE = _Structure()


def mark(value: Any, secret: bool) -> Any:
    """`value` marked `Sensitive` when `secret` (strings only; other scalars pass through)."""
    return Sensitive(value) if secret and isinstance(value, str) else value


def reveal(value: Any, bindings: Mapping[Any, Any] | None = None) -> Any:
    """The structure for the engine, in one walk: each `Sensitive` becomes a Pulumi secret of the same text,
    and each placeholder of the resolve stage (a `Ref`) its value in `bindings`.

    Only the maps and lists on the way to such a value are copied; the rest is passed on as it is, shared by
    the built object and the resource declared from it (which only reads it): a stack of hundreds of apps
    would otherwise hold each object twice until the engine has it (BENCHMARKS.md)."""
    import pulumi

    if isinstance(value, Sensitive):
        return pulumi.Output.secret(str(value))
    if isinstance(value, SensitiveMap):
        return pulumi.Output.secret({k: reveal(v, bindings) for k, v in value.items()})
    if isinstance(value, SensitiveList):
        return pulumi.Output.secret([reveal(v, bindings) for v in value])
    if isinstance(value, Mapping):
        return copied_on_write(value, value.items(), dict, lambda _, item: reveal(item, bindings))
    if isinstance(value, list):
        return copied_on_write(value, enumerate(value), list, lambda _, item: reveal(item, bindings))
    if isinstance(value, Ref):  # its value may itself be Sensitive
        return reveal((bindings or {})[value])
    return value


def copied_on_write(value: Any, items: Iterable[tuple[Any, Any]], kind: type,
                    new: Callable[[Any, Any], Any]) -> Any:
    """`value` (a map or list, its `items` as (key, item) pairs) with each item replaced by `new(key, item)`:
    itself when no item changes (and it is a plain `kind`), else a `kind` copy with the changed items."""
    copy = None if type(value) is kind else kind(value)
    for key, item in items:
        bound = new(key, item)
        if bound is not item:
            if copy is None:
                copy = kind(value)
            copy[key] = bound
    return value if copy is None else copy


def secret_words(value: Any) -> set[str]:
    """Every map key and scalar leaf of a secret config value, as text an error message could echo."""
    words: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, child in node.items():
                words.add(str(key))
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)
        elif node is not None and not isinstance(node, bool):
            words.add(str(node))

    walk(value)
    return {w for w in words if w}


def scrub(text: str, words: Iterable[str]) -> str:
    """`text` with every secret word (as written, and as Python's repr shows it) replaced by [secret].

    A word is replaced only where it stands alone (not inside a longer run of letters and digits), so a
    secret `8` does not mangle `80`; the longest words go first, so a word inside another is covered. The
    schema's own field names are never secret (a map key `name` is ours, not the user's).
    """
    forms: set[str] = set()
    for word in set(words) - schema_fields():
        forms.add(word)
        forms.add(repr(word)[1:-1])
    for form in sorted(forms, key=len, reverse=True):
        pattern = rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])" if form[:1].isalnum() or \
            form[-1:].isalnum() else re.escape(form)
        text = re.sub(pattern, REDACTED, text)
    return text


@functools.cache
def schema_fields() -> frozenset[str]:
    """Every field name of the config schema, camelCase and snake_case: these are ours, never secret."""
    from pydantic.alias_generators import to_camel

    from .model import Model

    names: set[str] = set()
    pending = [Model]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        for name in model.model_fields:
            names.update((name, to_camel(name)))
    return frozenset(names)


def scrub_path(key: str, words: Iterable[str]) -> str:
    """A key path with every segment that is a map key or value of secret config (not a schema field)
    redacted. Segments are matched whole, longest first, since a user's key may itself hold a '.'."""
    from .errors import one_line

    # A key is shown on one line (config/errors.py): a word with a newline is matched as it is shown too.
    forms = {form for word in set(words) - schema_fields() for form in (word, one_line(word))}
    for form in sorted(forms, key=len, reverse=True):
        key = re.sub(rf"(?<=[.:]){re.escape(form)}(?=[.\[]|$)", REDACTED, key)
    return key
