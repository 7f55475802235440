"""The comparison document (``benchtrail.comparison/1``): what note, reports and webhook read."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from comparefixtures import FINGERPRINT, row, sha

from benchtrail.compare.comparison import BaselineSummary, Comparison, Confirmation
from benchtrail.compare.document import (
    SCHEMA_ID,
    comparison_document,
    comparison_text,
    dump_comparison,
    load_comparison,
    parse_comparison,
)
from benchtrail.compare.rule import Decision
from benchtrail.errors import ComparisonError
from benchtrail.results.model import Source

SOURCE = {"commit": sha(7), "ref": "feature/x", "mr_iid": "12", "pipeline_url": None}


def full() -> Comparison:
    runs = dataclasses.replace(row("a", "regression", change=0.2, params=(("batch", 4),)),
                               baseline_values=((10.0, 10.1), (9.9,)), current_values=(12.0, 12.1, 11.9),
                               confirmation=Confirmation("paired", 2, sha(2), ((10.0, 12.0), (10.2, 12.1))))
    baselines = {("demo", FINGERPRINT): BaselineSummary((sha(1), sha(2)), sha(2), True, False)}
    notes = {("demo", FINGERPRINT): ("image changed since the baseline: sha256:a → sha256:b",)}
    return Comparison((runs, row("b"), row("c", "no_baseline", change=None)), "main", sha(2), 0.05, baselines,
                      notes, Source(**SOURCE))


def test_a_comparison_survives_the_round_trip(tmp_path: Path) -> None:
    comparison = full()
    path = dump_comparison(comparison, tmp_path / "out" / "comparison.json")
    assert load_comparison(path) == comparison
    assert path.read_text(encoding="utf-8") == comparison_text(comparison)  # the same bytes each time
    assert comparison_text(load_comparison(path)) == comparison_text(comparison)


def test_the_document_has_every_figure_the_decision_rests_on() -> None:
    data = comparison_document(full())
    assert (data["schema"], data["verdict"], data["target_ref"], data["merge_base"], data["min_effect"]) == (
        SCHEMA_ID, "regression", "main", sha(2), 0.05)
    first = data["results"][0]
    assert set(first) == {"suite", "benchmark", "params", "label", "metric", "unit", "direction", "environment",
                          "baseline", "current", "change", "noise", "threshold", "baseline_runs",
                          "current_runs", "verdict", "suspect", "runs", "detail", "why", "confirmation"}
    assert (first["label"], first["params"], first["runs"]) == (
        "a[batch=4]", {"batch": 4}, {"baseline": [[10.0, 10.1], [9.9]], "current": [12.0, 12.1, 11.9]})
    assert first["why"].startswith("latency_ms +20.0 % (baseline 10 ms → 12 ms), beyond the 5 % minimum effect and ")
    assert first["confirmation"] == {"method": "paired", "runs": 2, "against": sha(2),
                                     "pairs": [[10.0, 12.0], [10.2, 12.1]], "reason": None}
    assert data["results"][1]["confirmation"] is None
    [baseline] = data["baselines"]
    assert baseline["commits"] == [sha(1), sha(2)] and baseline["at_merge_base"] is True
    assert baseline["environment_notes"] == ["image changed since the baseline: sha256:a → sha256:b"]


def test_a_document_written_before_confirmations_were_kept_still_reads() -> None:
    data = comparison_document(full())
    for result in data["results"]:
        del result["confirmation"]
    assert all(row.confirmation is None for row in parse_comparison(data).rows)


def test_values_that_are_not_numbers_become_null() -> None:
    weird = dataclasses.replace(row("w", "inconclusive"), decision=Decision(
        "inconclusive", math.nan, math.inf, change=math.nan, noise=math.inf))
    data = json.loads(comparison_text(Comparison((weird,), "main", None, 0.05)))
    (only,) = data["results"]
    assert only["baseline"] is None and only["current"] is None and only["change"] is None and only["noise"] is None


def test_every_problem_is_named_with_its_path() -> None:
    data = comparison_document(full())
    data["results"][1]["verdict"] = "worse"
    del data["results"][2]["unit"]
    data["min_effect"] = 2
    with pytest.raises(ComparisonError) as caught:
        parse_comparison(data, "c.json")
    lines = caught.value.problems
    assert len(lines) == 3 and all(line.startswith("c.json: $.") for line in lines)
    assert any("$.results[1].verdict" in line for line in lines)
    assert any("$.results[2]" in line and "unit" in line for line in lines)
    assert any("$.min_effect" in line for line in lines)


def test_a_verdict_that_is_not_the_worst_of_its_results_is_refused() -> None:
    data = comparison_document(full())
    data["verdict"] = "unchanged"
    with pytest.raises(ComparisonError, match="verdict: 'unchanged' is not the worst of its results"):
        parse_comparison(data, "c.json")


def test_a_newer_version_says_upgrade() -> None:
    with pytest.raises(ComparisonError, match="benchtrail.comparison/2 is newer .*: upgrade benchtrail"):
        parse_comparison({"schema": "benchtrail.comparison/2"}, "c.json")


def test_an_unwritable_place_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ComparisonError, match="cannot write the comparison"):
        dump_comparison(full(), tmp_path / "file" / "comparison.json")
