"""``benchtrail import``: other tools' results into record files, all checked before any is written."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchtrail.commands.defaults import OUT_DIR
from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.model import Record

__all__ = ["ImportOptions", "default_branch", "import_results"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    fmt: str
    paths: Sequence[Path]
    suite: str
    out_dir: Path = OUT_DIR
    machine: str | None = None
    #: the branch the results were measured on, for those that do not say (default: the
    #: repository's default branch): what makes them a baseline for ``compare``
    ref: str | None = None
    repo: Path = Path(".")
    #: ``"input"``: the hardware the input describes (unknown where it says nothing), a
    #: series of its own; ``"here"``: this machine's, as ``benchtrail run`` records it, so
    #: new runs on this machine class compare with the imported history
    hardware: str = "input"


def default_branch(repo: Path) -> str | None:
    """The default branch of the repository at ``repo``: its remote's ``HEAD``, else the
    branch checked out; ``None`` outside a repository or on a detached checkout."""
    from benchtrail.errors import StoreError
    from benchtrail.results.gitrepo import open_repo

    try:
        git = open_repo(repo)
    except StoreError:
        return None
    remote_head = git.result("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD")
    if remote_head.status == 0 and remote_head.stdout.strip():
        return remote_head.stdout.strip().removeprefix("origin/")
    current = git.result("branch", "--show-current")
    return current.stdout.strip() or None


def _on_branch(records: list[Record], find_ref: Callable[[], str | None]) -> list[Record]:
    """``records``, those that name no branch given the one ``find_ref`` finds (asked only
    when one names none; a warning when it finds none)."""
    unnamed = sum(record.source.ref is None for record in records)
    if not unnamed:
        return records
    ref = find_ref()
    if ref is None:
        log.warning("%d imported record(s) name no branch, and none was given: they cannot be a baseline "
                    "for compare; give --ref BRANCH", unnamed)
        return records
    return [record if record.source.ref is not None
            else record.replace(source=dataclasses.replace(record.source, ref=ref)) for record in records]


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


def _on_this_hardware(records: list[Record]) -> list[Record]:
    """``records`` with this machine's hardware class (CPU, GPU) in place of what their
    input said, their runner labels kept: the fingerprint ``benchtrail run`` gives here."""
    from benchtrail.bench.runner import local_environment

    here = local_environment().hardware
    moved = []
    for record in records:
        hardware = dataclasses.replace(here, runner_label=record.environment.hardware.runner_label)
        environment = dataclasses.replace(record.environment, hardware=hardware, fingerprint=hardware.fingerprint)
        moved.append(record.replace(environment=environment))
    return moved


def _say_undated(records: list[Record]) -> None:
    """One warning for the records whose input does not say when they ran."""
    from benchtrail.importers.base import UNKNOWN_START

    undated = sum(record.run.started_at == UNKNOWN_START for record in records)
    if undated:
        log.warning("%d imported record(s) do not say when they ran: dated %s (the input has no time), so they "
                    "sort before every dated run", undated, UNKNOWN_START)


def import_results(options: ImportOptions, ci: CiContext | None = None) -> list[Path]:
    """Turn the ``options.fmt`` outputs at ``options.paths`` into result records in
    ``options.out_dir`` and return their paths, in input order. Nothing is written when
    any input is bad, and no file is overwritten; a failed write removes what this call
    wrote. The machine label defaults to ``BENCHTRAIL_MACHINE``, and to this job's
    runner tags too when the hardware is this machine's (as for ``run``); records that
    name no branch get ``options.ref``, else ``CI_DEFAULT_BRANCH``, else the repository's
    default branch."""
    from benchtrail.importers import read_records
    from benchtrail.results.record import write_record_bytes

    ci = ci if ci is not None else read_ci()
    here = options.hardware == "here"
    machine = options.machine or (ci.machine if here else ci.machine_label)
    records = read_records(options.fmt, list(options.paths), suite=options.suite, machine=machine)
    if here:
        records = _on_this_hardware(records)
    records = _on_branch(records, lambda: options.ref or ci.variables.get("CI_DEFAULT_BRANCH")
                         or default_branch(options.repo))
    _say_undated(records)
    placed = _placed(records, Path(options.out_dir))
    written: list[Path] = []
    try:
        for target, data, new in placed:  # read_records validated every record once
            if new:
                written.append(write_record_bytes(data, target))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return [target for target, _, _ in placed]
