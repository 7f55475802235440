"""``report.site``: the whole site from records: pages, relative links, escaping, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, history, typed
from reportfixtures import HOSTILE_TITLE, PROJECT, STEP_AT, site_records
from sitecheck import Page, broken_links

from benchtrail.report.site import SiteOptions, write_site
from benchtrail.results.model import Record

WINDOW = 10


@pytest.fixture(scope="module")
def records() -> list[Record]:
    return typed(site_records(24) + history([5.0] * 3, seed=9, suite="other"))


@pytest.fixture(scope="module")
def site(records: list[Record], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "public"
    write_site(records, SiteOptions(out=out, title="Perf <b>of</b> us", window=WINDOW,
                                    chart_cache=out.parent / "cache"))
    return out


def text(site: Path, page: str) -> str:
    return (site / page).read_text(encoding="utf-8")


def test_pages_exist_and_every_link_resolves_in_the_site(site: Path) -> None:
    assert sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()) == [
        "data/demo.csv", "data/demo.json", "data/other.csv", "data/other.json", "history/demo.html",
        "history/other.html", "index.html", "regressions.html", "style.css", "suites/demo.html", "suites/other.html"]
    assert broken_links(site, "https://gitlab.example.com/") == []
    for path in site.rglob("*.html"):
        page = Page(path.read_text(encoding="utf-8"))
        assert all(link.startswith(("#", "../", "suites/", "history/", "data/", "index.html", "regressions.html",
                                    "style.css", "https://gitlab.example.com/")) for link in page.links), path
        assert len(page.scripts) == 1 and "alert" not in page.scripts[0]
        assert page.duplicate_ids == [], path


def test_hostile_names_and_titles_are_text(site: Path) -> None:
    for page in ("index.html", "regressions.html", "suites/demo.html", "history/demo.html"):
        found = text(site, page)
        assert "<script>alert" not in found and "<img src=x" not in found and "<b>of</b>" not in found
        assert not any(link.lower().startswith("javascript") for link in Page(found).links)
    suite = text(site, "suites/demo.html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in suite
    assert "[x](javascript:alert(2)) &lt;img src=x onerror=alert(3)&gt; **bold** &amp; &lt;/title&gt;" in suite


def test_index_status_and_trends(site: Path) -> None:
    index = text(site, "index.html")
    assert 'href="suites/demo.html">demo</a>' in index and 'href="suites/other.html">other</a>' in index
    assert index.count('class="spark"') == 3  # demo: latency and throughput; other: latency
    assert "<code>main</code>" in index and "2026-03-02 00:02 UTC" in index


def test_charts_one_series_per_environment_and_the_whole_history_apart(site: Path) -> None:
    suite = text(site, "suites/demo.html")
    assert suite.count('<section class="chart-card"') == 3
    assert suite.count('class="pt s1"') == 3 * WINDOW and suite.count('class="pt s2"') == 3 * WINDOW
    assert f"<code>{FINGERPRINT[:8]}</code>" in suite and f"<code>{OTHER_FINGERPRINT[:8]}</code>" in suite
    assert 'id="double--latency_ms"' in suite and "last 10 of 24 commits" in suite
    whole = text(site, "history/demo.html")
    assert whole.count('<section class="chart-card"') == 3 and 'class="pt' not in whole
    data = json.loads(text(site, "data/demo.json"))
    keys = [(s["benchmark"], s["metric"], s["environment"]) for s in data["series"]]
    assert len(keys) == len(set(keys)) == 6


def test_change_points_newest_first_with_links(site: Path, records: list[Record]) -> None:
    regressions = text(site, "regressions.html")
    step = next(r for r in records if r.source.commit and int(r.source.commit[:8], 16) == STEP_AT)
    assert f'href="{PROJECT}/-/commit/{step.source.commit}"' in regressions
    assert 'href="suites/demo.html#double--latency_ms"' in regressions  # the step is in the window
    assert ">+29.6 % worse<" in regressions
    assert HOSTILE_TITLE not in regressions


def test_an_unchanged_chart_is_not_drawn_again(site: Path, records: list[Record]) -> None:
    cache = site.parent / "cache"
    again = write_site(records, SiteOptions(out=site.parent / "again", window=WINDOW, chart_cache=cache))
    assert (again.charts, again.drawn) == (4, 0)
    more = records + typed(history([5.0], seed=10, suite="other", first=4))
    once_more = write_site(more, SiteOptions(out=site.parent / "again", window=WINDOW, chart_cache=cache))
    assert (once_more.charts, once_more.drawn) == (4, 1)  # only the chart of suite "other"
    assert "4 commits" in text(site.parent / "again", "suites/other.html")
