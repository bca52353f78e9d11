"""Agent option names, so a typo in `options` fails at preview instead of being ignored by the agent."""

from __future__ import annotations

import difflib

# Filled from the vendor's option reference.
KNOWN_OPTIONS: frozenset[str] = frozenset({"log-out", "debug-log-web-inputs", "max-procs", "inspect-websocket"})


def check_option_name(name: str) -> str | None:
    """None if `name` is a documented agent option, else a sentence saying what is allowed."""
    if name in KNOWN_OPTIONS:
        return None
    close = difflib.get_close_matches(name, sorted(KNOWN_OPTIONS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"is not a documented agent option.{hint} See the agent configuration reference"
