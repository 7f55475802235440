"""Rows of dataclasses as a table, JSON or CSV: what ``benchtrail history`` prints, and
``printable``, which every terminal table of benchtrail puts its text cells through."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from benchtrail.results.series import Point

__all__ = ["format_points", "format_rows", "printable"]

_COLUMNS = ("started_at", "commit", "ref", "fingerprint", "suite", "benchmark", "metric", "value", "unit")
_HEADERS = ("date", "commit", "ref", "environment", "suite", "benchmark", "metric", "value", "unit")
# C0, DEL and C1 controls, and the Unicode line separators and bidirectional overrides
# that split a line or reorder what it shows
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with its control characters written as visible escapes (``\\x1b``,
    ``\\u202e``): a name from a record cannot move the cursor, recolour or hide what a
    terminal shows."""
    return _CONTROLS.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def format_rows(rows: Sequence[Any], fmt: str, columns: Sequence[str], headers: Sequence[str],
                numbers: Sequence[str], shown: Mapping[str, Callable[[Any], str]] | None = None) -> str:
    """Dataclass ``rows`` as ``table`` (aligned text, headed ``headers``), ``json`` (a
    list of objects) or ``csv`` (headed by the ``columns``). Only the ``numbers``
    columns are read as numbers; a ``commit`` column is shortened in tables, the
    columns in ``shown`` are written by its function there, and text goes through
    ``printable``."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(r) for r in rows], indent=2, ensure_ascii=False) + "\n"
    cells = [[getattr(r, c) for c in columns] for r in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(cells)
        return buffer.getvalue()
    from tabulate import tabulate

    shown = {"commit": lambda commit: commit[:12] if commit else None, **(shown or {})}
    for name, show in shown.items():
        if name in columns:
            at = list(columns).index(name)
            for row in cells:
                row[at] = show(row[at])
    cells = [[printable(cell) if isinstance(cell, str) else cell for cell in row] for row in cells]
    # tabulate would otherwise re-read a ref "1.10" as 1.1, or an all-digit commit or
    # fingerprint as an integer.
    text_columns = [i for i, c in enumerate(columns) if c not in numbers or c in shown]
    return tabulate(cells, headers=list(headers), floatfmt=".6g", missingval="-",
                    disable_numparse=text_columns if cells else True) + "\n"


def format_points(points: list[Point], fmt: str) -> str:
    """``points`` as ``table`` (aligned text), ``json`` (a list of objects) or ``csv``."""
    return format_rows(points, fmt, _COLUMNS, _HEADERS, ("value",))
