"""``benchtrail compare``, ``note`` and ``history --change-points`` against a real results
branch: exit codes, one-line errors, CI defaults, report files, the webhook and the
confirmation runs of a real suite."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from comparefixtures import (
    STEP_AFTER_6,
    TINY_SUITE,
    as_commit,
    bench_record,
    history,
    push_history,
    real_runs,
    sha,
)
from gitremotes import BRANCH, write_records
from loopback import serve

from benchtrail.cli import cli
from benchtrail.compare.document import load_comparison
from benchtrail.gitlab.markdown import render_note
from benchtrail.gitlab.notes import note_marker
from benchtrail.results import dump_record, load_record
from benchtrail.results.model import Record

pytest_plugins = ("gitfixtures",)


def invoke(*args: str | Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture
def recorded(work: Path, tmp_path: Path) -> Path:
    push_history(work, history(STEP_AFTER_6, seed=31) + history([5.0] * 12, seed=32, suite="other"), tmp_path / "hist")
    return work


def under_test(tmp_path: Path, level: float, suite: str = "demo", ref: str = "feature") -> Path:
    record = bench_record({"double": [level, level * 1.01, level * 0.99]}, n=100, ref=ref, suite=suite)
    (path,) = write_records(tmp_path / "current", [record], prefix=f"{suite}-{level}-{ref}-")
    return path


def compare(repo: Path, *args: str | Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return invoke("compare", *args, "--repo", repo, env=env)


def error_lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


# --- compare ------------------------------------------------------------------------------


def test_a_regression_is_reported_and_exits_0_without_the_flag(recorded: Path, tmp_path: Path) -> None:
    result = compare(recorded, under_test(tmp_path, 17.0), "--baseline-ref", "main")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["suite", "benchmark", "metric"]
    assert "double" in lines[2] and lines[2].endswith("regression")
    assert lines[-1] == "verdict: regression"
    assert result.stderr == ""


def test_fail_on_regression_exits_1_only_on_a_regression(recorded: Path, tmp_path: Path) -> None:
    slow, same = under_test(tmp_path, 17.0), under_test(tmp_path, 13.0)
    assert compare(recorded, slow, "--baseline-ref", "main", "--fail-on-regression").exit_code == 1
    assert compare(recorded, slow, "--baseline-ref", "main",
                   env={"BENCHTRAIL_FAIL_ON_REGRESSION": "1"}).exit_code == 1
    unchanged = compare(recorded, same, "--baseline-ref", "main", "--fail-on-regression")
    assert unchanged.exit_code == 0 and unchanged.stdout.endswith("verdict: unchanged\n")


def test_json_output(recorded: Path, tmp_path: Path) -> None:
    result = compare(recorded, under_test(tmp_path, 17.0), "--baseline-ref", "main", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "regression" and data["target_ref"] == "main" and data["min_effect"] == 0.05
    (only,) = data["results"]
    assert (only["benchmark"], only["metric"], only["verdict"], only["current_runs"]) == (
        "double", "latency_ms", "regression", 3)
    assert only["baseline"] == pytest.approx(13.0, rel=0.03)


def test_report_files_are_written(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    document, note, junit, metrics = out / "comparison.json", out / "note.md", out / "junit.xml", out / "metrics.txt"
    result = compare(recorded, under_test(tmp_path, 17.0), "--baseline-ref", "main", "--format", "markdown",
                     "--json", document, "--markdown", note, "--junit", junit, "--metrics-report", metrics,
                     env={"BENCHTRAIL_REPORT_URL": "https://g.example.io/proj"})
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [f"Wrote {document}", f"Wrote {note}", f"Wrote {junit}", f"Wrote {metrics}"]
    assert note.read_text(encoding="utf-8") == result.stdout
    assert load_comparison(document).suites == ["demo"]
    assert result.stdout.startswith("### ❌ benchtrail · `demo`: 1 regression")
    assert "(https://g.example.io/proj/suites/demo.html)" in result.stdout
    suites = ET.fromstring(junit.read_text(encoding="utf-8"))
    assert (suites.get("tests"), suites.get("failures")) == ("1", "1")
    assert "double" in metrics.read_text(encoding="utf-8")


def test_ci_variables_give_the_baseline_ref_and_the_merge_base(recorded: Path, tmp_path: Path) -> None:
    current = under_test(tmp_path, 10.0)
    env = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_DIFF_BASE_SHA": sha(6)}
    data = json.loads(compare(recorded, current, "--format", "json", env=env).stdout)
    assert (data["target_ref"], data["merge_base"], data["verdict"]) == ("main", sha(6), "unchanged")
    latest = json.loads(compare(recorded, current, "--format", "json", env={"CI_DEFAULT_BRANCH": "main"}).stdout)
    assert (latest["target_ref"], latest["merge_base"], latest["verdict"]) == ("main", None, "improvement")
    zeros = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "CI_MERGE_REQUEST_DIFF_BASE_SHA": "0" * 40}
    assert json.loads(compare(recorded, current, "--format", "json", env=zeros).stdout)["merge_base"] is None
    flag = compare(recorded, current, "--format", "json", "--baseline-ref", "nosuch", env=env)
    assert json.loads(flag.stdout)["target_ref"] == "nosuch"


def test_no_baseline_ref_anywhere_exits_2_with_one_error_line(recorded: Path, tmp_path: Path) -> None:
    result = compare(recorded, under_test(tmp_path, 10.0))
    assert result.exit_code == 2
    assert error_lines(result) == ["Error: --baseline-ref is needed outside a GitLab merge request pipeline"]
    assert result.stdout == ""


def test_no_results_branch_means_no_baseline_and_exit_0(work: Path, tmp_path: Path) -> None:
    result = compare(work, under_test(tmp_path, 17.0), "--baseline-ref", "main", "--fail-on-regression",
                     "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verdict"] == "no_baseline" and {r["verdict"] for r in data["results"]} == {"no_baseline"}
    assert result.stderr.splitlines() == [
        f"Warning: no results branch {BRANCH!r} in origin or the local repository: nothing to compare with yet"]


def test_a_bad_record_file_exits_2_naming_it(recorded: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    result = compare(recorded, under_test(tmp_path, 10.0), garbage, "--baseline-ref", "main")
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = error_lines(result)
    assert line.startswith(f"Error: {garbage}: not valid JSON")
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "benchtrail.result/1"}')
    several = compare(recorded, bad, "--baseline-ref", "main")
    assert several.exit_code == 2
    assert error_lines(several) and all(line.startswith(f"Error: {bad}: $") for line in error_lines(several))
    missing = compare(recorded, tmp_path / "nothere.json", "--baseline-ref", "main")
    assert missing.exit_code == 2
    assert error_lines(missing) == [f"Error: {tmp_path / 'nothere.json'}: cannot read: No such file or directory"]


def test_min_effect_takes_percentages(recorded: Path, tmp_path: Path) -> None:
    current = under_test(tmp_path, 13.0)
    for given, fraction in [("5%", 0.05), ("5", 0.05), ("2.5 %", 0.025), ("0", 0.0)]:
        result = compare(recorded, current, "--baseline-ref", "main", "--format", "json", "--min-effect", given)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["min_effect"] == pytest.approx(fraction), given


@pytest.mark.parametrize("given", ["abc", "150%", "100", "-1%", "nan"])
def test_min_effect_refuses_what_is_not_a_percentage(tmp_path: Path, given: str) -> None:
    result = compare(tmp_path, tmp_path / "any.json", "--baseline-ref", "main", "--min-effect", given)
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = error_lines(result)
    assert "'--min-effect'" in line and repr(given) in line


def test_min_effect_from_the_environment(recorded: Path, tmp_path: Path) -> None:
    result = compare(recorded, under_test(tmp_path, 14.0), "--baseline-ref", "main", "--format", "json",
                     env={"BENCHTRAIL_MIN_EFFECT": "10%"})
    data = json.loads(result.stdout)
    assert data["min_effect"] == pytest.approx(0.1) and data["verdict"] == "unchanged"


def test_the_webhook_is_posted_only_on_a_regression(recorded: Path, tmp_path: Path) -> None:
    """The default branch's own new commit against its recent runs, as the record job does."""
    with serve(service_ms=0) as server:
        hook = server + "/hooks/SECRET-KEY"
        calm = compare(recorded, under_test(tmp_path, 13.0, ref="main"), "--baseline-ref", "main",
                       "--webhook", hook)
        assert calm.exit_code == 0 and server.received() == []
        slow = compare(recorded, under_test(tmp_path, 17.0, ref="main"), "--baseline-ref", "main",
                       env={"BENCHTRAIL_WEBHOOK_URL": hook})
        assert slow.exit_code == 0, slow.output
        (posted,) = server.received()
    assert (posted["method"], posted["path"]) == ("POST", "/hooks/SECRET-KEY")
    payload = posted["json"]
    assert payload["text"].splitlines()[1].startswith("- demo double latency_ms: +")
    assert [r["benchmark"] for r in payload["results"]] == ["double"] and payload["verdict"] == "regression"
    assert slow.stderr == "Posted the regression alert to the webhook\n"
    assert "SECRET-KEY" not in slow.output


def test_the_webhook_is_not_posted_for_a_merge_request(recorded: Path, tmp_path: Path) -> None:
    """Only the baseline branch's own regressions alert: a merge request's are in its note."""
    with serve(service_ms=0) as server:
        result = compare(recorded, under_test(tmp_path, 17.0), "--baseline-ref", "main",
                         env={"BENCHTRAIL_WEBHOOK_URL": server + "/hook", "CI_MERGE_REQUEST_IID": "5"})
        assert result.exit_code == 0, result.output
        assert server.received() == []


def _latency_only(record: dict) -> dict:  # type: ignore[type-arg]
    """``record`` with its latencies only: a sleep's median latency holds still when the
    machine gets busy, its throughput and CPU time do not (the other metrics of the
    confirmation runs then have no baseline, and cannot flip the verdict)."""
    for entry in record["benchmarks"]:
        entry["metrics"] = {"latency_ms": entry["metrics"]["latency_ms"]}
    return record


def test_confirmation_reruns_only_the_suspects_and_clears_a_one_off_slow_record(
        work: Path, write_suite, tmp_path: Path) -> None:
    suite = write_suite(TINY_SUITE)
    *past, now = (_latency_only(r) for r in real_runs(suite, 3, tmp_path / "runs"))
    past = [as_commit(record, n) for n, record in enumerate(past, start=1)]
    # double's fraction of a microsecond varies by several per cent between processes: one
    # current run against two would be worth confirming; held at 0.3 µs throughout, it is not
    for record in (*past, now):
        (double,) = (e["metrics"]["latency_ms"] for e in record["benchmarks"] if e["name"] == "double")
        double["runs"] = [0.0003] * len(double["runs"])
    push_history(work, past, tmp_path / "hist")
    # One slow job: sleepy 10x slower than its baseline median.
    (sleepy,) = (e for e in now["benchmarks"] if e["name"] == "sleepy")
    before = [v for r in past for e in r["benchmarks"] if e["name"] == "sleepy" for v in e["metrics"]["latency_ms"]["runs"]]
    sleepy["metrics"]["latency_ms"]["runs"] = [float(np.median(before)) * 10.0] * sleepy["runs"]
    current = dump_record(Record.from_json(as_commit(now, 100, ref="feature")), tmp_path / "current.json")
    base = ("--baseline-ref", "main", "--fail-on-regression", "--format", "json")

    first = compare(work, current, *base)
    assert first.exit_code == 1, first.output
    assert [(r["benchmark"], r["verdict"]) for r in json.loads(first.stdout)["results"]] == [
        ("sleepy", "regression"), ("double", "unchanged")]

    out = tmp_path / "confirm"
    in_the_job = {"CI_COMMIT_SHA": sha(100), "CI_COMMIT_REF_NAME": "feature"}  # the confirmations' source
    none = compare(work, current, *base, "--confirm-times", "0", "--confirm-out", out,
                   env={**in_the_job, "BENCHTRAIL_CONFIRM_SUITE": str(suite)})
    assert none.exit_code == 1 and not out.exists()
    # the baseline's commits are not in any repository: no pairs, two more runs in this job
    result = compare(work, current, *base, "--confirm-suite", suite, "--confirm-times", "2", "--confirm-out", out,
                     env=in_the_job)
    assert result.exit_code == 0, result.output
    files = sorted(out.rglob("*.json"))
    assert [f.parent.name for f in files] == ["confirm-1", "confirm-2"]
    confirmations = [load_record(f).to_json() for f in files]
    assert {tuple(b["name"] for b in r["benchmarks"]) for r in confirmations} == {("sleepy",)}
    assert {r["environment"]["fingerprint"] for r in confirmations} == {now["environment"]["fingerprint"]}
    assert {r["source"]["commit"] for r in confirmations} == {sha(100)}
    results = {(r["benchmark"], r["metric"]): r for r in json.loads(result.stdout)["results"]}
    assert results["sleepy", "latency_ms"]["verdict"] != "regression"
    assert results["sleepy", "latency_ms"]["current_runs"] == 9  # 3 slow + 2 x 3 confirmations
    assert results["sleepy", "latency_ms"]["confirmation"]["method"] == "same_job"
    assert f"{sha(2)[:12]} is not in this clone" in results["sleepy", "latency_ms"]["confirmation"]["reason"]
    assert results["double", "latency_ms"]["current_runs"] == 1  # not suspect: not run again
    assert results["sleepy", "throughput"]["verdict"] == "no_baseline"


# --- note ----------------------------------------------------------------------------------


@pytest.fixture
def note_file(recorded: Path, tmp_path: Path) -> Path:
    document = tmp_path / "comparison.json"
    result = compare(recorded, under_test(tmp_path, 17.0), under_test(tmp_path, 5.0, suite="other"),
                     "--baseline-ref", "main", "--json", document)
    assert result.exit_code == 0, result.output
    return document


def test_note_dry_run_prints_the_note_of_the_suite(note_file: Path) -> None:
    result = invoke("note", "--dry-run", "--comparison", note_file, "--suite", "other")
    assert result.exit_code == 0, result.output
    section = render_note(load_comparison(note_file), "other")
    assert result.stdout == section.rstrip() + "\n\n" + note_marker("other") + "\n"
    assert "`demo`" not in result.stdout


def test_note_with_several_suites_needs_one_named(note_file: Path) -> None:
    result = invoke("note", "--dry-run", "--comparison", note_file)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert line == f"Error: {note_file} compares several suites: say which with --suite (demo, other)"
    unknown = invoke("note", "--dry-run", "--comparison", note_file, "--suite", "nosuch")
    assert unknown.exit_code == 2 and "'nosuch'" in unknown.stderr and "--suite" in unknown.stderr


def test_note_of_the_only_suite_without_a_token_is_skipped_with_exit_0(recorded: Path, tmp_path: Path) -> None:
    note = tmp_path / "one.json"
    assert compare(recorded, under_test(tmp_path, 17.0), "--baseline-ref", "main",
                   "--json", note).exit_code == 0
    outside = invoke("note", "--comparison", note)
    assert outside.exit_code == 0
    assert outside.stdout.startswith("merge request note for demo skipped: not a merge request pipeline")
    result = invoke("note", "--comparison", note, env={"CI_MERGE_REQUEST_IID": "5", "CI_JOB_TOKEN": "job-token"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("merge request note for demo skipped: no token to write it with")
    assert "BENCHTRAIL_GITLAB_TOKEN" in result.stdout and len(result.stdout.splitlines()) == 1


def test_note_refuses_a_file_that_is_not_a_comparison(tmp_path: Path) -> None:
    other = tmp_path / "readme.json"
    other.write_text('{"schema": "benchtrail.result/1"}\n')
    result = invoke("note", "--dry-run", "--comparison", other)
    assert result.exit_code == 2
    assert error_lines(result) == [f"Error: {other}: schema: expected 'benchtrail.comparison/1', found "
                                   "'benchtrail.result/1': not a comparison written by `benchtrail compare --json`"]
    missing = invoke("note", "--dry-run", "--comparison", tmp_path / "nosuch.json")
    assert missing.exit_code == 2 and len(error_lines(missing)) == 1 and "cannot read the comparison" in missing.stderr


# --- history --change-points ------------------------------------------------------------


def _steps(repo: Path, *args: str):  # type: ignore[no-untyped-def]
    return invoke("history", "--repo", repo, "--change-points", "--suite", "demo", *args)


@pytest.fixture
def stepped(work: Path, tmp_path: Path) -> Path:
    push_history(work, history([10.0] * 12 + [13.0] * 12, seed=33) + history([10.0] * 24, seed=34, suite="calm",
                                                                             cv=0.05), tmp_path / "hist")
    return work


def test_change_points_name_the_commit_of_a_30_percent_step(stepped: Path) -> None:
    table = _steps(stepped)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["date", "commit", "suite", "benchmark", "metric", "environment", "before", "after",
                                "change", "unit"]
    assert len(lines) == 3 and lines[2].split()[1] == sha(13)[:12]
    assert re.search(r" \+(29|30|31)\.\d % +ms$", lines[2])  # as compare says it
    (step,) = json.loads(_steps(stepped, "--format", "json").stdout)
    assert step["commit"] == sha(13) and step["change"] == pytest.approx(0.3, abs=0.03)
    assert step["benchmark"] == "double" and step["metric"] == "latency_ms"
    rows = list(csv.reader(io.StringIO(_steps(stepped, "--format", "csv").stdout)))
    assert rows[0] == ["started_at", "commit", "suite", "benchmark", "metric", "fingerprint", "before", "after",
                       "change", "unit"]
    assert len(rows) == 2 and rows[1][1] == sha(13)


def test_change_points_of_pure_noise_are_none(stepped: Path) -> None:
    result = invoke("history", "--repo", stepped, "--change-points", "--suite", "calm", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    csv_only_header = invoke("history", "--repo", stepped, "--change-points", "--suite", "calm", "--format", "csv")
    assert len(csv_only_header.stdout.splitlines()) == 1


def test_a_series_too_short_for_change_points_says_so(work: Path, tmp_path: Path) -> None:
    push_history(work, history([10.0] * 6, seed=35), tmp_path / "hist")
    result = _steps(work, "--metric", "latency_ms")
    assert result.exit_code == 0, result.output
    assert result.stderr == ("Note: demo double latency_ms (" + history([10.0], seed=35)[0]["environment"]["fingerprint"][:8]
                             + "): no change points: 6 values, too few to find a change point (10 needed)\n")


# --- failing calls, missing benchmarks, a record given twice --------------------------------------


def _failing(tmp_path: Path, errors: int, suite: str = "demo") -> Path:
    record = bench_record({"double": [10.0, 10.1, 9.9]}, n=100, ref="feature", suite=suite)
    (entry,) = record["benchmarks"]
    entry["errors"], entry["error_samples"] = errors, ["ValueError: <b>bad</b> | row"]
    (path,) = write_records(tmp_path / "failing", [record], prefix=f"e{errors}-")
    return path


def test_a_broken_benchmark_fails_the_gate_and_leads_the_note(recorded: Path, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = compare(recorded, _failing(tmp_path, 30), "--baseline-ref", "main", "--fail-on-regression",
                     "--format", "markdown", "--junit", junit)
    assert result.exit_code == 1, result.output
    first = next(line for line in result.stdout.splitlines() if line.startswith("| ⛔"))
    assert "`double`" in first and "broken: every call failed `ValueError: ‹b›bad‹/b› \\| row`" in first
    assert result.stdout.startswith("### ❌ benchtrail · `demo`: 1 broken")
    failures = [case for case in ET.fromstring(junit.read_text(encoding="utf-8")).iter("testcase")
                if case.find("failure") is not None]
    assert [(case.get("name"), case.find("failure").get("type")) for case in failures] == [  # type: ignore[union-attr]
        ("double errors", "broken")]


def test_new_errors_fail_the_gate(recorded: Path, tmp_path: Path) -> None:
    result = compare(recorded, _failing(tmp_path, 3), "--baseline-ref", "main", "--fail-on-regression",
                     "--format", "json")
    assert result.exit_code == 1, result.output
    (errors,) = [r for r in json.loads(result.stdout)["results"] if r["metric"] == "errors"]
    assert (errors["verdict"], errors["detail"]) == ("errors", "ValueError: <b>bad</b> | row")


def test_a_missing_benchmark_fails_unless_allowed(work: Path, tmp_path: Path) -> None:
    past = [bench_record({"double": [10.0] * 3, "gone": [5.0] * 3}, n=n) for n in range(1, 6)]
    push_history(work, past, tmp_path / "hist")
    current = under_test(tmp_path, 10.0)
    failed = compare(work, current, "--baseline-ref", "main", "--fail-on-regression", "--format", "markdown")
    assert failed.exit_code == 1, failed.output
    assert "| ❓" in failed.stdout and "BENCHTRAIL_FAIL_ON_MISSING=false" in failed.stdout
    allowed = compare(work, current, "--baseline-ref", "main", "--fail-on-regression", "--allow-missing",
                      "--format", "json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["gate"] == ["broken", "errors", "regression"]
    by_variable = compare(work, current, "--baseline-ref", "main", "--fail-on-regression",
                          env={"BENCHTRAIL_FAIL_ON_MISSING": "false"})
    assert by_variable.exit_code == 0, by_variable.output


def test_a_record_given_twice_counts_once(recorded: Path, tmp_path: Path) -> None:
    current = under_test(tmp_path, 14.0)
    once = json.loads(compare(recorded, current, "--baseline-ref", "main", "--format", "json").stdout)
    twice = compare(recorded, current, current, "--baseline-ref", "main", "--format", "json")
    assert twice.exit_code == 0, twice.output
    assert f"Warning: {current} is the same run as {current}: counted once" in twice.stderr
    assert json.loads(twice.stdout)["results"] == once["results"]
