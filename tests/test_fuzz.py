"""Generated stack configs with known outcomes: each valid one builds a stack that passes the Kubernetes schemas and
every invariant; each hostile one stops the preview with a ConfigError naming the key it broke, before any
resource is declared.

A refused valid config, an accepted hostile one, an error naming another key, any other exception, an invalid
object or a broken invariant fails, and hypothesis shrinks the config to a small one that shows it. Generation is
seeded: `SIGSCI_FUZZ_SEED=<n>` explores other configs, `SIGSCI_FUZZ_EXAMPLES=<n>` sets how many valid configs
are built (twice as many hostile ones are tried, shared among the kinds of break: they stop before any resource),
and a failure replays with the same seed.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis.control import currently_in_test_context

import harness
import invariants
from fuzz_configs import HOSTILE_KINDS, hostile_config, names_the_key, stack_config
from schema_check import validate_run
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.program import main

SEED = int(os.environ.get("SIGSCI_FUZZ_SEED", "20261123"))
EXAMPLES = int(os.environ.get("SIGSCI_FUZZ_EXAMPLES", "400"))
# CI reports a failure as found, with its seed and replay blob, and leaves shrinking (minutes for a big
# config) to a local run, so a red run still ends well inside CI's time limit.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if os.environ.get("CI") else [Phase.shrink])


def _fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@contextlib.contextmanager
def _frozen_heap():
    """Everything alive before the fuzzing stays out of the full collection each run ends with (harness.run), so
    that collection walks only what the runs made: a fraction of the heap, and of the time, in a long session."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _note(text: str) -> None:
    if currently_in_test_context():
        note(text)


def builds(config: dict, secret_keys: list[str]) -> harness.Run:
    """The stack `config` declares, which must keep every invariant and pass the Kubernetes schemas."""
    try:
        run = harness.run(main, config, secret_keys)
    except ConfigError as err:
        raise AssertionError(f"a valid config was refused: {err}\n{json.dumps(config)}") from None
    problems = invariants.violations(run, config)
    assert problems == [], "\n".join(problems)
    validate_run(run)
    return run


def refused(config: dict, secret_keys: list[str], expected: tuple[str, ...]) -> ConfigError:
    """The ConfigError `config` must stop with: naming one of `expected` (or a key inside it), in one line,
    without the keys, before any resource is declared."""
    mocks = harness.CaptureMocks()
    try:
        harness.run(main, config, secret_keys, mocks=mocks)
    except ConfigError as err:
        _note(f"ConfigError: {err}")
        assert err.key.startswith("sigsci:") and err.problem, err
        assert str(err) == f"{err.key}: {err.problem}"
        assert any(names_the_key(err.key, key) for key in expected), \
            f"the error names {err.key}, not {' or '.join(expected)}: {err}"
        assert harness.PLANTED_KEY_ID not in str(err) and harness.PLANTED_SECRET not in str(err)
        assert mocks.resources == [], "resources were declared before the config error"
        return err
    raise AssertionError(f"accepted; expected a ConfigError naming {' or '.join(expected)}")


def _coverage(config: dict, outcomes: Counter) -> None:
    for app in config.get("sigsci:apps", []):
        outcomes[f"placement {app.get('placement', 'owned')}"] += 1
    ingress = config.get("sigsci:ingress")
    if ingress:
        outcomes[f"flavour {ingress['flavour']}"] += 1
        outcomes[f"lifetime {ingress['agentLifetime']}"] += 1
        outcomes["routes"] += bool(ingress.get("routes"))
    outcomes["shared agent"] += "sigsci:agent" in config
    outcomes["existing secret" if "sigsci:existingSecret" in config else "created secret"] += 1


COVERAGE = {"placement owned", "placement patch", "placement service", "flavour ingress-nginx",
            "flavour ingress-nginx-chainguard", "flavour nginx-ingress", "lifetime nativeSidecar",
            "lifetime classicSidecar", "lifetime service", "routes", "shared agent", "existing secret",
            "created secret"}


def test_valid_configs_build_valid_stacks():
    outcomes: Counter = Counter()

    @_fuzz(EXAMPLES)
    @seed(SEED)
    @given(stack_config())
    def valid(config):
        builds(config, [k for k in harness.SECRET_KEYS if k in config])
        outcomes["built"] += 1
        _coverage(config, outcomes)

    with _frozen_heap():
        valid()
    print(f"valid configs (seed {SEED}): {dict(outcomes)}")
    assert outcomes["built"] >= EXAMPLES
    if EXAMPLES >= 200:
        assert COVERAGE <= {k for k in outcomes if outcomes[k] >= 10}, dict(outcomes)


@pytest.mark.parametrize("kind", list(HOSTILE_KINDS))
def test_hostile_configs_are_refused_naming_the_key(kind):
    examples = max(5, 2 * EXAMPLES * HOSTILE_KINDS[kind] // sum(HOSTILE_KINDS.values()))

    @_fuzz(examples)
    @seed(SEED + 1)
    @given(hostile_config(kind))
    def hostile(case):
        _note(f"{case.what}; the error must name {' or '.join(case.expected)}")
        refused(case.config, case.secret_keys, case.expected)

    with _frozen_heap():
        hostile()


# -- the checks themselves can fail ----------------------------------------------------------------------------

VALID = {"sigsci:apps": [{"name": "web", "port": 8080, "image": "example/web:1.0"}], "sigsci:existingSecret": "keys"}


def test_a_refused_valid_config_fails():
    config = {**VALID, "sigsci:apps": [{**VALID["sigsci:apps"][0], "listenerPort": 8080}]}
    try:
        builds(config, [])
    except AssertionError as err:
        assert "a valid config was refused: sigsci:apps[0].listenerPort" in str(err)
    else:
        raise AssertionError("builds() passed a refused config")


def test_an_accepted_hostile_config_and_an_error_on_another_key_fail():
    for config, expected, message in [
        (VALID, ("sigsci:apps[0].name",), "accepted"),
        ({**VALID, "sigsci:apps": [{**VALID["sigsci:apps"][0], "port": "web"}]}, ("sigsci:apps[0].name",),
         "the error names sigsci:apps[0].port, not sigsci:apps[0].name"),
    ]:
        try:
            refused(config, [], expected)
        except AssertionError as err:
            assert message in str(err)
        else:
            raise AssertionError(f"refused() passed {config}")


def test_names_the_key_takes_the_key_or_one_inside_it():
    assert names_the_key("sigsci:apps[0].agent", "sigsci:apps[0].agent")
    assert names_the_key("sigsci:apps[0].agent.version", "sigsci:apps[0].agent")
    assert names_the_key("sigsci:apps[0].name.a.a.…", "sigsci:apps[0].name")
    assert names_the_key("sigsci:apps[0]", "sigsci:apps")
    assert not names_the_key("sigsci:apps[0].agentx", "sigsci:apps[0].agent")
    assert not names_the_key("sigsci:apps[1].name", "sigsci:apps[0].name")
    assert not names_the_key("sigsci:existing_secret", "sigsci:existingSecret")
