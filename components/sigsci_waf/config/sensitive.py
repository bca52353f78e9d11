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

import contextvars
import functools
import re
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping

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


# Secret config's words while the stack program runs (config/stack.py `no_secret_echo`): every error message
# and every value an error repeats (`shown`) is scrubbed of them where it is made, before anything is cut out
# of it, so no part of a long secret survives a shortened message. Outputs' callbacks made inside inherit them.
_ACTIVE: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("secret_config_words", default=frozenset())


@contextmanager
def scrubbing(words: Iterable[str]) -> Iterator[None]:
    """Errors made inside scrub `words` (secret config's key names and values) as they are made."""
    token = _ACTIVE.set(frozenset(words))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_words() -> frozenset[str]:
    """The secret words errors made now are scrubbed of (none outside the stack program)."""
    return _ACTIVE.get()


# What an error repeats a value as: a Python repr in quotes (`shown`, `!r`), starting and ending where no
# letter or digit touches the quote (so the apostrophe of "agent's" starts none); and the mark itself.
_SPANS = re.compile(r"\[secret\]|(?<![A-Za-z0-9])'(?:[^'\\\n]|\\.)*'(?![A-Za-z0-9])"
                    r'|(?<![A-Za-z0-9])"(?:[^"\\\n]|\\.)*"(?![A-Za-z0-9])')
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*|[A-Za-z0-9]+")


def scrub(text: str, words: Iterable[str]) -> str:
    """`text` with every secret word (as written, and as Python's repr shows it) replaced by [secret].

    A value an error repeats stands in quotes (its repr): there every secret word is replaced, however short,
    blank or common. Outside quotes stands the product's own sentence, key paths and structure: there a word
    is replaced unless it is blank, one or two characters, or made only of the product's own words (the
    words of its messages, schema fields, option names and chart keys; `fixed_words`), so that a secret `to`
    or ` ` does not garble "less than or equal to" and a secret that is a word of ours tells nothing a reader
    of the message could not read anyway. A word is replaced only where it stands alone (not inside a longer
    run of letters and digits), so a secret `8` does not mangle `80`; the longest words go first, so a word
    inside another is covered. A `[secret]` already there stays as it is.
    """
    words = frozenset(words)
    if not words:
        return text
    quoted, unquoted = _patterns(words)
    parts: list[str] = []
    last = 0
    for span in _SPANS.finditer(text):
        parts.append(_replace(unquoted, text[last:span.start()]))
        found = span.group()
        if found != REDACTED:
            inner = found[1:-1]
            found = found[0] + (REDACTED if inner in words or _repr_form_of(inner, words)
                                else _replace(quoted, inner)) + found[-1]
        parts.append(found)
        last = span.end()
    parts.append(_replace(unquoted, text[last:]))
    return "".join(parts)


def _repr_form_of(inner: str, words: frozenset[str]) -> bool:
    return any(repr(w)[1:-1] == inner for w in words if not w.strip())


def _replace(pattern: re.Pattern | None, text: str) -> str:
    if pattern is None or not text:
        return text
    return REDACTED.join(pattern.sub(REDACTED, piece) for piece in text.split(REDACTED))


@functools.lru_cache(maxsize=8)
def _patterns(words: frozenset[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
    """One pattern for quoted text (every non-blank word) and one for the rest (the words not the product's)."""
    from .errors import one_line

    def forms(chosen: Iterable[str]) -> list[str]:
        found = {form for word in chosen for form in (word, repr(word)[1:-1], one_line(word))}
        return sorted(found, key=lambda f: (-len(f), f))

    def pattern(chosen: list[str]) -> re.Pattern | None:
        if not chosen:
            return None
        alone = [rf"(?<![A-Za-z0-9]){re.escape(f)}(?![A-Za-z0-9])" if f[:1].isalnum() or f[-1:].isalnum()
                 else re.escape(f) for f in chosen]
        return re.compile("|".join(alone))

    plain = [w for w in words if w.strip()]
    return (pattern(forms(plain)),
            pattern(forms(w for w in plain if len(w.strip()) > 2 and not is_fixed(w))))


def is_fixed(word: str) -> bool:
    """Whether `word` is made only of the product's own words (and what separates them)."""
    tokens = _TOKEN.findall(word)
    return bool(tokens) and all(t in fixed_words() for t in tokens)


@functools.cache
def fixed_words() -> frozenset[str]:
    """The product's own words: every word of its string literals (messages, option names, chart keys), of
    pydantic's message templates, and the schema's field names."""
    import ast
    from pathlib import Path

    from pydantic_core import _pydantic_core

    words: set[str] = set(schema_fields())
    texts = [e["message_template_python"] for e in _pydantic_core.list_all_errors()]
    for path in Path(__file__).resolve().parent.parent.rglob("*.py"):
        texts += [node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    for text in texts:
        words.update(_TOKEN.findall(text))
        words.update(re.findall(r"[A-Za-z0-9]+", text))
    return frozenset(words)


@functools.cache
def schema_fields() -> frozenset[str]:
    """Every field name of the config schema, camelCase and snake_case: these are ours, never secret."""
    from pydantic.alias_generators import to_camel

    import importlib
    import pkgutil
    from pathlib import Path

    from .model import Model

    # Every settings model, also of the parts a stack does not use (their modules load on first use).
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__package__}.{module.name}")
    names: set[str] = set()
    pending = [Model]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        for name in model.model_fields:
            names.update((name, to_camel(name)))
    return frozenset(names)


def scrub_path(key: str, words: Iterable[str]) -> str:
    """A key path with every segment that is a map key or value of secret config redacted, unless it is
    structure: a schema field, an option name the catalogue knows (under `options`), a chart key the product
    names (under `extraValues`). Segments are matched whole, longest first, since a user's key may itself
    hold a '.'; a blank or one-character key is redacted too (a path holds no prose to garble)."""
    from .errors import one_line

    # A key is shown on one line (config/errors.py): a word with a newline is matched as it is shown too.
    forms = sorted({form for word in words for form in (word, one_line(word)) if form},
                   key=lambda f: (-len(f), f))
    if not forms:
        return key
    pattern = re.compile(rf"(?<=[.:])(?:{'|'.join(map(re.escape, forms))})(?=[.\[]|$)")

    def redacted(found: re.Match) -> str:
        segment, before = found.group(), key[:found.start()]
        return segment if _structure_segment(segment, before) else REDACTED

    return pattern.sub(redacted, key)


def _structure_segment(segment: str, before: str) -> bool:
    """Whether a path segment, after `before`, is the product's structure rather than a key of the user's."""
    if before.endswith((".options.", ".unlistedOptions.")):
        from ..agent.option_catalogue import CATALOGUE

        return before.endswith(".options.") and segment in CATALOGUE
    if ".extraValues." in before or before.endswith(".extraValues"):
        return segment in fixed_words()
    # The schema's own field names are never secret (a map key `name` is ours, not the user's).
    return segment in schema_fields() and not before.endswith((".env.", ".annotations.", ".labels."))
