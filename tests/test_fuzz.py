"""Generated stack configs with known outcomes: each valid one builds a stack that passes the Kubernetes schemas and
every invariant; each hostile one stops the preview with a ConfigError naming the key it broke, before any
resource is declared.

A refused valid config, an accepted hostile one, an error naming another key, any other exception, an invalid
object or a broken invariant fails, and hypothesis shrinks the config to a small one that shows it. Generation is
seeded: `SIGSCI_FUZZ_SEED=<n>` explores other configs, `SIGSCI_FUZZ_EXAMPLES=<n>` sets how many valid configs
are built (twice as many hostile ones are tried, shared among the kinds of break, and the gateway's and injection's
kinds more at the same rate: they stop before any resource), and a failure replays with the same seed.
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

import crd_schema
import gateway_docs
import harness
import invariants
from fuzz_configs import (GATEWAY_KEYS, HOSTILE_KINDS, SCOPED_KINDS, check_gateway_keys, check_schema_keys,
                          hostile_config, names_the_key, stack_config)
from schema_check import validate_run
from sigsci_waf.config.errors import ConfigError

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


# Without the pinned CRDs (tests/reference.py) the Gateway API and Envoy Gateway objects go unchecked against them,
# and the runs say so, rather than every run that draws a gateway skipping its other checks too.
CRDS_MISSING = crd_schema.missing()


def _cluster(config: dict) -> harness.CaptureMocks:
    """Mocks holding what harness.fill_live makes up for each app's live objects, and the existing Gateway
    run_config would add, merged where two objects of different kinds share a namespace and name (one app's
    Service `a`, another's Deployment `a`, or the Gateway `a`): the mocks answer a read by id alone, and fill_live
    and run_config keep only the first object of an id, so the other read would get a Service for its Deployment
    or Gateway."""
    mocks = harness.CaptureMocks()
    held_by = []
    for app in config.get("sigsci:apps") or []:
        alone = harness.CaptureMocks()
        harness.fill_live({"sigsci:apps": [app]}, alone)
        held_by.append(alone.live)
    gateway = config.get("sigsci:gateway") or {}
    if "existingGateway" in gateway:
        existing = gateway["existingGateway"]
        held_by.append(harness.existing_gateway(existing["namespace"], existing["name"], harness.GATEWAY_CONTROLLERS[
            gateway.get("implementation", gateway_docs.IMPLEMENTATIONS[0])]))
    for live in held_by:
        for live_id, held in live.items():
            merged = mocks.live.setdefault(live_id, {"spec": {}})
            merged["spec"] = {**merged["spec"], **held["spec"]}
    return mocks


def builds(config: dict, secret_keys: list[str]) -> harness.Run:
    """The stack `config` declares, which must keep every invariant and pass the Kubernetes schemas (and the
    CRDs' own, custom resources)."""
    try:
        run = harness.run_config(config, mocks=_cluster(config), secret_keys=secret_keys)
    except ConfigError as err:
        raise AssertionError(f"a valid config was refused: {err}\n{json.dumps(config)}") from None
    problems = invariants.violations(run, config)
    assert problems == [], "\n".join(problems)
    validate_run(run, custom=CRDS_MISSING is None)
    return run


# What waits for the check of an existing Gateway against the cluster (docs/gateway.md).
RELIES_ON_THE_GATEWAY = {"EnvoyExtensionPolicy", "ClientTrafficPolicy", "EnvoyFilter", "HTTPRoute"}


def refused(config: dict, secret_keys: list[str], expected: tuple[str, ...], live: dict | None = None) -> ConfigError:
    """The ConfigError `config` must stop with: naming one of `expected` (or a key inside it), in one line,
    without the keys, before any resource is declared; or, for what only the cluster (`live`) shows, before
    anything that relies on it: what relies on an existing Gateway, the patch of an existing Deployment."""
    # What the case says the cluster holds (run_config adds what it makes up for the rest to the same dict).
    read = set(live or ())
    gateway_read = any("gatewayClassName" in (held.get("spec") or {}) for held in (live or {}).values())
    mocks = harness.CaptureMocks(live=live)
    try:
        harness.run_config(config, mocks=mocks, secret_keys=secret_keys)
    except ConfigError as err:
        _note(f"ConfigError: {err}")
        assert err.key.startswith("sigsci:") and err.problem, err
        assert str(err) == f"{err.key}: {err.problem}"
        assert any(names_the_key(err.key, key) for key in expected), \
            f"the error names {err.key}, not {' or '.join(expected)}: {err}"
        assert harness.PLANTED_KEY_ID not in str(err) and harness.PLANTED_SECRET not in str(err)
        if live is None:
            assert mocks.resources == [], "resources were declared before the config error"
        else:
            declared = {harness.clean(r.inputs).get("kind") for r in mocks.resources if not r.read}
            if gateway_read:
                assert not declared & RELIES_ON_THE_GATEWAY, \
                    f"{declared & RELIES_ON_THE_GATEWAY} declared before the check"
            patched = [f"{meta.get('namespace')}/{meta.get('name')}" for r in mocks.resources
                       if r.type.endswith("DeploymentPatch") and not r.read
                       for meta in [harness.clean(r.inputs).get("metadata") or {}]]
            assert not read & set(patched), f"the patch of {read & set(patched)} declared before the check"
        return err
    raise AssertionError(f"accepted; expected a ConfigError naming {' or '.join(expected)}")


def _coverage(config: dict, outcomes: Counter) -> None:
    for app in config.get("sigsci:apps", []):
        placement = app.get("placement", "owned")
        outcomes[f"placement {placement}{' existing' if placement == 'module' and 'deployment' in app else ''}"] += 1
        outcomes["module rpcPort"] += "rpcPort" in app
    ingress = config.get("sigsci:ingress")
    if ingress:
        outcomes[f"flavour {ingress['flavour']}"] += 1
        outcomes[f"lifetime {ingress['agentLifetime']}"] += 1
        outcomes["routes"] += bool(ingress.get("routes"))
    outcomes["shared agent"] += "sigsci:agent" in config
    outcomes["existing secret" if "sigsci:existingSecret" in config else "created secret"] += 1
    injection = config.get("sigsci:injection")
    if injection is not None:
        outcomes["injection"] += 1
        outcomes["injection without apps"] += "sigsci:apps" not in config  # "sigsci:apps: required unless ..."
        outcomes["injection agent"] += "agent" in injection
    gateway = config.get("sigsci:gateway")
    if gateway is not None:
        outcomes["gateway"] += 1
        outcomes["gateway beside the ingress" if ingress else "gateway without the ingress"] += 1
        outcomes["gateway existing" if "existingGateway" in gateway else "gateway created"] += 1
        outcomes[f"gateway {gateway.get('implementation', 'envoyGateway')}"] += 1
        outcomes["gateway ingressRoutes"] += gateway.get("ingressRoutes") is True
        outcomes["gateway routes"] += bool(gateway.get("routes"))
        outcomes["gateway agents tls"] += "tls" in gateway.get("agents", {})
        outcomes["gateway failOpen"] += gateway.get("failOpen") is True
        outcomes.update(f"gateway key {key}" for key in _documented_keys(gateway))
    verify = config.get("sigsci:verify")
    if verify is not None:
        outcomes["verify echo"] += 1
        outcomes.update(f"verify {key}" for key in verify if key != "echo")


def _documented_keys(settings: dict, prefix: str = "") -> set[str]:
    """The keys of docs/configuration.md's sigsci:gateway table that `settings` sets ('routes[].service.port')."""
    keys = set()
    for key, value in settings.items():
        path = prefix + key
        if path in GATEWAY_KEYS or not isinstance(value, (dict, list)):
            keys.add(path)
        elif isinstance(value, dict):
            keys |= _documented_keys(value, path + ".")
        else:
            for item in value:
                keys |= _documented_keys(item, path + "[].")
    return keys


COVERAGE = {"placement owned", "placement patch", "placement service", "placement module",
            "placement module existing", "module rpcPort", "injection", "injection without apps", "injection agent",
            "flavour ingress-nginx",
            "flavour ingress-nginx-chainguard", "flavour nginx-ingress", "lifetime nativeSidecar",
            "lifetime classicSidecar", "lifetime service", "routes", "shared agent", "existing secret",
            "created secret", "gateway", "gateway beside the ingress", "gateway without the ingress",
            "gateway existing", "gateway created", "gateway envoyGateway", "gateway istio", "gateway routes",
            "gateway ingressRoutes", "gateway agents tls", "gateway failOpen", "verify echo", "verify namespace",
            "verify host", "verify image", "verify resources"}


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
    keys = {k.removeprefix("gateway key ") for k in outcomes if k.startswith("gateway key ")}
    print(f"valid configs (seed {SEED}): {({k: v for k, v in outcomes.items() if not k.startswith('gateway key ')})}"
          f"; gateway keys set: {len(keys)} of {len(GATEWAY_KEYS)}")
    if CRDS_MISSING:
        print(f"gateway objects not checked against their CRDs: {CRDS_MISSING}")
    assert outcomes["built"] >= EXAMPLES
    if EXAMPLES >= 200:
        assert COVERAGE <= {k for k in outcomes if outcomes[k] >= 10}, dict(outcomes)
        # Every key of the gateway's table in docs/configuration.md, set in some config that built.
        assert set(GATEWAY_KEYS) <= keys, f"never set: {sorted(set(GATEWAY_KEYS) - keys)}"


def test_the_fuzzing_knows_every_documented_gateway_key():
    """A key (or a choice's value) docs/configuration.md's sigsci:gateway table adds fails here, naming it, until
    tests/fuzz_configs.py generates it; as does a key the table drops."""
    check_gateway_keys()


def test_the_fuzzing_knows_every_documented_app_and_injection_key():
    """Likewise for the sigsci:apps[], sigsci:injection and sigsci:verify tables."""
    check_schema_keys()


# Twice as many hostile configs as valid ones for the kinds of break of the apps, the ingress and the shared keys,
# shared among them by weight; the gateway's and injection's kinds get theirs at the same rate, on top.
STACK_WEIGHT = sum(weight for kind, weight in HOSTILE_KINDS.items() if not kind.startswith(tuple(SCOPED_KINDS)))


@pytest.mark.parametrize("kind", list(HOSTILE_KINDS))
def test_hostile_configs_are_refused_naming_the_key(kind):
    examples = max(5, 2 * EXAMPLES * HOSTILE_KINDS[kind] // STACK_WEIGHT)

    @_fuzz(examples)
    @seed(SEED + 1)
    @given(hostile_config(kind))
    def hostile(case):
        _note(f"{case.what}; the error must name {' or '.join(case.expected)}")
        refused(case.config, case.secret_keys, case.expected, case.live)

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
