"""Agent option names, so a typo in `options` fails at preview instead of being ignored by the agent.

The list holds the names printed by the agent's `--usage` (the vendor's "Configuring the agent"
reference) that we could confirm. An option a newer agent adds goes under `unlistedOptions`,
which skips this check and warns at preview, so the list never blocks a real option.
"""

from __future__ import annotations

import difflib

KNOWN_OPTIONS: frozenset[str] = frozenset({
    # credentials and identity
    "accesskeyid",
    "secretaccesskey",
    "anonymous-ip-secret-key",
    "server-hostname",
    # networking, listeners and the module link
    "rpc-address",
    "revproxy-listener",
    "bypass-egress-proxy-for-upstreams",
    "client-ip-header",
    "inspect-websocket",
    "startup-probe-listener",
    "startup-probe-filepath",
    # files and housekeeping
    "config",
    "shared-cache-dir",
    "cleaner-interval",
    "context-expiration",
    "upload-interval",
    "max-procs",
    # request handling
    "custom-request-headers",
    # logging and metrics
    "log-out",
    "waf-data-log",
    "debug-log-all-the-things",
    "debug-log-blocked-requests",
    "debug-log-config-updates",
    "debug-log-connection-errors",
    "debug-log-web-inputs",
    "debug-log-web-outputs",
    "statsd-address",
    "statsd-metrics",
})


def check_option_name(name: str) -> str | None:
    """None if `name` is a documented agent option, else a sentence saying what is allowed."""
    if name in KNOWN_OPTIONS:
        return None
    close = difflib.get_close_matches(name, sorted(KNOWN_OPTIONS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (f"is not a known agent option.{hint} If your agent version documents it, "
            "put it under unlistedOptions instead (checked for spelling only, with a warning)")
