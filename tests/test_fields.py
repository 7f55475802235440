"""Suite-file field checks: they report a problem line and return BAD instead of raising."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchtrail.bench.fields import (
    BAD,
    Problems,
    field_key,
    integer,
    not_json,
    number,
    show,
)
from benchtrail.errors import SuiteError


def test_checks_collect_every_problem_then_raise_once() -> None:
    problems = Problems(Path("/x/suite.toml"))
    assert integer(3, "benchmark[0].runs", problems, minimum=1) == 3
    assert integer(True, "benchmark[0].runs", problems, minimum=1) is BAD
    assert number(float("inf"), "benchmark[0].rate", problems) is BAD
    assert number(2, "benchmark[1].rate", problems) == 2.0
    with pytest.raises(SuiteError) as caught:
        problems.raise_if_any()
    assert caught.value.problems == (
        "suite.toml: benchmark[0].runs: expected a whole number >= 1, found True",
        "suite.toml: benchmark[0].rate: expected a finite number > 0, found inf",
    )


def test_keys_and_values_stay_on_one_line() -> None:
    assert field_key("batch_size") == "batch_size"
    assert field_key("a.b\nc") == '"a.b\\nc"'
    assert len(show("x" * 500)) == 60
    assert not_json({"a": [1, "b", {"c": 2.5}]}) is None
    assert not_json({"a": [float("nan")]}) == "nan"
