"""``report.datafiles``: every run value of every series, in JSON and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from comparefixtures import typed
from reportfixtures import HOSTILE_TITLE, site_records

from benchtrail.report.datafiles import DATA_SCHEMA, write_data_files
from benchtrail.report.timelines import build_histories


def test_nothing_is_dropped_and_titles_stay_out_of_the_csv(tmp_path: Path) -> None:
    records = typed(site_records(6))
    given = sum(len(m.run_values) for r in records for b in r.benchmarks for m in b.metrics.values())
    write_data_files(build_histories(records)["demo"], tmp_path / "demo.json", tmp_path / "demo.csv")
    data = json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))
    assert data["schema"] == DATA_SCHEMA and len(data["commits"]) == 6
    assert HOSTILE_TITLE in {c["title"] for c in data["commits"]}
    assert sum(len(runs) for s in data["series"] for runs in s["runs"]) == given
    assert all(len(s["commits"]) == len(s["runs"]) == 6 for s in data["series"])
    assert len(data["series"]) == 6  # 3 benchmark × metric, each in 2 environments
    rows = list(csv.DictReader((tmp_path / "demo.csv").open(encoding="utf-8")))
    assert len(rows) == given and "title" not in rows[0]
    assert {float(row["value"]) for row in rows} == {v for s in data["series"] for runs in s["runs"] for v in runs}
    assert {row["commit"] for row in rows} == {c["key"] for c in data["commits"]}
