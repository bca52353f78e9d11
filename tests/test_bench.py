"""The benchmark runs (a benchmark, not a timed test: only that it works and reports what it promises)."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import harness

BENCH = harness.ROOT / "scripts" / "bench.py"
_spec = importlib.util.spec_from_file_location("bench", BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


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
                     "Flat and program declare the same resources (types, names, inputs, secrets) at every size",
                     "and read the same live objects", "| peak RSS program / flat (MiB) | RSS ratio |",
                     "- Memory goal: the program's peak RSS at most 1.10x the flat program's at 500 apps "
                     "(apps, ingress): not measured in this run"):
        assert promised in report, promised
    # Every row carries the peak RSS of both programs and their ratio (the figures vary by machine, not checked).
    rows = [line for line in report.splitlines() if line.startswith(("| 4 |", "| 8 |"))]
    assert len(rows) == 4
    for row in rows:
        assert re.search(r"\| \d+ / \d+ \| \d+\.\d\dx \|$", row), row


def test_the_memory_goal_line_says_whether_the_goal_is_met():
    """The goal is judged on the ratio as the table shows it, at 500 apps with apps and ingress only."""
    def runs(program: float, flat: float) -> dict:
        return {"apps": {500: {"program_rss_mib": program, "flat_rss_mib": flat}},
                "gateway": {500: {"program_rss_mib": 999.0, "flat_rss_mib": 1.0}}}

    assert bench.memory_goal(runs(272.0, 250.0)).endswith(": 272 / 250 MiB, 1.09x, met")
    assert bench.memory_goal(runs(275.1, 250.0)).endswith(": 275 / 250 MiB, 1.10x, met")
    assert bench.memory_goal(runs(280.0, 250.0)).endswith(": 280 / 250 MiB, 1.12x, NOT met")
    assert bench.memory_goal({"apps": {100: {}}}).endswith(": not measured in this run")


def test_the_gateway_config_declares_the_gateway_flat_as_the_program_does(tmp_path):
    program, flat = tmp_path / "program.json", tmp_path / "flat.json"
    for args in (("_program", "4", "gateway", str(program)), ("_flat", str(program), str(flat))):
        done = _bench(*args)
        assert done.returncode == 0, done.stderr[-2000:]
    # Its resources and its reads (Pulumi's mocks do not mark a read custom: it has the id of what it reads).
    declared = {(typ, name): (inputs, read) for typ, name, inputs, read, custom in json.loads(program.read_text())
                if custom or read}
    assert {(typ, name): (inputs, read) for typ, name, inputs, read, _ in json.loads(flat.read_text())} == declared
    assert any(read for _, read in declared.values())
    kinds = {typ.rsplit(":", 1)[-1] for typ, _ in declared}
    for kind in ("GatewayClass", "Gateway", "EnvoyExtensionPolicy", "ClientTrafficPolicy", "HTTPRoute",
                 "ReferenceGrant", "PodDisruptionBudget", "NetworkPolicy", "Release"):
        assert kind in kinds, kind


def test_a_new_report_keeps_the_section_written_by_hand():
    """`make bench` rewrites the figures, not the measurements that explain them."""
    kept = f"{bench.NOTES_HEADING}\n\n- measured by hand: 42 MiB\n"
    previous = f"# Benchmarks\n\n| old | table |\n\n{kept}"
    assert bench.with_notes("# Benchmarks\n\n| new | table |\n", previous) == \
        f"# Benchmarks\n\n| new | table |\n\n{kept}"
    assert bench.with_notes("# Benchmarks\n", "# Benchmarks, no notes\n") == "# Benchmarks\n"
    assert bench.with_notes("# Benchmarks\n", "") == "# Benchmarks\n"
    assert bench.NOTES_HEADING in (harness.ROOT / "BENCHMARKS.md").read_text()
