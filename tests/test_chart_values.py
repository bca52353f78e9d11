"""The Helm values we send use only key paths the target chart has.

The charts' default values.yaml files are reference data, not part of the project: the tests that read them are
marked `reference` and find them as tests/reference.py says (SIGSCI_REFERENCE_DIR, or ../shared/reference beside
the checkout); without them those tests skip and say why.

A path is accepted when it exists in the defaults, when it lies inside a map the chart leaves open
(`{}` by default, e.g. `controller.config`), inside a Kubernetes object the chart renders verbatim
(`controller.resources`), or when the chart documents it only in a comment (`COMMENTED_KEYS`,
each checked against the comment itself).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import harness
import reference
from harness import clean
from ingress_configs import INGRESS_CONFIGS
from sigsci_waf.ingress.flavours import FLAVOURS, FlavourChart as Flavour

# Keys each chart documents only in a comment of its values.yaml (read, but not defaulted), which our values set.
COMMENTED_KEYS = {
    # "use *either* current default registry/image or repository format" (values.yaml comment).
    "ingress-nginx": frozenset({"controller.image.repository"}),
    # "If not specified the appVersion from Chart.yaml is used as a tag" (values.yaml comment), and
    # "The number of Ingress Controller pods that can be unavailable."
    "nginx-ingress": frozenset({"controller.image.tag", "controller.image.digest",
                                "controller.podDisruptionBudget.maxUnavailable"}),
}

# Kubernetes objects the charts pass through toYaml: their inside is checked by kubernetes-validate.
VERBATIM = {"controller.resources", "controller.podSecurityContext"}


def reference_file(flavour: Flavour, version: str) -> Path:
    return reference.values_file(flavour.chart, version)


def unknown_paths(values: dict, defaults: dict, flavour: Flavour) -> list[str]:
    problems = []

    def walk(ours, theirs, path):
        for key, value in ours.items():
            here = f"{path}.{key}" if path else key
            if here in VERBATIM:
                if key not in theirs:
                    problems.append(here)
                continue
            if key not in theirs:
                if here not in COMMENTED_KEYS[flavour.chart]:
                    problems.append(here)
                continue
            if isinstance(value, dict) and value:
                if isinstance(theirs[key], dict) and theirs[key]:
                    walk(value, theirs[key], here)
                elif not isinstance(theirs[key], dict):
                    problems.append(f"{here} (a {type(theirs[key]).__name__} in the chart)")
                # an empty map in the chart is open: any key inside it is the user's to set

    walk(values, defaults, "")
    return problems


def _releases():
    runs = {f"stack-{name}": harness.run_stack(name) for name in harness.stack_names()}
    runs.update({name: harness.run_config(cfg) for name, cfg in INGRESS_CONFIGS.items()})
    for run_name, run in runs.items():
        for release in harness.ingress_releases(run):
            yield run_name, clean(release.inputs)


RELEASES = list(_releases())


def test_every_chart_is_checked():
    assert {r["chart"] for _, r in RELEASES} == {f.chart for f in FLAVOURS.values()}


@pytest.mark.reference
@pytest.mark.parametrize("run_name,release", RELEASES, ids=[name for name, _ in RELEASES])
def test_values_use_only_the_charts_keys(run_name, release):
    flavour = harness.release_flavour(release)
    path = reference_file(flavour, release["version"])
    assert path.is_file(), f"no reference values for {flavour.chart} {release['version']}"
    defaults = yaml.safe_load(path.read_text())
    assert unknown_paths(release["values"], defaults, flavour) == []


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block_lines(lines: list[str], dotted: str) -> list[str]:
    """The lines (comments included) of the block at `dotted`, e.g. controller.image, in a values.yaml."""
    block = lines
    for part in dotted.split("."):
        content = [line for line in block if line.strip() and not line.lstrip().startswith("#")]
        depth = min(_indent(line) for line in content)
        heads = [i for i, line in enumerate(block) if _indent(line) == depth and line.strip().startswith(f"{part}:")
                 and not line.lstrip().startswith("#")]
        assert heads, f"{dotted}: no block {part!r}"
        head = heads[0]
        end = head + 1
        while end < len(block) and (not block[end].strip() or _indent(block[end]) > depth
                                    or (block[end].lstrip().startswith("#") and _indent(block[end]) > depth)):
            end += 1
        block = block[head + 1:end]
    return block


@pytest.mark.reference
@pytest.mark.parametrize("flavour", list(FLAVOURS.values()), ids=list(FLAVOURS))
def test_commented_keys_are_documented_in_the_chart(flavour):
    lines = reference_file(flavour, flavour.default_chart_version).read_text().splitlines()
    defaults = yaml.safe_load("\n".join(lines))
    for dotted in COMMENTED_KEYS[flavour.chart]:
        parent, _, key = dotted.rpartition(".")
        node = defaults
        for part in parent.split("."):
            node = node[part]
        assert key not in node, f"{dotted} is a real key now: drop it from commented_keys"
        block = _block_lines(lines, parent)
        assert any(re.match(rf"^\s*#+\s*{re.escape(key)}:", line) for line in block), \
            f"{dotted} is not documented in a comment of {parent}"


@pytest.mark.reference
def test_the_comment_check_reads_the_right_block():
    lines = reference_file(FLAVOURS["nginx-ingress"], "2.5.0").read_text().splitlines()
    image = _block_lines(lines, "controller.image")
    assert any("nginx/nginx-ingress" in line for line in image)  # the controller's, not App Protect's
    assert not any(re.match(r"^\s*#+\s*lifecycle:", line) for line in image)


@pytest.mark.reference
def test_the_check_catches_a_misspelt_key():
    flavour = FLAVOURS["ingress-nginx"]
    defaults = yaml.safe_load(reference_file(flavour, "4.15.1").read_text())
    values = {"controller": {"extraInitContainer": [], "image": {"repository": "x", "digset": ""},
                             "config": {"anything-goes": "here"}, "replicaCount": {"nested": 1}}}
    assert sorted(unknown_paths(values, defaults, flavour)) == [
        "controller.extraInitContainer", "controller.image.digset", "controller.replicaCount (a int in the chart)"]


@pytest.mark.reference
def test_the_chart_default_digest_is_the_trap_we_clear():
    """The reason `digest: ""` is sent: the chart pins its stock image by digest."""
    defaults = yaml.safe_load(reference_file(FLAVOURS["ingress-nginx"], "4.15.1").read_text())
    assert defaults["controller"]["image"]["digest"].startswith("sha256:")
    assert defaults["controller"]["image"]["digestChroot"].startswith("sha256:")
    assert set(FLAVOURS["ingress-nginx"].image_digest_keys) == {"digest", "digestChroot"}
