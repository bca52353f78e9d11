"""Every ext_proc to the agents fails closed and gives them what they need, whether an EnvoyExtensionPolicy's extProc
entry (Envoy Gateway) or an ext_proc filter an EnvoyFilter inserts (Istio): it does not fail open (unless the pack's
config allows it), does not only observe, waits long enough for the body buffer of the proxies it serves, and sends
request bodies buffered whole. A patch that merges settings into the agents' filter is held to the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping

from .common import UNKNOWN, Report, _duration_ms, _get, _maps, _proto_duration_ms
from .constants import (DEFAULT_BUFFER_LIMIT, DEFAULT_MESSAGE_TIMEOUT_MS, ENVOY_BUFFER_LIMIT, MIN_MESSAGE_TIMEOUT_MS,
                        TIMEOUT_MS_PER_MIB)
from .gateway import MIB, GatewayApi, needed_timeout_ms
from .istio import _field, ext_proc_config
from .stack import _resources


def _size(limit) -> str:
    for unit, size in (("Mi", MIB), ("Ki", 1024)):
        if limit >= size and limit % size == 0:
            return f"{int(limit // size)}{unit}"
    return f"{int(limit)} bytes"


@dataclass(frozen=True)
class _Spelling:
    """How one API names the settings of an ext_proc."""

    fail_open: str
    shadow: str
    timeout: str
    body: str  # the request body's mode
    buffered: str  # ... when it is sent whole
    buffer: str  # what sets the body buffer
    config: str  # what may be invalid
    duration: Callable[[Any], int | None]


_ENVOY_GATEWAY = _Spelling("failOpen", "shadowMode", "messageTimeout", "processingMode.request.body", "Buffered",
                           "the Gateway's bufferLimit", "policy", _duration_ms)
_ENVOY = _Spelling("failure_mode_allow", "observability_mode", "message_timeout", "processing_mode.request_body_mode",
                   "BUFFERED", "the listeners' per_connection_buffer_limit_bytes", "filter", _proto_duration_ms)


@dataclass
class _Settings:
    """One ext_proc to the agents, as its API spells it. `partial`: a patch merged into one, which sets only some
    of them."""

    spelling: _Spelling
    fail_open: Any
    shadow: Any
    timeout: Any  # None: not set
    mode: list[str]  # what its processing mode leaves out
    partial: bool = False


def _problems(settings: _Settings, limits: list[tuple[Any, str]], allow_fail_open: bool) -> list[str]:
    """What fails open in one ext_proc to the agents, for the body buffers (limit, where from) of what it serves."""
    n, problems = settings.spelling, []
    if settings.fail_open is True and not allow_fail_open:
        problems.append(f"sets {n.fail_open}: true: when the agents cannot answer in time, or the {n.config} is "
                        f"invalid, requests pass uninspected; set {n.fail_open}: false (a stack that fails open on "
                        "purpose sets allowFailOpen in its policy/config.<stack>.json)")
    if settings.shadow is True:
        problems.append(f"sets {n.shadow}: true: Envoy does not wait for the agents' answer, so nothing is ever "
                        "blocked; remove it")
    timeout = settings.timeout
    if timeout is None and not settings.partial:
        problems.append(f"sets no {n.timeout}, so Envoy's {DEFAULT_MESSAGE_TIMEOUT_MS} ms applies: the agents' answer "
                        "on a buffered body arrives after Envoy has given up on it; set at least "
                        f"{TIMEOUT_MS_PER_MIB} ms per MiB of {n.buffer} (at least {MIN_MESSAGE_TIMEOUT_MS} ms)")
    elif timeout is not None and timeout is not UNKNOWN and all(limit is not UNKNOWN for limit, _ in limits):
        limit, source = max(limits, key=lambda item: item[0])
        needed, took = needed_timeout_ms(limit), n.duration(timeout)
        if took is None or took < needed:
            problems.append(f"has {n.timeout} {timeout!r}, shorter than the {needed} ms that bodies up to "
                            f"{_size(limit)} ({source}) need ({TIMEOUT_MS_PER_MIB} ms per MiB, at least "
                            f"{MIN_MESSAGE_TIMEOUT_MS} ms): the agents' answer arrives after Envoy has given up on "
                            "it; raise it")
    return problems + settings.mode


def _not_buffered(body: Any, n: _Spelling) -> str:
    return (f"sends the request body {body or 'not at all'} ({n.body}), not {n.buffered}: the agents do not see it "
            f"whole; set it to {n.buffered}")


def _extension_settings(entry: Mapping[str, Any]) -> _Settings:
    """An EnvoyExtensionPolicy's extProc entry."""
    n, mode, problems = _ENVOY_GATEWAY, entry.get("processingMode"), []
    if mode is not UNKNOWN and not isinstance(_get(mode, "request"), Mapping):
        problems.append("has no processingMode.request, so Envoy Gateway sends the agents neither the request's "
                        "headers nor its body; set processingMode.request.body: Buffered")
    elif mode is not UNKNOWN and _get(mode, "request", "body") not in ("Buffered", UNKNOWN):
        problems.append(_not_buffered(_get(mode, "request", "body"), n))
    return _Settings(n, entry.get("failOpen"), entry.get("shadowMode"), entry.get("messageTimeout"), problems)


def _filter_settings(config: Mapping[str, Any], partial: bool = False) -> _Settings:
    """Envoy's ExternalProcessor, as an EnvoyFilter's patch spells it (either field spelling). A merged patch
    changes only what it sets to other than the default: an absent processing_mode, or a mode of NONE, changes
    nothing."""
    n, mode, problems = _ENVOY, _field(config, "processing_mode"), []
    if mode is None and not partial:
        problems.append("has no processing_mode, so Envoy sends the agents the request's headers but not its body; "
                        "set processing_mode.request_body_mode: BUFFERED")
    elif isinstance(mode, Mapping):
        if _field(mode, "request_header_mode") == "SKIP":
            problems.append("skips the request headers (processing_mode.request_header_mode: SKIP): the agents "
                            "never see them; set it to SEND")
        body = _field(mode, "request_body_mode")
        if body not in ("BUFFERED", UNKNOWN) and not (partial and body in (None, "NONE")):
            problems.append(_not_buffered(body, n))
    return _Settings(n, _field(config, "failure_mode_allow"), _field(config, "observability_mode"),
                     _field(config, "message_timeout"), problems, partial)


def validate_extproc_fail_closed(args, report_violation: Report) -> None:
    """Each extProc entry whose backend is the agents, and each ext_proc filter to the agents an EnvoyFilter
    inserts (or merges settings into): failOpen / failure_mode_allow not true (config `allowFailOpen`, default
    false), shadowMode / observability_mode not true, a message timeout set and at least the package's rule for the
    largest body buffer of what it serves (1000 ms per MiB, at least 500 ms; Envoy Gateway's 32Ki where no
    ClientTrafficPolicy sets a bufferLimit, Envoy's 1Mi where no EnvoyFilter sets per_connection_buffer_limit_bytes),
    and the request body sent buffered (and, for an Envoy filter, the request headers not skipped)."""
    allow_fail_open = (args.get_config() or {}).get("allowFailOpen") is True  # only a literal true
    api = GatewayApi(_resources(args))

    def report(source, where: str, settings: _Settings, limits: list[tuple[Any, str]]) -> None:
        for problem in _problems(settings, limits, allow_fail_open):
            report_violation(f"{source.who}: {where} {problem}", source.obj.resource.urn)

    for extension in api.extensions:
        limits = [gateway.body_limit() for gateway in api.gateways_of(extension)] \
            or [(Decimal(DEFAULT_BUFFER_LIMIT), "Envoy Gateway's default")]
        for index, entry in enumerate(_maps(extension.obj.spec.get("extProc"))):
            if any(entry is waf for waf in extension.waf):
                report(extension, f"extProc[{index}] (to the WAF agents)", _extension_settings(entry), limits)
    for envoy_filter in api.envoy_filters:
        limits = [gateway.listener_buffer() for gateway in api.gateways_on(envoy_filter)] \
            or [(Decimal(ENVOY_BUFFER_LIMIT), "Envoy's default")]
        for waf in envoy_filter.waf:
            report(envoy_filter, f"configPatches[{waf.patch.index}] (ext_proc to the WAF agents)",
                   _filter_settings(waf.config), limits)
    # A MERGE into the WAF's filter on the proxies of a Gateway it WAFs changes the WAF's settings there.
    merged: set[int] = set()
    for gateway in api.gateways:
        names = gateway.waf_filter_names
        for envoy_filter in gateway.filters:
            for patch in envoy_filter.patches:
                config = ext_proc_config({"name": patch.sub_filter, **patch.value})
                if patch.apply_to != "HTTP_FILTER" or patch.operation != "MERGE" or patch.sub_filter not in names \
                        or config is None or id(patch) in merged:
                    continue
                merged.add(id(patch))
                report(envoy_filter, f"configPatches[{patch.index}] (MERGE into the ext_proc filter "
                                     f"{patch.sub_filter!r} to the WAF agents on {gateway.where})",
                       _filter_settings(config, partial=True),
                       [g.listener_buffer() for g in api.gateways_on(envoy_filter) if g.waf_filters])
