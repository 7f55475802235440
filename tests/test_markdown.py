"""The merge request note of a comparison: one note per suite, safe against hostile names."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, row, sha

from benchtrail.compare.comparison import BaselineSummary, Comparison, Confirmation
from benchtrail.gitlab.markdown import render_markdown, render_note, suite_page_url
from benchtrail.results.model import Source

SOURCE = {"commit": sha(7), "ref": "feature/x", "mr_iid": "12",
          "pipeline_url": "https://gitlab.example.com/g/p/-/pipelines/9"}
OUR_TAGS = {"<details>", "</details>", "<summary>", "</summary>", "<sub>", "</sub>"}


def comparison(*rows, merge_base: str | None = None, baselines=None, notes=None) -> Comparison:  # type: ignore[no-untyped-def]
    return Comparison(tuple(rows), "main", merge_base, 0.05, baselines or {}, notes or {}, Source(**SOURCE))


def table_rows(markdown: str) -> list[list[str]]:
    """Every table line's cells, split where GitHub splits them: at pipes not escaped."""
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            for line in markdown.splitlines() if line.startswith("|")]


def outside_code(markdown: str) -> str:
    return re.sub(r"`[^`\n]*`", "", markdown)


def test_one_note_per_suite_each_with_only_its_rows() -> None:
    odd = "z b-->c/é%"
    both = comparison(row("x", "regression", change=0.3), row("y", suite=odd),
                      row("z", "improvement", change=-0.2, suite=odd))
    demo, other = render_note(both, "demo"), render_note(both, odd)
    assert demo.startswith("### ❌ benchtrail · `demo`: 1 regression")
    assert other.startswith("### ✅ benchtrail · `z b--›c/é%`: 1 improvement, 1 unchanged")
    assert "`x`" in demo and "`y`" not in demo and "`y`" in other and "`z`" in other
    assert render_markdown(both) == demo + "\n" + other
    assert "<!--" not in render_markdown(both)  # no hidden metadata: note reads the comparison document


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
        "`a\\|b`", "`x'y'`", "`‹img src=x›`", "`two lines \\| and 'ticks'`", "`back\\`",
        "`‹!-- benchtrail:section suite=evil verdict=unchanged --›`", "`p[k=v\\|w‹/details›]`"]
    assert set(re.findall(r"</?\w+[^>]*>", outside_code(text))) <= OUR_TAGS


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
    at_base = {("demo", FINGERPRINT): BaselineSummary((sha(3),), sha(3), True, False)}
    text = render_markdown(comparison(row(), merge_base=sha(3), baselines=at_base))
    assert (f"`{sha(7)[:12]}` (!12) compared with `main` at the merge base `{sha(3)[:12]}`: 1 commit of runs, "
            "minimum effect 5 %.") in text
    before = {("demo", FINGERPRINT): BaselineSummary((sha(3),), sha(3), False, False, before_merge_base=True)}
    assert "before the merge base" in render_markdown(comparison(row(), merge_base=sha(4), baselines=before))
    unknown = {("demo", FINGERPRINT): BaselineSummary((sha(3),), sha(3), False, False)}
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


def test_the_note_says_how_each_verdict_was_confirmed() -> None:
    paired = replace(row("slow", "regression", change=0.2),
                     confirmation=Confirmation("paired", 5, sha(3), ((10.0, 12.0),) * 5))
    alone = replace(row("fast", "inconclusive", change=0.1),
                    confirmation=Confirmation("same_job", 5, reason="the merge base has no bench/suite.toml | @all"))
    note = render_note(comparison(paired, alone, row("calm")), "demo")
    assert (f"Confirmed in pairs: `slow` ran 5 times beside the code of `{sha(3)[:12]}`, the two in turn "
            f"in this job") in note
    assert "Confirmed in this job: `fast` ran 5 more times" in note
    assert "`the merge base has no bench/suite.toml \\| @\u200ball`" in note  # user text stays in a code span
    cells = {r[1]: r[-1] for r in table_rows(note)}
    assert cells["`slow`"] == f"regression · 5 pairs with {sha(3)[:12]}"
    assert cells["`fast`"].endswith("· 5 more runs")
    assert "Confirmed" not in render_note(comparison(row("calm")), "demo")


def test_the_note_links_to_the_merge_request_page_first() -> None:
    text = render_note(comparison(row()), "demo", report_url="https://g.example.io/proj",
                       mr_page_url="https://g.example.com/p/-/jobs/7/artifacts/file/mr/index.html")
    assert ("[This merge request's charts](https://g.example.com/p/-/jobs/7/artifacts/file/mr/index.html) · "
            "[History charts](https://g.example.io/proj/suites/demo.html)") in text
    assert "This merge request's charts" not in render_note(comparison(row()), "demo")


HOSTILE = ("![img](https://evil.example/p.png) [click](https://evil.example) @all <!-- # fake `x` *b* _i_ {+d+} "
           "~label %miles $snip &#60;b&#62; \x1b[31m\x00")
OUR_LINKS = re.compile(r"\[(?:This merge request's charts|History charts|Pipeline)\]\([^()\s]*\)")


def hostile_note(pipeline_url: str) -> str:
    suite = f"# {HOSTILE}"
    broken = replace(row(HOSTILE, "broken", change=None, suite=suite, unit=HOSTILE, params=(("k", HOSTILE),)),
                     detail=HOSTILE)
    paired = replace(row("x", "regression", change=0.3, suite=suite, metric_name=HOSTILE),
                     confirmation=Confirmation("paired", 5, HOSTILE, ((10.0, 12.0),) * 5))
    alone = replace(row("y", "inconclusive", change=0.07, suite=suite),
                    confirmation=Confirmation("same_job", 5, reason=HOSTILE))
    notes = {(suite, FINGERPRINT): (HOSTILE,)}
    source = Source(**{**SOURCE, "commit": HOSTILE, "mr_iid": HOSTILE, "pipeline_url": pipeline_url})
    hostile = Comparison((broken, paired, alone, row("calm", suite=suite)), f"\n# {HOSTILE}", HOSTILE, 0.05,
                         {}, notes, source)
    return render_note(hostile, suite, report_url="https://g.example.io/p")


@pytest.mark.parametrize("pipeline_url", [
    "https://gl.example.com/p/-/pipelines/9)![img](https://evil.example/p.png) <!-- @all",
    "javascript:alert(1)//https://gl.example.com",
    "https://gl.example.com/p/-/pipelines/9\n# fake heading",
])
def test_no_record_value_can_inject_markup_mentions_or_headings(pipeline_url: str) -> None:
    text = hostile_note(pipeline_url)
    for made in ("@all", "<!--", "-->", "<b>", "\x1b", "\x00"):
        assert made not in text, made
    markup = OUR_LINKS.sub("", outside_code(text))  # a code span shows what it holds as it is
    assert "![" not in markup and "](" not in markup and not re.search(r"(?<!\\)[&*_\[]", markup)
    assert "://evil" not in markup  # no bare address made a link either
    assert [line for line in text.splitlines() if line.lstrip().startswith("#")] == [text.splitlines()[0]]
    assert text.startswith("### ❌ benchtrail · `# ![img](https://evil.example/p.png) [click](https://evil.example) "
                           "@\u200ball ‹!-- # fake 'x' *b* _i_ {+d+} ~label %miles $snip &#60;b&#62; \\x1b[31m\\x00`")
    assert {len(line) for line in table_rows(text)} == {7}
    assert set(re.findall(r"</?\w+[^>]*>", outside_code(text))) <= OUR_TAGS


def test_a_pipeline_url_is_a_link_only_when_it_is_a_web_address() -> None:
    links = hostile_note("https://gl.example.com/p/-/pipelines/9)![img](https://evil.example/p.png) <!-- @all")
    assert ("[Pipeline](https://gl.example.com/p/-/pipelines/9%29!%5Bimg%5D%28https://evil.example/p.png%29"
            "%20%3C!--%20%40all)") in links
    assert "[Pipeline]" not in hostile_note("javascript:alert(1)//https://gl.example.com")
    assert "[Pipeline]" not in hostile_note("gl.example.com/p/-/pipelines/9")


def test_text_outside_code_spans_reads_as_itself() -> None:
    notes = {("demo", FINGERPRINT): ("image `x` *changed* @all <b>see</b> [a](b) #1 !2 ~3 | https://e.io www.e.io",)}
    text = render_markdown(comparison(row(), notes=notes))
    assert (f"- Environment `{FINGERPRINT[:12]}`: image \\`x\\` \\*changed\\* @\u200ball ‹b›see‹/b› "
            "\\[a\\]\\(b\\) \\#1 \\!2 \\~3 \\| https:\u200b//e.io www\u200b.e.io.") in text


def test_a_serving_benchmark_gets_its_token_figures_at_p50_and_p99() -> None:
    params = (("concurrency", 8),)
    ttft = replace(row("chat", "regression", change=0.25, metric_name="ttft_ms", params=params), tail=(40.0, 90.0))
    tpot = replace(row("chat", change=0.01, metric_name="tpot_ms", params=params), tail=(None, 12.0))
    tokens = row("chat", change=-0.1, metric_name="output_throughput", unit="tokens/s", direction="higher",
                 params=params)
    plain = row("double")
    note = render_note(comparison(ttft, tpot, tokens, plain), "demo")
    serving = [cells for cells in table_rows(note) if cells[0] == "`chat[concurrency=8]`"]
    assert serving[0] == ["`chat[concurrency=8]`", "10 ms → 12.5 ms (+25.0 %)", "40 ms → 90 ms (+125.0 %)",
                          "10 ms → 10.1 ms (+1.0 %)", "12 ms", "10 tokens/s → 9 tokens/s (-10.0 %)", "-"]
    assert note.index("| Serving") < note.index("| Benchmark")  # read first, never folded away
    assert not [cells for cells in table_rows(note) if cells[0] == "`double`" and len(cells) == 7]


def test_no_serving_table_without_token_timings() -> None:
    assert "Serving" not in render_note(comparison(row("double", "regression", change=0.3)), "demo")
