"""The shared schema checking: validators, one line per problem, paths and shortened values."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pytest
import referencing.exceptions

from benchtrail.results.validation import (
    field_path,
    format_problems,
    json_path,
    json_type,
    load_schema,
    make_acceptor,
    make_validator,
    schema_problems,
    shorten,
)

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def lines(schema: dict[str, Any], instance: Any, **options: Any) -> list[str]:
    validator = make_validator({"$schema": DRAFT, **schema}, **options)
    return format_problems(schema_problems(validator, instance), source="f.toml", render=field_path)


# --- validators ---------------------------------------------------------------------


def test_load_schema_reads_package_data() -> None:
    document = load_schema("benchtrail.results", "result-1.schema.json")
    assert document["$id"] == "https://benchtrail.dev/schemas/result-1.schema.json"


@pytest.mark.parametrize(("schema", "value", "lenient", "strict"), [
    ({"type": "integer"}, 2.0, [], ["f.toml: expected integer, found 2.0"]),
    ({"type": "integer"}, True, ["f.toml: expected integer, found true"], ["f.toml: expected integer, found true"]),
    ({"type": "number"}, math.nan, [], ["f.toml: expected a finite number, found NaN"]),
    ({"type": "number", "exclusiveMinimum": 0}, -math.inf,
     ["f.toml: expected a number > 0, found -Infinity"], ["f.toml: expected a finite number, found -Infinity"]),
    ({"type": "number"}, 10**400, [], ["f.toml: expected a finite number, found 1" + "0" * 56 + "..."]),
    ({"pattern": "^[a-z]+$"}, "slug\n", [], ['f.toml: expected a string matching ^[a-z]+$, found "slug\\n"']),
    ({"pattern": "^[a-z]+\\$"}, "cost$", [], []),
])
def test_strict_is_for_files_people_write(schema: dict[str, Any], value: Any, lenient: list[str],
                                          strict: list[str]) -> None:
    assert lines(schema, value) == lenient
    assert lines(schema, value, strict=True) == strict


def test_only_the_named_formats_are_asserted() -> None:
    schema = {"type": "string", "format": "date-time"}
    assert lines(schema, "yesterday") == []
    assert lines(schema, "yesterday", formats={"date-time": lambda value: value != "yesterday"}) == [
        'f.toml: expected an RFC 3339 date-time, found "yesterday"'
    ]


@pytest.mark.parametrize(("instance", "accepted"), [
    ({"n": 1.5, "when": "2026-01-01", "name": "ab"}, True),
    ({"n": -1}, False),  # the schema's own rules
    ({"when": "yesterday"}, False),  # a format given by name is asserted with its function
    ({"name": "ab\n"}, False),  # a pattern's $ ends the text
    ({"free": math.nan}, False),  # what JSON cannot hold, even where the schema says nothing
    ({"free": [{"x": -math.inf}]}, False),
    ({"free": "\ud800"}, False),
    ({"free": {"\udc00": 1}}, False),
    ({1: 2}, False),  # a key that is not text: no error, a no
])
def test_the_fast_check_says_yes_only_to_what_jsonschema_accepts(instance: Any, accepted: bool) -> None:
    schema = {"$schema": DRAFT, "type": "object", "properties": {
        "n": {"type": "number", "minimum": 0}, "when": {"type": "string", "format": "date"},
        "name": {"type": "string", "pattern": "^[a-z]+$"}}}
    accepts = make_acceptor(schema, formats={"date": lambda text: text[:4].isdigit()})
    assert accepts(instance) is accepted


def test_references_resolve_to_the_given_schemas_and_never_the_network() -> None:
    other = {"$schema": DRAFT, "$id": "https://example.com/s/other.json",
             "$defs": {"slug": {"type": "string", "pattern": "^[a-z]+$"}}}
    schema = {"$id": "https://example.com/s/main.json", "properties": {"name": {"$ref": "other.json#/$defs/slug"}}}
    assert lines(schema, {"name": "Ab"}, references=[other]) == [
        'f.toml: name: expected a string matching ^[a-z]+$, found "Ab"'
    ]
    with pytest.raises(referencing.exceptions.Unresolvable):
        lines(schema, {"name": "Ab"})


# --- messages -----------------------------------------------------------------------


def test_every_problem_in_document_order_without_repeats() -> None:
    schema = {"type": "array", "items": {"type": "object", "required": ["name"],
                                         "additionalProperties": False, "properties": {"name": {}, "runs": {"minimum": 1}}}}
    items: list[Any] = [{"name": "a"} for _ in range(11)]
    items[2] = {"runs": 0}
    items[10] = {"name": "b", "typo": 1, "other": 2}
    assert lines(schema, items) == [
        "f.toml: [2]: 'name' is a required property",
        "f.toml: [2].runs: expected a number >= 1, found 0",
        'f.toml: [10]: unknown keys "typo", "other"',
    ]
    found = [(("b",), "late"), (("a", 1), "x"), (("a", 1), "x"), ((), "root")]
    assert format_problems(found) == ["$: root", "$.a[1]: x", "$.b: late"]
    assert format_problems(found, source="f.toml", render=field_path) == [
        "f.toml: root", "f.toml: a[1]: x", "f.toml: b: late",
    ]


def test_an_any_of_names_the_closest_branch() -> None:
    whole = {"type": "integer", "minimum": 1}
    sweep = {"anyOf": [whole, {"type": "array", "minItems": 1, "items": whole}]}
    assert lines(sweep, 0) == ["f.toml: expected a number >= 1, found 0"]
    assert lines(sweep, []) == ["f.toml: expected at least 1 items, found 0"]
    assert lines(sweep, [1, 0]) == ["f.toml: [1]: expected a number >= 1, found 0"]
    assert lines(sweep, "x") == ['f.toml: expected integer, found "x"']


def test_a_pattern_says_its_title_in_words() -> None:
    schema = {
        "properties": {
            "target": {"$ref": "#/$defs/target"},
            "name": {"$ref": "#/$defs/slug", "title": "a slug like 'my-model'"},
            "id": {"$ref": "#/$defs/slug"},
        },
        "$defs": {"target": {"title": "module:function", "pattern": ":"}, "slug": {"pattern": "^[a-z]+$"}},
    }
    assert lines(schema, {"target": "x", "name": "A", "id": "B"}) == [
        'f.toml: id: expected a string matching ^[a-z]+$, found "B"',
        "f.toml: name: expected a slug like 'my-model', found \"A\"",
        'f.toml: target: expected module:function, found "x"',
    ]


def test_a_toml_date_or_time_is_shown_as_written() -> None:
    assert lines({"type": "integer"}, dt.date(1979, 5, 27)) == ["f.toml: expected integer, found 1979-05-27"]
    assert shorten(dt.time(7, 32)) == "07:32:00"


# --- paths and values ---------------------------------------------------------------


def test_paths_stay_on_one_line() -> None:
    parts = ("benchmark", 2, "headers", "X-Trace", "Bad Name", "a.b\nc")
    assert field_path(parts) == 'benchmark[2].headers.X-Trace."Bad Name"."a.b\\nc"'
    assert json_path(parts) == '$.benchmark[2].headers["X-Trace"]["Bad Name"]["a.b\\nc"]'
    assert field_path(()) == ""
    assert json_path(()) == "$"
    assert field_path((0, "k")) == "[0].k"


def test_values_are_one_line_of_json_cut_short() -> None:
    assert shorten("x" * 500) == json.dumps("x" * 500)[:57] + "..."
    assert shorten({"b": 1, "a": [1.5, None]}) == '{"a": [1.5, null], "b": 1}'
    assert shorten({1, 2}) == '"{1, 2}"'  # not JSON: its repr
    assert (json_type(True), json_type(3), json_type(2.5), json_type(None), json_type(b"")) == (
        "boolean", "number", "number", "null", "bytes")
