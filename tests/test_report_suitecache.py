"""``report.suitecache``: a suite whose records did not change is not built again, and the
site comes out the same byte for byte."""

from __future__ import annotations

import dataclasses
import filecmp
from collections.abc import Iterable
from pathlib import Path

import pytest
from comparefixtures import history, typed
from reportfixtures import site_records

from benchtrail.report import site
from benchtrail.report.chartcache import ChartCache
from benchtrail.report.site import SiteOptions, SiteSummary, write_site
from benchtrail.report.suitecache import FILES, UNTIL, SuiteParts, load_parts, page_bytes, records_digest, suite_key
from benchtrail.report.timelines import SuiteHistory, build_histories
from benchtrail.results.model import Record

SETTINGS = {"title": "T", "project_url": None, "ref": "main", "window": 10, "runs_listed": 50, "until": True}


def build(records: list[Record], out: Path, cache: Path | None) -> SiteSummary:
    return write_site(records, SiteOptions(out=out, title="Perf", window=10, chart_cache=cache,
                                           project_url="https://gitlab.example.com/group/proj"))


def same_tree(left: Path, right: Path) -> bool:
    files = sorted(str(p.relative_to(left)) for p in left.rglob("*") if p.is_file())
    if files != sorted(str(p.relative_to(right)) for p in right.rglob("*") if p.is_file()):
        return False
    match, mismatch, errors = filecmp.cmpfiles(left, right, files, shallow=False)
    return not mismatch and not errors


def test_unchanged_suites_come_from_the_cache_and_the_site_is_the_same(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    grouped: list[set[str]] = []

    def spy(found: Iterable[Record]) -> dict[str, SuiteHistory]:
        found = list(found)
        grouped.append({r.suite for r in found})
        return build_histories(found)

    monkeypatch.setattr(site, "build_histories", spy)
    records = typed(site_records(12) + history([5.0] * 3, seed=9, suite="other"))
    cache = tmp_path / "cache"
    build(records, tmp_path / "first", cache)
    again = build(records, tmp_path / "again", cache)
    assert again.drawn == 0 and again.charts == 4 and grouped == [{"demo", "other"}, set()]
    assert same_tree(tmp_path / "first", tmp_path / "again")
    assert (tmp_path / "again" / "data" / "demo.csv").stat().st_nlink >= 2  # shared with the cache, not copied

    # a newer result of "other": "demo" is not built again, but its pages' footer says the new time
    more = records + typed(history([5.0], seed=10, suite="other", first=13))
    assert max(r.run.started_at for r in more) > max(r.run.started_at for r in records)
    once_more = build(more, tmp_path / "more", cache)
    assert (once_more.charts, once_more.drawn) == (4, 1) and grouped[-1] == {"other"}
    build(more, tmp_path / "fresh", None)
    assert same_tree(tmp_path / "more", tmp_path / "fresh")
    build(more, tmp_path / "more-again", cache)  # the rewritten pages are kept in their new form
    assert same_tree(tmp_path / "more-again", tmp_path / "fresh")


def test_an_entry_with_a_changed_or_missing_file_is_not_used(tmp_path: Path) -> None:
    records = typed(history([5.0] * 4, seed=9, suite="other"))
    cache = tmp_path / "cache"
    build(records, tmp_path / "first", cache)
    kept = list(cache.glob("??/*.data.csv"))
    assert len(kept) == 1
    key = kept[0].name[:64]
    assert load_parts(ChartCache(cache), key, "anything") is not None
    kept[0].unlink()
    kept[0].write_text("changed in place\n", encoding="utf-8")
    assert load_parts(ChartCache(cache), key, "anything") is None
    build(records, tmp_path / "again", cache)
    assert same_tree(tmp_path / "first", tmp_path / "again")


def test_the_key_follows_the_records_and_the_settings_not_their_order() -> None:
    records = typed(history([5.0] * 4, seed=9, suite="other"))
    key = suite_key(records_digest(records), SETTINGS)
    assert key == suite_key(records_digest(list(reversed(records))), SETTINGS)
    assert key != suite_key(records_digest(records[:-1]), SETTINGS)
    assert key != suite_key(records_digest(records), {**SETTINGS, "title": "U"})
    retitled = dataclasses.replace(records[0], source=dataclasses.replace(records[0].source, commit_title="New"))
    assert key != suite_key(records_digest([retitled, *records[1:]]), SETTINGS)


def test_pages_say_results_up_to_at_a_known_offset() -> None:
    data, offset = page_bytes(f"<p>ü {UNTIL} ·</p>", "2026-03-02 00:02 UTC")
    assert data == "<p>ü 2026-03-02 00:02 UTC ·</p>".encode() and data[offset:].startswith(b"2026-03-02")
    assert page_bytes("<p>none</p>", "x") == (b"<p>none</p>", -1)
    parts = SuiteParts({"name": "s", "trends": []}, [], 1, ("k",), "u", (1, 2), (3, 4, 5, 6))
    assert SuiteParts.from_json(parts.to_json()) == parts and len(FILES) == 4
