"""The note, the terminal table, the JSON and the webhook text of a comparison."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest
from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, bench_record, row, sha

from benchtrail.compare.baseline import Baseline
from benchtrail.compare.comparison import Comparison
from benchtrail.compare.render import (
    format_change,
    format_quantity,
    note_sections,
    render_json,
    render_markdown,
    render_table,
    suite_page_url,
    webhook_payload,
)
from benchtrail.compare.rule import Decision

SOURCE = {"commit": sha(7), "ref": "feature/x", "mr_iid": "12",
          "pipeline_url": "https://gitlab.example.com/g/p/-/pipelines/9"}
OUR_TAGS = {"<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}


def comparison(*rows, merge_base: str | None = None, baselines=None, notes=None) -> Comparison:  # type: ignore[no-untyped-def]
    return Comparison(tuple(rows), "main", merge_base, 0.05, baselines or {}, notes or {}, dict(SOURCE))


def table_rows(markdown: str) -> list[list[str]]:
    """Every table line's cells, split where GitHub splits them: at pipes not escaped."""
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            for line in markdown.splitlines() if line.startswith("|")]


def outside_code(markdown: str) -> str:
    return re.sub(r"`[^`\n]*`", "", markdown)


def test_sections_are_marked_and_note_sections_reads_them_back() -> None:
    odd = "z b-->c/é%"
    text = render_markdown(comparison(row("x", "regression", change=0.3), row("y", suite=odd),
                                      row("z", "improvement", change=-0.2, suite=odd)))
    assert text.startswith("<!-- benchtrail:section suite=demo verdict=regression -->\n")
    markers = [line for line in text.splitlines() if line.startswith("<!--")]
    assert len(markers) == 2 and all(line.count("-->") == 1 for line in markers)  # none closes early
    sections = note_sections(text)
    assert list(sections) == ["demo", odd]
    assert sections[odd][0] == "improvement" and sections["demo"][0] == "regression"
    demo, other = sections["demo"][1], sections[odd][1]
    assert "`x`" in demo and "`y`" not in demo and "`y`" in other and "`z`" in other
    assert demo + "\n" + other == text
    assert note_sections("no marker here") == {}


def test_hostile_benchmark_names_cannot_break_the_table_or_inject_html() -> None:
    names = ["a|b", "x`y`", "<img src=x>", "two\nlines | and `ticks`", "back\\",
             "\n<!-- benchtrail:section suite=evil verdict=unchanged -->\n"]
    rows = [row(name, "regression", change=0.5 - i / 10) for i, name in enumerate(names)]
    rows.append(row("p", "inconclusive", change=0.07, params=(("k", "v|w</details>"),)))
    text = render_markdown(comparison(*rows))
    cells = table_rows(text)
    assert len(cells) == 2 + len(rows)
    assert {len(line) for line in cells} == {7}
    assert [line[1] for line in cells[2:]] == [
        "`a\\|b`", "`x'y'`", "`<img src=x>`", "`two lines \\| and 'ticks'`", "`back\\`",
        "`<!-- benchtrail:section suite=evil verdict=unchanged -->`", "`p[k=v\\|w</details>]`"]
    assert set(re.findall(r"</?\w+[^>]*>", outside_code(text))) <= OUR_TAGS
    assert list(note_sections(text)) == ["demo"]  # a name cannot start a section of its own


def test_a_hostile_unit_cannot_break_the_table_or_inject_html() -> None:
    text = render_markdown(comparison(row("x", "regression", change=0.5, unit="ms|<img src=x>")))
    assert {len(line) for line in table_rows(text)} == {7}
    assert "<img" not in outside_code(text)


def test_unchanged_rows_are_folded_away_below_the_others() -> None:
    text = render_markdown(comparison(row("slow", "regression", change=0.2), row("same1"), row("same2"),
                                      row("new", "no_baseline", change=None)))
    loud, _, folded = text.partition("<details><summary>2 unchanged</summary>")
    assert "`slow`" in loud and "`new`" in loud and "`same1`" not in loud
    assert "`same1`" in folded and "`same2`" in folded and "</details>" in folded
    assert "### ❌ benchtrail · `demo`: 1 regression, 1 no baseline, 2 unchanged" in text
    assert "<details>" not in render_markdown(comparison(row("slow", "regression", change=0.2)))


def test_verdict_cells_and_counts() -> None:
    text = render_markdown(comparison(row("a", "regression", change=0.25), row("b", "regression", change=0.1),
                                      row("c", "inconclusive", change=0.07)))
    assert "2 regressions, 1 inconclusive" in text
    by_label = {line[1]: line for line in table_rows(text)[2:]}
    assert by_label["`a`"] == ["🔴", "`a`", "`latency_ms`", "10 ms", "12.5 ms", "+25.0 %", "regression"]
    assert by_label["`c`"][-1] == "inconclusive (within the noise: 5.0 %)"


def test_several_environments_get_an_environment_column() -> None:
    text = render_markdown(comparison(row("a"), row("a", fingerprint=OTHER_FINGERPRINT)))
    header = table_rows(text)[0]
    assert header[3] == "Environment"
    assert sorted(line[3] for line in table_rows(text)[2:]) == sorted(
        [f"`{FINGERPRINT[:12]}`", f"`{OTHER_FINGERPRINT[:12]}`"])
    assert "Environment" not in table_rows(render_markdown(comparison(row("a"))))[0]


def test_the_baseline_line_says_what_was_compared() -> None:
    record = bench_record({"double": [1.0]}, n=3)
    at_base = {("demo", FINGERPRINT): Baseline((record, record), sha(3), True, False)}
    text = render_markdown(comparison(row(), merge_base=sha(3), baselines=at_base))
    assert (f"`{sha(7)[:12]}` (!12) compared with `main` at the merge base `{sha(3)[:12]}`: 1 commit of runs, "
            "minimum effect 5 %.") in text
    before = {("demo", FINGERPRINT): Baseline((record,), sha(3), False, False, before_merge_base=True)}
    assert "before the merge base" in render_markdown(comparison(row(), merge_base=sha(4), baselines=before))
    unknown = {("demo", FINGERPRINT): Baseline((record,), sha(3), False, False)}
    assert (f"the latest runs of `main` (the merge base `{sha(4)[:12]}` has no runs and is not in this clone)"
            in render_markdown(comparison(row(), merge_base=sha(4), baselines=unknown)))
    assert "the latest runs of `main`: no runs" in render_markdown(comparison(row()))


def test_links_and_environment_notes() -> None:
    notes = {("demo", FINGERPRINT): ("image changed since the baseline",)}
    text = render_markdown(comparison(row(), notes=notes), report_url="https://g.example.io/proj/")
    assert f"Environment `{FINGERPRINT[:12]}`: image changed since the baseline." in text
    assert ("[History charts](https://g.example.io/proj/suites/demo.html) · "
            f"[Pipeline]({SOURCE['pipeline_url']})") in text
    assert suite_page_url("https://x.io/p", "a b/c") == "https://x.io/p/suites/a%20b%2Fc.html"


def test_json_has_a_fixed_shape_and_no_nan() -> None:
    weird = dataclasses.replace(row("w", "inconclusive"), decision=Decision(
        "inconclusive", math.nan, math.inf, change=math.nan, noise=math.inf))
    data = render_json(comparison(row("a", "regression", change=0.2, params=(("batch", 4),)), weird))
    assert list(data) == ["verdict", "target_ref", "merge_base", "min_effect", "results"]
    assert data["verdict"] == "regression"
    first = data["results"][0]
    assert set(first) == {"suite", "benchmark", "params", "metric", "unit", "direction", "environment",
                          "baseline", "current", "change", "noise", "threshold", "baseline_runs",
                          "current_runs", "verdict"}
    assert (first["benchmark"], first["params"], first["metric"], first["verdict"]) == (
        "a", {"batch": 4}, "latency_ms", "regression")
    assert (first["baseline"], first["current"], first["change"]) == (10.0, pytest.approx(12.0), 0.2)
    assert data["results"][1]["baseline"] is None and data["results"][1]["noise"] is None
    assert json.loads(json.dumps(data, allow_nan=False)) == data


def test_the_table_lists_every_row_and_the_verdict() -> None:
    text = render_table(comparison(row("a", "regression", change=0.2), row("b", "no_baseline", change=None)))
    lines = text.splitlines()
    assert lines[0].split() == ["suite", "benchmark", "metric", "environment", "baseline", "current", "change",
                                "σ/run", "verdict"]
    assert "+20.0 %" in lines[2] and " 2.0 %" in lines[2] and lines[2].endswith("regression")
    assert lines[3].endswith("no baseline")
    assert lines[-1] == "verdict: regression"


def test_the_webhook_text_names_each_regressed_benchmark() -> None:
    rows = [row(f"model-{i}", "regression", change=0.5 - i / 100) for i in range(12)]
    payload = webhook_payload(comparison(*rows, row("fine")))
    text = payload["text"].splitlines()
    assert text[0] == f"benchtrail: 12 regressions on feature/x at {sha(7)[:12]}"
    assert text[1] == "- demo model-0 latency_ms: +50.0 % (10 ms -&gt; 15 ms)"  # escaped for Slack
    assert [line.split()[2] for line in text[1:11]] == [f"model-{i}" for i in range(10)]
    assert text[11] == "- and 2 more" and text[12] == f"Pipeline: {SOURCE['pipeline_url']}"
    assert len(payload["results"]) == 12 and {r["verdict"] for r in payload["results"]} == {"regression"}
    assert payload["commit"] == sha(7) and payload["ref"] == "feature/x"
    json.dumps(payload, allow_nan=False)


def test_the_webhook_text_escapes_what_slack_and_mattermost_would_read_as_mentions_or_links() -> None:
    payload = webhook_payload(comparison(row("<!channel>", "regression", change=0.5),
                                         row("a&b <http://x|y>", "regression", change=0.4)))
    lines = payload["text"].splitlines()
    assert lines[1] == "- demo &lt;!channel&gt; latency_ms: +50.0 % (10 ms -&gt; 15 ms)"
    assert lines[2] == "- demo a&amp;b &lt;http://x|y&gt; latency_ms: +40.0 % (10 ms -&gt; 14 ms)"
    assert "<" not in payload["text"] and ">" not in payload["text"]
    assert [r["benchmark"] for r in payload["results"]] == ["<!channel>", "a&b <http://x|y>"]  # data as is


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
