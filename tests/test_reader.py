"""Reading foreign JSON: every problem at its file and JSON path."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchtrail.errors import ImportFormatError
from benchtrail.importers.reader import Bad, Node, Problems, limit, load_json


def test_paths_of_nested_and_odd_keys() -> None:
    node = Node({"a": [{"b c": {"d": 1}}]})
    leaf = node.get("a").items()[0].get("b c").get("d")
    assert leaf.path == '$.a[0]["b c"].d'
    with pytest.raises(Bad) as caught:
        node.get("a").items()[0].get("missing")
    assert str(caught.value) == "$.a[0].missing: missing"


@pytest.mark.parametrize(("value", "message"), ids=lambda v: repr(v)[:20], argvalues=[
    ("1.5", 'expected a number, found "1.5"'),
    (True, "expected a number, found true"),
    (float("nan"), "expected a finite number, found NaN"),
    (10**400, "expected a finite number, found 1000"),
    (1e101, "expected a number between -1e+100 and 1e+100, found 1e+101"),
    (-1, "expected a number >= 0, found -1"),
])
def test_numbers(value: object, message: str) -> None:
    with pytest.raises(Bad) as caught:
        Node(value).number(minimum=0)
    assert caught.value.message.startswith(message)
    assert len(caught.value.message) < 120


def test_numbers_written_as_text_where_allowed() -> None:
    assert Node(" 31 ").number(numeric_text=True) == 31.0
    assert Node(2.0).integer() == 2
    with pytest.raises(Bad, match="expected an integer below 2\\*\\*53"):
        Node(2**60).integer()


def test_text_must_be_unicode() -> None:
    with pytest.raises(Bad, match="lone surrogate"):
        Node("\ud800").text()
    with pytest.raises(Bad, match="lone surrogate"):
        list(Node({"\udfff": 1}).fields())


def test_scalars_for_params() -> None:
    assert Node("x").scalar() == "x"
    assert Node(3).scalar() == 3
    assert Node(None).scalar() == "null"
    assert Node({"b": [1, 2], "a": None}).scalar() == '{"a":null,"b":[1,2]}'


def test_problems_collect_then_raise_once() -> None:
    problems = Problems("in.json")
    kept = problems.each(Node([1, "x", 3, None]).items(), lambda n: n.number())
    assert kept == [1.0, 3.0]
    with pytest.raises(ImportFormatError) as caught:
        problems.check()
    assert caught.value.problems == ('in.json: $[1]: expected a number, found "x"',
                                     "in.json: $[3]: expected a number, found null")


def test_long_lists_of_problems_are_cut() -> None:
    lines = [f"line {i}" for i in range(120)]
    assert limit(lines)[-1] == "... and 71 more problems"
    assert len(limit(lines)) == 50


def test_loading(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": NaN}')
    assert Node(load_json(path).value["a"]).value != 0  # a BOM and NaN are read
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ImportFormatError, match="not UTF-8 text: byte 7"):
        load_json(path)
    path.write_text("[" * 100_000, encoding="utf-8")
    with pytest.raises(ImportFormatError, match="not valid JSON"):
        load_json(path)
