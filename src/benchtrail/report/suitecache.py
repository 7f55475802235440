"""A suite's part of the site, kept between builds: only the suites whose records changed are built again.

A suite's pages and data files depend on its records and on a few site-wide settings
(title, project address, default branch, window, the code's version), so a hash of those
keys them in the chart cache. On a hit the build takes the suite's index row and change
points from the entry's JSON and its four files from the cache (hard links where the file
system allows) instead of grouping its records, deciding its status, loading its charts
and writing its pages: adding one result rebuilds one suite, and a build with nothing new
rebuilds none.

Every page ends with "Results up to <the newest run of the whole site>", which a new
result in any suite changes: pages are written with a placeholder there and kept with the
byte offset of that text, which a later build replaces in place of a rebuild.

A record on the results branch is never rewritten (``record`` refuses to overwrite a file),
so a suite's records are known by what tells them apart (commit, job, start, environment)
and the source fields its pages show, not by hashing every value: that keeps the key
cheap enough to compute for every suite on every build.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchtrail.report.chartcache import ChartCache, drawing_versions
from benchtrail.results.model import Record

__all__ = ["FILES", "UNTIL", "SuiteParts", "code_version", "load_parts", "page_bytes", "place_parts",
           "records_digest", "store_parts", "suite_key"]

#: what a placeholder for "results up to" looks like in a page as rendered (private-use
#: characters: autoescape keeps them, and no record's text is expected to hold them)
UNTIL = "\ue000results-up-to\ue000"
#: the names a suite's files are kept under: its page, its whole-history page, its data files
FILES = ("suite.html", "history.html", "data.json", "data.csv")


@dataclass(frozen=True)
class SuiteParts:
    """What the rest of the site takes from a suite, and how its files were written."""

    #: the suite's row of the index (its trend SVGs as text)
    index_row: dict[str, Any]
    #: its rows of the change points page, each with ``sort``: [time, benchmark, metric, environment]
    changes: list[dict[str, Any]]
    charts: int
    #: the cache entries these parts were made from (charts, status): kept while the parts are
    uses: tuple[str, ...]
    #: the "results up to" text the pages hold, at ``offsets`` (-1: none)
    until: str = ""
    offsets: tuple[int, ...] = ()
    #: each file's size, checked before it is used again
    sizes: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"index_row": self.index_row, "changes": self.changes, "charts": self.charts,
                "uses": list(self.uses), "until": self.until, "offsets": list(self.offsets),
                "sizes": list(self.sizes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuiteParts:
        return cls(dict(data["index_row"]), list(data["changes"]), int(data["charts"]), tuple(data["uses"]),
                   str(data["until"]), tuple(int(n) for n in data["offsets"]), tuple(int(n) for n in data["sizes"]))


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """benchtrail's version, the drawing code's, and a hash of the report's and the compare
    package's sources and templates: any change to what makes a page rebuilds it."""
    from importlib.resources import files

    from benchtrail import __version__

    digest = hashlib.sha256()
    for package in ("benchtrail.report", "benchtrail.compare"):
        root = files(package)
        found = [entry for entry in root.iterdir() if entry.name.endswith(".py")]
        if package == "benchtrail.report":
            found += list(root.joinpath("templates").iterdir())
        for entry in sorted(found, key=lambda e: e.name):
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return f"{__version__}/{drawing_versions()}/{digest.hexdigest()[:16]}"


def records_digest(records: Iterable[Record]) -> str:
    """The hex sha256 of what a suite's pages take from its records (see the module's note)."""
    known = sorted((r.commit_key, r.source.job_id or "", r.run.started_at, r.fingerprint, r.source.ref or "",
                    r.source.commit_title or "", r.source.commit_time or "", r.source.pipeline_id or "",
                    r.source.pipeline_url or "", r.source.mr_iid or "") for r in records)
    return hashlib.sha256(json.dumps(known, separators=(",", ":")).encode("utf-8")).hexdigest()


def suite_key(digest: str, settings: Mapping[str, Any]) -> str:
    """The hex sha256 of a suite's ``records_digest``, ``settings`` and the code's version."""
    text = json.dumps(["suite", code_version(), sorted(settings.items()), digest], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_bytes(text: str, until: str) -> tuple[bytes, int]:
    """A page rendered with ``UNTIL`` as its "results up to", as bytes holding ``until``
    there, and the offset of ``until`` in them (-1 when the page has no placeholder)."""
    head, found, tail = text.rpartition(UNTIL)
    if not found:
        return text.encode("utf-8"), -1
    start = head.encode("utf-8")
    return start + until.encode("utf-8") + tail.encode("utf-8"), len(start)


def load_parts(cache: ChartCache, key: str, until: str) -> SuiteParts | None:
    """The parts kept under ``key``, when all their files are there and their pages can
    say ``until``; ``None`` otherwise (build the suite)."""
    found = cache.load(key)
    try:
        parts = SuiteParts.from_json(found) if found is not None else None
    except (KeyError, TypeError, ValueError):
        return None
    if parts is None or len(parts.sizes) != len(FILES) or len(parts.offsets) != 2:
        return None
    if parts.until != until and min(parts.offsets) < 0:
        return None
    if any(cache.file_size(key, name) != size for name, size in zip(FILES, parts.sizes)):
        return None
    cache.used.update(parts.uses)
    return parts


def store_parts(cache: ChartCache, key: str, parts: SuiteParts, paths: Iterable[Path]) -> None:
    """Keep ``parts`` and the suite's files, written at ``paths`` (in ``FILES`` order)."""
    for name, path in zip(FILES, paths):
        cache.keep_file(key, name, path)
    cache.store(key, parts.to_json())


def place_parts(cache: ChartCache, key: str, parts: SuiteParts, paths: Iterable[Path], until: str) -> None:
    """Put the suite's kept files at ``paths`` (in ``FILES`` order), its pages saying
    ``until``. Pages that said something else are written anew and kept in their place."""
    paths = list(paths)
    if parts.until == until:
        for name, path in zip(FILES, paths):
            cache.place_file(key, name, path)
        return
    sizes = list(parts.sizes)
    for number, (name, path) in enumerate(zip(FILES, paths)):
        if number >= len(parts.offsets):  # the data files hold no "results up to"
            cache.place_file(key, name, path)
            continue
        old, offset = cache.read_file(key, name), parts.offsets[number]
        new = old[:offset] + until.encode("utf-8") + old[offset + len(parts.until.encode("utf-8")):]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(new)
        cache.keep_file(key, name, path)
        sizes[number] = len(new)
    # the text before "results up to" did not change, nor did its offset
    cache.store(key, replace(parts, until=until, sizes=tuple(sizes)).to_json())
