"""Agent option values are checked by the kind the catalogue gives each option, not only their names: every
option takes a good value of its kind (and the agent's variable carries it as the agent reads it) and refuses a
bad one with a sentence naming the key; `unlistedOptions` stay unchecked, with their warning."""

import pytest

import harness
from harness import env_of

from sigsci_waf.agent.container import RevProxy, build_agent, option_env_name
from sigsci_waf.agent.option_catalogue import (CATALOGUE, Address, Boolean, Choice, Duration, Integer, Path, Size,
                                               Text)
from sigsci_waf.agent.options import KNOWN_OPTIONS, check_option_name, check_option_value, describe
from sigsci_waf.config.agent import OWNED_OPTIONS, AgentSettings
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.config.model import parse

REVPROXY = RevProxy(listener_port=8001, upstream="http://127.0.0.1:8000")


def agent(raw):
    return build_agent(parse(AgentSettings, raw, "sigsci:agent"), "sigsci.site", REVPROXY)


def good(kind):
    """(value as written, the variable's value as the agent reads it) for each kind."""
    if isinstance(kind, Boolean):
        # Go's strconv.ParseBool's spellings, as the agent reads them, written as true or false.
        return [(True, "true"), (False, "false"), ("true", "true"), ("false", "false"), ("1", "true"), (0, "false"),
                ("True", "true"), ("F", "false"), ("FALSE", "false")]
    if isinstance(kind, Integer):
        low = kind.low if kind.low is not None else -3
        high = kind.high if kind.high is not None else 2 ** 63 - 1
        return [(low, str(low)), (str(low + 1), str(low + 1)), (high, str(high))]
    if isinstance(kind, Choice):
        return [v for value, _ in kind.values for v in ((value, str(value)), (str(value), str(value)))]
    if isinstance(kind, Duration):
        return [("10s", "10s"), ("250ms", "250ms"), ("1m30s", "1m30s"), ("1.5h", "1.5h"), ("2us", "2us"),
                ("3\u00b5s", "3\u00b5s"), (250, "250"), ("100", "100")]
    if isinstance(kind, Size):
        return [(kind.low, str(kind.low)), ("307200", "307200"), (10 ** 9, str(10 ** 9))]
    if isinstance(kind, Address):
        plain = [("0.0.0.0:8125", "0.0.0.0:8125"), ("statsd.monitoring.svc:8125", "statsd.monitoring.svc:8125"),
                 ("[::1]:8125", "[::1]:8125"), (":2024", ":2024"), ("localhost:65535", "localhost:65535")]
        unix = [("/sigsci/tmp/sigsci.sock", "/sigsci/tmp/sigsci.sock"), ("unix:/var/run/x.sock", "unix:/var/run/x.sock")]
        return plain + (unix if kind.unix else [])
    if isinstance(kind, Path):
        return [("/dev/stdout", "/dev/stdout"), ("/sigsci/tmp/waf.log", "/sigsci/tmp/waf.log")]
    if isinstance(kind, Text):
        return [("anything at all", "anything at all"), (7, "7"), (True, "true")]
    raise AssertionError(f"no good values for {kind!r}: add them here")


def bad(kind):
    """Values of the wrong shape, or out of the documented range, for each kind."""
    if isinstance(kind, Boolean):
        return ["yes", "on", "tRUE", "2", 2, -1, "", " true"]
    if isinstance(kind, Integer):
        out = ["lots", "1.5", " 4", "", True, "0x10"]
        out += [kind.low - 1, str(kind.low - 1)] if kind.low is not None else []
        out += [kind.high + 1] if kind.high is not None else [2 ** 63]
        return out
    if isinstance(kind, Choice):
        values = [value for value, _ in kind.values]
        return [max(values) + 1, min(values) - 1, str(max(values) + 1), "high", True, "1.0"]
    if isinstance(kind, Duration):
        return ["10x", "-1s", "0", 0, "0s", "", "s", ".s", "10 s", "1h-5m", "3000000h", -250, True, "+5s"]
    if isinstance(kind, Size):
        return ["300KB", "1e6", kind.low - 1, -1, "-1", True, "1.5"]
    if isinstance(kind, Address):
        return ["localhost", "host:0", "host:70000", "host:http", "a b:1", "under_score:1", "::1:8125",
                "[nope]:1", 8125, True, "unix:relative", "relative/x.sock"]
    if isinstance(kind, Path):
        return ["x", "relative/path", "/a/../b", "/a\nb", 5, True, ""]
    if isinstance(kind, Text):
        return []
    raise AssertionError(f"no bad values for {kind!r}: add them here")


CHECKED = sorted(n for n in CATALOGUE if n not in OWNED_OPTIONS)
GOOD = [(name, value, seen) for name in CHECKED for value, seen in good(CATALOGUE[name])]
BAD = [(name, value) for name in CHECKED for value in bad(CATALOGUE[name])]


@pytest.mark.parametrize("name,value,seen", GOOD, ids=[f"{n}={v!r}" for n, v, _ in GOOD])
def test_every_option_takes_a_good_value_and_the_agent_reads_it(name, value, seen):
    env = env_of(agent({"options": {name: value}}).container)
    assert env[option_env_name(name)] == seen


@pytest.mark.parametrize("name,value", BAD, ids=[f"{n}={v!r}" for n, v in BAD])
def test_every_option_refuses_a_bad_value_naming_the_key(name, value):
    with pytest.raises(ConfigError) as err:
        agent({"options": {name: value}})
    assert err.value.key == f"sigsci:agent.options.{name}"
    message = str(err.value)
    assert message.endswith(f": it takes {describe(CATALOGUE[name])}")
    assert "\n" not in message


def test_every_kind_has_both_good_and_bad_values():
    kinds = {type(kind) for kind in CATALOGUE.values()}
    assert kinds == {Text, Boolean, Integer, Choice, Duration, Size, Address, Path}
    for kind in CATALOGUE.values():
        assert good(kind)
        assert bad(kind) or isinstance(kind, Text)


def test_derived_options_are_refused_before_their_values_are_read():
    for name in OWNED_OPTIONS:
        assert name in CATALOGUE, name
        [(value, _)] = good(CATALOGUE[name])[:1]
        with pytest.raises(ConfigError) as err:
            agent({"options": {name: value}})
        assert err.value.key == f"sigsci:agent.options.{name}" and "cannot be set" in str(err.value)


def test_max_procs_is_a_whole_number_of_cpus():
    for value in (-5, "lots", 0, "0", "-1", 2.5, "2.5", True):
        with pytest.raises(ConfigError) as err:
            agent({"options": {"max-procs": value}})
        assert err.value.key == "sigsci:agent.options.max-procs"
    assert env_of(agent({"options": {"max-procs": "4"}}).container)["SIGSCI_MAX_PROCS"] == "4"


def test_values_are_kept_as_the_agent_reads_them():
    settings = parse(AgentSettings, {"options": {"max-procs": "4", "inspect-websocket": "yes please",
                                                 "debug-log-blocked-requests": "true", "cleaner-interval": 250}},
                     "sigsci:agent")
    assert settings.options == {"max-procs": 4, "inspect-websocket": "yes please",
                                "debug-log-blocked-requests": True, "cleaner-interval": 250}
    # Read again (the layers of settings are merged from what each level set), they stay the same.
    assert parse(AgentSettings, settings.given(), "sigsci:agent").options == settings.options


def test_unlisted_options_stay_unchecked_with_their_warning():
    parts = agent({"unlistedOptions": {"brand-new-interval": "lots", "brand-new-count": -5}})
    env = env_of(parts.container)
    assert env["SIGSCI_BRAND_NEW_INTERVAL"] == "lots" and env["SIGSCI_BRAND_NEW_COUNT"] == "-5"
    assert sum("unlistedOptions" in w for w in parts.warnings) == 2


def test_a_known_option_under_unlisted_options_is_still_sent_to_options():
    with pytest.raises(ConfigError) as err:
        agent({"unlistedOptions": {"envoy-expect-response-data": 1}})
    assert err.value.key == "sigsci:agent.unlistedOptions.envoy-expect-response-data"
    assert "set it under options" in str(err.value)


def test_names_keep_their_did_you_mean():
    assert check_option_name("max-procs") is None
    assert "Did you mean 'max-procs'" in check_option_name("max-proc")
    assert "Did you mean 'statsd-address'" in check_option_name("statsd-adress")


def test_the_catalogue_keeps_every_confirmed_name_and_the_gateway_options():
    confirmed = {"accesskeyid", "secretaccesskey", "anonymous-ip-secret-key", "server-hostname", "rpc-address",
                 "revproxy-listener", "bypass-egress-proxy-for-upstreams", "client-ip-header", "inspect-websocket",
                 "startup-probe-listener", "startup-probe-filepath", "config", "shared-cache-dir",
                 "cleaner-interval", "context-expiration", "upload-interval", "max-procs",
                 "custom-request-headers", "log-out", "waf-data-log", "debug-log-all-the-things",
                 "debug-log-blocked-requests", "debug-log-config-updates", "debug-log-connection-errors",
                 "debug-log-web-inputs", "debug-log-web-outputs", "statsd-address", "statsd-metrics"}
    gateway = {"envoy-grpc-address", "envoy-grpc-cert", "envoy-grpc-key", "envoy-extproc-enabled", "server-flavor"}
    examples = set(VENDOR_EXAMPLES)
    assert confirmed | gateway | examples <= KNOWN_OPTIONS
    assert set(OWNED_OPTIONS) <= KNOWN_OPTIONS


# Each option the vendor's example configurations name, with the value they give it (the catalogue's sources).
VENDOR_EXAMPLES = {
    "debug-log-engine-errors": "2", "debug-log-proxy-requests": "true", "debug-log-rpc-data": "true",
    "debug-log-verbosity": 3, "debug-rpc-test-harness": True, "debug-standalone": "3",
    "download-interval": "5s", "inspection-timeout": "1ms", "rpc-version": 1,
    "haproxy-spoa-address": "unix:/sigsci/tmp/sigsci-ha.sock",
    "open-api-spec-file": "https://petstore3.swagger.io/api/v3/openapi.json",
    "upload-interval": "5s", "inspect-websocket": "true",
}


@pytest.mark.parametrize("name,value", sorted(VENDOR_EXAMPLES.items()))
def test_the_vendor_examples_pass_as_written(name, value):
    env = env_of(agent({"options": {name: value}}).container)
    assert env[option_env_name(name)] == (str(value).lower() if isinstance(value, bool) else str(value))


@pytest.mark.parametrize("name,value", [
    ("debug-log-engine-errors", -1), ("debug-log-verbosity", "loud"), ("debug-standalone", True),
    ("rpc-version", -1), ("rpc-version", "v1"), ("debug-log-proxy-requests", "yes"),
    ("debug-rpc-test-harness", ""), ("download-interval", "0s"), ("download-interval", "5 seconds"),
])
def test_the_vendor_example_options_refuse_values_of_another_kind(name, value):
    with pytest.raises(ConfigError) as err:
        agent({"options": {name: value}})
    assert err.value.key == f"sigsci:agent.options.{name}"


def test_the_changelog_counts_the_catalogue():
    import re

    text = (harness.ROOT / "CHANGELOG.md").read_text()
    assert [int(n) for n in re.findall(r"a catalogue of (\d+) options", text)] == [len(CATALOGUE)]


def test_durations_follow_go_and_the_bare_milliseconds_rule():
    for value in ("1h", "1.5s", ".5s", "1.s", "1h2m3s4ms5us6ns", "1\u03bcs", "9223372036854ms", 9223372036854):
        assert check_option_value("context-expiration", value)[1] is None, value
    for value in ("9223372036855ms", 9223372036855, "2562048h", "1d", "1H", "1.5", "h1"):
        assert check_option_value("context-expiration", value)[1] is not None, value


def test_an_unlisted_name_passes_the_value_check_as_written():
    assert check_option_value("brand-new-option", "lots") == ("lots", None)


def test_a_bad_value_in_the_shared_settings_is_reported_there():
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:agent": {"options": {"max-procs": "lots"}},
              "sigsci:apps": [{"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080,
                               "agent": {"version": "4.69.0"}}]}
    with pytest.raises(ConfigError) as err:
        harness.run_config(config)
    assert err.value.key == "sigsci:agent.options.max-procs"


def test_a_bad_value_from_secret_config_is_not_repeated():
    from sigsci_waf.program import main

    planted = "PLANTEDmaxPROCSvalue"
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG, "sigsci:agent": {"options": {"max-procs": planted}},
              "sigsci:apps": [{"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}]}
    with pytest.raises(ConfigError) as err:
        harness.run(main, config, secret_keys=[*harness.SECRET_KEYS, "sigsci:agent"])
    # Map keys of secret config are redacted in the key too (sensitive.py): the place is still named.
    assert err.value.key.startswith("sigsci:agent.options.")
    assert planted not in str(err.value) and "is not a whole number" in str(err.value)


def test_the_configuration_docs_list_every_checked_option_under_its_kind():
    import re

    labels = {"true/false": Boolean, "whole number": Integer, "level": Choice, "duration": Duration, "size": Size,
              "address": Address, "path": Path, "text": Text}
    text = (harness.ROOT / "docs" / "configuration.md").read_text()
    section = text.split("### Agent options", 1)[1].split("\n## ", 1)[0]
    listed = {}
    for row in section.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in labels:
            for name in re.findall(r"`([a-z0-9-]+)`", cells[3]):
                listed[name] = labels[cells[0]]
    assert listed == {name: type(CATALOGUE[name]) for name in CHECKED}


# Every shape that runs an agent, each with the settings at its own level (`agent`) and, where the shape has one
# and nothing else does, the shared ones (`sigsci:agent`): the preview says the same of the same settings.
_WEB = {"name": "web", "image": "nginxinc/nginx-unprivileged:1.27", "port": 8080}
_PATCHED = {"name": "web", "placement": "patch", "port": 8080, "deployment": "web", "service": "web",
            "takeOver": ["service.targetPort"]}
_SHAPES = {
    "owned": ("sigsci:apps", [_WEB]),
    "patch": ("sigsci:apps", [_PATCHED]),
    "service": ("sigsci:apps", [{"name": "web", "placement": "service", "upstreamService": "web-app", "port": 8080}]),
    "module": ("sigsci:apps", [{**_WEB, "placement": "module"}]),
    "injection": ("sigsci:injection", {"namespaces": ["shop"]}),
    "ingress-native": ("sigsci:ingress", {"agentLifetime": "nativeSidecar"}),
    "ingress-classic": ("sigsci:ingress", {"agentLifetime": "classicSidecar"}),
    "ingress-service": ("sigsci:ingress", {"agentLifetime": "service"}),
    "nginx-ingress-service": ("sigsci:ingress", {"flavour": "nginx-ingress", "agentLifetime": "service"}),
    "gateway-envoy": ("sigsci:gateway", {}),
    "gateway-istio": ("sigsci:gateway", {"implementation": "istio"}),
}
_PLANTED = {"unlistedOptions": {"plantedopt-zz": "x"}, "version": "latest"}


def _shape(shape: str, level: str, agent: dict) -> dict:
    key, entry = _SHAPES[shape]
    config = {"sigsci:site": "demo", **harness.KEY_CONFIG}
    if level == "shared":
        return {**config, "sigsci:agent": agent, key: entry}
    if isinstance(entry, list):
        return {**config, key: [{**app, "agent": agent} for app in entry]}
    return {**config, key: {**entry, "agent": agent}}


@pytest.mark.parametrize("level", ["own", "shared"])
@pytest.mark.parametrize("shape", sorted(_SHAPES))
def test_every_shape_warns_of_its_agents_settings_once(shape, level):
    """An unlisted option reaches the agent (injection: its parameters) and the preview says it goes unchecked;
    the `latest` tag is warned too: the same sentences whatever the shape, once each."""
    import json

    run = harness.run_config(_shape(shape, level, _PLANTED))
    assert "SIGSCI_PLANTEDOPT_ZZ" in json.dumps([r.inputs for r in run.resources if not r.read])
    unlisted = [w for w in run.warnings if "agent option 'plantedopt-zz' (unlistedOptions) is not in the known "
                                           "option list" in w]
    latest = [w for w in run.warnings if "the agent image tag is 'latest'" in w]
    assert len(unlisted) == 1 and len(latest) == 1, run.warnings
    pinned = harness.run_config(_shape(shape, level, {"version": "4.70.0"}))
    assert not [w for w in pinned.warnings if "unlistedOptions" in w or "'latest'" in w], pinned.warnings


@pytest.mark.parametrize("shape", ["injection", "ingress-native", "gateway-envoy"])
def test_an_unlisted_option_name_from_secret_config_is_warned_unnamed(shape):
    key = _SHAPES[shape][0]
    run = harness.run_config(_shape(shape, "own", {"unlistedOptions": {"plantedopt-zz": "x"}}),
                             secret_keys=[*harness.SECRET_KEYS, key])
    unlisted = [w for w in run.warnings if "(unlistedOptions) is not in the known option list" in w]
    assert len(unlisted) == 1 and "plantedopt" not in unlisted[0], run.warnings


def test_the_injection_component_warns_as_the_stack_does():
    """SigsciInjection called from Python says what the stack program says of the same settings."""
    from sigsci_waf import SigsciInjection

    def program():
        SigsciInjection("inj", {"secret_name": "sigsci.demo", "namespaces": ["shop"], "agent": {
            "unlisted_options": {"plantedopt-zz": "x"}, "version": "latest"}})

    run = harness.run(program)
    assert [w.split(": ", 1)[0] for w in run.warnings if "plantedopt-zz" in w or "'latest'" in w] == \
        ["SigsciInjection 'inj'"] * 2, run.warnings


@pytest.mark.parametrize("shape, says", [
    ("module", "does not apply to this module app: its agent runs as the app's user (10001)"),
    ("injection", "does not apply to injection: its agent runs as the pod's user"),
    ("ingress-native", "does not apply to this controller: its agent runs as nginx's user (101)"),
    ("ingress-classic", "does not apply to this controller: its agent runs as nginx's user (101)"),
])
def test_a_shared_run_as_user_an_agent_beside_its_socket_does_not_take_is_warned(shape, says):
    """The agent runs as the user of the process that opens its socket; a shared runAsUser it does not take is
    said at preview, by every shape that puts it there; the shapes that take it say nothing."""
    run = harness.run_config(_shape(shape, "shared", {"runAsUser": 3000}))
    warned = [w for w in run.warnings if "runAsUser" in w]
    assert len(warned) == 1 and f"the shared agent.runAsUser (3000) {says}" in warned[0], run.warnings
    for taken in ("owned", "service", "ingress-service", "gateway-envoy"):
        assert not [w for w in harness.run_config(_shape(taken, "shared", {"runAsUser": 3000})).warnings
                    if "runAsUser" in w], taken


def test_an_injected_agents_own_run_as_user_is_warned_not_silently_dropped():
    run = harness.run_config(_shape("injection", "own", {"runAsUser": 3000}))
    assert any(w.endswith("agent.runAsUser (3000) does not apply to injection: its agent runs as the pod's user, "
                          "so that the socket it creates is the pod's") and "shared" not in w for w in run.warnings)
