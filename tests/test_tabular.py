"""``benchtrail history`` output: an aligned table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from gitremotes import golden, make_record

from benchtrail.results.model import Record
from benchtrail.results.series import Point, series
from benchtrail.results.tabular import format_points, printable

POINTS = series([Record.from_json(golden()), Record.from_json(make_record(1))], metric="latency_ms")


def test_table_has_one_row_per_point_with_short_commits() -> None:
    text = format_points(POINTS, "table")
    lines = text.splitlines()
    assert text.endswith("\n")
    assert lines[0].split() == ["date", "commit", "ref", "environment", "suite", "benchmark", "metric",
                                "value", "unit"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(POINTS)
    assert "3f9c2a7e5b1d " in text and "3f9c2a7e5b1d4" not in text
    assert "0.051297" in text and "mlp[batch_size=8]" in text


def test_table_keeps_text_as_text_and_marks_missing_values() -> None:
    point = replace(POINTS[0], commit="000000000001" + "ab" * 14, ref="1.10", fingerprint="0012345678901234",
                    value=1234567.891)
    missing = replace(POINTS[0], commit=None, ref=None)
    rows = format_points([point, missing], "table").splitlines()[2:]
    assert rows[0].split()[1:4] == ["000000000001", "1.10", "0012345678901234"]
    assert "1.23457e+06" in rows[0]  # six significant digits
    assert rows[1].split()[1:3] == ["-", "-"]


def test_json_is_a_list_of_every_field() -> None:
    data = json.loads(format_points(POINTS, "json"))
    assert len(data) == len(POINTS)
    assert set(data[0]) == set(Point.__dataclass_fields__)
    assert Point(**{**data[0], "runs": tuple(data[0]["runs"])}) == POINTS[0]
    assert format_points([], "json") == "[]\n"


def test_json_keeps_unicode() -> None:
    point = replace(POINTS[0], ref="fix/ümlaut")
    assert '"fix/ümlaut"' in format_points([point], "json")


def test_csv_has_full_values_and_a_header() -> None:
    text = format_points(POINTS, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["started_at", "commit", "ref", "fingerprint", "suite", "benchmark", "metric",
                             "value", "unit"]
    assert rows[0]["commit"] == POINTS[0].commit and float(rows[0]["value"]) == POINTS[0].value
    assert len(rows) == len(POINTS)
    assert format_points([], "csv") == "started_at,commit,ref,fingerprint,suite,benchmark,metric,value,unit\n"


def test_csv_quotes_what_needs_quoting() -> None:
    point = replace(POINTS[0], ref='a,"b"\nc', commit=None)
    (row,) = list(csv.DictReader(io.StringIO(format_points([point], "csv"))))
    assert row["ref"] == 'a,"b"\nc' and row["commit"] == ""


def test_printable_shows_control_characters_as_escapes() -> None:
    assert printable("a\x1b[2J\x00b\x07\x7f\x9b\u202e\u2028\tz\n") == (
        "a\\x1b[2J\\x00b\\x07\\x7f\\x9b\\u202e\\u2028\\x09z\\x0a")
    assert printable("mlp[batch=8] été ✓") == "mlp[batch=8] été ✓"


def test_the_table_prints_no_control_character_from_a_record() -> None:
    point = replace(POINTS[0], benchmark="\x1b[31mevil\x00", ref="main\r\x1b]0;title\x07", suite="s\u202eus")
    text = format_points([point], "table")
    assert "\\x1b[31mevil\\x00" in text and "main\\x0d\\x1b]0;title\\x07" in text and "s\\u202eus" in text
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 or c == "\u202e" for c in text)
