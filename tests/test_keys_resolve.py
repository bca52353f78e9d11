"""Agent keys given as outputs of other resources are checked when their values are known: one that resolves
to nothing, to an empty string or to something else than a string fails the update, naming the argument, before
the Secret that carries it, and so before any pod that reads it, is created or changed."""

from __future__ import annotations

import pulumi
import pytest

import harness
from sigsci_waf import ConfigError, SigsciRevProxyApp, SigsciSecret

GOOD = "0f6a3c1e-PLANTED-KEY-ID-7d2b9e4a5c3f"


def _program(access_key_id, secret_access_key=GOOD):
    def program():
        keys = SigsciSecret("keys", {"namespaces": ["web"], "site": "demo", "access_key_id": access_key_id,
                                     "secret_access_key": secret_access_key})
        SigsciRevProxyApp("web", {"namespace": "web", "image": "nginx:1.27", "port": 8080,
                                  "secret_name": keys.secret_name, "credentials_hash": keys.credentials_hash},
                          opts=pulumi.ResourceOptions(depends_on=[keys]))
    return program


@pytest.mark.parametrize("value, words", [
    (lambda: pulumi.Output.from_input(None), "resolved to nothing"),
    (lambda: pulumi.Output.from_input(""), "resolved to an empty string"),
    (lambda: pulumi.Output.from_input("   "), "resolved to an empty string"),
    (lambda: pulumi.Output.from_input(42), "resolved to a int"),
    (lambda: pulumi.Output.secret(None), "resolved to nothing"),
], ids=["none", "empty", "blank", "int", "secret-none"])
@pytest.mark.parametrize("which", ["access_key_id", "secret_access_key"])
def test_a_key_output_that_resolves_to_nothing_fails_before_any_agent_rolls(value, words, which):
    mocks = harness.CaptureMocks()
    args = {"access_key_id": GOOD, "secret_access_key": GOOD, which: value()}
    with pytest.raises(ConfigError) as err:
        harness.run(_program(**args), mocks=mocks)
    assert err.value.key == f"SigsciSecret 'keys'.{which}" and words in err.value.problem
    assert str(err.value).isprintable()
    # Neither the Secret nor a workload that reads it was created.
    created = {r.type for r in mocks.resources if not r.read}
    assert "kubernetes:core/v1:Secret" not in created
    assert "kubernetes:apps/v1:Deployment" not in created


def test_a_key_output_with_a_value_passes_and_stays_secret():
    run = harness.run(_program(pulumi.Output.from_input(GOOD)))
    [secret] = run.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"].get(harness.SECRET_SIG) or \
        secret.inputs["stringData"]["accesskeyid"].get(harness.SECRET_SIG)
