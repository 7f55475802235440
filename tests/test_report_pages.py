"""``report.pages``: templates autoescape, only our own SVG is trusted."""

from __future__ import annotations

from reportfixtures import HOSTILE_NAME, HOSTILE_TITLE

from benchtrail.report.pages import day, inline_stylesheet, moment, render, status_class, stylesheet, svg

BASE = {"site_title": "<i>t</i>", "data_until": None, "inline_css": None, "root": "", "nav": "regressions",
        "page_title": HOSTILE_NAME}


def test_text_from_records_is_escaped_and_svg_is_not() -> None:
    row = {"filter": HOSTILE_NAME, "date": "", "short": "abc", "url": "https://x.example/c", "title": HOSTILE_TITLE,
           "suite": "s", "benchmark": HOSTILE_NAME, "metric": "m", "environment": "e", "before": "1", "after": "2",
           "change": "+1 %", "worse": True, "chart": "suites/s.html#a"}
    page = render("regressions.html", {**BASE, "rows": [row]})
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x" in page and "<i>t</i>" not in page
    assert str(svg("<svg></svg>")) == "<svg></svg>" and svg(None) is None


def test_stylesheet_themes_and_dates() -> None:
    css = stylesheet()
    assert "prefers-color-scheme: dark" in css and "@import" not in css and "url(" not in css
    page = render("mr.html", {**BASE, "inline_css": inline_stylesheet(), "heading": "h", "verdict": "unchanged",
                              "verdict_class": "unchanged", "counts": "", "commit": None, "target_ref": "main",
                              "merge_base": "", "min_effect": "5 %", "pipeline": None, "notes": [], "rows": []})
    assert '"Segoe UI"' in page and "<link" not in page
    assert moment("2026-03-02T10:05:00+02:00") == "2026-03-02 08:05 UTC" and day("2026-03-02T23:30:00-02:00") == "2026-03-03"
    assert moment("yesterday") == "yesterday" and day(None) == ""
    assert [status_class(s) for s in ("regression", "broken", "improved", "no baseline")] == [
        "regressed", "broken", "improved", "unchanged"]
