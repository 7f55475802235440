"""An asv results folder (real results of asv 0.6.6, format version 2)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchtrail.errors import ImportFormatError
from benchtrail.importers import read_records
from benchtrail.importers.asv import param_value
from benchtrail.results.model import Benchmark, Metric, Record

RESULTS = Path(__file__).parent / "data" / "imports" / "asv-results"
MACHINE = RESULTS / "ci-runner-1"
LATER = MACHINE / "428465a3-existing-py_tmp_asvenv_bin_python.json"


def _records(path: Path = RESULTS, machine: str | None = None) -> list[Record]:
    return read_records("asv", [path], suite="asv", machine=machine)


def _by_key(record: Record) -> dict[tuple[str, str], Benchmark]:
    return {(b.name.rsplit(".", 1)[-1], json.dumps(b.params, sort_keys=True)): b
            for b in record.benchmarks}


def test_one_record_per_result_file_with_its_commit_and_date() -> None:
    records = _records()
    assert [(r.source.commit, r.source.commit_time) for r in records] == [
        ("428465a30e422134da1313ecd802c3fbe0358292", "2026-01-13T15:20:00Z"),
        ("a689727c1df7100099a19aebe4138fbc995bc3ed", "2026-01-12T09:00:00Z"),
    ]
    hardware = records[0].environment.hardware
    assert (hardware.cpu_model, hardware.cpu_count, hardware.runner_label) == (
        "AMD EPYC 7B13", 4, "ci-runner-1 / existing-py_tmp_asvenv_bin_python")
    assert records[0].environment.platform == "Linux 6.8.0-1015-gcp"
    assert records[0].run.started_at == "2026-11-25T01:32:44Z"  # the first benchmark's start
    assert (_records(machine="bench-box")[0].environment.hardware.runner_label
            == "bench-box / existing-py_tmp_asvenv_bin_python")


def test_parameterized_benchmarks_get_named_params() -> None:
    entries = _by_key(_records()[0])
    predict = [key[1] for key in entries if key[0] == "time_predict"]
    assert predict == ['{"batch_size": 1, "dtype": "float32"}', '{"batch_size": 1, "dtype": "int8"}',
                       '{"batch_size": 8, "dtype": "float32"}', '{"batch_size": 8, "dtype": "int8"}']


def test_samples_give_a_distribution_and_types_give_the_metric() -> None:
    later, earlier = _records()
    result = json.loads(LATER.read_text(encoding="utf-8"))["results"]
    tokenize = _by_key(later)[("time_tokenize", "{}")]
    latency = tokenize.metrics["latency_ms"].distribution
    samples = result["bench_infer.time_tokenize"][11][0]
    assert latency is not None and latency.n == len(samples) == 5
    assert latency.p50 == pytest.approx(result["bench_infer.time_tokenize"][0][0] * 1000)
    assert tokenize.calls == 676 * 5  # stats_number x stats_repeat
    # the earlier run recorded no samples: asv's result (a median) as a single value
    single = _by_key(earlier)[("time_tokenize", "{}")].metrics["latency_ms"]
    assert set(single.to_json()) == {"unit", "direction", "value", "runs"}
    peak = _by_key(later)[("peakmem_load_weights", "{}")].metrics
    rss_mb = result["bench_infer.peakmem_load_weights"][0][0] / 2**20
    assert peak == {"peak_rss_mb": Metric("MB", "lower", value=rss_mb, runs=(rss_mb,))}
    track = _by_key(later)[("track_accuracy", "{}")].metrics["value"]
    assert (track.unit, track.value) == ("fraction", 0.913)


def test_failed_and_skipped_benchmarks_are_kept() -> None:
    entries = _by_key(_records()[0])
    broken = entries[("time_broken", "{}")]
    assert (broken.metrics, broken.errors, broken.calls) == ({}, 1, 1)
    skipped = entries[("time_predict", '{"batch_size": 8, "dtype": "int8"}')]
    assert (skipped.metrics, skipped.errors) == ({}, 0)
    assert skipped.warnings == ("asv: the benchmark was skipped: NaN result",)


def test_a_machine_folder_and_no_benchmarks_json(tmp_path: Path) -> None:
    assert len(_records(MACHINE)) == 2
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    (copy / "benchmarks.json").unlink()
    later = _records(copy)[0]
    # without benchmarks.json: types from the name prefix, param names param1, param2
    assert ("time_predict", '{"param1": 1, "param2": "float32"}') in _by_key(later)
    assert _by_key(later)[("track_accuracy", "{}")].metrics["value"].unit == "unitless"


@pytest.mark.parametrize(("text", "value"), [
    ("1", 1), ("-3", -3), ("2.5", 2.5), ("1e-3", 0.001), ("'float32'", "float32"),
    ('"a b"', "a b"), ("True", True), ("None", "None"), ("<class 'int'>", "<class 'int'>"),
    ("1" * 30, 1e29 + 1.111111111111111e28),
])
def test_param_values(text: str, value: Any) -> None:
    assert param_value(text) == pytest.approx(value) if isinstance(value, float) else \
        param_value(text) == value


def _broken(tmp_path: Path, change: Any) -> Path:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    target = copy / "ci-runner-1" / LATER.name
    document = json.loads(target.read_text(encoding="utf-8"))
    change(document)
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


@pytest.mark.parametrize(("change", "line"), [
    (lambda d: d.update(version=1), "$.version: expected 2 (asv's result format; `asv update`"),
    (lambda d: d.pop("commit_hash"), "$.commit_hash: missing"),
    (lambda d: d.update(date="today"), '$.date: expected a number, found "today"'),
    (lambda d: d["results"]["bench_infer.Predict.time_predict"][0].pop(),
     '$.results["bench_infer.Predict.time_predict"][0]: expected 4 results, one per parameter'),
    (lambda d: d["results"]["bench_infer.time_tokenize"][11].append([1.0]),
     '$.results["bench_infer.time_tokenize"][11]: expected 1 values, one per parameter'),
    (lambda d: d.update(results={}), "$.results: expected at least one benchmark"),
])
def test_bad_result_files_are_named(tmp_path: Path, change: Any, line: str) -> None:
    target = _broken(tmp_path, change)
    with pytest.raises(ImportFormatError) as caught:
        _records(tmp_path / "results")
    (problem,) = caught.value.problems
    assert problem.startswith(f"{target}: {line}")


def test_not_an_asv_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no asv machine folder"):
        _records(tmp_path)
    with pytest.raises(ImportFormatError, match="expected an asv results folder"):
        _records(tmp_path / "nothing")


def test_each_asv_environment_is_a_series_of_its_own(tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    other = json.loads(LATER.read_text())
    other["env_name"], other["python"] = "virtualenv-py3.13", "3.13"
    (copy / "ci-runner-1" / "428465a3-virtualenv-py3.13.json").write_text(json.dumps(other))
    records = _records(copy)
    by_env = {r.environment.hardware.runner_label: r.fingerprint for r in records}
    assert sorted(by_env) == ["ci-runner-1 / existing-py_tmp_asvenv_bin_python", "ci-runner-1 / virtualenv-py3.13"]
    assert len(set(by_env.values())) == 2


def test_results_of_a_benchmark_version_no_longer_listed_are_left_out(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    copy = tmp_path / "results"
    shutil.copytree(RESULTS, copy)
    target = copy / "ci-runner-1" / LATER.name
    document = json.loads(target.read_text())
    at = document["result_columns"].index("version")
    document["results"]["bench_infer.peakmem_load_weights"][at] = "an-older-version"
    target.write_text(json.dumps(document))
    with caplog.at_level(logging.WARNING, logger="benchtrail"):
        records = _records(copy)
    later = next(r for r in records if r.source.commit and r.source.commit.startswith("428465a3"))
    assert "peakmem_load_weights" not in {b.name.rsplit(".", 1)[-1] for b in later.benchmarks}
    assert "1 benchmark result(s) of a version that benchmarks.json no longer lists were left out" in caplog.text
