"""``benchtrail validate``: check record files against the schema, every problem named."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from benchtrail.errors import BenchtrailError

__all__ = ["Validation", "validate"]


@dataclass(frozen=True)
class Validation:
    valid: tuple[Path, ...]
    #: one line per problem, naming the file and the JSON path
    problems: tuple[str, ...]


def validate(files: Iterable[Path]) -> Validation:
    """Read every file in ``files``; which are valid, and every problem of the others."""
    from benchtrail.results import load_record

    valid: list[Path] = []
    problems: list[str] = []
    for path in files:
        try:
            load_record(path)
        except BenchtrailError as exc:
            problems.extend(exc.problems)
        else:
            valid.append(path)
    return Validation(tuple(valid), tuple(problems))
