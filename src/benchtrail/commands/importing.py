"""``benchtrail import``: other tools' results into record files, all checked before any is written."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchtrail.commands.defaults import OUT_DIR
from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.model import Record

__all__ = ["ImportOptions", "import_results"]


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    fmt: str
    paths: Sequence[Path]
    suite: str
    out_dir: Path = OUT_DIR
    machine: str | None = None


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == data
    except OSError:
        return False


def _placed(records: list[Record], out_dir: Path) -> list[tuple[Path, bytes, bool]]:
    """Where each record goes, its bytes, and whether that file must be written.

    The name is ``Record.filename``'s; one taken by an earlier record of this import, or
    by a different file in ``out_dir``, gets ``-2``, ``-3``, ... A file that already holds
    exactly this record is this import done before: it is kept, not written again. So
    the same inputs always give the same names, and importing twice changes nothing.
    """
    from benchtrail.results.record import record_bytes

    taken: set[str] = set()
    placed = []
    for record in records:
        data = record_bytes(record)
        name = record.filename()
        stem, count = name[: -len(".json")], 1
        while name in taken or (os.path.lexists(out_dir / name)
                                and not _same_bytes(out_dir / name, data)):
            count += 1
            name = f"{stem}-{count}.json"
        taken.add(name)
        placed.append((out_dir / name, data, not os.path.lexists(out_dir / name)))
    return placed


def import_results(options: ImportOptions, ci: CiContext | None = None) -> list[Path]:
    """Turn the ``options.fmt`` outputs at ``options.paths`` into result records in
    ``options.out_dir`` and return their paths, in input order. Nothing is written when
    any input is bad, and no file is overwritten; a failed write removes what this call
    wrote. The machine label defaults to ``BENCHTRAIL_MACHINE`` (never to this job's
    runner tags: the results were measured elsewhere)."""
    from benchtrail.importers import read_records
    from benchtrail.results.record import dump_record

    ci = ci if ci is not None else read_ci()
    machine = options.machine or ci.machine_label
    records = read_records(options.fmt, list(options.paths), suite=options.suite, machine=machine)
    placed = _placed(records, Path(options.out_dir))
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
