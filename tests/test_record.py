"""Record files: canonical bytes, atomic refusing writes, and reads that name the file."""

from __future__ import annotations

import json
import math
import os
import random
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchtrail.errors import RecordError
from benchtrail.results import (
    dump_record,
    load_record,
    parse_record,
    record_bytes,
    validate,
)
from benchtrail.results.model import Record

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"
typed = Record.from_json


@pytest.fixture
def record() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return loaded


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def _refusal(exc: pytest.ExceptionInfo[RecordError]) -> tuple[str, ...]:
    return exc.value.problems


# --- round trip and canonical bytes --------------------------------------------------


def test_dump_then_load_gives_the_record_back(tmp_path: Path, record: dict[str, Any]) -> None:
    written = dump_record(typed(record), tmp_path / "run.json")
    assert written == tmp_path / "run.json"
    assert load_record(written) == typed(record)
    assert load_record(str(written)) == typed(record)


def test_dump_creates_missing_folders(tmp_path: Path, record: dict[str, Any]) -> None:
    target = tmp_path / "results" / "mlp-cpu" / "2026" / "03" / "run.json"
    dump_record(typed(record), target)
    assert load_record(target) == typed(record)


def test_the_same_record_gives_the_same_bytes(tmp_path: Path, record: dict[str, Any]) -> None:
    record["source"]["commit_title"] = "Schnellere Faltung → 2× weniger Speicher: “ok” 🚀"
    dump_record(typed(record), tmp_path / "a.json")
    dump_record(typed(_shuffled(record, random.Random(7))), tmp_path / "b.json")
    first = (tmp_path / "a.json").read_bytes()
    assert first == (tmp_path / "b.json").read_bytes() == record_bytes(typed(record))
    assert first.endswith(b"}\n") and not first.endswith(b"\n\n")
    text = first.decode("utf-8")  # UTF-8, with the characters themselves, not \u escapes
    assert "→ 2× weniger Speicher: “ok” 🚀" in text
    assert "\\u" not in text and "\r" not in text


def test_keys_are_sorted_at_every_level(record: dict[str, Any]) -> None:
    seen: list[list[str]] = []

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen.append([key for key, _ in pairs])
        return dict(pairs)

    json.loads(record_bytes(typed(_shuffled(record, random.Random(3)))), object_pairs_hook=hook)
    assert len(seen) > 10
    assert all(keys == sorted(keys) for keys in seen)


def test_the_golden_file_is_in_canonical_form(record: dict[str, Any]) -> None:
    assert record_bytes(typed(record)) == GOLDEN.read_bytes()


def test_the_golden_record_of_version_1_validates_and_round_trips(tmp_path: Path) -> None:
    loaded = load_record(GOLDEN)
    record = loaded.to_json()
    assert record["schema"] == "benchtrail.result/1"
    assert [b["params"] for b in record["benchmarks"]] == [{"batch_size": 1}, {"batch_size": 8}]
    for benchmark in record["benchmarks"]:
        metrics = benchmark["metrics"]
        assert {"latency_ms", "throughput", "peak_rss_mb"} <= set(metrics)
        assert len(metrics["latency_ms"]["sketch"]["values"]) == 17
        assert len(metrics["latency_ms"]["runs"]) == benchmark["runs"] == 3
    assert len(record["source"]["commit"]) == 40
    assert record["environment"]["gpu"] == "none"
    assert set(record["run"]) >= {"started_at", "duration_s", "tool_version", "warmup", "iterations"}
    copy = dump_record(loaded, tmp_path / "copy.json")
    assert copy.read_bytes() == GOLDEN.read_bytes()


def test_every_shipped_schema_version_has_a_golden_record() -> None:
    from importlib import resources

    shipped = sorted(
        entry.name for entry in resources.files("benchtrail.results").joinpath("schemas").iterdir()
        if entry.name.endswith(".schema.json")
    )
    assert shipped == ["result-1.schema.json"]
    for name in shipped:
        golden = GOLDEN.parent / name.replace(".schema.json", ".json")
        assert load_record(golden).to_json()["schema"] == "benchtrail.result/1"


# --- never overwrite, never leave anything behind --------------------------------------


def test_refuses_to_overwrite_without_replace(tmp_path: Path, record: dict[str, Any]) -> None:
    target = tmp_path / "run.json"
    target.write_bytes(b"precious")
    with pytest.raises(RecordError) as caught:
        dump_record(typed(record), target)
    assert _refusal(caught) == (f"{target}: already exists; refusing to overwrite a record",)
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["run.json"]


def test_replace_overwrites(tmp_path: Path, record: dict[str, Any]) -> None:
    target = tmp_path / "run.json"
    target.write_bytes(b"old")
    dump_record(typed(record), target, replace=True)
    assert load_record(target) == typed(record)
    assert os.listdir(tmp_path) == ["run.json"]


def test_refuses_a_dangling_link_in_the_way(tmp_path: Path, record: dict[str, Any]) -> None:
    target = tmp_path / "run.json"
    target.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(RecordError, match="already exists"):
        dump_record(typed(record), target)
    assert not (tmp_path / "elsewhere.json").exists()


def test_a_folder_in_the_way_is_a_record_error(tmp_path: Path, record: dict[str, Any]) -> None:
    (tmp_path / "run.json").mkdir()
    with pytest.raises(RecordError, match="already exists"):
        dump_record(typed(record), tmp_path / "run.json")
    with pytest.raises(RecordError) as caught:
        dump_record(typed(record), tmp_path / "run.json", replace=True)
    assert _refusal(caught) == (f"{tmp_path / 'run.json'}: cannot write: Is a directory",)
    assert os.listdir(tmp_path) == ["run.json"]
    assert os.listdir(tmp_path / "run.json") == []


def test_a_file_where_the_folder_should_be(tmp_path: Path, record: dict[str, Any]) -> None:
    (tmp_path / "results").write_text("not a folder", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        dump_record(typed(record), tmp_path / "results" / "run.json")
    (line,) = _refusal(caught)
    assert line.startswith(f"{tmp_path / 'results'}: cannot create the folder: ")


def test_an_invalid_record_is_refused_and_nothing_is_left(tmp_path: Path, record: dict[str, Any]) -> None:
    record["benchmarks"][0]["metrics"]["latency_ms"]["p99"] = "slow"
    record["source"]["commit"] = "not-a-sha"
    target = tmp_path / "out" / "run.json"
    with pytest.raises(RecordError) as caught:
        dump_record(typed(record), target)
    assert _refusal(caught) == (
        f"{target}: $.benchmarks[0].metrics.latency_ms.p99: expected number, found \"slow\"",
        f"{target}: $.source.commit: expected a string matching ^[0-9a-f]{{40}}([0-9a-f]{{24}})?$, found \"not-a-sha\"",
    )
    assert os.listdir(tmp_path) == []  # no target, no temporary file, not even the folder


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_on_write(tmp_path: Path, record: dict[str, Any], bad: float) -> None:
    record["benchmarks"][1]["metrics"]["throughput"]["value"] = bad
    with pytest.raises(RecordError) as caught:
        dump_record(typed(record), tmp_path / "run.json")
    assert _refusal(caught) == (
        f"{tmp_path / 'run.json'}: $.benchmarks[1].metrics.throughput.value: expected a finite number, found {bad}",
    )
    assert os.listdir(tmp_path) == []
    with pytest.raises(RecordError, match=r"^\$\.benchmarks\[1\]\.metrics\.throughput\.value: expected a finite"):
        record_bytes(typed(record))


def test_a_lone_surrogate_is_refused_on_write(tmp_path: Path, record: dict[str, Any]) -> None:
    record["source"]["commit_title"] = "half an emoji \ud83d"
    with pytest.raises(RecordError, match=r"\$\.source\.commit_title: expected Unicode text"):
        dump_record(typed(record), tmp_path / "run.json")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_file_gets_the_usual_permissions(tmp_path: Path, record: dict[str, Any]) -> None:
    old = os.umask(0o022)
    try:
        dump_record(typed(record), tmp_path / "run.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "run.json").stat().st_mode) == 0o644


# --- reading ---------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_file_are_refused(tmp_path: Path, record: dict[str, Any], literal: str) -> None:
    text = record_bytes(typed(record)).decode().replace('"stdev": 0.', f'"stdev": {literal}, "x": 0.', 1)
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        load_record(path)
    assert _refusal(caught) == (f"{path}: not valid JSON: {literal} is not a number JSON allows",)


def test_a_number_too_large_for_a_float_is_refused(tmp_path: Path, record: dict[str, Any]) -> None:
    text = record_bytes(typed(record)).decode()
    text = text.replace(f'"value": {record["benchmarks"][0]["metrics"]["throughput"]["value"]}', '"value": 1e400')
    path = tmp_path / "run.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        load_record(path)
    assert _refusal(caught) == (
        f"{path}: $.benchmarks[0].metrics.throughput.value: expected a finite number, found inf",
    )


def test_invalid_json_names_the_file(tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(record_bytes(typed(record))[:100])
    with pytest.raises(RecordError) as caught:
        load_record(path)
    (line,) = _refusal(caught)
    assert line.startswith(f"{path}: not valid JSON: ")
    assert line.endswith("line 7 column 1 (char 100)")


def test_non_utf8_names_the_file(tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "latin1.json"
    record["source"]["commit_title"] = "Größer"
    path.write_bytes(json.dumps(record, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(RecordError) as caught:
        load_record(path)
    (line,) = _refusal(caught)
    assert line.startswith(f"{path}: not UTF-8 text: byte ")


def test_utf16_is_not_utf8(tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "utf16.json"
    path.write_bytes(json.dumps(record).encode("utf-16"))
    with pytest.raises(RecordError, match=r"utf16\.json: not UTF-8 text"):
        load_record(path)


def test_a_byte_order_mark_is_tolerated(tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + record_bytes(typed(record)))
    assert load_record(path) == typed(record)


def test_duplicate_keys_are_refused(record: dict[str, Any]) -> None:
    text = record_bytes(typed(record)).decode().replace('"suite": "mlp-cpu"', '"suite": "mlp-cpu", "suite": "other"')
    with pytest.raises(RecordError) as caught:
        parse_record(text, "dup.json")
    assert _refusal(caught) == ('dup.json: not valid JSON: duplicate key "suite"',)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(RecordError) as caught:
        parse_record(b"[" * 100_000 + b"]" * 100_000, "deep.json")
    assert _refusal(caught) == ("deep.json: not valid JSON: nested too deeply",)


def test_a_lone_surrogate_escape_is_refused_on_read(record: dict[str, Any]) -> None:
    text = record_bytes(typed(record)).decode().replace('"Fuse the', '"\\udc80Fuse the')
    with pytest.raises(RecordError) as caught:
        parse_record(text, "sur.json")
    assert _refusal(caught) == ("sur.json: $.source.commit_title: expected Unicode text, found a lone surrogate",)


def test_a_record_that_fails_the_schema_names_the_file(tmp_path: Path, record: dict[str, Any]) -> None:
    record["schema"] = "benchtrail.result/9"
    path = tmp_path / "future.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        load_record(path)
    (line,) = _refusal(caught)
    assert line.startswith(f"{path}: $.schema: ")
    assert line.endswith("upgrade benchtrail")


def test_a_missing_file_is_a_record_error(tmp_path: Path) -> None:
    with pytest.raises(RecordError) as caught:
        load_record(tmp_path / "nope.json")
    assert _refusal(caught) == (f"{tmp_path / 'nope.json'}: cannot read: No such file or directory",)


def test_a_folder_is_not_a_record(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="cannot read: Is a directory"):
        load_record(tmp_path)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_give_a_record_or_a_record_error(data: bytes) -> None:
    try:
        parse_record(data, "any.json")
    except RecordError as exc:
        assert all(line.startswith("any.json: ") and len(line.splitlines()) == 1 for line in exc.problems)


def test_parse_accepts_text_and_bytes(record: dict[str, Any]) -> None:
    data = record_bytes(typed(record))
    assert parse_record(data, "x") == parse_record(data.decode(), "x") == typed(validate(record))


def test_what_is_no_regular_file_or_far_too_large_is_refused_without_reading_it(tmp_path: Path) -> None:
    from benchtrail.results import record as record_module

    with pytest.raises(RecordError, match=r"^/dev/zero: not a regular file$"):
        load_record("/dev/zero")  # read forever, before
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(RecordError, match=r"big.json: larger than"):
        record_module.read_capped(big, limit=1024)
