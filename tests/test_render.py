"""A comparison in words: quantities, changes, the terminal table."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from comparefixtures import row, sha

from benchtrail.compare.comparison import Comparison, Confirmation
from benchtrail.compare.render import confirmed_how, explain, format_change, format_quantity, render_table
from benchtrail.results.model import Source

SOURCE = {"commit": sha(7), "ref": "feature/x", "mr_iid": "12",
          "pipeline_url": "https://gitlab.example.com/g/p/-/pipelines/9"}
def comparison(*rows, merge_base: str | None = None, baselines=None, notes=None) -> Comparison:  # type: ignore[no-untyped-def]
    return Comparison(tuple(rows), "main", merge_base, 0.05, baselines or {}, notes or {}, Source(**SOURCE))


def test_the_table_lists_every_row_and_the_verdict() -> None:
    text = render_table(comparison(row("a", "regression", change=0.2), row("b", "no_baseline", change=None)))
    lines = text.splitlines()
    assert lines[0].split() == ["suite", "benchmark", "metric", "environment", "baseline", "current", "change",
                                "σ/run", "verdict"]
    assert "+20.0 %" in lines[2] and " 2.0 %" in lines[2] and lines[2].endswith("regression")
    assert lines[3].endswith("no baseline")
    assert lines[-1] == "verdict: regression"

@pytest.mark.parametrize(("value", "shown"), [
    (0.0, "0 s"), (0.5, "0.5 s"), (0.012345, "0.0123 s"), (0.0001234, "0.000123 s"), (1.0, "1 s"),
    (99.94, "99.9 s"), (99.96, "100 s"), (1234.5, "1,230 s"), (-4567.0, "-4,570 s"), (1.2e15, "1,200,000,000,000,000 s"),
    (1.234e-5, "0.0000123 s"), (-2.5e-7, "-0.00000025 s"), (0.0994, "0.0994 s"), (-0.5, "-0.5 s"),
])
def test_format_quantity_gives_three_digits_and_never_an_exponent(value: float, shown: str) -> None:
    assert format_quantity(value, "s") == shown

def test_format_quantity_and_change_of_nothing() -> None:
    assert format_quantity(None, "ms") == format_quantity(math.nan, "ms") == format_quantity(math.inf, "ms") == "-"
    assert format_quantity(3.0, "") == "3"
    assert [format_change(c) for c in (0.1234, -0.004, 0.0, None)] == ["+12.3 %", "-0.4 %", "+0.0 %", "-"]



def test_the_why_line_says_how_the_verdict_was_confirmed() -> None:
    paired = replace(row("slow", "regression", change=0.2),
                     confirmation=Confirmation("paired", 3, sha(3), ((10.0, 12.0),) * 3))
    why = explain(paired, 0.05, "main")
    assert "per pair" in why and why.endswith(f"; measured in 3 pairs with {sha(3)[:12]}, the two codes in turn "
                                              f"in one job")
    alone = replace(row("fast", "inconclusive", change=0.1),
                    confirmation=Confirmation("same_job", 2, reason="no merge base commit to measure beside it"))
    assert explain(alone, 0.05, "main").endswith(
        "; with 2 more runs in one job (no pairs: no merge base commit to measure beside it)")
    assert confirmed_how(paired) == f"3 pairs with {sha(3)[:12]}" and confirmed_how(row("calm")) is None


def test_the_table_prints_no_control_character_from_a_record() -> None:
    text = render_table(comparison(row("\x1b[2Jwipe\x00", "regression", change=0.2, suite="s\x9b1m", unit="ms\x07")))
    assert "\\x1b[2Jwipe\\x00" in text and "s\\x9b1m" in text and "\\x07" in text
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in text)
