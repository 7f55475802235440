"""``report.datafiles``: every run value of every series, in JSON and CSV."""

from __future__ import annotations

import csv
import io
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


def test_the_csv_is_what_csv_writer_writes_whatever_the_names(tmp_path: Path) -> None:
    """The CSV is written by hand for speed: it must quote exactly as ``csv.writer`` does."""
    from benchtrail.report.timelines import Chart, Commit, Series, SuiteHistory

    odd = ["", "a,b", 'q"uote', "new\nline", "cr\rx", " lead", "tab\tx", "=1+2", "ü", ","]
    commits = tuple(Commit(f"{odd[n % len(odd)]}{n}", None, None, "", None) for n in range(12))
    charts = tuple(Chart(f"{name}b", name or "m", f"c{n}", (Series(name, odd[-n], "lower", (0, 5, 11),
                                                                     ((1.5, 1e-300), (1e22,), (-0.0, 0.1, 3.0))),))
                   for n, name in enumerate(odd))
    suite = SuiteHistory("odd", commits, charts, (), {}, {})
    write_data_files(suite, tmp_path / "odd.json", tmp_path / "odd.csv")
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(("benchmark", "metric", "environment", "commit", "run", "value", "unit"))
    for chart in charts:
        for series in chart.series:
            writer.writerows((chart.benchmark, chart.metric, series.fingerprint, commits[index].key, number, value,
                              series.unit) for index, runs in zip(series.commits, series.runs)
                             for number, value in enumerate(runs, 1))
    assert (tmp_path / "odd.csv").read_bytes().decode("utf-8") == expected.getvalue()
