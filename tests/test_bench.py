"""The benchmark runs (a benchmark, not a timed test: only that it works and reports what it promises)."""

import subprocess
import sys

import harness


def test_the_benchmark_runs_and_reports(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run([sys.executable, str(harness.ROOT / "scripts" / "bench.py"), "--sizes", "4,8", "--reps", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = out.read_text()
    for promised in ("| 4 |", "| 8 |", "Growth 4 -> 8 apps, program: exponent", "flat, same GC setting",
                     "Import:", "identical resources and inputs", "cores, Python"):
        assert promised in report, promised
