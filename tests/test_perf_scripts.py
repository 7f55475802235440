"""Smoke tests: the performance scripts under tools/perf run to the end in quick mode."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PERF = Path(__file__).resolve().parents[1] / "tools" / "perf"
LIMIT_S = 120  # each script's --quick mode takes a few seconds on a quiet machine; CI machines are shared

needs_perf_extra = pytest.mark.skipif(
    importlib.util.find_spec("pyperf") is None or importlib.util.find_spec("pytest_benchmark") is None,
    reason="needs the perf extra: pip install -e '.[perf]'",
)


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PERF / name), "--quick", *args], capture_output=True,
                          text=True, timeout=LIMIT_S, check=False, cwd=PERF.parents[1])


@needs_perf_extra
def test_bench_harness_quick_names_every_tool() -> None:
    done = run_script("bench_harness.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for tool in ("benchtrail", "pyperf", "pytest-benchmark"):
        assert tool in done.stdout
    for line in ("Machine:", "Command:", "Python:", "noop", "spin_1ms", "Goals for benchtrail"):
        assert line in done.stdout


def test_bench_samplers_quick_reports_cpu_percent() -> None:
    done = run_script("bench_samplers.py", "--duration", "0.2")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "rss (psutil)", "rss + nvml (fake", "% of one core"):
        assert line in done.stdout


def test_bench_changepoints_quick_scores_every_detector() -> None:
    done = run_script("bench_changepoints.py", "--seed", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    detectors = ["benchtrail", "binseg-bic"]
    if importlib.util.find_spec("otava") is not None:
        detectors.append("otava")
    for line in ("Machine:", "Command:", "Python:", "F1", "Pure noise", "Goal: benchtrail F1", *detectors,
                 "No step, but noise that wanders or a slow trend", "AR(1) phi 0.8",
                 "Goal: benchtrail finds a change point in at most 5 % of them"):
        assert line in done.stdout


def test_bench_compare_speed_quick_meets_its_goal_line() -> None:
    done = run_script("bench_compare_speed.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "decide", "in-process", "command", "Goal: compare 50 metrics"):
        assert line in done.stdout


def test_bench_compare_quick_names_every_peer_and_goal() -> None:
    done = run_script("bench_compare.py", "--comparisons", "100")
    assert done.returncode == 0, done.stdout + done.stderr
    peers = ["benchtrail decide()", "benchtrail confirmation 1 -> 3", "github-action-benchmark >105%",
             "github-action-benchmark >200% (default)", "Bencher t-test, boundary 0.99", "Bencher IQR, 2.0 x IQR"]
    if importlib.util.find_spec("otava") is not None:
        peers.append("Apache Otava, defaults")
    for line in ("Machine:", "Command:", "Python:", "A/A, no change: false-alarm rate", "A/B at CV 3%: detection rate",
                 "Oracle", "Goals for benchtrail", *peers):
        assert line in done.stdout, line
    goals = [line for line in done.stdout.splitlines() if line.endswith(("-> PASS", "-> FAIL"))]
    assert len(goals) == 3, goals


def test_bench_job_noise_quick_reports_the_goal() -> None:
    done = run_script("bench_job_noise.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "benchtrail", "github-action-benchmark >105%", "Goal: benchtrail false alarms"):
        assert line in done.stdout


def test_bench_post_step_quick_reports_the_goal() -> None:
    done = run_script("bench_post_step.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "step +30 % 1 commit(s) before the merge base", "one outlying record",
                 "Goal: no-change merge requests after a step"):
        assert line in done.stdout


def test_bench_short_history_quick_reports_every_baseline_size() -> None:
    done = run_script("bench_short_history.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "baseline jobs", "Goal: false alarms after confirmation"):
        assert line in done.stdout
    assert len([line for line in done.stdout.splitlines() if line.strip()[:2].strip().isdigit()]) == 7


def test_bench_template_path_quick_reports_every_goal() -> None:
    done = run_script("bench_template_path.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "job noise, 2 baseline jobs", "measured 2-4 times", "+30 % step 5",
                 "Goal: false alarms", "Goal: +10 %", "Goal: no change after a +30 % step"):
        assert line in done.stdout


def test_bench_tokio_quick_reads_a_data_js_and_reports_each_factor(tmp_path: Path) -> None:
    """A small history in github-action-benchmark's format (the real one is ../shared/data)."""
    entries = [{"commit": {"id": f"{n:040x}", "message": f"commit {n}", "timestamp": f"2021-01-{n:02d}T00:00:00Z",
                           "url": f"https://example.com/{n}"},
                "date": 1609459200000 + n * 86_400_000, "tool": "cargo",
                "benches": [{"name": "spawn", "value": 100 + (n % 3), "range": "± 2", "unit": "ns/iter"}]}
               for n in range(1, 26)]
    data = tmp_path / "data.js"
    data.write_text("window.BENCHMARK_DATA = " + json.dumps(
        {"lastUpdate": 1, "repoUrl": "https://example.com", "entries": {"rt": entries}}))
    done = run_script("bench_tokio.py", "--data", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "25 records of 25 commits" in done.stdout
    for factor in ("x1.00", "x1.10", "x1.25"):
        assert f"last point {factor}: 1 series x points:" in done.stdout
    assert "last point x1.25: 1 series x points: regression 100.0%" in done.stdout


def test_bench_report_quick_times_every_build_and_reports_the_goals() -> None:
    done = run_script("bench_report.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "Python:", "History: 500 results in 20 series", "benchtrail report",
                 "cold", "warm (nothing new)", "+1 record (20 results)", "site", "github-action-benchmark's data.js",
                 "Goal: cold build", "Goal: after one more record", "Goal: site < 100 MB"):
        assert line in done.stdout, line
    if importlib.util.find_spec("asv") is not None:
        assert "asv publish" in done.stdout
    else:
        assert "asv: not installed" in done.stdout
    goals = [line for line in done.stdout.splitlines() if line.startswith("Goal:")]
    assert len(goals) == 3 and all(line.rsplit("-> ", 1)[-1].startswith(("PASS", "MISS")) for line in goals), goals


def test_bench_pair_noise_quick_reports_both_modes() -> None:
    done = run_script("bench_pair_noise.py")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("Machine:", "Command:", "lockstep   job 1 (p50): alpha mean", "sequential job 1 (p50): alpha mean",
                 "lockstep   p50      alpha mean", "sequential p10      alpha mean"):
        assert line in done.stdout, line


def test_bench_writers_smoke_records_everything() -> None:
    done = run_script("bench_writers.py", "--writers", "3", "--records", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "calls  3 writers x 2 records: 6 of 6 on the branch, 0 duplicates, 0 of 6 calls failed" in done.stdout
    assert "batch  3 writers x 2 records: 6 of 6 on the branch, 0 duplicates, 0 of 3 calls failed" in done.stdout


def test_bench_llm_quick_reports_every_goal() -> None:
    """One repeat of --quick; AIPerf joins where it is installed (``aiperf`` on PATH or in
    /tmp/aiperf-venv, as the script looks for it), and is left out with a line otherwise."""
    done = run_script("bench_llm.py", "--repeats", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("machine:", "command:", "uptime:", "(a) benchtrail at load", "server emit lateness p99",
                 "(b) open loop", "ttft_sched_ms p99", "ttft_ms p99", "(c) side by side",
                 "TPOT p50, ms (AIPerf inter_token_latency)", "CPU ms per 1,000 tokens, whole process tree", "goals:",
                 "benchtrail TTFT p50 within 2 %", "benchtrail TPOT p50 within 5 %",
                 "benchtrail client lag p99 under 1 ms", "stall shows in ttft_sched_ms p99"):
        assert line in done.stdout, line
    goals = [line for line in done.stdout.splitlines() if re.search(r": +(MET|MISSED) \(", line)]
    assert len(goals) == 4, goals
    if shutil.which("aiperf") or Path("/tmp/aiperf-venv/bin/aiperf").is_file():
        assert "AIPerf start-up run" in done.stdout and "AIPerf requests measured" in done.stdout, done.stderr
    else:
        assert "AIPerf:  not found" in done.stdout


def test_bench_http_quick_reports_every_goal_and_stage() -> None:
    """One short repeat, every ablation and the stages; wrk joins where it is installed."""
    done = run_script("bench_http.py", "--repeats", "1", "--duration", "1", "--stall", "0.2", "--stall-at", "0.3",
                      "--stages")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("machine:", "truth = service p50 + loopback", "benchtrail's round trip there, one in flight",
                 "benchtrail p50 error vs truth", "no lead: p50 error vs truth", "late: scheduled time",
                 "out: to the server's handler starting", "goals:", "p50 within 5 % of truth"):
        assert line in done.stdout, line
    goals = [line for line in done.stdout.splitlines() if re.search(r": +(MET|MISSED) \(", line)]
    assert len(goals) == 3, goals


def test_bench_http_client_quick_compares_benchtrail_with_aiohttp() -> None:
    done = run_script("bench_http_client.py", "--repeats", "1", "--duration", "1", "--clients", "benchtrail,aiohttp")
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("client            open req/s", 1)[1].splitlines()
    assert [row.split()[0] for row in table[1:3]] == ["benchtrail", "aiohttp"], table
