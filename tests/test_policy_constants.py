"""The policy pack runs in a virtualenv of its own, without sigsci_waf, so it keeps its own copy of what it
knows about the agent and the charts (policy/sigsci_policies/constants.py). Each value must agree with the
one the package publishes, or the pack would judge stacks by rules the components no longer follow."""

import sys
from pathlib import PurePosixPath

import pytest
from pydantic import TypeAdapter, ValidationError

import harness
from sigsci_waf.agent.container import AGENT_CONTAINER, credential_env, rpc_address
from sigsci_waf.config.agent import AgentSettings
from sigsci_waf.config.kube import Digest
from sigsci_waf.ingress.flavours import FLAVOURS, MODULE_PATH

sys.path.insert(0, str(harness.ROOT / "policy"))
from sigsci_policies import constants  # noqa: E402
from sigsci_policies.valid_image_digests import _bad_digest  # noqa: E402

CHARTS = sorted({flavour.chart: flavour for flavour in FLAVOURS.values()}.items())


def test_the_agent_container_name():
    assert constants.AGENT == AGENT_CONTAINER


def test_the_credential_env_names():
    assert constants.CREDENTIAL_ENV == tuple(entry["name"] for entry in credential_env("x"))


def test_the_default_socket():
    assert constants.DEFAULT_RPC_ADDRESS == rpc_address(AgentSettings())


def test_the_module_file():
    assert constants.MODULE_PATH == MODULE_PATH
    assert constants.MODULE_FILE == PurePosixPath(MODULE_PATH).name


def test_the_pack_knows_every_chart_and_no_other():
    assert set(constants._LAYOUTS) == {chart for chart, _ in CHARTS}


@pytest.mark.parametrize("chart,flavour", CHARTS, ids=[chart for chart, _ in CHARTS])
def test_the_chart_layouts(chart, flavour):
    layout = constants._LAYOUTS[chart]
    assert (layout["config"], layout["main"], layout["http"], layout["mounts"]) == \
        (flavour.config_path, flavour.main_snippet, flavour.http_snippet, flavour.volume_mounts)


def _package_accepts(digest: str) -> bool:
    try:
        TypeAdapter(Digest).validate_python(digest)
    except ValidationError:
        return False
    return True


def _pack_accepts(digest: str) -> bool:
    return _bad_digest(f"signalsciences/sigsci-agent@{digest}") is None


SHA256 = ["sha256:" + "0123456789abcdef" * 4, "sha256:" + "a" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
          "sha256:" + "A" * 64, "sha256:" + "g" * 64, "sha256:", "SHA256:" + "a" * 64, "sha256" + "a" * 64,
          " sha256:" + "a" * 64, "sha256:" + "a" * 64 + " ", "md5:" + "a" * 32, "",
          pytest.param("sha256:" + "a" * 64 + "\n", marks=pytest.mark.xfail(
              strict=True, reason="the pack's pattern ends in `$`, which also matches before a final newline"))]


@pytest.mark.parametrize("digest", SHA256)
def test_the_pack_and_the_package_agree_on_digests(digest):
    assert _pack_accepts(digest) == _package_accepts(digest)


@pytest.mark.parametrize("digest,well_formed", [("sha384:" + "b" * 96, True), ("sha512:" + "c" * 128, True),
                                                ("sha384:" + "b" * 64, False), ("sha512:" + "c" * 96, False)])
def test_the_pack_also_accepts_the_longer_digests_a_runtime_pulls(digest, well_formed):
    """A stack sets sha256 digests only; the pack judges what a container runtime pulls, sha384 and sha512 too."""
    assert not _package_accepts(digest)
    assert _pack_accepts(digest) is well_formed
