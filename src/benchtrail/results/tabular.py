"""History points as a table, JSON or CSV, for ``benchtrail history``."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

from benchtrail.results.series import Point

__all__ = ["format_points"]

_COLUMNS = ("started_at", "commit", "ref", "fingerprint", "suite", "benchmark", "metric", "value", "unit")


def format_points(points: list[Point], fmt: str) -> str:
    """``points`` as ``table`` (aligned text), ``json`` (a list of objects) or ``csv``."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(p) for p in points], indent=2, ensure_ascii=False) + "\n"
    rows = [[getattr(p, c) for c in _COLUMNS] for p in points]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_COLUMNS)
        writer.writerows(rows)
        return buffer.getvalue()
    from tabulate import tabulate

    for row in rows:
        row[1] = row[1][:12] if row[1] else None
    headers = ["date", "commit", "ref", "environment", "suite", "benchmark", "metric", "value", "unit"]
    value = _COLUMNS.index("value")
    # Only the value is a number: tabulate would otherwise re-read a ref "1.10" as 1.1, or
    # an all-digit commit or fingerprint as an integer.
    text_columns = [i for i in range(len(_COLUMNS)) if i != value]
    return tabulate(rows, headers=headers, floatfmt=".6g", missingval="-",
                    disable_numparse=text_columns) + "\n"
