"""The command line: exit codes, one-line errors, nothing half-written, data on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from gitremotes import (
    BRANCH,
    PUSH_TOKEN,
    TOKEN,
    ci_clone,
    files_on,
    git,
    make_record,
    record_path,
    rev,
    write_records,
)

from benchtrail.cli import cli
from benchtrail.results import load_record

pytest_plugins = ("gitfixtures",)  # fixtures for record and history: remote, work (and git_env through them)

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
    record = load_record(files[0]).to_json()
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
    assert load_record(record_file).run.runs == 1


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
    record = load_record(record_file).to_json()
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


# --- record and history: the results branch, with real git -------------------------------


def _record(work: Path, *files: Path, extra: tuple[str, ...] = (),  # type: ignore[no-untyped-def]
            env: dict[str, str] | None = None):
    return invoke("record", *map(str, files), "--repo", str(work), *extra, env=env)


def test_record_prints_the_paths_it_added(work: Path, remote: Path, tmp_path: Path) -> None:
    records = [make_record(0), make_record(1, suite="other")]
    result = _record(work, *write_records(tmp_path / "out", records))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == sorted(record_path(r) for r in records)
    commit = rev(remote, BRANCH)
    assert commit is not None
    assert result.stderr == f"Recorded 2 result(s) on {BRANCH} ({commit[:12]}), pushed to origin\n"


def test_record_twice_says_already_recorded_and_exits_0(work: Path, remote: Path, tmp_path: Path) -> None:
    files = write_records(tmp_path / "out", [make_record(0)])
    assert _record(work, *files).exit_code == 0
    again = _record(work, *files)
    assert again.exit_code == 0
    assert again.stdout == ""
    assert again.stderr == f"1 result(s) already recorded on {BRANCH} ({record_path(make_record(0))})\n"
    assert len(files_on(remote)) == 1
    more = write_records(tmp_path / "more", [make_record(1), make_record(2)])
    assert _record(work, *more).exit_code == 0
    many = _record(work, *files, *more)  # many already there: one line, not one each
    assert many.stderr == f"3 result(s) already recorded on {BRANCH}\n"


def test_record_no_push_and_branch_from_the_environment(work: Path, remote: Path, tmp_path: Path) -> None:
    files = write_records(tmp_path / "out", [make_record(0)])
    result = _record(work, *files, extra=("--no-push",), env={"BENCHTRAIL_BRANCH": "perf-data"})
    assert result.exit_code == 0, result.output
    assert "committed locally (not pushed)" in result.stderr and "perf-data" in result.stderr
    assert files_on(work, "perf-data") == [record_path(make_record(0))]
    assert rev(remote, "perf-data") is None and rev(work, BRANCH) is None


def test_record_bad_file_exits_2_naming_it(work: Path, remote: Path, tmp_path: Path) -> None:
    good = write_records(tmp_path / "out", [make_record(0)])
    bad = tmp_path / "out" / "bad.json"
    bad.write_text('{"schema": "benchtrail.result/1"}')
    result = _record(work, *good, bad)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert all(line.startswith("Error: ") for line in lines)
    assert lines[0].startswith(f"Error: {bad}: $") and lines[-1] == "Error: nothing was recorded"
    assert result.stdout == "" and "Traceback" not in result.output
    assert rev(work, BRANCH) is None and rev(remote, BRANCH) is None


def test_record_unreachable_remote_exits_2(work: Path, tmp_path: Path) -> None:
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = _record(work, *write_records(tmp_path / "out", [make_record(0)]))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot fetch {BRANCH} from origin: ")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert rev(work, BRANCH) is None


def test_record_never_shows_a_token(remote: Path, tmp_path: Path) -> None:
    job = ci_clone(remote, tmp_path / "job")
    env = {"CI_JOB_TOKEN": TOKEN, "BENCHTRAIL_PUSH_TOKEN": PUSH_TOKEN,
           "CI_SERVER_URL": "https://127.0.0.1:1", "CI_PROJECT_PATH": "group/proj"}
    result = _record(job, *write_records(tmp_path / "out", [make_record(0)]), env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot push {BRANCH} to https://***@127.0.0.1:1/group/proj.git: ")
    assert TOKEN not in result.output and PUSH_TOKEN not in result.output
    verbose = CliRunner().invoke(cli, ["-vv", "record", str(tmp_path / "out" / "r0.json"), "--repo", str(job)],
                                 env=env, catch_exceptions=False)
    assert verbose.exit_code == 2
    assert TOKEN not in verbose.output and PUSH_TOKEN not in verbose.output


def test_record_retries_must_not_be_negative(work: Path, tmp_path: Path) -> None:
    result = _record(work, *write_records(tmp_path / "out", [make_record(0)]), extra=("--retries", "-1"))
    assert result.exit_code == 2 and "--retries" in result.stderr


def test_record_outside_a_repository(tmp_path: Path) -> None:
    result = _record(tmp_path, *write_records(tmp_path / "out", [make_record(0)]))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {tmp_path}: not inside a git repository (use --repo)\n"


HISTORY_RECORDS = [make_record(0, month=1), make_record(1, month=2), make_record(2, suite="other")]


@pytest.fixture
def recorded(work: Path, remote: Path, tmp_path: Path) -> Path:
    assert _record(work, *write_records(tmp_path / "hist", HISTORY_RECORDS)).exit_code == 0
    return work


def _history(repo: Path, *args: str):  # type: ignore[no-untyped-def]
    return invoke("history", "--repo", str(repo), *args)


def test_history_table(recorded: Path) -> None:
    result = _history(recorded)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["date", "commit", "ref"]
    assert len(lines) == 2 + 3 * 8  # 3 records x 2 benchmarks x 4 metrics
    assert result.stderr == ""
    dates = [line.split()[0] for line in lines[2:]]
    assert dates == sorted(dates)  # oldest first


def test_history_json_with_filters(recorded: Path) -> None:
    result = _history(recorded, "--format", "json", "--suite", "mlp-cpu", "--benchmark", "mlp[batch_size=8]",
                      "--metric", "latency_ms")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["started_at"] for p in data] == ["2026-01-02T00:00:00Z", "2026-02-02T00:00:01Z"]
    assert {(p["suite"], p["benchmark"], p["metric"]) for p in data} == {("mlp-cpu", "mlp[batch_size=8]",
                                                                           "latency_ms")}
    assert data[0]["value"] == 0.320018 and data[0]["commit"] == make_record(0)["source"]["commit"]


def test_history_csv(recorded: Path) -> None:
    import csv
    import io

    result = _history(recorded, "--format", "csv", "--metric", "throughput")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 6 and {r["metric"] for r in rows} == {"throughput"}
    assert {r["suite"] for r in rows} == {"mlp-cpu", "other"}


def test_history_ref_and_environment_filters(recorded: Path) -> None:
    fingerprint = make_record(0)["environment"]["fingerprint"]
    assert len(json.loads(_history(recorded, "--format", "json", "--ref", "main").stdout)) == 24
    assert json.loads(_history(recorded, "--format", "json", "--ref", "nosuch").stdout) == []
    matching = json.loads(_history(recorded, "--format", "json", "--environment", fingerprint[:6]).stdout)
    assert len(matching) == 24 and {p["fingerprint"] for p in matching} == {fingerprint}


def test_history_from_a_fresh_ci_clone_with_a_cache(recorded: Path, remote: Path, tmp_path: Path) -> None:
    job = ci_clone(remote, tmp_path / "job")
    result = _history(job, "--format", "json", "--cache", str(tmp_path / "cache"), "--suite", "other")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 8


def test_history_warns_and_reads_the_local_copy_when_the_remote_is_gone(recorded: Path, tmp_path: Path) -> None:
    git(recorded, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    result = _history(recorded, "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 24
    assert result.stderr.startswith(f"Warning: cannot fetch {BRANCH} from origin: ")
    assert len(result.stderr.splitlines()) == 1


def test_history_without_a_branch_exits_2(work: Path) -> None:
    result = _history(work)
    assert result.exit_code == 2
    assert result.stderr == f"Error: no results branch {BRANCH!r} in origin or the local repository\n"
    assert result.stdout == ""


def test_history_no_fetch_and_bad_format(recorded: Path, remote: Path, tmp_path: Path) -> None:
    job = ci_clone(remote, tmp_path / "job")
    assert _history(job, "--no-fetch").exit_code == 2
    bad = _history(recorded, "--format", "xml")
    assert bad.exit_code == 2 and "--format" in bad.stderr


def test_a_reader_that_stops_reading_is_neither_a_bug_nor_a_regression(tmp_path: Path) -> None:
    """``benchtrail validate FILE... | head -1``: the pipe breaks; exit 141, as a shell says
    for SIGPIPE, with nothing on stderr (not 3 with "internal error", not 1)."""
    golden = Path(__file__).parent / "data" / "records" / "result-1.json"
    files = []
    for n in range(2000):  # more than a pipe buffer of "...: valid" lines
        files.append(tmp_path / f"r{n:04d}.json")
        files[-1].write_bytes(golden.read_bytes())
    process = subprocess.Popen([sys.executable, "-m", "benchtrail", "validate", *map(str, files)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 141
    assert first.endswith(b"r0000.json: valid\n") and stderr == b""


@pytest.mark.parametrize(("branch", "said"), [
    ("refs/heads/results", "give the branch's name, not its ref: 'results'"),
    ("a..b", "'a..b' is not a branch name git accepts"),
    ("x.lock", "'x.lock' is not a branch name git accepts"),
])
def test_a_branch_that_git_would_not_take_is_refused_up_front(branch: str, said: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "--repo", str(tmp_path), "--branch", branch])
    assert result.exit_code == 2
    assert said in result.output


def test_sigterm_stops_a_run_like_ctrl_c_and_says_so(write_suite, tmp_path: Path) -> None:
    """GitLab stops a cancelled or timed-out job with SIGTERM: the run ends at once with
    128 + 15, one line, no traceback, no record and no scratch folder left behind."""
    import signal
    import subprocess
    import sys
    import time

    suite = write_suite(GOOD.replace('target = "workload:double"', 'target = "workload:sleepy"')
                        .replace('setup = "workload:load"\n', "").replace("iterations = 50", "iterations = 100000"))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "benchtrail", "run", str(suite), "--out", str(out)],
                               cwd=suite.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # the workers are running
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.strip().splitlines()[-1] == "Terminated (SIGTERM)."
    assert "Traceback" not in stderr
    assert not list(out.glob("**/*.json"))
    assert not [p for p in out.rglob("*") if p.is_dir() and "scratch" in p.name.lower()] if out.exists() else True
