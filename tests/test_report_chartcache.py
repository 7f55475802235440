"""``report.chartcache``: a chart whose data did not change is not drawn again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from test_report_charts import job

from benchtrail.report.chartcache import ChartCache, job_key, render_charts, start_drawing


def test_unchanged_charts_come_from_the_cache_and_changed_ones_are_drawn(tmp_path: Path) -> None:
    jobs = [dataclasses.replace(job(8), anchor=f"chart-{n}") for n in range(3)]
    first, drawn = render_charts(jobs, ChartCache(tmp_path / "cache"))
    assert drawn == 3 and [o.recent.count("<circle") for o in first] == [8, 8, 8]
    again, drawn = render_charts(jobs, ChartCache(tmp_path / "cache"))
    assert drawn == 0 and again == first
    changed = [*jobs[:2], dataclasses.replace(jobs[2], window=4)]
    cache = ChartCache(tmp_path / "cache")
    outputs, drawn = render_charts(changed, cache)
    assert drawn == 1 and outputs[:2] == first[:2] and outputs[2].recent.count("<circle") == 4
    assert cache.prune() == 1  # the third chart's old drawing
    assert len(list((tmp_path / "cache").glob("??/*.json"))) == 3


def test_a_broken_entry_is_drawn_again_and_no_folder_keeps_nothing(tmp_path: Path) -> None:
    one = job(6)
    key = job_key(one)
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / f"{key}.json").write_text("{not json", encoding="utf-8")
    _, drawn = render_charts([one], ChartCache(tmp_path))
    assert drawn == 1
    _, drawn = render_charts([one], ChartCache(tmp_path))
    assert drawn == 0
    _, drawn = render_charts([one], ChartCache(None))
    assert drawn == 1


def test_the_key_follows_every_input() -> None:
    one = job(6)
    assert job_key(one) == job_key(job(6))
    assert job_key(one) != job_key(dataclasses.replace(one, unit="s"))
    assert job_key(one) != job_key(dataclasses.replace(one, ticks=(*one.ticks[:-1], one.ticks[0])))


def test_charts_are_drawn_while_the_caller_does_other_work(tmp_path: Path) -> None:
    jobs = [dataclasses.replace(job(8), anchor=f"chart-{n}") for n in range(3)]
    with start_drawing(jobs, ChartCache(tmp_path / "cache")) as drawing:
        assert drawing.pool is not None  # already at work
        outputs, drawn = drawing.results()
    assert drawn == 3 and (outputs, 0) == render_charts(jobs, ChartCache(tmp_path / "cache"))


def test_kept_files_are_placed_and_pruned_with_their_entry(tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    page = tmp_path / "page.html"
    page.write_text("<p>kept</p>", encoding="utf-8")
    key = "ab" * 32
    cache.store(key, {"pages": 1})
    cache.keep_file(key, "suite.html", page)
    cache.place_file(key, "suite.html", tmp_path / "site" / "suites" / "s.html")
    assert (tmp_path / "site" / "suites" / "s.html").read_text(encoding="utf-8") == "<p>kept</p>"
    assert cache.file_size(key, "suite.html") == len("<p>kept</p>") and cache.read_file(key, "suite.html")
    later = ChartCache(tmp_path / "cache")
    assert later.prune() == 2 and later.file_size(key, "suite.html") is None  # the entry and its file
    assert (tmp_path / "site" / "suites" / "s.html").is_file()  # the site keeps its copy
