"""The worker process entry point: figures on success, the user's problem on failure."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchtrail.bench.runner import run_suite
from benchtrail.bench.suite import load_suite
from benchtrail.bench.worker import _fill
from benchtrail.results.threads import THREAD_VARIABLES

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
        [sys.executable, "-m", "benchtrail.bench.worker", str(spec_path), str(prefix), str(os.getpid())],
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
    done = np.fromfile(tmp_path / "r.done", dtype=np.int64)  # completion offsets, sorted
    assert len(done) == 20 and list(done) == sorted(done) and 0 < done[-1] <= figures["wall_s"] * 1e9


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


MATMUL = """
import numpy as np

def matrix():
    return np.ones((64, 64))

def multiply(a):
    return a @ a
"""


def test_worker_reports_the_thread_settings_after_warmup(suite_dir: Path, write_suite, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy is loaded only by the benchmark's setup: threadpoolctl sees its BLAS because
    the settings are read after the benchmark ran, with the variables of the process."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    (suite_dir / "matmul.py").write_text(MATMUL)
    spec_path = write_spec(write_suite('[suite]\nname = "m"\n[[benchmark]]\nname = "mm"\n'
                                       'target = "matmul:multiply"\nsetup = "matmul:matrix"\niterations = 5\n'),
                           tmp_path)
    done = run_worker(spec_path, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    threads = json.loads((tmp_path / "r.json").read_text())["threads"]
    assert threads["variables"] == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    blas = [pool for pool in threads["pools"] if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas), threads


def test_an_http_benchmark_reads_no_thread_settings(write_suite, tmp_path: Path) -> None:
    """Its model runs in the server: the worker's own pools say nothing about it."""
    spec_path = write_spec(write_suite('[suite]\nname = "h"\n[[benchmark]]\nname = "h"\n'
                                       'url = "http://127.0.0.1:9/none"\niterations = 1\ntimeout_s = 0.5\n'),
                           tmp_path)
    done = run_worker(spec_path, tmp_path / "r")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "r.json").read_text())["threads"] is None


STALLS = """
import time

calls = 0

def steady():
    time.sleep(0.002)

def stall():
    global calls
    calls += 1
    time.sleep(0.6 if calls == 60 else 0.002)
"""

STALL_SUITE = """
[suite]
name = "stalls"
[[benchmark]]
name = "steady"
target = "stalls:steady"
iterations = 150
warmup = 0
runs = 2
[[benchmark]]
name = "stall"
target = "stalls:stall"
iterations = 150
warmup = 0
runs = 2
"""


def test_one_stall_in_a_run_leaves_its_throughput(suite_dir: Path, write_suite, tmp_path: Path) -> None:
    """Through the real worker processes: the run value is the robust rate, while the
    headline value (items over the whole wall time) takes the stall."""
    (suite_dir / "stalls.py").write_text(STALLS, encoding="utf-8")
    _, record = run_suite(load_suite(write_suite(STALL_SUITE)), tmp_path / "out")
    steady, stalled = (entry.metrics["throughput"] for entry in record.benchmarks)
    assert stalled.value < 0.6 * steady.value
    for run in stalled.runs:
        assert run == pytest.approx(sum(steady.runs) / len(steady.runs), rel=0.15)
