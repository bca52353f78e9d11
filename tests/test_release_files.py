"""What a release carries: one version everywhere, the Apache-2.0 license, a Keep a Changelog changelog, and
`py.typed` in the built wheel (PEP 561)."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser

import pytest

import harness

ROOT = harness.ROOT
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
VERSION = PROJECT["version"]
CHANGELOG = (ROOT / "CHANGELOG.md").read_text()

# The text of the Apache License 2.0 as the Apache Software Foundation publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_the_version_is_semantic():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)


def _changelog_version() -> str:
    """The version the changelog's newest entry names: the one [Unreleased] will be released as, or else the
    newest released version."""
    unreleased = re.search(r"^## \[Unreleased\]\n(.*?)(?=^## \[|\Z)", CHANGELOG, re.S | re.M)
    if unreleased:
        upcoming = re.search(r"will be released as `(\d+\.\d+\.\d+)`", unreleased.group(1))
        if upcoming:
            return upcoming.group(1)
    released = re.search(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", CHANGELOG, re.M)
    assert released, "the changelog names no version"
    return released.group(1)


def test_one_version_everywhere():
    import sigsci_waf

    assert _changelog_version() == VERSION, "CHANGELOG.md and pyproject.toml disagree"
    assert sigsci_waf.__version__ == VERSION, \
        "the installed metadata is older than pyproject.toml: reinstall (make test does when pyproject.toml changes)"
    spec = importlib.util.spec_from_file_location("sigsci_provider_main", ROOT / "provider" / "__main__.py")
    provider = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(provider)
    assert provider.VERSION == VERSION
    assert "component_provider_host(COMPONENTS, PACKAGE, version=VERSION)" in (ROOT / "provider" / "__main__.py").read_text()


def test_the_version_is_read_from_metadata_not_written_twice():
    source = (ROOT / "components" / "sigsci_waf" / "_version.py").read_text()
    assert 'version(DISTRIBUTION)' in source and f'"{PROJECT["name"]}"' in source
    assert VERSION not in source


def test_the_license_is_apache_2():
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_SHA256
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]


SECTIONS = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_the_changelog_follows_keep_a_changelog():
    lines = CHANGELOG.splitlines()
    assert lines[0] == "# Changelog"
    assert "https://keepachangelog.com/en/1.1.0/" in CHANGELOG and "https://semver.org/" in CHANGELOG
    versions = re.findall(r"^## (.+)$", CHANGELOG, re.M)
    assert versions and versions[0] == "[Unreleased]"
    for heading in versions[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", heading), heading
    assert set(re.findall(r"^### (.+)$", CHANGELOG, re.M)) <= SECTIONS
    unreleased = CHANGELOG.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    assert re.search(r"^- ", unreleased, re.M), "an empty [Unreleased] section"


def test_the_changelog_check_sees_a_wrong_version(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHANGELOG", CHANGELOG.replace(f"`{VERSION}`", "`9.9.9`"))
    assert _changelog_version() == "9.9.9" != VERSION


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel, built offline from a copy of the sources (setuptools from the test environment)."""
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT / "components", source / "components",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, timeout=300)
    [built] = out.glob("*.whl")
    assert built.name == f"pulumi_sigsci_waf-{VERSION}-py3-none-any.whl"
    return zipfile.ZipFile(built)


def test_the_wheel_ships_py_typed_and_the_license(wheel):
    names = wheel.namelist()
    assert "sigsci_waf/py.typed" in names
    assert "sigsci_waf/_version.py" in names
    assert f"pulumi_sigsci_waf-{VERSION}.dist-info/licenses/LICENSE" in names
    # The chart injection reads the cluster's capabilities with: every file of it, as in the source tree.
    chart = sorted(p.relative_to(ROOT / "components").as_posix()
                   for p in (ROOT / "components" / "sigsci_waf" / "injection" / "capabilities").rglob("*") if p.is_file())
    assert chart and set(chart) <= set(names), chart


def test_the_wheel_metadata(wheel):
    metadata = Parser().parsestr(wheel.read(f"pulumi_sigsci_waf-{VERSION}.dist-info/METADATA").decode())
    assert metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "Typing :: Typed" in metadata.get_all("Classifier")
    assert metadata.get_payload().startswith("# sigsci-waf")  # the README is the long description
