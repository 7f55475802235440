"""Other tools' results turned into benchtrail result records.

One module per input format, each with an ``IMPORTER``; ``IMPORTERS`` maps the format
names the CLI accepts to them. ``import_results`` reads and checks every input before
it writes anything, so a bad file leaves the output folder as it was, and it never
overwrites a record (importing the same input twice changes nothing)::

    pytest-benchmark   pytest-benchmark --benchmark-json output        one record per file
    hyperfine          hyperfine --export-json output                  one record per file
    gab-smaller        github-action-benchmark customSmallerIsBetter   one record per file
    gab-bigger         github-action-benchmark customBiggerIsBetter    one record per file
    gab-data-js        github-action-benchmark data.js (gh-pages)      one record per entry
    asv                an asv results/ folder                          one record per result file
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from benchtrail.errors import ImportFormatError
from benchtrail.importers import asv, gab, gab_history, hyperfine, pytest_benchmark
from benchtrail.importers.base import Context, Importer
from benchtrail.importers.reader import Bad, limit

__all__ = ["IMPORTERS", "Importer", "import_results", "read_records"]

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
                 machine: str | None = None) -> list[dict[str, Any]]:
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
    records: list[dict[str, Any]] = []
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
            wrong = problems(record)
            lines.extend(f"{path}: record {index}: {line}" for line in wrong)
            if not wrong:
                records.append(record)
    if lines:
        raise ImportFormatError(*limit(lines))
    return records


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _placed(records: list[dict[str, Any]], out_dir: Path) -> list[tuple[Path, bytes, bool]]:
    """Where each record goes, its bytes, and whether that file must be written.

    The name is ``record_filename``'s; one taken by an earlier record of this import, or
    by a different file in ``out_dir``, gets ``-2``, ``-3``, ... A file that already holds
    exactly this record is this import done before: it is kept, not written again. So
    the same inputs always give the same names, and importing twice changes nothing.
    """
    from benchtrail.bench.runner import record_filename
    from benchtrail.results.record import record_bytes

    taken: set[str] = set()
    placed = []
    for record in records:
        data = record_bytes(record)
        name = record_filename(record)
        stem, count = name[: -len(".json")], 1
        while name in taken or (os.path.lexists(out_dir / name)
                                and not _same_bytes(out_dir / name, data)):
            count += 1
            name = f"{stem}-{count}.json"
        taken.add(name)
        placed.append((out_dir / name, data, not os.path.lexists(out_dir / name)))
    return placed


def import_results(fmt: str, paths: list[Path], *, suite: str, out_dir: Path,
                   machine: str | None = None) -> list[Path]:
    """Turn the ``fmt`` outputs at ``paths`` into result records in ``out_dir`` and
    return their paths, in input order. Nothing is written when any input is bad, and
    no file is overwritten; a failed write removes what this call wrote."""
    from benchtrail.results.record import dump_record

    records = read_records(fmt, paths, suite=suite, machine=machine)
    placed = _placed(records, Path(out_dir))
    written: list[Path] = []
    try:
        for record, (target, _, new) in zip(records, placed):
            if new:
                written.append(dump_record(record, target))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [target for target, _, _ in placed]
