"""One error type for every bad input, so `pulumi preview` stops with a sentence, not a traceback."""

from __future__ import annotations

from typing import Any, Iterable

import pulumi
from pydantic import ValidationError
from pydantic.alias_generators import to_snake


def shown(value: Any, limit: int = 60) -> str:
    """A value as an error message repeats it: its repr, the middle cut out when it is long."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}...{text[-10:]} ({len(str(value))} characters)"


class ConfigError(pulumi.RunError):
    """Bad configuration. `key` is the full path of the offending key, e.g. `sigsci:apps[0].port`.

    Subclassing `pulumi.RunError` makes the Pulumi engine print only the message.
    """

    def __init__(self, key: str, problem: str):
        # A safety net for values repeated whole: one line stays readable.
        if len(problem) > 1000:
            problem = f"{problem[:480]} ... {problem[-480:]}"
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


def join_path(prefix: str, loc: Iterable[Any], *, snake: bool = False) -> str:
    """Render a pydantic error location under a prefix: `sigsci:apps` + (0, "port") -> `sigsci:apps[0].port`."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            text = to_snake(part) if snake else str(part)
            path += f".{text}" if path and not path.endswith(":") else text
    return path


def _describe(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key; check the spelling against the README's config table"
    if kind == "missing":
        return "is required"
    message = error["msg"]
    # pydantic prefixes messages of custom validators; the sentence is ours.
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message


def from_validation_error(prefix: str, exc: ValidationError, *, snake: bool = False) -> ConfigError:
    """Turn the first pydantic error into a ConfigError that names the key.

    Only the first is reported: one clear sentence beats a wall of follow-on errors.
    """
    first = exc.errors(include_url=False, include_input=False)[0]
    # "[key]" marks an invalid mapping key; the key itself is already the last part of the path.
    loc = [p for p in first["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]"))]
    # Errors raised by a model-level validator carry the field in the message's own key prefix.
    message = _describe(first)
    if message.startswith("@"):
        field, _, message = message[1:].partition(" ")
        loc = [*loc, *(int(part) if part.isdigit() else part for part in field.split("."))]
    return ConfigError(join_path(prefix, loc, snake=snake), message)
