"""The numbers behind the charts, for anyone who wants them: ``data/<suite>.json`` and ``.csv``.

Every run value of every series is written (the charts show the last commits by default;
the data files never drop any). The JSON has the commits once, in commit order, with
their time, ref and title, and each series' commits (indices into them) and the runs of
each; the CSV has one row per run value, with only what tells it apart, so that a long
history stays well within GitLab Pages' size limit. Commit titles are in the JSON only:
a title that starts with ``=`` must not become a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from benchtrail.report.timelines import SuiteHistory

__all__ = ["DATA_SCHEMA", "suite_data", "write_data_files"]

DATA_SCHEMA = "benchtrail.report-data/1"
_CSV_COLUMNS = ("benchmark", "metric", "environment", "commit", "run", "value", "unit")


def suite_data(history: SuiteHistory) -> dict[str, Any]:
    """The suite's data file as JSON values."""
    return {
        "schema": DATA_SCHEMA,
        "suite": history.suite,
        "commits": [{"commit": c.sha, "key": c.key, "title": c.title, "time": c.when, "ref": c.ref}
                    for c in history.commits],
        "series": [{
            "benchmark": chart.benchmark, "metric": chart.metric, "environment": series.fingerprint,
            "unit": series.unit, "direction": series.direction, "chart": chart.anchor,
            "commits": list(series.commits), "runs": [list(runs) for runs in series.runs],
        } for chart in history.charts for series in chart.series],
    }


def _cells(*fields: object) -> str:
    """``fields`` as the cells of a CSV row, quoted as ``csv.writer`` quotes them there."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(("", *fields))  # a leading cell: never a lone empty one
    return out.getvalue()[1:-1]


def _csv(history: SuiteHistory) -> str:
    """The CSV text, as ``csv.writer`` writes it: the text cells are quoted once per series
    and commit, the numbers (``repr``, as the writer does) never need it. A row at a time
    through the writer took most of a large site's writing time."""
    lines = [_cells(*_CSV_COLUMNS) + "\n"]
    keys = [_cells(commit.key) for commit in history.commits]
    for chart in history.charts:
        for series in chart.series:
            head, unit = _cells(chart.benchmark, chart.metric, series.fingerprint), _cells(series.unit)
            lines.extend(f"{head},{keys[index]},{number},{value!r},{unit}\n"
                         for index, runs in zip(series.commits, series.runs)
                         for number, value in enumerate(runs, 1))
    return "".join(lines)


def write_data_files(history: SuiteHistory, json_path: Path, csv_path: Path) -> None:
    """Write the suite's JSON and CSV data files (sorted keys, UTF-8, a final newline)."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(suite_data(history), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    json_path.write_text(text + "\n", encoding="utf-8")
    csv_path.write_text(_csv(history), encoding="utf-8")
