"""The command line: exit codes, one-line errors, nothing half-written, data on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchtrail.cli import cli
from benchtrail.results import load_record

GOOD = """
[suite]
name = "demo"
[[benchmark]]
name = "double"
target = "workload:double"
setup = "workload:load"
dataset = "data/rows.jsonl"
batch_size = [1, 4]
warmup = 2
iterations = 50
runs = 2
"""


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_help_lists_commands_and_envvars() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "run" in result.output and "validate" in result.output
    run_help = invoke("run", "--help").output
    assert "BENCHTRAIL_OUT" in run_help and "BENCHTRAIL_RUNS" in run_help


def test_run_writes_one_valid_record_and_prints_a_table(write_suite, tmp_path: Path) -> None:
    suite = write_suite(GOOD)
    out = tmp_path / "out"
    result = invoke("run", str(suite), "--out", str(out))
    assert result.exit_code == 0, result.output
    files = list(out.glob("*.json"))
    assert len(files) == 1
    record = load_record(files[0])
    assert [b["params"] for b in record["benchmarks"]] == [{"batch_size": 1}, {"batch_size": 4}]
    assert all(b["runs"] == 2 and b["calls"] == 100 for b in record["benchmarks"])
    assert "double[batch_size=4]" in result.stdout
    assert "Running demo: 4/4" in result.stderr
    assert f"Wrote {files[0]}" in result.stderr


def test_run_reads_suite_out_and_runs_from_the_environment(write_suite, tmp_path: Path) -> None:
    suite = write_suite(GOOD)
    out = tmp_path / "env-out"
    env = {"BENCHTRAIL_SUITE": str(suite), "BENCHTRAIL_OUT": str(out), "BENCHTRAIL_RUNS": "1"}
    result = invoke("run", env=env)
    assert result.exit_code == 0, result.output
    (record_file,) = out.glob("*.json")
    assert load_record(record_file)["run"]["runs"] == 1


def test_run_fills_source_from_gitlab_ci_variables(write_suite, tmp_path: Path) -> None:
    suite = write_suite(GOOD)
    env = {
        "CI_COMMIT_SHA": "a" * 40,
        "CI_COMMIT_REF_NAME": "feature/x",
        "CI_JOB_ID": "77",
        "CI_MERGE_REQUEST_IID": "5",
        "BENCHTRAIL_MACHINE": "cpu-large",
    }
    result = invoke("run", str(suite), "--out", str(tmp_path / "o"), "--runs", "1", env=env)
    assert result.exit_code == 0, result.output
    (record_file,) = (tmp_path / "o").glob("*.json")
    record = load_record(record_file)
    assert record["source"]["commit"] == "a" * 40
    assert record["source"]["ref"] == "feature/x"
    assert record["source"]["mr_iid"] == "5"
    assert record["environment"]["hardware"]["runner_label"] == "cpu-large"
    assert record_file.name.endswith("-aaaaaaaaaaaa.json")


@pytest.mark.parametrize(
    ("suite_text", "message"),
    [
        (GOOD.replace("data/rows.jsonl", "data/missing.npy"),
         "suite.toml: benchmark[0].dataset: file not found: data/missing.npy"),
        (GOOD.replace("workload:double", "nosuchmodule:double"),
         "suite.toml: benchmark[0].target: cannot import 'nosuchmodule'"),
        (GOOD.replace("workload:double", "workload:nothere"),
         "suite.toml: benchmark[0].target: module 'workload' has no attribute 'nothere'"),
        (GOOD.replace('name = "demo"', 'name = "Not A Slug"'), "suite.toml: suite.name: expected a slug"),
        (GOOD + "\n[[benchmark]]\nname = 3\n", "suite.toml: benchmark[1].name"),
        ("[suite\n", "suite.toml: not valid TOML"),
    ],
)
def test_bad_suite_is_one_error_line_exit_2_and_no_record(
    write_suite, tmp_path: Path, suite_text: str, message: str
) -> None:
    suite = write_suite(suite_text)
    out = tmp_path / "out"
    result = invoke("run", str(suite), "--out", str(out))
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert all(line.startswith("Error: ") for line in result.stderr.splitlines()
               if not line.startswith("Running"))
    assert not out.exists() or not any(out.iterdir())


def test_setup_that_raises_names_the_field(write_suite, tmp_path: Path) -> None:
    suite = write_suite(GOOD.replace("workload:load", "workload:fails"))
    result = invoke("run", str(suite), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "suite.toml: benchmark[0].setup: workload:fails raised TypeError" in result.stderr


def test_missing_default_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: bench/suite.toml: suite file not found"


def test_runs_must_be_positive(write_suite) -> None:
    result = invoke("run", str(write_suite(GOOD)), "--runs", "0")
    assert result.exit_code == 2
    assert "--runs" in result.stderr and "expected a whole number >= 1" in result.stderr


def test_validate_names_json_paths(tmp_path: Path, write_suite) -> None:
    out = tmp_path / "out"
    assert invoke("run", str(write_suite(GOOD)), "--out", str(out), "--runs", "1").exit_code == 0
    (good,) = out.glob("*.json")
    record = json.loads(good.read_text())
    record["benchmarks"][0]["metrics"]["latency_ms"]["p50"] = "fast"
    del record["run"]["timer"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    result = invoke("validate", str(good), str(bad))
    assert result.exit_code == 2
    assert f"{good}: valid" in result.stdout
    assert f"Error: {bad}: $.benchmarks[0].metrics.latency_ms" in result.stderr
    assert f"Error: {bad}: $.run: 'timer' is a required property" in result.stderr


def test_validate_refuses_non_json(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text("not json")
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {bad}: not valid JSON")


def test_a_bug_exits_3_with_a_traceback(write_suite, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchtrail.bench

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(benchtrail.bench, "run_suite", broken)
    result = invoke("run", str(write_suite(GOOD)))
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "internal error" in result.stderr


def test_interrupt_is_not_exit_1(write_suite, monkeypatch: pytest.MonkeyPatch) -> None:
    import benchtrail.bench

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(benchtrail.bench, "run_suite", interrupted)
    result = invoke("run", str(write_suite(GOOD)))
    assert result.exit_code == 130


def test_python_dash_m_benchtrail_real_process(write_suite, tmp_path: Path) -> None:
    suite = write_suite(GOOD.replace("data/rows.jsonl", "data/none.jsonl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "BENCHTRAIL_"))}
    done = subprocess.run(
        [sys.executable, "-m", "benchtrail", "run", str(suite), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 2
    assert done.stderr == "Error: suite.toml: benchmark[0].dataset: file not found: data/none.jsonl\n"
    assert done.stdout == ""
