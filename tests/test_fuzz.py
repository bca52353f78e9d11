"""Generated stack configs, thousands per run: each one either yields a stack that passes the Kubernetes
schemas and every invariant, or stops the preview with a ConfigError naming a key of that config.

Any other exception, an invalid object or a broken invariant fails, and hypothesis shrinks the config
to a small one that shows it. Generation is seeded: `SIGSCI_FUZZ_SEED=<n>` explores other configs,
`SIGSCI_FUZZ_EXAMPLES=<n>` sets how many per test, and a failure replays with the same seed.
"""

from __future__ import annotations

import os
import re
from collections import Counter

from hypothesis import HealthCheck, Phase, given, note, seed, settings
from hypothesis.control import currently_in_test_context

import harness
import invariants
from fuzz_configs import hostile_config, stack_config
from schema_check import validate_run
from sigsci_waf.config.errors import ConfigError
from sigsci_waf.program import main

SEED = int(os.environ.get("SIGSCI_FUZZ_SEED", "20261123"))
# Per test; the two tests together stay above 2,000 configs per run at the default.
EXAMPLES = int(os.environ.get("SIGSCI_FUZZ_EXAMPLES", "1100"))
# CI reports a failure as found, with its seed and replay blob, and leaves shrinking (minutes for a big
# config) to a local run, so a red run still ends well inside CI's time limit.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if os.environ.get("CI") else [Phase.shrink])
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True, phases=PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[]+)")


def _tokens(key: str) -> tuple[str, list]:
    """`sigsci:apps[0].agent.version` -> ('sigsci:apps', [0, 'agent', 'version'])."""
    top, rest = re.match(r"^([^.\[]+)(.*)$", key).groups()
    return top, [int(index) if index else name for index, name in _TOKEN.findall(rest)]


def _resolves(node, parts: list) -> bool:
    """True if `parts` lead through `node`, the last one allowed to be missing (a required key).
    Dots inside a key (annotation and option names) are tried as part of the key."""
    if not parts:
        return True
    head = parts[0]
    if isinstance(head, int):
        return isinstance(node, list) and head < len(node) and _resolves(node[head], parts[1:])
    if not isinstance(node, dict):
        return False
    for j in range(len(parts), 0, -1):
        if all(isinstance(p, str) for p in parts[:j]):
            joined = ".".join(parts[:j])
            if joined in node:
                return _resolves(node[joined], parts[j:])
    return len(parts) == 1


def names_a_key(key: str, config: dict) -> bool:
    """The error's key is in the config, is a missing required key under it, or is a key of the agent
    settings an app or the ingress merged from `sigsci:agent`."""
    top, parts = _tokens(key)
    if top not in config:
        return not parts
    if _resolves(config[top], parts):
        return True
    if "agent" in parts and "sigsci:agent" in config:
        return _resolves(config["sigsci:agent"], parts[parts.index("agent") + 1:])
    return False


def check(config: dict, secret_keys: list[str], outcomes: Counter) -> None:
    mocks = harness.CaptureMocks()
    try:
        run = harness.run(main, config, secret_keys, mocks=mocks)
    except ConfigError as err:
        if currently_in_test_context():
            note(f"ConfigError: {err}")
        assert err.key.startswith("sigsci:") and err.problem, err
        assert str(err) == f"{err.key}: {err.problem}"
        assert names_a_key(err.key, config), f"{err.key} names no key of the config"
        assert harness.PLANTED_KEY_ID not in str(err) and harness.PLANTED_SECRET not in str(err)
        assert mocks.resources == [], "resources were declared before the config error"
        outcomes["config error"] += 1
        return
    problems = invariants.violations(run, config)
    assert problems == [], "\n".join(problems)
    validate_run(run)
    outcomes["valid"] += 1
    _coverage(config, outcomes)


def _coverage(config: dict, outcomes: Counter) -> None:
    apps = config.get("sigsci:apps")
    for app in apps if isinstance(apps, list) else []:
        outcomes[f"placement {app.get('placement', 'owned')}"] += 1
    ingress = config.get("sigsci:ingress")
    if isinstance(ingress, dict):
        outcomes[f"flavour {ingress.get('flavour', 'ingress-nginx')}"] += 1
        outcomes[f"lifetime {ingress.get('agentLifetime', 'nativeSidecar')}"] += 1
    outcomes["existing secret" if "sigsci:existingSecret" in config else "created secret"] += 1


COVERAGE = {"placement owned", "placement patch", "placement service", "flavour ingress-nginx",
            "flavour ingress-nginx-chainguard", "flavour nginx-ingress", "lifetime nativeSidecar",
            "lifetime classicSidecar", "lifetime service", "existing secret", "created secret"}


def test_plausible_configs_build_valid_stacks_or_name_the_key():
    outcomes: Counter = Counter()

    @FUZZ
    @seed(SEED)
    @given(stack_config())
    def plausible(config):
        check(config, [k for k in harness.SECRET_KEYS if k in config], outcomes)

    plausible()
    total = outcomes["valid"] + outcomes["config error"]
    print(f"plausible configs (seed {SEED}): {dict(outcomes)}")
    assert total >= EXAMPLES
    # Most plausible configs must get through, or the fuzzing proves little about the stacks we emit.
    assert outcomes["valid"] >= total // 3 and outcomes["config error"] > 0, dict(outcomes)
    if EXAMPLES >= 200:
        assert COVERAGE <= {k for k in outcomes if outcomes[k] >= 10}, dict(outcomes)


def test_hostile_configs_never_crash_and_name_the_key():
    outcomes: Counter = Counter()

    @FUZZ
    @seed(SEED + 1)
    @given(hostile_config())
    def hostile(case):
        config, secret_keys, what = case
        note(f"mutation: {what}")
        check(config, secret_keys, outcomes)

    hostile()
    total = outcomes["valid"] + outcomes["config error"]
    print(f"hostile configs (seed {SEED + 1}): {dict(outcomes)}")
    assert total >= EXAMPLES
    assert outcomes["config error"] >= total // 2, dict(outcomes)


# -- the checks themselves can fail ----------------------------------------------------------------------------

def test_names_a_key_finds_keys_and_refuses_others():
    config = {"sigsci:apps": [{"name": "web", "agent": {"options": {"log-out": "x"}}}],
              "sigsci:agent": {"startupProbe": {"enabled": True}},
              "sigsci:ingress": {"service": {"annotations": {"example.com/team": "a"}}}}
    assert names_a_key("sigsci:apps[0].name", config)
    assert names_a_key("sigsci:apps[0].image", config)  # required, missing
    assert names_a_key("sigsci:apps[0].agent.options.log-out", config)
    assert names_a_key("sigsci:apps[0].agent.startupProbe.enabled", config)  # merged from sigsci:agent
    assert names_a_key("sigsci:ingress.service.annotations.example.com/team", config)
    assert names_a_key("sigsci:site", config)  # required, missing
    assert not names_a_key("sigsci:apps[1].name", config)
    assert not names_a_key("sigsci:apps[0].agent.resources.limits.cpu", config)
    assert not names_a_key("sigsci:ingress.routes[0].app", config)
