"""github-action-benchmark data.js: a whole history, one record per entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchtrail.commands.importing import ImportOptions
from benchtrail.commands.importing import import_results as import_command
from benchtrail.errors import ImportFormatError
from benchtrail.importers import read_records
from benchtrail.importers.gab_history import parse_data_js
from benchtrail.results.model import Metric, Record

DATA = Path(__file__).parent / "data" / "imports"
DATA_JS = DATA / "data.js"


def import_results(fmt: str, paths: list[Path], **options: Any) -> list[Path]:
    return import_command(ImportOptions(fmt=fmt, paths=paths, **options))


def _document() -> dict[str, Any]:
    return parse_data_js(DATA_JS.read_text(encoding="utf-8"), "data.js").value


def test_one_record_per_entry_keeping_commit_time_and_title() -> None:
    records = read_records("gab-data-js", [DATA_JS], suite="history")
    assert [(r.source.commit, r.source.commit_time, r.source.commit_title, r.run.started_at)
            for r in records] == [
        ("9c1e5be4d0b7a3f2e8c6d4b2a0f9e7c5b3a1d8f6", "2025-02-10T14:21:08+01:00",
         "Vectorise the pre-processing step (#41)", "2025-02-10T13:23:11Z"),
        ("e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46", "2025-02-11T09:02:44-05:00",
         'Cache the tokenizer <vocab> & "merges"', "2025-02-11T14:02:51Z"),
        ("e4a7c2f90b13d58e6a2f4c7b9d1e3a5c8f0b2d46", "2025-02-11T09:02:44-05:00",
         'Cache the tokenizer <vocab> & "merges"', "2025-02-11T14:35:11Z"),
    ]
    assert {r.source.project_url for r in records} == {
        "https://github.com/example-org/tinyinfer"}


def test_direction_follows_the_tool() -> None:
    records = read_records("gab-data-js", [DATA_JS], suite="history")
    pytest_bench = records[0].benchmarks[0]
    assert pytest_bench.metrics["value"] == Metric("iter/sec", "higher", value=2471.0383, runs=(2471.0383,))
    assert pytest_bench.target == (
        "github-action-benchmark pytest: Python Benchmark with pytest-benchmark")
    custom = records[2].benchmarks
    assert [b.metrics["value"].direction for b in custom] == ["lower", "lower"]
    assert custom[0].metrics["value"].value == 7.42  # written as the string "7.42"


def test_the_whole_history_is_written(tmp_path: Path) -> None:
    written = import_results("gab-data-js", [DATA_JS], suite="history", out_dir=tmp_path)
    assert [p.name for p in written] == [
        "history-20250210T132311Z-9c1e5be4d0b7.json",
        "history-20250211T140251Z-e4a7c2f90b13.json",
        "history-20250211T143511Z-e4a7c2f90b13.json",
    ]


def _read(tmp_path: Path, document: Any, prefix: str = "window.BENCHMARK_DATA = ",
          suffix: str = "") -> list[Record]:
    path = tmp_path / "data.js"
    path.write_text(prefix + json.dumps(document, indent=2) + suffix, encoding="utf-8")
    return read_records("gab-data-js", [path], suite="history")


def test_plain_json_and_a_trailing_semicolon_are_read(tmp_path: Path) -> None:
    assert len(_read(tmp_path, _document(), prefix="")) == 3
    assert len(_read(tmp_path, _document(), suffix=";\n")) == 3


def test_a_short_commit_id_is_kept_in_ref_not_as_commit(tmp_path: Path) -> None:
    document = _document()
    document["entries"]["GPU latency"][0]["commit"]["id"] = "e4a7c2f"
    record = _read(tmp_path, document)[2]
    assert (record.source.commit, record.source.ref) == (None, "e4a7c2f")


@pytest.mark.parametrize(("change", "line"), [
    (lambda d: d["entries"]["GPU latency"][0].update(tool="criterion"),
     '$.entries["GPU latency"][0].tool: expected one of benchmarkdotnet, benchmarkjs, '),
    (lambda d: d["entries"]["GPU latency"][0].pop("date"),
     '$.entries["GPU latency"][0].date: missing'),
    (lambda d: d["entries"]["GPU latency"][0]["benches"][1].update(value="n/a"),
     '$.entries["GPU latency"][0].benches[1].value: expected a number, found "n/a"'),
    (lambda d: d["entries"]["Python Benchmark with pytest-benchmark"][1]["commit"].pop("id"),
     '$.entries["Python Benchmark with pytest-benchmark"][1].commit.id: missing'),
    (lambda d: d.update(entries={}), "$.entries: expected at least one entry"),
    (lambda d: d.update(entries=[]), "$.entries: expected an object, found []"),
])
def test_bad_entries_are_named(tmp_path: Path, change: Any, line: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(ImportFormatError) as caught:
        _read(tmp_path, document)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{tmp_path / 'data.js'}: {line}")


@pytest.mark.parametrize(("text", "message"), [
    ("window.DATA = {}", "expected 'window.BENCHMARK_DATA = {...}'"),
    ("window.BENCHMARK_DATA = {", "not valid JSON: "),
    ("window.BENCHMARK_DATA = {} trailing", "unexpected text after the data at char 26: 'trailing'"),
])
def test_not_a_data_js(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "data.js"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        read_records("gab-data-js", [path], suite="history")
    assert caught.value.problems[0].startswith(f"{path}: {message}")
