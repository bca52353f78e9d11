"""Agent option names and values, so a typo or a value the agent cannot read fails at preview instead of at the
agent's start (or being ignored by it).

The names and the kind of value each takes live in one place, `agent/option_catalogue.py` (Fastly's agent
configuration reference as of v4.75-v4.77 and the vendor guides that set options, with the source of each
group). An option a newer agent adds goes under `unlistedOptions`, which skips both checks and warns at preview,
so the list never blocks a real option.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from decimal import Decimal, InvalidOperation

from ..config.errors import shown
from .option_catalogue import (CATALOGUE, Address, Boolean, Choice, Duration, Integer, Kind, Path, Size,
                               Text)

KNOWN_OPTIONS: frozenset[str] = frozenset(CATALOGUE)

# The agent is a Go program: its `int` is 64 bits, and so is a duration in nanoseconds.
_GO_INT_MAX = 2 ** 63 - 1
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DIGITS = re.compile(r"[0-9]+")
# Go's time.ParseDuration, without a sign: one or more <number><unit>, a number having at least one digit.
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 10 ** 3, "\u00b5s": 10 ** 3, "\u03bcs": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9,
            "m": 60 * 10 ** 9, "h": 3600 * 10 ** 9}
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def check_option_name(name: str) -> str | None:
    """None if `name` is a documented agent option, else a sentence saying what is allowed."""
    if name in KNOWN_OPTIONS:
        return None
    close = difflib.get_close_matches(name, sorted(KNOWN_OPTIONS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (f"is not a known agent option.{hint} If your agent version documents it, "
            "put it under unlistedOptions instead (checked for spelling only, with a warning)")


# What Go's strconv.ParseBool takes, and so the agent: Fastly's own manifests set debug switches to "1".
GO_BOOLEANS = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
               **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}


def describe(kind: Kind) -> str:
    """What an option of this kind takes, as an error message says it."""
    if isinstance(kind, Boolean):
        return "true or false (or 1/0, t/f, as the agent reads them)"
    if isinstance(kind, Integer):
        what = f"a whole number{' of ' + kind.unit if kind.unit else ''}"
        if kind.low is not None and kind.high is not None:
            return f"{what} from {kind.low} to {kind.high}"
        if kind.low is not None:
            return f"{what}, {kind.low} or more"
        return what
    if isinstance(kind, Choice):
        return "one of " + ", ".join(f"{value} ({meaning})" for value, meaning in kind.values)
    if isinstance(kind, Duration):
        return ("a positive duration such as '10s', '250ms' or '1m30s' (units ns, us, ms, s, m, h), or a whole "
                "number of milliseconds")
    if isinstance(kind, Size):
        return f"a whole number of bytes, {kind.low} or more, without a unit"
    if isinstance(kind, Address):
        unix = ", or a Unix socket as an absolute path or 'unix:/path'" if kind.unix else ""
        return f"host:port with a port from 1 to 65535 (e.g. '0.0.0.0:8125' or 'statsd.monitoring:8125'){unix}"
    if isinstance(kind, Path):
        return "an absolute path in the agent's container (e.g. '/dev/stdout' or '/sigsci/tmp/waf.log')"
    return "a string, true/false or a whole number"


def check_option_value(name: str, value: str | bool | int) -> tuple[str | bool | int, str | None]:
    """`value` as the agent reads it and None; or `value` and a sentence saying what `name` takes. An option the
    catalogue lacks (an unlisted one) passes as written."""
    kind = CATALOGUE.get(name)
    if kind is None or isinstance(kind, Text):
        return value, None
    read, reason = _read(kind, value)
    if reason is None:
        return read, None
    return value, f"{shown(value)} {reason}: it takes {describe(kind)}"


def _read(kind: Kind, value: str | bool | int) -> tuple[str | bool | int, str | None]:
    """The value as the agent reads it, or why it cannot (a phrase following the value)."""
    if isinstance(kind, Boolean):
        if isinstance(value, bool):
            return value, None
        if str(value) in GO_BOOLEANS:  # the agent is a Go program and reads them as Go's strconv.ParseBool does
            return GO_BOOLEANS[str(value)], None
        return value, "is not true or false"
    if isinstance(kind, (Integer, Choice, Size)):
        return _read_whole(kind, value)
    if isinstance(value, bool):
        return value, "is a true/false value"
    if isinstance(kind, Duration):
        return value, _duration_problem(value)
    if isinstance(value, int):
        return value, "is a number"
    if isinstance(kind, Address):
        return value, _address_problem(value, unix=kind.unix)
    if isinstance(kind, Path):
        return value, _path_problem(value)
    return value, None


def _read_whole(kind: Integer | Choice | Size, value: str | bool | int) -> tuple[str | bool | int, str | None]:
    if isinstance(value, bool):
        return value, "is a true/false value, not a number"
    if isinstance(value, str):
        pattern = _DIGITS if isinstance(kind, Size) else _WHOLE
        if not pattern.fullmatch(value):
            return value, "is not a whole number"
        value = int(value)
    if isinstance(kind, Choice):
        return (value, None) if value in dict(kind.values) else (value, "is not one of the levels")
    low = kind.low
    high = kind.high if isinstance(kind, Integer) and kind.high is not None else _GO_INT_MAX
    if (low is not None and value < low) or value > high:
        return value, "is out of range"
    return value, None


def _duration_problem(value: str | int) -> str | None:
    if isinstance(value, int):  # a whole number of milliseconds
        nanoseconds = value * 10 ** 6
    elif _DIGITS.fullmatch(value):
        nanoseconds = int(value) * 10 ** 6
    elif value.startswith("-"):
        return "is negative"
    elif value and "".join(p for p, _, _ in _duration_parts(value)) == value:
        nanoseconds = sum(number * _UNIT_NS[unit] for _, number, unit in _duration_parts(value))
    else:
        return "is not a duration"
    if nanoseconds <= 0:
        return "is not positive"
    if nanoseconds > _GO_INT_MAX:
        return "is longer than the agent can hold (about 292 years)"
    return None


def _duration_parts(value: str) -> list[tuple[str, Decimal, str]]:
    """Each `<number><unit>` of a Go duration: the text, the number, the unit (parts that are not numbers left out,
    so a value with any such part does not join back to itself)."""
    parts = []
    for match in _DURATION_PART.finditer(value):
        text, unit = match.group(1), match.group(2)
        if not any(c.isdigit() for c in text):
            continue
        try:
            parts.append((match.group(0), Decimal(text), unit))
        except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
            continue
    return parts


def _address_problem(value: str, *, unix: bool) -> str | None:
    if unix and (value.startswith("/") or value.startswith("unix:")):
        return _path_problem(value.removeprefix("unix:"))
    host, colon, port = value.rpartition(":")
    if not colon:
        return "has no port (host:port)"
    if not _DIGITS.fullmatch(port) or not 1 <= int(port) <= 65535:
        return "has no port from 1 to 65535"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return "has a bracketed host that is not an IPv6 address"
        return None
    if host == "":
        return None
    if ":" in host:
        return "has an IPv6 host without brackets ('[::1]:8125')"
    try:
        ipaddress.IPv4Address(host)
        return None
    except ValueError:
        pass
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.removesuffix(".").split(".")):
        return "has a host that is neither a DNS name nor an IP address"
    return None


def _path_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return "is not an absolute path"
    if not value.isprintable() or len(value) > 4096:
        return "is not a usable path"
    if ".." in value.split("/"):
        return "has a '..' segment"
    return None
