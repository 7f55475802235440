"""The worker process entry point: figures on success, the user's problem on failure."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from benchtrail.bench.suite import load_suite
from benchtrail.bench.worker import _fill

SUITE = """
[suite]
name = "w"
[[benchmark]]
name = "double"
target = "workload:double"
setup = "workload:load"
dataset = "data/rows.jsonl"
batch_size = 3
iterations = 20
warmup = 1
"""


def run_worker(spec_path: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchtrail.bench.worker", str(spec_path), str(prefix)],
        capture_output=True, text=True, timeout=60, check=False,
    )


def write_spec(suite_path: Path, tmp_path: Path) -> Path:
    (spec,) = load_suite(suite_path).benchmarks
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(dataclasses.asdict(spec)))
    return spec_path


def test_worker_writes_figures_and_latencies(write_suite, tmp_path: Path) -> None:
    spec_path = write_spec(write_suite(SUITE), tmp_path)
    done = run_worker(spec_path, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    figures = json.loads((tmp_path / "r.json").read_text())
    assert figures["calls"] == 20 and figures["errors"] == 0 and figures["items"] == 60
    assert figures["wall_s"] > 0 and figures["peak_rss_mb"] > 1
    assert figures["timer"]["name"] == "perf_counter_ns"
    assert figures["gpu_peak_memory_mb"] is None
    assert (tmp_path / "r.lat").stat().st_size == 20 * 8


def test_worker_reports_the_users_problem(write_suite, tmp_path: Path) -> None:
    spec_path = write_spec(write_suite(SUITE.replace("workload:double", "workload:missing")), tmp_path)
    done = run_worker(spec_path, tmp_path / "r")
    assert done.returncode == 2
    problems = json.loads((tmp_path / "r.error.json").read_text())["problems"]
    assert problems == ["suite.toml: benchmark[0].target: module 'workload' has no attribute 'missing'"]
    assert not (tmp_path / "r.json").exists()


def test_body_template_fills_row_and_batch() -> None:
    template = {"inputs": "$batch", "first": "$row", "nested": ["$row", {"k": 1}], "fixed": "$other"}
    filled = _fill(template, {"x": 1}, [{"x": 1}, {"x": 2}])
    assert filled == {
        "inputs": [{"x": 1}, {"x": 2}],
        "first": {"x": 1},
        "nested": [{"x": 1}, {"k": 1}],
        "fixed": "$other",
    }


def test_a_spec_the_worker_cannot_read_is_a_bug_exit_3(tmp_path: Path) -> None:
    """The runner wrote the spec: one the worker cannot read is benchtrail's bug, reported
    with its traceback and a bug file, never as the user's problem (exit 2)."""
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps({"name": "x", "no_such_field": 1}))
    done = run_worker(spec_path, tmp_path / "r")
    assert done.returncode == 3
    assert "Traceback" in done.stderr and "TypeError" in done.stderr
    assert json.loads((tmp_path / "r.bug.json").read_text())["error"].startswith("TypeError: ")
    assert not (tmp_path / "r.error.json").exists() and not (tmp_path / "r.json").exists()
