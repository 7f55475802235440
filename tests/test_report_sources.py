"""``report.sources``: a suite known by its content is not read again, and the site is the same."""

from __future__ import annotations

import filecmp
import shutil
from collections.abc import Sequence
from pathlib import Path

from comparefixtures import history, typed

from benchtrail.report.chartcache import ChartCache
from benchtrail.report.site import SiteOptions, write_site
from benchtrail.report.sources import RecordsInMemory, SuiteFacts, by_suite, suite_facts
from benchtrail.results.model import Record


class Counted(RecordsInMemory):
    """Records in memory with a content id per suite, counting what is read."""

    def __init__(self, records: Sequence[Record], contents: dict[str, str]) -> None:
        super().__init__(records)
        self.contents, self.reads = contents, []

    def suites(self) -> dict[str, str | None]:
        return dict(self.contents)

    def read(self, suites: Sequence[str]) -> list[Record]:
        self.reads.append(list(suites))
        return super().read(suites)


def records() -> list[Record]:
    return typed(history([10.0] * 4, seed=3) + history([5.0] * 3, seed=4, suite="other", ref="release"))


def test_facts_are_of_the_newest_record() -> None:
    found = by_suite(records())
    facts = SuiteFacts.of(found["other"])
    assert (facts.records, facts.ref) == (3, "release")
    assert facts.newest == max(r.run.started_at for r in found["other"])
    assert SuiteFacts.from_json(facts.__dict__) == facts


def test_known_content_is_not_read_and_a_new_one_is(tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    first = Counted(records(), {"demo": "a", "other": "b"})
    facts, read = suite_facts(first, cache)
    assert first.reads == [["demo", "other"]] and sorted(read) == ["demo", "other"]
    again = Counted(records(), {"demo": "a", "other": "c"})
    assert suite_facts(again, cache)[0] == facts and again.reads == [["other"]]


def test_the_site_reads_only_what_it_builds_and_comes_out_the_same(tmp_path: Path) -> None:
    def build(source: Counted, out: str, title: str = "Benchmarks") -> None:
        write_site(source, SiteOptions(out=tmp_path / out, title=title, window=10, chart_cache=tmp_path / "cache"))

    build(Counted(records(), {"demo": "a", "other": "b"}), "first")
    warm = Counted(records(), {"demo": "a", "other": "b"})
    build(warm, "warm")
    assert warm.reads == [[], []]
    files = [str(p.relative_to(tmp_path / "first")) for p in (tmp_path / "first").rglob("*") if p.is_file()]
    assert filecmp.cmpfiles(tmp_path / "first", tmp_path / "warm", files, shallow=False)[0] == files
    retitled = Counted(records(), {"demo": "a", "other": "b"})
    build(retitled, "retitled", title="Other")  # the facts are kept, the pages are not: read to build
    assert retitled.reads == [[], ["demo", "other"]]
    shutil.rmtree(tmp_path / "cache")
    cold = Counted(records(), {"demo": "a", "other": "b"})
    build(cold, "cold")  # nothing kept: every suite read once, none twice
    assert cold.reads == [["demo", "other"], []]
