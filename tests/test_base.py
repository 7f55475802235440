"""The record parts every importer shares."""

from __future__ import annotations

import pytest

from benchtrail.importers.base import Context, environment, from_epoch_ms, interpolated, rfc3339, run, source
from benchtrail.importers.reader import Bad, Node
from benchtrail.results.model import SKETCH_QUANTILES, Hardware


@pytest.mark.parametrize(("commit", "ref", "title", "expected"), [
    ("A" * 40, "main", "Fix\n\nbody", ("a" * 40, "main", "Fix")),
    ("b" * 64, None, None, ("b" * 64, None, None)),
    ("abc1234", None, "Fix", (None, "abc1234", "Fix")),
    ("abc1234", "main", "Fix", (None, "main", "abc1234 Fix")),
    ("abc1234", "main", None, (None, "main", "abc1234")),
    (None, None, "  ", (None, None, None)),
])
def test_source_keeps_only_full_shas_as_commits(
        commit: str | None, ref: str | None, title: str | None,
        expected: tuple[str | None, str | None, str | None]) -> None:
    block = source(commit, ref=ref, title=title)
    assert (block.commit, block.ref, block.commit_title) == expected


@pytest.mark.parametrize(("text", "kept", "utc"), [
    ("2026-02-10T09:30:00+01:00", "2026-02-10T09:30:00+01:00", "2026-02-10T08:30:00Z"),
    ("2026-02-10T09:30:00Z", "2026-02-10T09:30:00+00:00", "2026-02-10T09:30:00Z"),
    ("2026-02-10T09:30:00.123456", "2026-02-10T09:30:00.123456+00:00", "2026-02-10T09:30:00Z"),
    ("0005-01-01T00:00:00+00:00", "0005-01-01T00:00:00+00:00", "0005-01-01T00:00:00Z"),
])
def test_times(text: str, kept: str, utc: str) -> None:
    assert rfc3339(Node(text)) == kept
    assert rfc3339(Node(text), utc=True) == utc


@pytest.mark.parametrize("text", ["yesterday", "0001-01-01T00:00:00+05:00", ""])
def test_bad_times(text: str) -> None:
    with pytest.raises(Bad):
        rfc3339(Node(text), utc=True)


def test_epoch_milliseconds() -> None:
    assert from_epoch_ms(Node(1768317600000)) == "2026-01-13T15:20:00Z"
    with pytest.raises(Bad, match="milliseconds since 1970"):
        from_epoch_ms(Node(1e30))


def test_unknown_hardware_and_the_fingerprint() -> None:
    block = environment(Context("s", "gpu-box"), cpu_model=" ", cpu_count=0, label="asv-name").to_json()
    assert block["hardware"] == {"cpu_model": "unknown", "cpu_count": 1, "gpu_model": None,
                                 "gpu_count": 0, "runner_label": "gpu-box"}
    assert block["fingerprint"] == Hardware(**block["hardware"]).fingerprint  # as `benchtrail run` has it
    assert environment(Context("s"), label="asv-name").hardware.runner_label == "asv-name"
    assert (block["gpu"], block["python"], block["platform"]) == ("none", "unknown", "unknown")


def test_run_without_a_known_start() -> None:
    block = run(None)
    assert block.started_at == "1970-01-01T00:00:00Z"
    assert block.runs == 1 and block.tool_version


def test_interpolated_quantiles_are_monotone_and_stop_at_the_last_knot() -> None:
    metric = interpolated([(0.0, 1.0), (0.5, 2.0), (0.75, 4.0)], n=9, mean=2.5, stdev=1.0,
                          maximum=30.0, unit="ms", direction="lower").to_json()
    values = metric["sketch"]["values"]
    assert values == sorted(values) and len(values) == len(SKETCH_QUANTILES)
    assert (metric["min"], metric["p50"], metric["p90"], metric["max"]) == (1.0, 2.0, 4.0, 30.0)
    assert values[SKETCH_QUANTILES.index(0.25)] == 1.5
