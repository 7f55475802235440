"""Running a whole suite in worker processes: interleaving, counting, no partial record."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchtrail.bench import load_suite, run_suite
from benchtrail.bench.runner import local_environment
from benchtrail.errors import SuiteError
from benchtrail.results import load_record
from benchtrail.results.threads import THREAD_VARIABLES, describe_threads


class Steps:
    def __init__(self) -> None:
        self.names: list[str] = []

    def start(self, step: str) -> None:
        self.names.append(f"start {step}")

    def tick(self) -> None:
        pass

    def advance(self, step: str) -> None:
        self.names.append(step)


def test_runs_are_interleaved_across_benchmarks(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite("""
[suite]
name = "inter"
iterations = 5
[[benchmark]]
name = "a"
target = "workload:noop"
dataset = "data/rows.jsonl"
runs = 2
[[benchmark]]
name = "b"
target = "workload:tick"
runs = 3
"""))
    steps = Steps()
    path, record = run_suite(suite, tmp_path / "out", progress=steps)
    finished = [name for name in steps.names if not name.startswith("start ")]
    assert finished == ["a run 1/2", "b run 1/3", "a run 2/2", "b run 2/3", "b run 3/3"]
    assert steps.names[:2] == ["start a run 1/2", "a run 1/2"]
    assert load_record(path) == record
    a, b = record.to_json()["benchmarks"]
    assert len(a["metrics"]["latency_ms"]["runs"]) == 2 and a["metrics"]["latency_ms"]["n"] == 10
    assert len(b["metrics"]["latency_ms"]["runs"]) == 3
    assert a["dataset"]["rows"] == 10 and "dataset" not in b
    assert record.to_json()["run"]["runs"] == 3 and record.to_json()["run"]["iterations"] == 25


def test_errors_are_counted_not_dropped(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite("""
[suite]
name = "errs"
[[benchmark]]
name = "fails"
target = "workload:fails"
dataset = "data/rows.jsonl"
iterations = 7
"""))
    _, record = run_suite(suite, tmp_path / "out")
    (entry,) = record.to_json()["benchmarks"]
    assert entry["calls"] == 7 and entry["errors"] == 7 and entry["timeouts"] == 0
    assert entry["error_samples"] == ["ValueError: bad input row"]
    assert "latency_ms" not in entry["metrics"]
    assert any("7 errors" in w for w in entry["warnings"])


def test_measured_latency_matches_a_known_sleep(write_suite, tmp_path: Path) -> None:
    suite = load_suite(write_suite("""
[suite]
name = "sleep"
[[benchmark]]
name = "sleepy"
target = "workload:sleepy"
dataset = "data/rows.jsonl"
batch_size = 2
concurrency = 2
iterations = 40
warmup = 2
"""))
    _, record = run_suite(suite, tmp_path / "out")
    metrics = record.to_json()["benchmarks"][0]["metrics"]
    assert 1.0 <= metrics["latency_ms"]["p50"] < 3.0
    # two workers, each call 2 items in ~1 ms: roughly 4,000 items/s, well above one worker's
    assert metrics["throughput"]["value"] > 2000
    assert metrics["cpu_ms_per_item"]["value"] >= 0


def test_worker_crash_leaves_no_record(suite_dir: Path, write_suite, tmp_path: Path) -> None:
    (suite_dir / "crash.py").write_text("import os\n\ndef die():\n    os._exit(9)\n")
    suite = load_suite(write_suite("""
[suite]
name = "crash"
[[benchmark]]
name = "ok"
target = "workload:tick"
[[benchmark]]
name = "dies"
target = "crash:die"
"""))
    out = tmp_path / "out"
    with pytest.raises(SuiteError, match=r"benchmark\[1\]: the worker process for dies died \(exit code 9\)"):
        run_suite(suite, out)
    assert not out.exists() or not list(out.iterdir())


def test_target_stdout_does_not_reach_stdout(suite_dir: Path, write_suite, tmp_path: Path,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    (suite_dir / "chatty.py").write_text("def talk():\n    print('hello from target')\n")
    suite = load_suite(write_suite("""
[suite]
name = "chatty"
[[benchmark]]
name = "talk"
target = "chatty:talk"
iterations = 3
warmup = 0
"""))
    run_suite(suite, tmp_path / "out")
    captured = capfd.readouterr()
    assert "hello from target" not in captured.out
    assert captured.err.count("hello from target") == 3


def test_a_crash_of_benchtrails_own_worker_code_is_a_bug_not_a_user_error(write_suite, tmp_path: Path,
                                                                        capfd: pytest.CaptureFixture[str]) -> None:
    """A spec the suite loader would never make (a suite file path that is no path) fails
    inside the worker's own code: that is our bug (exit 3 in the CLI), never the user's
    (SuiteError, exit 2)."""
    import dataclasses

    from benchtrail.bench.runner import WorkerCrash
    from benchtrail.errors import BenchtrailError

    suite = load_suite(write_suite("""
[suite]
name = "buggy"
[[benchmark]]
name = "a"
target = "workload:noop"
dataset = "data/rows.jsonl"
iterations = 5
"""))
    broken = dataclasses.replace(suite, benchmarks=(dataclasses.replace(suite.benchmarks[0], suite_file=42),))
    out = tmp_path / "out"
    with pytest.raises(WorkerCrash, match="failed in benchtrail's code") as caught:
        run_suite(broken, out)
    assert not isinstance(caught.value, BenchtrailError)
    assert "Traceback" in capfd.readouterr().err  # the worker's own traceback, for the bug report
    assert not out.exists()


def test_the_record_states_the_thread_settings_the_workers_ran_with(suite_dir: Path, write_suite, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    (suite_dir / "matmul.py").write_text("import numpy as np\n\n"
                                         "def multiply(batch):\n    a = np.ones((64, 64))\n    return a @ a\n")
    suite = load_suite(write_suite("""
[suite]
name = "threads"
[[benchmark]]
name = "pure"
target = "workload:tick"
iterations = 3
[[benchmark]]
name = "matmul"
target = "matmul:multiply"
dataset = "data/rows.jsonl"
batch_size = 8
iterations = 5
runs = 2
"""))
    path, record = run_suite(suite, tmp_path / "out")
    threads = record.environment.threads
    assert threads is not None and dict(threads.variables) == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    blas = [pool for pool in threads.pools if pool.user_api == "blas"]
    # the union over both benchmarks: the pure-Python one loaded no BLAS, the matmul did
    assert blas and all(pool.num_threads == 1 for pool in blas)
    assert describe_threads(threads).startswith("OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1; ")
    assert load_record(path) == record and load_record(path).to_json()["environment"]["threads"] == threads.to_json()
    # not fingerprinted: the hardware class is the one this machine has anyway
    assert record.fingerprint == local_environment().fingerprint
