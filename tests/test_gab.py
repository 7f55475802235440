"""github-action-benchmark customSmallerIsBetter / customBiggerIsBetter JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchtrail.errors import ImportFormatError
from benchtrail.importers import read_records
from benchtrail.results.model import Metric, Record

DATA = Path(__file__).parent / "data" / "imports"


@pytest.mark.parametrize(("fmt", "direction"), [("gab-smaller", "lower"), ("gab-bigger", "higher")])
def test_each_item_is_a_single_value(fmt: str, direction: str) -> None:
    source = json.loads((DATA / f"{fmt}.json").read_text(encoding="utf-8"))
    (record,) = read_records(fmt, [DATA / f"{fmt}.json"], suite="gab")
    for entry, item in zip(record.benchmarks, source, strict=True):
        assert entry.name == item["name"]
        assert entry.metrics == {"value": Metric(item["unit"], direction, value=float(item["value"]),
                                                 runs=(float(item["value"]),))}
        assert entry.target is not None and entry.target.startswith("github-action-benchmark custom")
        assert entry.calls == 0
    assert record.source.commit is None


def _read(tmp_path: Path, items: Any) -> list[Record]:
    path = tmp_path / "out.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return read_records("gab-smaller", [path], suite="gab")


def test_a_missing_unit_is_said(tmp_path: Path) -> None:
    (record,) = _read(tmp_path, [{"name": "queue depth", "value": 3}])
    (entry,) = record.benchmarks
    assert entry.metrics["value"].unit == "unitless"
    assert entry.warnings == ("github-action-benchmark gave no unit: 'unitless' is used",)


def test_long_names_are_cut_to_the_schema_limit(tmp_path: Path) -> None:
    (record,) = _read(tmp_path, [{"name": "x" * 300, "unit": "ms", "value": 1}])
    assert record.benchmarks[0].name == "x" * 197 + "..."


@pytest.mark.parametrize(("items", "lines"), [
    ({"name": "a"}, ['$: expected an array, found {"name": "a"}']),
    ([], ["$: expected at least one benchmark"]),
    ([{"name": "a", "unit": "ms", "value": "fast"}, {"unit": "ms", "value": 1}],
     ['$[0].value: expected a number, found "fast"', "$[1].name: missing"]),
    ([{"name": "a", "unit": "ms", "value": None}], ["$[0].value: expected a number, found null"]),
    ([{"name": "a", "unit": "ms", "value": 1}, {"name": "a", "unit": "s", "value": 2}],
     ['$[1]: duplicate benchmark "a" with the same params as $[0]']),
])
def test_bad_items(tmp_path: Path, items: Any, lines: list[str]) -> None:
    with pytest.raises(ImportFormatError) as caught:
        _read(tmp_path, items)
    assert caught.value.problems == tuple(f"{tmp_path / 'out.json'}: {line}" for line in lines)
