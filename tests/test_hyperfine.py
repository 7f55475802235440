"""hyperfine --export-json (real exports of hyperfine 1.15)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchtrail.errors import ImportFormatError
from benchtrail.importers import read_records
from benchtrail.results.model import Distribution, Record

DATA = Path(__file__).parent / "data" / "imports"


def _one(name: str) -> Record:
    (record,) = read_records("hyperfine", [DATA / name], suite="cli")
    return record


def test_times_give_the_distribution_in_ms() -> None:
    source = json.loads((DATA / "hyperfine.json").read_text(encoding="utf-8"))["results"]
    record = _one("hyperfine.json")
    assert [b.name for b in record.benchmarks] == ["sleep 0.01", "true"]
    for entry, original in zip(record.benchmarks, source):
        latency = entry.metrics["latency_ms"].to_json()
        exact = Distribution.of(original["times"], 1000.0).to_json()
        for key in ("n", "min", "p50", "p90", "p99", "max"):
            assert latency[key] == pytest.approx(exact[key], rel=1e-9), key
        assert latency["mean"] == pytest.approx(original["mean"] * 1000)
        assert latency["unit"] == "ms" and latency["direction"] == "lower"
        assert entry.metrics["user_ms"].value == pytest.approx(original["user"] * 1000)
        assert entry.metrics["system_ms"].value == pytest.approx(original["system"] * 1000)
        assert entry.target == f"hyperfine: {original['command']}"
        assert (entry.calls, entry.errors) == (len(original["times"]), 0)
    assert record.run.duration_s == pytest.approx(sum(sum(r["times"]) for r in source))


def test_nothing_about_commit_or_machine_is_invented() -> None:
    record = _one("hyperfine.json")
    assert set(record.source.to_json().values()) == {None}
    assert record.environment.hardware.cpu_model == "unknown"
    assert record.run.started_at == "1970-01-01T00:00:00Z"


def test_parameters_become_params() -> None:
    record = _one("hyperfine-params.json")
    assert [(b.name, b.params) for b in record.benchmarks] == [
        ("sleep 0.001", {"delay_ms": "1"}), ("sleep 0.003", {"delay_ms": "3"})]


def test_failed_runs_are_counted() -> None:
    (entry,) = _one("hyperfine-failing.json").benchmarks
    assert (entry.name, entry.calls, entry.errors) == ("failing", 5, 5)
    assert entry.warnings == ("5 of 5 runs exited non-zero",)


@pytest.mark.parametrize(("change", "line"), [
    (lambda r: r.pop("times"), "$.results[0].times: missing"),
    (lambda r: r.update(times=[]), "$.results[0].times: expected at least one run"),
    (lambda r: r.update(times=[0.1, -0.2]),
     "$.results[0].times[1]: expected a number >= 0, found -0.2"),
    (lambda r: r.update(command=""), '$.results[0].command: expected a non-empty string, found ""'),
    (lambda r: r.update(exit_codes=[0, "x"]), '$.results[0].exit_codes[1]: expected an integer, found "x"'),
])
def test_bad_entries(tmp_path: Path, change: Any, line: str) -> None:
    document = json.loads((DATA / "hyperfine.json").read_text(encoding="utf-8"))
    change(document["results"][0])
    path = tmp_path / "h.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        read_records("hyperfine", [path], suite="cli")
    assert caught.value.problems == (f"{path}: {line}",)
