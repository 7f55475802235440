"""Where the site's records come from, and what the site knows of a suite without reading it.

Reading every record (100,000 results: 5,000 files of JSON) costs seconds, most of a build
that has little or nothing new to draw. On the results branch each suite's folder is a git
tree, whose id names its content: a suite whose tree a previous build read needs no reading
again. What the site takes from a suite's records besides its kept pages (``SuiteFacts``:
how many there are, the digest that keys its pages, the newest one's time, branch and
project) is kept in the cache under that tree's id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from benchtrail.report.chartcache import ChartCache
from benchtrail.report.suitecache import code_version, records_digest
from benchtrail.results.history import BranchView
from benchtrail.results.model import Record
from benchtrail.results.timestamps import instant

__all__ = ["BranchRecords", "RecordSource", "RecordsInMemory", "SuiteFacts", "by_suite", "suite_facts"]


@dataclass(frozen=True)
class SuiteFacts:
    """What the site needs of a suite's records when its pages are kept."""

    records: int
    #: ``records_digest`` of the suite's records: what keys its pages
    digest: str
    #: the newest record's start (RFC 3339), branch and project address
    newest: str
    ref: str | None
    project_url: str | None

    @classmethod
    def of(cls, records: Sequence[Record]) -> SuiteFacts:
        newest = max(records, key=lambda r: instant(r.run.started_at))
        return cls(len(records), records_digest(records), newest.run.started_at, newest.source.ref,
                   newest.source.project_url)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuiteFacts:
        return cls(int(data["records"]), str(data["digest"]), str(data["newest"]), data["ref"], data["project_url"])


class RecordSource(Protocol):
    """The records of a site, suite by suite."""

    def suites(self) -> dict[str, str | None]:
        """Each suite -> an id of its records' content (``None``: none known, read it)."""

    def read(self, suites: Sequence[str]) -> list[Record]:
        """Every record of ``suites``."""


def by_suite(records: Sequence[Record]) -> dict[str, list[Record]]:
    """``records`` by suite, the suites in name order."""
    found: dict[str, list[Record]] = {}
    for record in records:
        found.setdefault(record.suite, []).append(record)
    return {suite: found[suite] for suite in sorted(found)}


class RecordsInMemory:
    """Records already read: every suite is read (there is no content id to know it by)."""

    def __init__(self, records: Sequence[Record]) -> None:
        self._by_suite = by_suite(records)

    def suites(self) -> dict[str, str | None]:
        return dict.fromkeys(self._by_suite)

    def read(self, suites: Sequence[str]) -> list[Record]:
        return [record for suite in suites for record in self._by_suite.get(suite, ())]


class BranchRecords:
    """The results branch at one tip: a suite's content id is its folder's tree."""

    def __init__(self, view: BranchView) -> None:
        self.view = view

    def suites(self) -> dict[str, str | None]:
        return dict(self.view.suite_trees())

    def read(self, suites: Sequence[str]) -> list[Record]:
        return [stored.record for stored in self.view.records(suites=suites)] if suites else []


def _facts_key(content: str) -> str:
    text = json.dumps(["facts", code_version(), content], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def suite_facts(source: RecordSource, cache: ChartCache) -> tuple[dict[str, SuiteFacts], dict[str, list[Record]]]:
    """Every suite's facts (suites in name order), from ``cache`` where its content id is
    known there, else from its records; and the records that had to be read, by suite."""
    contents = source.suites()
    facts: dict[str, SuiteFacts] = {}
    for suite, content in contents.items():
        kept = cache.load(_facts_key(content)) if content is not None else None
        try:
            if kept is not None:
                facts[suite] = SuiteFacts.from_json(kept)
        except (KeyError, TypeError, ValueError):
            pass
    read = by_suite(source.read([suite for suite in contents if suite not in facts]))
    for suite, records in read.items():
        facts[suite] = SuiteFacts.of(records)
        content = contents.get(suite)
        if content is not None:
            cache.store(_facts_key(content), asdict(facts[suite]))
    return {suite: facts[suite] for suite in sorted(facts)}, read
