"""The benchmark runs (a benchmark, not a timed test: only that it works and reports what it promises)."""

import json
import os
import subprocess
import sys

import harness

BENCH = harness.ROOT / "scripts" / "bench.py"


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(harness.ROOT / "components")}
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600, env=env)


def test_the_benchmark_runs_and_reports(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    done = _bench("--sizes", "4,8", "--reps", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    report = out.read_text()
    for promised in ("| 4 | apps, ingress |", "| 8 | apps, ingress, gateway (10 HTTPRoutes) |",
                     "Growth 4 -> 8 apps (apps, ingress): exponent",
                     "Growth 4 -> 8 apps (apps, ingress, gateway): exponent", "flat, same GC setting", "Import:",
                     "identical resources and inputs", "cores, Python",
                     "Flat and program declare the same resources (types, names, inputs, secrets) at every size"):
        assert promised in report, promised


def test_the_gateway_config_declares_the_gateway_flat_as_the_program_does(tmp_path):
    program, flat = tmp_path / "program.json", tmp_path / "flat.json"
    for args in (("_program", "4", "gateway", str(program)), ("_flat", str(program), str(flat))):
        done = _bench(*args)
        assert done.returncode == 0, done.stderr[-2000:]
    declared = {(typ, name): (inputs, read) for typ, name, inputs, read, custom in json.loads(program.read_text())
                if custom}
    assert {(typ, name): (inputs, read) for typ, name, inputs, read, _ in json.loads(flat.read_text())} == declared
    kinds = {typ.rsplit(":", 1)[-1] for typ, _ in declared}
    for kind in ("GatewayClass", "Gateway", "EnvoyExtensionPolicy", "ClientTrafficPolicy", "HTTPRoute",
                 "ReferenceGrant", "PodDisruptionBudget", "NetworkPolicy", "Release"):
        assert kind in kinds, kind
