"""Other tools' results turned into benchtrail result records.

One module per input format, each with an ``IMPORTER``; ``IMPORTERS`` maps the format
names the CLI accepts to them. ``read_records`` reads and checks every input and
returns the records; ``benchtrail import`` (``commands.importing``) writes them only
when every input was good::

    pytest-benchmark   pytest-benchmark --benchmark-json output        one record per file
    hyperfine          hyperfine --export-json output                  one record per file
    gab-smaller        github-action-benchmark customSmallerIsBetter   one record per file
    gab-bigger         github-action-benchmark customBiggerIsBetter    one record per file
    gab-data-js        github-action-benchmark data.js (gh-pages)      one record per entry
    asv                an asv results/ folder                          one record per result file
"""

from __future__ import annotations

import re
from pathlib import Path

from benchtrail.errors import ImportFormatError
from benchtrail.importers import asv, gab, gab_history, hyperfine, pytest_benchmark
from benchtrail.importers.base import Context, Importer
from benchtrail.importers.reader import Bad, limit
from benchtrail.results.model import Record

__all__ = ["IMPORTERS", "Importer", "read_records"]

IMPORTERS: dict[str, Importer] = {
    importer.name: importer
    for importer in (
        pytest_benchmark.IMPORTER,
        hyperfine.IMPORTER,
        gab.SMALLER,
        gab.BIGGER,
        gab_history.IMPORTER,
        asv.IMPORTER,
    )
}

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}", re.ASCII)


def read_records(fmt: str, paths: list[Path], *, suite: str,
                 machine: str | None = None) -> list[Record]:
    """Every record the inputs hold, each checked against the record schema; raise one
    ``ImportFormatError`` listing every problem of every input otherwise."""
    from benchtrail.results.schema import problems

    importer = IMPORTERS.get(fmt)
    if importer is None:
        raise ImportFormatError(
            f"unknown import format {fmt!r}: expected one of {', '.join(sorted(IMPORTERS))}")
    if not _SLUG.fullmatch(suite):
        raise ImportFormatError(
            f"suite: expected lower-case letters, digits, '.', '_' or '-' (at most 100, "
            f"starting with a letter or digit), found {suite!r}")
    if not paths:
        raise ImportFormatError(f"{fmt}: no input path given")
    context = Context(suite, machine or None)
    lines: list[str] = []
    records: list[Record] = []
    for path in paths:
        try:
            found = importer.read(Path(path), context)
        except ImportFormatError as exc:
            lines.extend(exc.problems)
            continue
        except Bad as bad:  # a problem an importer did not catch itself
            lines.append(f"{path}: {bad.path}: {bad.message}")
            continue
        for index, record in enumerate(found, start=1):
            # The importers build valid records; this is the net under them, so that
            # odd input still gives a message rather than a refused write halfway.
            wrong = problems(record.to_json())
            lines.extend(f"{path}: record {index}: {line}" for line in wrong)
            if not wrong:
                records.append(record)
    if lines:
        raise ImportFormatError(*limit(lines))
    return records
