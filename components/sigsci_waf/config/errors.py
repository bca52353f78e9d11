"""One error type for every bad input, so `pulumi preview` stops with a sentence, not a traceback."""

from __future__ import annotations

import difflib
from typing import Any, Iterable, Mapping

import pulumi
from pydantic import ValidationError
from pydantic.alias_generators import to_snake


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message repeats it: its repr, scrubbed of secret config first (config/sensitive.py),
    then the middle cut out when it is long, so no part of a secret survives the cut."""
    from .sensitive import active_words, scrub

    text = repr(value)
    words = active_words()
    scrubbed = scrub(text, words) if words else text
    if len(scrubbed) <= limit:
        return scrubbed
    # The length of a value that held a secret is not told either.
    size = f" ({len(str(value))} characters)" if scrubbed == text else ""
    return f"{scrubbed[:limit // 2]}...{scrubbed[-10:]}{size}"


def one_line(text: str) -> str:
    """`text` on one line: every character that is not printable (a newline, a tab, a line separator...) as its
    escape, so a key or value that holds one cannot split an error or a warning."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class Problem(ValueError):
    """A rule broken inside a settings model: which field (a path below the model, camelCase, as in stack
    config) and what is wrong. Raised from pydantic validators; `from_validation_error` reads the object
    back from the error's context, so no message is parsed."""

    def __init__(self, field: str | tuple[str | int, ...], problem: str):
        self.field: tuple[str | int, ...] = tuple(
            int(p) if isinstance(p, str) and p.isascii() and p.isdigit() else p
            for p in (field.split(".") if isinstance(field, str) else field))
        self.problem = problem
        super().__init__(problem)


class ConfigError(pulumi.RunError):
    """Bad configuration. `key` is the full path of the offending key, e.g. `sigsci:apps[0].port`.

    Subclassing `pulumi.RunError` makes the Pulumi engine print only the message.
    """

    def __init__(self, key: str, problem: str):
        from .sensitive import active_words, scrub, scrub_path

        # Secret config's words are scrubbed before anything is cut, so no fragment of one survives the cut.
        words = active_words()
        if words:
            key, problem = scrub_path(key, words), scrub(problem, words)
        # A safety net for values repeated whole: one line stays readable.
        if len(problem) > 1000:
            problem = f"{problem[:480]} ... {problem[-480:]}"
        # One line, whatever the key or the problem holds (a map key of the user's may hold a newline).
        self.key = one_line(key)
        self.problem = one_line(problem)
        super().__init__(f"{self.key}: {self.problem}")


def report_once() -> None:
    """A ConfigError raised where a value becomes known (inside an Output's apply) is the run's error, which
    Pulumi reports as one line; the inputs of resources waiting on that value fail with it too, and asyncio
    would log each of those as a "Future exception was never retrieved" traceback. Hush those, for this
    error type only, on the running event loop."""
    import asyncio

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        return
    previous = loop.get_exception_handler()
    if getattr(previous, "reports_once", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if isinstance(context.get("exception"), ConfigError):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.reports_once = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def join_path(prefix: str, loc: Iterable[Any], *, snake: bool = False) -> str:
    """Render a pydantic error location under a prefix: `sigsci:apps` + (0, "port") -> `sigsci:apps[0].port`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # Python args spell the schema's own fields in snake_case; a key of the user's (an env name, an
            # option) stays as typed.
            text = one_line(to_snake(part) if snake and _is_field(part) else str(part))
            path += f".{text}" if path and not path.endswith(":") else text
    return path


def _is_field(part: str) -> bool:
    from .sensitive import schema_fields

    return part in schema_fields()


def _kind(value: Any) -> str:
    """What a value is, in the words of the config tables (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return "null" if value is None else type(value).__name__


# pydantic's error types, in the product's words: what the key takes.
_TAKES = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "dict_type": "an object (keys and values)", "model_type": "an object (keys and values)",
    "model_attributes_type": "an object (keys and values)", "mapping_type": "an object (keys and values)",
}
_BOUNDS = {"greater_than_equal": ("ge", "greater than or equal to"), "less_than_equal": ("le", "less than or equal to"),
           "greater_than": ("gt", "greater than"), "less_than": ("lt", "less than")}


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    ctx = error.get("ctx") or {}
    problem = ctx.get("error")
    if isinstance(problem, Problem):
        return problem.problem
    given = error.get("input")
    if kind in _TAKES:
        takes = _TAKES[kind]
        if isinstance(given, str) and takes in ("a whole number", "a number", "true or false"):
            # Stack config written `port: "8080"` arrives as text; the value as written is the problem.
            return f"must be {takes}, not text ({shown(given)}): write it without quotes"
        return f"must be {takes}, not {_kind(given)}"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(name)}"
    if kind == "string_pattern_mismatch":
        return f"is not in the form this key takes (the pattern {ctx.get('pattern')}); see docs/configuration.md"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"is too short: at least {ctx.get('min_length')} characters"
    # pydantic prefixes messages of custom validators; the sentence is ours. Its own start "Input should be".
    message = error["msg"].removeprefix("Value error, ")
    return f"must be {message.removeprefix('Input should be ')}" if message.startswith("Input should be ") \
        else message


def _fields_at(model: Any, loc: list) -> list[tuple[str, str]] | None:
    """(name, alias) of each field of the settings model found at `loc` below `model`; None where `loc` leads
    out of the models (into a free-form map)."""
    import typing

    from pydantic import BaseModel

    def models_in(annotation: Any) -> list[Any]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in typing.get_args(annotation) for m in models_in(arg)]

    for part in loc:
        if isinstance(part, int):
            continue  # a list item: the list's own model
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        found = models_in(field.annotation) if field is not None else []
        if not found:
            return None
        model = found[0]
    return [(name, field.alias or name) for name, field in model.model_fields.items()]


def _unknown(key: str, known: list[str], *, snake: bool, what: str, then: str) -> str:
    """Why a key is unknown, with the one it most likely meant: its snake_case spelling where Python args
    were given the stack config's camelCase, else the closest known key."""
    respelled = to_snake(key)
    if snake and respelled != key and respelled in known:
        return (f"unknown {what}: Python args are spelled in snake_case; did you mean {respelled}? (camelCase is "
                "the stack config and other languages' spelling)")
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown {what}; {hint}{then}"


def _unknown_key(model: Any, loc: list, *, snake: bool) -> str:
    """Why a key is unknown, with the field of the settings model at that place it most likely meant."""
    fields = (_fields_at(model, loc[:-1]) if model is not None else None) or []
    return _unknown(str(loc[-1]), [name if snake else alias for name, alias in fields], snake=snake, what="key",
                    then="check the spelling against the config tables in docs/configuration.md")


def from_validation_error(prefix: str, exc: ValidationError, *, snake: bool = False,
                          model: Any = None) -> ConfigError:
    """Turn the first pydantic error into a ConfigError that names the key (`model`: the settings model that
    was validated, for did-you-mean hints on unknown keys).

    Only the first is reported: one clear sentence beats a wall of follow-on errors.
    """
    first = exc.errors(include_url=False)[0]  # its input: only its kind is told (or shown(), scrubbed)
    # "[key]" marks an invalid mapping key; the key itself is already the last part of the path.
    loc = [p for p in first["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))]
    if first["type"] == "extra_forbidden":  # the key as the user typed it, not respelled
        return ConfigError(join_path(join_path(prefix, loc[:-1], snake=snake), loc[-1:]),
                           _unknown_key(model, loc, snake=snake))
    problem = (first.get("ctx") or {}).get("error")
    if isinstance(problem, Problem):  # a model's own rule names the field below the model
        loc = [*loc, *problem.field]
    return ConfigError(join_path(prefix, loc, snake=snake), _describe(first))


class Keyed:
    """A resolved entry that names its own keys: where it came from (`key`) and how its user spells keys
    (`snake`: Python args, else stack config's camelCase)."""

    key: str
    snake: bool

    def field_key(self, dotted: str) -> str:
        """The key of one of the entry's fields (`agent.startupProbe.port`), spelled as the user spells it."""
        return join_path(self.key, dotted.split("."), snake=self.snake)


MAX_DEPTH = 32


def check_depth(value: Any, key: str, limit: int = MAX_DEPTH) -> None:
    """No value nests deeper than any Kubernetes object or chart value does: deeper input is refused here,
    walking iteratively, before a recursive merge or validator would run out of stack."""
    stack: list[tuple[Any, tuple]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > limit:
            where = join_path(key, path[:3]) + ".…"
            raise ConfigError(where, f"nests more than {limit} levels deep; no chart value or Kubernetes field does")
        if isinstance(node, dict):
            stack.extend((child, (*path, str(k))) for k, child in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))


def check_call(component: str, name: Any, args: Any, opts: Any, args_type: Any = None,
               keywords: tuple[str, ...] = ()) -> str:
    """The arguments every component takes, checked before it registers anything; the prefix for errors.
    `args_type`: the component's Args TypedDict, whose keys are the only ones it takes (snake_case);
    `keywords`: the component's own keyword arguments, which do not go in the args."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{component}.name", f"must be a non-empty string (the resource name), not {shown(name)}")
    prefix = f"{component} '{name}'"
    if not isinstance(args, Mapping):
        raise ConfigError(f"{prefix}.args", f"must be a dict of arguments ({component}Args), not "
                                            f"{type(args).__name__}")
    if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
        raise ConfigError(f"{prefix}.opts", f"must be a pulumi.ResourceOptions, not {type(opts).__name__}")
    if args_type is not None:
        known = list(args_type.__annotations__)
        for key in args:
            if key in keywords:
                raise ConfigError(join_path(prefix, [key]), f"is a keyword argument, not a key of the args: "
                                                          f"{component}(name, args, {key}=[...])")
            if key not in known:
                raise ConfigError(join_path(prefix, [key]), _unknown(
                    str(key), known, snake=True, what="argument",
                    then=f"{component}Args takes: {', '.join(sorted(known))}"))
    check_depth(dict(args), prefix)
    return prefix


def check_components(value: Any, key: str, kind: type) -> list:
    """A keyword argument that takes a list of components of `kind` (None for none): the list."""
    if isinstance(value, kind) or not isinstance(value, (list, tuple, type(None))):
        raise ConfigError(key, f"must be a list of {kind.__name__} ({key.rsplit('.', 1)[-1]}=[web]), not "
                               f"{type(value).__name__}")
    for index, item in enumerate(value or ()):
        if not isinstance(item, kind):
            raise ConfigError(f"{key}[{index}]", f"must be a {kind.__name__} (the component, not its name), not "
                                                 f"{type(item).__name__}")
    return list(value or ())
