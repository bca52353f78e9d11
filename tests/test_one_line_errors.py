"""An error is one line, whatever the offending key or value holds: a map key of the user's with a newline, a
tab, a carriage return or a Unicode line separator is shown escaped, never splitting the message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import harness
from sigsci_waf import ConfigError, SigsciRevProxyApp

BASE = {"sigsci:site": "demo", **harness.KEY_CONFIG}
BREAKS = ["\n", "\r", "\r\n", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\x00", "\x1b"]
broken = st.builds(lambda a, brk, b: a + brk + b, st.sampled_from(["A", "KEY", "x.y", "name"]),
                   st.sampled_from(BREAKS), st.sampled_from(["", "B", "_2", "tail"]))


def _app(**extra) -> dict:
    return {"name": "web", "image": "nginx:1.27", "port": 8080, **extra}


# Where a user's own key can stand: a free-form map, a key of ours misspelt, an option name.
PLACES = {
    "app env": lambda k: {"sigsci:apps": [_app(env={k: "v"})]},
    "app key": lambda k: {"sigsci:apps": [_app(**{k: 1})]},
    "agent option": lambda k: {"sigsci:apps": [_app()], "sigsci:agent": {"options": {k: "1"}}},
    "agent key": lambda k: {"sigsci:apps": [_app()], "sigsci:agent": {k: True}},
    "ingress annotation": lambda k: {"sigsci:ingress": {"service": {"annotations": {k: "v"}}}},
    "gateway key": lambda k: {"sigsci:gateway": {k: 1}},
    "injection key": lambda k: {"sigsci:injection": {"namespaces": ["shop"], k: 1}},
}


def _assert_one_line(err: ConfigError, key: str) -> None:
    text = str(err)
    assert text.isprintable(), repr(text)
    assert text == f"{err.key}: {err.problem}"
    # The key is named (in the path, or in the problem for a map whose keys are checked whole), escaped as Python
    # escapes it: `A\nB`.
    assert key.encode("unicode_escape").decode("ascii") in text, (text, key)


@pytest.mark.parametrize("place", sorted(PLACES))
@settings(max_examples=15, deadline=None)
@given(key=broken)
def test_a_key_with_a_line_break_gives_a_one_line_error_naming_it(place, key):
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, **PLACES[place](key)})
    _assert_one_line(err.value, key)


def test_the_components_arguments_too():
    with pytest.raises(ConfigError) as err:
        harness.run(lambda: SigsciRevProxyApp("web", {"secret_name": "sigsci.demo", "image": "nginx:1.27",
                                                      "port": 8080, "env": {"A\nB": "v"}}))
    _assert_one_line(err.value, "A\nB")
    assert err.value.key == "SigsciRevProxyApp 'web'.env.A\\nB"


def test_secret_config_keys_stay_redacted_when_escaped():
    with pytest.raises(ConfigError) as err:
        harness.run_config({**BASE, "sigsci:apps": [_app(env={"TOP\nSECRET": "v"})]},
                           secret_keys=[*harness.SECRET_KEYS, "sigsci:apps"])
    assert "TOP" not in str(err.value) and "SECRET" not in str(err.value).replace("[secret]", "")
    assert str(err.value).isprintable()
