"""Every EnvoyExtensionPolicy that sends requests to the agents fails closed and gives them what they need:
no `failOpen: true` (unless the pack's config allows it), no `shadowMode`, a message timeout long enough for
the Gateway's body buffer, and request bodies buffered whole."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from .common import UNKNOWN, Report, _duration_ms, _get, _maps
from .constants import DEFAULT_BUFFER_LIMIT, DEFAULT_MESSAGE_TIMEOUT_MS, MIN_MESSAGE_TIMEOUT_MS, TIMEOUT_MS_PER_MIB
from .gateway import MIB, GatewayApi, needed_timeout_ms
from .stack import _resources


def _size(limit) -> str:
    for unit, size in (("Mi", MIB), ("Ki", 1024)):
        if limit >= size and limit % size == 0:
            return f"{int(limit // size)}{unit}"
    return f"{int(limit)} bytes"


def validate_extproc_fail_closed(args, report_violation: Report) -> None:
    """Each extProc entry whose backend is the agents: failOpen not true (config `allowFailOpen`, default
    false), shadowMode not true, messageTimeout set and at least the package's rule for the largest bufferLimit
    of the Gateways it serves (1000 ms per MiB, at least 500 ms; Envoy Gateway's 32Ki where no
    ClientTrafficPolicy sets one), and processingMode sending the request body Buffered."""
    allow_fail_open = (args.get_config() or {}).get("allowFailOpen") is True  # only a literal true
    api = GatewayApi(_resources(args))
    for extension in api.extensions:
        limits = [gateway.body_limit() for gateway in api.gateways_of(extension)] \
            or [(Decimal(DEFAULT_BUFFER_LIMIT), "Envoy Gateway's default")]
        for index, entry in enumerate(_maps(extension.obj.spec.get("extProc"))):
            if not any(entry is waf for waf in extension.waf):
                continue
            problems = []
            if entry.get("failOpen") is True and not allow_fail_open:
                problems.append("sets failOpen: true: when the agents cannot answer in time, or the policy is "
                                "invalid, requests pass uninspected; set failOpen: false (a stack that fails open on "
                                "purpose sets allowFailOpen in its policy/config.<stack>.json)")
            if entry.get("shadowMode") is True:
                problems.append("sets shadowMode: true: Envoy does not wait for the agents' answer, so nothing is "
                                "ever blocked; remove it")
            timeout = entry.get("messageTimeout")
            if timeout is None:
                problems.append(f"sets no messageTimeout, so Envoy's {DEFAULT_MESSAGE_TIMEOUT_MS} ms applies: the "
                                "agents' answer on a buffered body arrives after Envoy has given up on it; set at "
                                f"least {TIMEOUT_MS_PER_MIB} ms per MiB of the Gateway's bufferLimit (at least "
                                f"{MIN_MESSAGE_TIMEOUT_MS} ms)")
            elif timeout is not UNKNOWN and all(limit is not UNKNOWN for limit, _ in limits):
                limit, source = max(limits, key=lambda item: item[0])
                needed, took = needed_timeout_ms(limit), _duration_ms(timeout)
                if took is None or took < needed:
                    problems.append(f"has messageTimeout {timeout!r}, shorter than the {needed} ms that bodies up "
                                    f"to {_size(limit)} ({source}) need ({TIMEOUT_MS_PER_MIB} ms per MiB, at least "
                                    f"{MIN_MESSAGE_TIMEOUT_MS} ms): the agents' answer arrives after Envoy has given "
                                    "up on it; raise it")
            mode = entry.get("processingMode")
            if mode is not UNKNOWN and not isinstance(_get(mode, "request"), Mapping):
                problems.append("has no processingMode.request, so Envoy Gateway sends the agents neither the "
                                "request's headers nor its body; set processingMode.request.body: Buffered")
            elif mode is not UNKNOWN and _get(mode, "request", "body") not in ("Buffered", UNKNOWN):
                body = _get(mode, "request", "body")
                problems.append(f"sends the request body {body or 'not at all'} (processingMode.request.body), not "
                                "Buffered: the agents do not see it whole; set it to Buffered")
            for problem in problems:
                report_violation(f"{extension.who}: extProc[{index}] (to the WAF agents) {problem}",
                                 extension.obj.resource.urn)
