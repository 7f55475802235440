"""Confirmation runs: only the suspect benchmarks run again, in the environment of the
records under test (the end-to-end case is in ``test_cli_compare``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from comparefixtures import TINY_SUITE, bench_record, row, typed

from benchtrail.bench.fingerprint import describe_environment
from benchtrail.bench.gpu import open_gpus
from benchtrail.bench.runner import local_environment
from benchtrail.commands.confirm import confirm_runs
from benchtrail.commands.defaults import CONFIRM_TIMES
from benchtrail.compare.comparison import Comparison, compare_records
from benchtrail.errors import SuiteError
from benchtrail.results import load_record
from benchtrail.results.model import Record

#: what a run on this machine, labelled cpu-large, gets as its environment
HERE = local_environment("cpu-large").to_json()


def comparison(*rows) -> Comparison:  # type: ignore[no-untyped-def]
    return Comparison(tuple(rows), "main", None, 0.05)


def here(label: str = "double", verdict: str = "unchanged", **options: Any) -> Any:
    """A row measured on this machine."""
    return row(label, verdict, fingerprint=HERE["fingerprint"], **options)


def current(suite: str = "tiny", runs: int = 1, environment: dict[str, Any] | None = None) -> list[Record]:
    record = bench_record({"sleepy": [1.1] * runs, "double": [0.01]}, n=100, suite=suite, ref="feature")
    record["environment"] = environment or HERE
    record["run"]["runs"] = runs
    return typed([record])


SUSPECT = comparison(here("sleepy", "regression", change=0.3, suite="tiny"),
                     here("sleepy", "inconclusive", change=0.1, suite="tiny", metric_name="cpu_ms_per_item"),
                     here("double", "unchanged", suite="tiny"), here("double", "regression", change=0.5))


def test_suspects_are_the_benchmarks_of_the_suite_with_a_suspect_decision() -> None:
    assert SUSPECT.suspects("tiny") == ["sleepy"]
    assert SUSPECT.suspects("demo") == ["double"]
    both = comparison(row("b", "inconclusive", suite="tiny"), row("a", "regression", suite="tiny"),
                      row("c", "improvement", suite="tiny"), row("d", "no_baseline", suite="tiny"),
                      row("e", change=0.04, suite="tiny", suspect=True),  # just under the minimum effect
                      row("f", change=0.01, suite="tiny"),
                      row("g", "inconclusive", change=None, suite="tiny", suspect=True))  # zero values
    assert both.suspects("tiny") == ["a", "b", "e"]


def test_a_slowdown_just_under_the_minimum_effect_in_one_run_is_a_suspect() -> None:
    """Single runs alternating 2 % either side of their level: sigma ≈ 2.05 %, and one
    current run's error ≈ 2.08 %. A 4 % slowdown is within that of the 5 % minimum effect
    (it may well be a 5 % one): unchanged, yet worth running again; 1 % is not."""
    levels = {"sleepy": 1.0, "double": 0.01}
    past = [bench_record({name: [level * math.exp(0.02 if n % 2 else -0.02)] for name, level in levels.items()},
                         n=n, suite="tiny") for n in range(1, 41)]
    now = bench_record({"sleepy": [1.04], "double": [0.0101]}, n=100, suite="tiny", ref="feature")
    compared = compare_records(typed([now]), typed(past), target_ref="main")
    assert {r.label: (r.verdict, r.decision.suspect) for r in compared.rows} == {
        "sleepy": ("unchanged", True), "double": ("unchanged", False)}
    assert compared.suspects("tiny") == ["sleepy"]


def test_only_the_suspects_run_again_on_the_same_machine_label(write_suite, tmp_path: Path) -> None:
    suite = write_suite(TINY_SUITE.replace("runs = 3", "runs = 1"))
    under_test = current()
    confirmed = confirm_runs(suite, SUSPECT, under_test, out_dir=tmp_path / "confirm")
    assert len(confirmed) == CONFIRM_TIMES == 2
    files = sorted((tmp_path / "confirm").rglob("*.json"))
    assert [f.parent.name for f in files] == ["confirm-1", "confirm-2"]
    assert [load_record(f) for f in files] == confirmed
    records = [r.to_json() for r in confirmed]
    assert all(r["source"] == under_test[0].source.to_json() for r in records)  # the code under test, not the checkout
    assert {tuple(b["name"] for b in r["benchmarks"]) for r in records} == {("sleepy",)}
    assert {r["environment"]["hardware"]["runner_label"] for r in records} == {"cpu-large"}
    gpus = open_gpus()  # as run_suite sees them, so the test holds on a GPU machine too
    measured = describe_environment(gpus.describe() if gpus else None, label="cpu-large").to_json()
    if gpus is not None:
        gpus.close()
    assert {r["environment"]["fingerprint"] for r in records} == {measured["fingerprint"]}


def test_another_kind_of_machine_confirms_nothing(write_suite, tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    elsewhere = {**HERE, "fingerprint": "0123456789abcdef",
                 "hardware": {**HERE["hardware"], "cpu_model": "Another CPU"}}
    suspect = comparison(row("sleepy", "regression", change=0.3, suite="tiny", fingerprint="0123456789abcdef"))
    with caplog.at_level("WARNING", logger="benchtrail.commands.confirm"):
        assert confirm_runs(write_suite(TINY_SUITE), suspect, current(environment=elsewhere),
                            out_dir=tmp_path / "confirm") == []
    assert "is not the one that measured tiny" in caplog.text
    assert not (tmp_path / "confirm").exists()


def test_nothing_suspect_runs_nothing(write_suite, tmp_path: Path) -> None:
    calm = comparison(here("sleepy", suite="tiny"), here("double", "improvement", change=-0.2, suite="tiny"))
    assert confirm_runs(write_suite(TINY_SUITE), calm, current(), out_dir=tmp_path / "confirm") == []
    assert not (tmp_path / "confirm").exists()


def test_a_suite_that_was_not_compared_is_refused(write_suite, tmp_path: Path) -> None:
    suite = write_suite(TINY_SUITE)
    with pytest.raises(SuiteError, match="suite 'tiny' is not among the records compared"):
        confirm_runs(suite, SUSPECT, current(suite="demo"), out_dir=tmp_path / "confirm")


def test_a_suspect_the_suite_lacks_is_refused(write_suite, tmp_path: Path) -> None:
    gone = comparison(here("sleepy", "regression", change=0.3, suite="tiny"),
                      here("gone", "regression", change=0.3, suite="tiny"))
    with pytest.raises(SuiteError, match="no benchmark 'gone' in this suite"):
        confirm_runs(write_suite(TINY_SUITE), gone, current(), out_dir=tmp_path / "confirm")
    assert not (tmp_path / "confirm").exists()


def test_each_suspect_runs_in_as_many_processes_as_in_the_run_under_test(write_suite, tmp_path: Path) -> None:
    double = comparison(here("double", "regression", change=0.3, suite="tiny"))
    (record,) = confirm_runs(write_suite(TINY_SUITE), double, current(runs=3), out_dir=tmp_path / "c", times=1)
    assert [(b.name, b.runs) for b in record.benchmarks] == [("double", 1)]
    # the record's own count, not the suite's (sleepy: runs = 3 there) nor the record's most
    both = comparison(*double.rows, here("sleepy", "inconclusive", change=0.1, suite="tiny"))
    (record,) = confirm_runs(write_suite(TINY_SUITE), both, current(runs=2), out_dir=tmp_path / "d", times=1)
    assert sorted((b.name, b.runs) for b in record.benchmarks) == [("double", 1), ("sleepy", 2)]
