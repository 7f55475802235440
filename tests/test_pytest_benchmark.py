"""pytest-benchmark JSON (real files from one run: --benchmark-json and --benchmark-save)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchtrail.errors import ImportFormatError
from benchtrail.importers import read_records
from benchtrail.results.model import SKETCH_QUANTILES, Hardware

DATA = Path(__file__).parent / "data" / "imports"
WITH_SAMPLES = DATA / "pytest-benchmark.json"
SAVED = DATA / "pytest-benchmark-saved.json"


def _one(path: Path, machine: str | None = None) -> dict[str, Any]:
    """The one record of ``path``, as the JSON it is written as."""
    (record,) = read_records("pytest-benchmark", [path], suite="pb", machine=machine)
    return record.to_json()


def _write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _saved() -> dict[str, Any]:
    return json.loads(SAVED.read_text(encoding="utf-8"))


def test_commit_machine_and_time_are_kept() -> None:
    record = _one(WITH_SAMPLES, machine="laptop")
    assert record["source"] == {
        "commit": "e139c8c8b62fcf31b09c0423e0b4a7d16adcd243", "ref": "main",
        "commit_time": "2026-02-10T09:30:00+01:00", "commit_title": None,
        "pipeline_id": None, "job_id": None, "pipeline_url": None, "project_url": None,
        "mr_iid": None,
    }
    assert record["run"]["started_at"] == "2026-11-25T01:26:58Z"  # datetime, to the second
    assert record["run"]["timer"]["name"] == "perf_counter"
    env = record["environment"]
    assert env["hardware"] == {"cpu_model": "AMD EPYC", "cpu_count": 2, "gpu_model": None,
                               "gpu_count": 0, "runner_label": "laptop"}
    assert env["fingerprint"] == Hardware(**env["hardware"]).fingerprint  # as `benchtrail run` has it
    assert env["gpu"] == "none"
    assert env["python"] == "3.11.7"
    assert env["platform"] == "Linux-6.18.44-fc-v657-x86_64"
    assert env["packages"] == {"pytest-benchmark": "5.2.3"}


def test_samples_give_the_exact_distribution() -> None:
    source = json.loads(WITH_SAMPLES.read_text(encoding="utf-8"))["benchmarks"]
    record = _one(WITH_SAMPLES)
    names = [(b["name"], b["params"]) for b in record["benchmarks"]]
    assert names == [("test_tiny.py::test_fib", {"n": 5}), ("test_tiny.py::test_fib", {"n": 10}),
                     ("test_tiny.py::test_sorted", {})]
    for entry, original in zip(record["benchmarks"], source):
        stats = original["stats"]
        latency = entry["metrics"]["latency_ms"]
        assert entry["target"] == f"pytest-benchmark: {original['fullname']}"
        assert latency["n"] == stats["rounds"] == len(stats["data"])
        assert latency["p50"] == pytest.approx(stats["median"] * 1000)
        assert latency["mean"] == pytest.approx(stats["mean"] * 1000)
        assert latency["stdev"] == pytest.approx(stats["stddev"] * 1000)
        assert latency["max"] == pytest.approx(stats["max"] * 1000)
        assert latency["runs"] == [latency["p50"]]
        assert entry["metrics"]["throughput"]["value"] == pytest.approx(stats["ops"])
        assert entry["metrics"]["throughput"]["direction"] == "higher"
        assert entry["calls"] == stats["rounds"] * stats["iterations"]
        assert "warnings" not in entry


def test_saved_file_without_samples_is_interpolated_and_says_so() -> None:
    exact = _one(WITH_SAMPLES)["benchmarks"]
    saved = _one(SAVED)
    stats = [b["stats"] for b in _saved()["benchmarks"]]
    for entry, full, figures in zip(saved["benchmarks"], exact, stats):
        latency, reference = entry["metrics"]["latency_ms"], full["metrics"]["latency_ms"]
        for key in ("n", "mean", "stdev", "min", "p50", "max"):
            assert latency[key] == pytest.approx(reference[key]), key
        values = latency["sketch"]["values"]
        assert values == sorted(values)
        assert values[SKETCH_QUANTILES.index(0.25)] == pytest.approx(figures["q1"] * 1000)
        assert values[SKETCH_QUANTILES.index(0.75)] == pytest.approx(figures["q3"] * 1000)
        assert latency["p99"] <= figures["hd15iqr"] * 1000 * (1 + 1e-9)
        assert any("interpolated" in warning for warning in entry["warnings"])
    assert saved["source"] == _one(WITH_SAMPLES)["source"]


def _stats_document(**stats: Any) -> dict[str, Any]:
    document = _saved()
    document["benchmarks"] = [document["benchmarks"][2]]
    document["benchmarks"][0]["stats"] = stats
    return document


def test_interpolation_between_known_quantiles(tmp_path: Path) -> None:
    document = _stats_document(min=1, q1=2, median=3, q3=4, max=50, mean=5, stddev=7,
                               rounds=100, iterations=1, hd15iqr=6, iqr_outliers=10, ops=0.2)
    latency = _one(_write(tmp_path, document))["benchmarks"][0]["metrics"]["latency_ms"]
    assert (latency["min"], latency["p50"], latency["max"]) == (1000, 3000, 50000)
    # q3 at 0.75, hd15iqr at 1 - 10/100 = 0.9, and hd15iqr above it
    assert (latency["p90"], latency["p95"], latency["p99"]) == (6000, 6000, 6000)
    sketch = dict(zip(latency["sketch"]["quantiles"], latency["sketch"]["values"]))
    assert sketch[0.1] == pytest.approx(1400)
    assert sketch[0.8] == pytest.approx(4000 + 2000 / 3)
    assert sketch[0.999] == 6000


def test_without_the_fence_figures_quantiles_above_q3_are_q3(tmp_path: Path) -> None:
    document = _stats_document(min=1, q1=2, median=3, q3=4, max=50, mean=5, stddev=7,
                               rounds=100, ops=0.2)
    latency = _one(_write(tmp_path, document))["benchmarks"][0]["metrics"]["latency_ms"]
    assert (latency["p90"], latency["p99"], latency["max"]) == (4000, 4000, 50000)


@pytest.mark.parametrize(("commit", "branch", "dirty", "expected"), [
    ("unversioned", "(unknown)", False, (None, None, None)),
    ("e139c8c", "main", False, (None, "main", "e139c8c")),
    ("e139c8c", None, False, (None, "e139c8c", None)),
    ("E139C8C8B62FCF31B09C0423E0B4A7D16ADCD243", "(detached head)", True,
     ("e139c8c8b62fcf31b09c0423e0b4a7d16adcd243", None, None)),
])
def test_commits_that_are_not_full_shas_are_not_invented(
        tmp_path: Path, commit: str, branch: str | None, dirty: bool,
        expected: tuple[str | None, str | None, str | None]) -> None:
    document = _saved()
    document["commit_info"].update(id=commit, branch=branch, dirty=dirty)
    record = _one(_write(tmp_path, document))
    source = record["source"]
    assert (source["commit"], source["ref"], source["commit_title"]) == expected
    dirty_notes = [w for w in record["benchmarks"][0]["warnings"] if "uncommitted" in w]
    assert len(dirty_notes) == (1 if dirty else 0)


def test_no_machine_or_commit_info(tmp_path: Path) -> None:
    document = _saved()
    del document["machine_info"], document["commit_info"], document["datetime"]
    record = _one(_write(tmp_path, document))
    assert record["source"]["commit"] is None
    assert record["environment"]["hardware"]["cpu_model"] == "unknown"
    assert record["run"]["started_at"] == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(("change", "line"), [
    (lambda d: d["benchmarks"][1]["stats"].pop("median"), "$.benchmarks[1].stats.median: missing"),
    (lambda d: d["benchmarks"][0]["stats"].update(q1="fast"),
     '$.benchmarks[0].stats.q1: expected a number, found "fast"'),
    (lambda d: d["benchmarks"][2]["stats"].update(min=1.0),
     "$.benchmarks[2].stats: expected min <= q1, found 1 > 4.7"),
    (lambda d: d["benchmarks"][0]["stats"].update(rounds=0),
     "$.benchmarks[0].stats.rounds: expected an integer >= 1, found 0"),
    (lambda d: d.update(benchmarks=[]), "$.benchmarks: expected at least one benchmark"),
    (lambda d: d.pop("benchmarks"), "$.benchmarks: missing"),
    (lambda d: d["commit_info"].update(time="yesterday"),
     '$.commit_info.time: expected an ISO 8601 date-time, found "yesterday"'),
    (lambda d: d["benchmarks"].append(d["benchmarks"][0]),
     ('$.benchmarks[3]: duplicate benchmark "test_tiny.py::test_fib" with the same params as '
      "$.benchmarks[0]")),
])
def test_bad_inputs_name_file_and_field(tmp_path: Path, change: Any, line: str) -> None:
    document = _saved()
    change(document)
    path = _write(tmp_path, document)
    with pytest.raises(ImportFormatError) as caught:
        read_records("pytest-benchmark", [path], suite="pb")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}: {line}")


def test_every_bad_benchmark_is_listed(tmp_path: Path) -> None:
    document = _saved()
    for entry in document["benchmarks"]:
        del entry["stats"]
    with pytest.raises(ImportFormatError) as caught:
        read_records("pytest-benchmark", [_write(tmp_path, document)], suite="pb")
    assert [line.split(": ", 1)[1] for line in caught.value.problems] == [
        f"$.benchmarks[{i}].stats: missing" for i in range(3)]


def test_not_an_object(tmp_path: Path) -> None:
    path = _write(tmp_path, [1, 2])
    with pytest.raises(ImportFormatError) as caught:
        read_records("pytest-benchmark", [path], suite="pb")
    assert f"{path}: $: expected an object, found [1, 2]" in caught.value.problems
