"""Other tools' results turned into benchtrail result records.

One module per input format, each with its ``Importer``s. ``FORMATS`` names the formats
and says in one line what each reads: it is the one list, which ``benchtrail import``
offers and its ``--help`` shows. Each input file gives one record, but an asv folder one
per result file and a ``data.js`` history one per entry. ``importer_for`` finds a format's
importer; ``read_records`` reads and checks every input and returns the records;
``benchtrail import`` (``commands.importing``) writes them only when every input was good.

Importing this package loads none of the format modules (they load on first use), so
that ``--help`` can read ``FORMATS`` for nothing.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from benchtrail.errors import ImportFormatError

if TYPE_CHECKING:
    from benchtrail.importers.base import Importer
    from benchtrail.results.model import Record

__all__ = ["FORMATS", "importer_for", "read_records"]

#: format name -> what it reads, in one line for ``--help``
FORMATS: dict[str, str] = {
    "asv": "an asv results/ folder (one record per result file)",
    "gab-bigger": "github-action-benchmark customBiggerIsBetter output",
    "gab-data-js": "github-action-benchmark data.js (its gh-pages history)",
    "gab-smaller": "github-action-benchmark customSmallerIsBetter output",
    "hyperfine": "hyperfine --export-json output",
    "pytest-benchmark": "pytest --benchmark-json output",
}


@cache
def _registry() -> dict[str, Importer]:
    from benchtrail.importers import asv, gab, gab_history, hyperfine, pytest_benchmark

    found = (pytest_benchmark.IMPORTER, hyperfine.IMPORTER, gab.SMALLER, gab.BIGGER,
             gab_history.IMPORTER, asv.IMPORTER)
    return {importer.name: importer for importer in found}


def importer_for(fmt: str) -> Importer:
    """The importer of the format named ``fmt`` (a key of ``FORMATS``); raise
    ``ImportFormatError`` listing the formats otherwise."""
    if fmt not in FORMATS:
        raise ImportFormatError(
            f"unknown import format {fmt!r}: expected one of {', '.join(sorted(FORMATS))}")
    return _registry()[fmt]


def read_records(fmt: str, paths: list[Path], *, suite: str,
                 machine: str | None = None) -> list[Record]:
    """Every record the inputs hold, each checked against the record schema; raise one
    ``ImportFormatError`` listing every problem of every input otherwise."""
    from benchtrail.importers.base import Context
    from benchtrail.importers.reader import Bad, limit
    from benchtrail.results.schema import problems, suite_name_problem

    importer = importer_for(fmt)
    wrong_suite = suite_name_problem(suite)
    if wrong_suite:
        raise ImportFormatError(f"suite: {wrong_suite}")
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
