"""``report.mrpage``: a merge request's page from its comparison document alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from comparefixtures import bench_record, noisy, typed
from reportfixtures import HOSTILE_NAME, HOSTILE_TITLE
from sitecheck import Page, broken_links

from benchtrail.compare.comparison import compare_records
from benchtrail.compare.document import dump_comparison, load_comparison
from benchtrail.report.mrpage import mr_chart_job, write_mr_page


def comparison(tmp_path: Path):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(8)
    history = [bench_record({"double": noisy(rng, 10.0), HOSTILE_NAME: noisy(rng, 5.0)}, n=n) for n in range(1, 9)]
    current = bench_record({"double": noisy(rng, 14.0), HOSTILE_NAME: noisy(rng, 5.0)}, n=50, ref="feature")
    current["source"].update(mr_iid="7", commit_title=HOSTILE_TITLE, pipeline_id="99",
                             pipeline_url="javascript:alert(4)", project_url="https://gitlab.example.com/g/p")
    path = dump_comparison(compare_records(typed([current]), typed(history), target_ref="main"), tmp_path / "c.json")
    return load_comparison(path)


def test_verdicts_first_with_why_and_a_chart_per_row(tmp_path: Path) -> None:
    compared = comparison(tmp_path)
    index = write_mr_page(compared, tmp_path / "mr")
    page = index.read_text(encoding="utf-8")
    assert index == tmp_path / "mr" / "index.html" and sorted(p.name for p in (tmp_path / "mr").iterdir()) == ["index.html"]
    assert page.index("regression</span> demo · double") < page.index("unchanged</span> demo · &lt;script&gt;")
    assert "latency_ms +" in page and "beyond the 5 % minimum effect" in page
    assert page.count('<svg xmlns:xlink') == 2 and page.count('class="pt s0"') == 2
    assert "Merge request !7" in page and "<style>" in page and "<link" not in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert broken_links(tmp_path / "mr", "https://gitlab.example.com/g/p/-/commit/") == []
    assert not any("javascript" in link for link in Page(page).links)  # the pipeline URL is no link


def test_rows_without_values_have_no_chart(tmp_path: Path) -> None:
    row = comparison(tmp_path).rows[0]
    job = mr_chart_job(row, "a")
    assert job is not None and [t.short for t in job.ticks][-2:] == ["−1", "MR"] and job.reference == row.decision.baseline
    empty = type(row)(row.suite, row.benchmark, row.params, "presence", "", "lower", row.fingerprint, row.decision)
    assert mr_chart_job(empty, "b") is None
