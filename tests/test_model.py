"""The typed record: JSON in and out unchanged, and what a record is known by."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from gitremotes import golden

from benchtrail.results.model import (
    Distribution,
    Hardware,
    Metric,
    Record,
    benchmark_label,
    tidy,
)

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"


def test_a_record_read_and_written_again_is_the_same_json() -> None:
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    record = Record.from_json(data)
    assert record.to_json() == data
    assert Record.from_json(record.to_json()) == record


def test_optional_fields_keep_their_presence() -> None:
    data = copy.deepcopy(golden())
    entry = data["benchmarks"][0]
    entry["warnings"] = []
    entry.pop("dataset")
    del data["environment"]["image"]
    assert Record.from_json(data).to_json() == data


def test_headline_is_p50_of_a_distribution_else_the_value() -> None:
    metrics = Record.from_json(golden()).benchmarks[0].metrics
    assert metrics["latency_ms"].headline == 0.051297
    assert metrics["throughput"].headline == 13294.3534
    assert Metric("x", "lower", 3).headline == 3.0 and isinstance(Metric("x", "lower", 3).headline, float)
    assert Metric("x", "lower", 9).run_values == (9.0,)  # a record without runs: its headline, once


def test_labels_carry_sorted_params() -> None:
    assert benchmark_label("mlp", {}) == "mlp"
    assert benchmark_label("mlp", {"batch_size": 8}) == "mlp[batch_size=8]"
    assert benchmark_label("mlp", {"z": "a", "batch_size": 1}) == "mlp[batch_size=1,z=a]"
    assert Record.from_json(golden()).benchmarks[1].label == "mlp[batch_size=8]"


def test_names_and_paths_of_a_record() -> None:
    record = Record.from_json(golden())
    assert record.filename() == "mlp-cpu-20260302T131240Z-3f9c2a7e5b1d.json"
    assert record.branch_path() == "results/mlp-cpu/2026/03/20260302T131240Z-3f9c2a7e5b1d-8823411.json"
    assert record.commit_key == "3f9c2a7e5b1d4c8f0a6e2d9b7c4a1f3e8d5b0c2a"
    anonymous = record.replace(source=record.source.__class__())
    assert anonymous.commit_key == record.run.started_at
    assert anonymous.filename().endswith("-nocommit.json") and anonymous.branch_path().endswith("-nocommit-local.json")
    odd = record.replace(source=record.source.__class__(job_id="a/b c"))
    assert odd.branch_path().endswith("-nocommit-a_b_c.json")


def test_the_fingerprint_hashes_the_hardware_block() -> None:
    record = Record.from_json(golden())
    assert record.environment.hardware.fingerprint == record.fingerprint == "d305c9f7cbc55706"
    other = Hardware("cpu", 2, None, 0, "gpu-a100")
    assert other.fingerprint != Hardware("cpu", 2, None, 0, "").fingerprint and len(other.fingerprint) == 16


def test_a_distribution_of_samples() -> None:
    summary = Distribution.of([4, 1, 3, 2], 0.5)
    assert (summary.n, summary.min, summary.max, summary.p50, summary.mean) == (4, 0.5, 2.0, 1.25, 1.25)
    assert len(summary.sketch) == 17 and summary.sketch[0] >= 0.5
    with pytest.raises(ValueError, match="empty"):
        Distribution.of([])


def test_tidy_drops_float_noise() -> None:
    assert tidy(0.0008309999999999999) == 0.000831
    assert tidy([0.1 + 0.2, 1]) == [0.3, 1] and tidy((0.1 + 0.2,)) == (0.3,)
