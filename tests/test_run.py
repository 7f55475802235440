"""``commands.run``: a suite run from Python, the CI context handed in, never read from
the environment by the harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchtrail.commands.run import RunOptions, run
from benchtrail.gitlab.ci import read_ci
from benchtrail.results import load_record

SUITE = """
[suite]
name = "demo"
[[benchmark]]
name = "double"
target = "workload:double"
setup = "workload:load"
dataset = "data/rows.jsonl"
warmup = 1
iterations = 10
"""
CI = {"CI_COMMIT_SHA": "c" * 40, "CI_COMMIT_REF_NAME": "feature/x", "CI_JOB_ID": "77",
      "CI_MERGE_REQUEST_IID": "5", "CI_RUNNER_TAGS": '["linux", "cpu-large"]',
      "CI_JOB_IMAGE": "registry.example.com/bench@sha256:" + "ab" * 32}


def test_the_ci_context_given_is_what_the_record_says(write_suite, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_COMMIT_SHA", "d" * 40)  # the process's own variables are not read
    done = run(RunOptions(suite=write_suite(SUITE), out_dir=tmp_path / "out"), read_ci(CI))
    assert done.path.parent == tmp_path / "out" and load_record(done.path) == done.record
    source, environment = done.record.source, done.record.environment
    assert (source.commit, source.ref, source.job_id, source.mr_iid) == ("c" * 40, "feature/x", "77", "5")
    assert environment.hardware.runner_label == "cpu-large,linux"
    assert environment.image is not None and environment.image.digest == "sha256:" + "ab" * 32
    assert done.summary.splitlines()[0].split()[0] == "benchmark" and "double" in done.summary


def test_the_machine_option_wins_over_the_runner_tags(write_suite, tmp_path: Path) -> None:
    done = run(RunOptions(suite=write_suite(SUITE), out_dir=tmp_path / "out", machine="bench-box"), read_ci(CI))
    assert done.record.environment.hardware.runner_label == "bench-box"


def test_outside_ci_the_checkout_says_nothing_here(write_suite, tmp_path: Path) -> None:
    done = run(RunOptions(suite=write_suite(SUITE), out_dir=tmp_path / "out", runs=2), read_ci({}))
    assert done.record.source.commit is None and done.record.environment.hardware.runner_label == ""
    assert done.record.environment.image is None and done.record.run.runs == 2
