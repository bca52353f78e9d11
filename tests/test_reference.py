"""The reference data the chart tests read: where they find it, what they say without it, and the script that
fetches it (run here against a stand-in helm; the workflows run it against the real one)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness
import reference

# A stand-in for `helm pull <chart> --repo <url> --version <v> --untar --untardir <dir>`: unpacks a chart whose
# values.yaml names what was asked for.
FAKE_HELM = """
import pathlib, sys
args = sys.argv[1:]
assert args[:1] == ["pull"] and "--untar" in args, args
value = lambda flag: args[args.index(flag) + 1]
chart = pathlib.Path(value("--untardir")) / args[1]
chart.mkdir(parents=True)
(chart / "Chart.yaml").write_text(f"name: {args[1]}\\n")
(chart / "values.yaml").write_text(f"{args[1]} {value('--version')} from {value('--repo')}\\n")
sys.exit(int(__import__("os").environ.get("FAKE_HELM_EXIT", "0")))
"""


def _helm(tmp_path: Path) -> str:
    path = tmp_path / "helm"
    path.write_text(f"#!{sys.executable}\n{FAKE_HELM}")
    path.chmod(0o755)
    return str(path)


def _demo(fetch, content: str = "demo 1.0.0 from https://charts.example.com\n"):
    digest = hashlib.sha256(content.encode()).hexdigest()
    return fetch.ChartValues("https://charts.example.com", "demo", "1.0.0", digest)


@pytest.mark.reference
def test_the_reference_folder_holds_the_pinned_files():
    assert reference.fetcher().problems(reference.folder()) == []


def test_fetch_writes_each_chart_s_values_and_checks_their_sha256(tmp_path):
    fetch = reference.fetcher()
    demo = _demo(fetch)
    assert fetch.fetch(tmp_path / "out", [demo], helm=_helm(tmp_path)) == []
    written = tmp_path / "out" / "demo-1.0.0" / "values.yaml"
    assert written.read_text() == "demo 1.0.0 from https://charts.example.com\n"
    [problem] = fetch.problems(tmp_path / "out", [dataclasses.replace(demo, sha256="0" * 64)])
    assert problem == f"{written} has sha256 {demo.sha256}, not the pinned {'0' * 64}"
    assert fetch.problems(tmp_path / "elsewhere", [demo]) == \
        [f"{tmp_path / 'elsewhere/demo-1.0.0/values.yaml'} is missing"]


def test_fetch_says_when_helm_fails_or_is_not_there(tmp_path, monkeypatch):
    fetch = reference.fetcher()
    monkeypatch.setenv("FAKE_HELM_EXIT", "1")
    [problem] = fetch.fetch(tmp_path / "out", [_demo(fetch)], helm=_helm(tmp_path))
    assert problem.startswith("demo-1.0.0: ") and problem.endswith("failed with exit code 1")
    assert fetch.fetch(tmp_path / "out", [_demo(fetch)], helm=str(tmp_path / "no-helm")) == \
        [f"demo-1.0.0: {tmp_path / 'no-helm'} not found (is helm installed?)"]


def test_the_script_fails_on_a_folder_without_the_pinned_files(tmp_path):
    done = subprocess.run([sys.executable, str(reference.SCRIPT), "--check", str(tmp_path)], capture_output=True,
                          text=True)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{tmp_path / r.folder / name} is missing"
                                        for r in reference.fetcher().REFERENCES for name in r.files]


def _complete(folder: Path) -> None:
    for pinned in reference.fetcher().REFERENCES:
        for name in pinned.files:
            (folder / pinned.folder).mkdir(parents=True, exist_ok=True)
            (folder / pinned.folder / name).write_text("{}\n")


def test_without_the_data_the_reference_tests_say_what_is_missing_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv(reference.ENV, raising=False)
    monkeypatch.setattr(reference, "BESIDE", tmp_path / "shared" / "reference")
    why = reference.missing()
    assert why == (f"no chart reference values: {reference.ENV} is not set and {tmp_path / 'shared/reference'} "
                   f"does not exist; {reference.HOW}")
    assert "python scripts/fetch_reference.py <folder>" in reference.HOW and "helm" in reference.HOW
    assert reference.header() == f"reference data: none, the tests marked reference skip: {why}"
    # A named folder that lacks a file: that file, and the tests fail instead of skipping.
    _complete(tmp_path / "named")
    (tmp_path / "named" / "nginx-ingress-2.5.0" / "values.yaml").unlink()
    monkeypatch.setenv(reference.ENV, str(tmp_path / "named"))
    assert reference.missing() == (f"no chart reference values: {tmp_path / 'named/nginx-ingress-2.5.0/values.yaml'} "
                                   f"missing; {reference.HOW}")
    assert reference.header().startswith("reference data: none, the tests marked reference fail: ")


def test_the_variable_comes_first_then_the_folder_beside_the_checkout(tmp_path, monkeypatch):
    _complete(tmp_path / "beside")
    _complete(tmp_path / "named")
    monkeypatch.setattr(reference, "BESIDE", tmp_path / "beside")
    monkeypatch.delenv(reference.ENV, raising=False)
    assert reference.missing() is None
    assert reference.header() == f"reference data: {tmp_path / 'beside'} (beside the checkout)"
    assert reference.values_file("ingress-nginx", "4.15.1") == tmp_path / "beside/ingress-nginx-4.15.1/values.yaml"
    monkeypatch.setenv(reference.ENV, str(tmp_path / "named"))
    assert reference.header() == f"reference data: {tmp_path / 'named'} (from {reference.ENV})"
    assert reference.values_file("ingress-nginx", "4.15.1") == tmp_path / "named/ingress-nginx-4.15.1/values.yaml"


def test_a_run_with_a_named_folder_that_lacks_the_data_fails_and_says_why(tmp_path):
    env = {**os.environ, reference.ENV: str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
                           "tests/test_chart_values.py::test_the_chart_default_digest_is_the_trap_we_clear"],
                          cwd=harness.ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout
    assert f"no chart reference values: {tmp_path / 'ingress-nginx-4.15.1/values.yaml'}" in done.stdout


def test_the_crd_files_come_from_the_pinned_envoy_gateway_chart():
    """The workflows fetch the CRDs the custom-resource tests validate against, from the chart the package
    installs (config/gateway.py), with the same hashes as the files the tests check."""
    from sigsci_waf.config.gateway import ENVOY_GATEWAY_CHART, ENVOY_GATEWAY_REPOSITORY, ENVOY_GATEWAY_VERSION

    import crd_schema

    crds = [r for r in reference.fetcher().REFERENCES if isinstance(r, reference.fetcher().ChartCrds)]
    assert {r.folder for r in crds} == set(crd_schema.CRD_FILES)
    assert {(r.chart_ref, r.version) for r in crds} == {
        (f"{ENVOY_GATEWAY_REPOSITORY}/{ENVOY_GATEWAY_CHART}", ENVOY_GATEWAY_VERSION)}


def test_istio_s_crds_come_from_its_base_chart_by_repository_and_are_optional(tmp_path, monkeypatch):
    """The optional reference is pulled from a Helm repository (--repo); a failure to get it is reported and the
    script still succeeds, since the tests that need it skip, saying so."""
    fetch = reference.fetcher()
    [istio] = fetch.OPTIONAL
    assert istio.repository.startswith("https://") and istio.sources == {
        "crd-all.gen.yaml": ("files/crd-all.gen.yaml", istio.files["crd-all.gen.yaml"])}
    # The stand-in chart has no files/crd-all.gen.yaml: the copy fails, as a missing file would.
    demo = fetch.ChartCrds("base", "1.30.3", "istio-1.30.3", {"crd-all.gen.yaml": ("values.yaml", "0" * 64)},
                           repository="https://charts.example.com")
    assert fetch.fetch(tmp_path / "out", [demo], helm=_helm(tmp_path)) == [
        f"{tmp_path / 'out/istio-1.30.3/crd-all.gen.yaml'} has sha256 "
        f"{hashlib.sha256(b'base 1.30.3 from https://charts.example.com' + bytes([10])).hexdigest()}, "
        f"not the pinned {'0' * 64}"]
    monkeypatch.setattr(fetch, "OPTIONAL", [demo])
    monkeypatch.setattr(fetch, "REFERENCES", [])
    assert fetch.main([str(tmp_path / "main"), "--helm", _helm(tmp_path)]) == 0
