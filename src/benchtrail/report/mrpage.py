"""The merge request's page, from the comparison document alone (no results branch).

One section per row, worst verdict first (the document's order): the verdict, the
``why`` line the note and the JUnit report show, and a chart of the baseline's jobs
(oldest first: each job's median run and the spread of its runs) with the merge
request's runs marked at the right and the baseline level the rule used as a dashed
line. Rows without values (failed calls, a missing benchmark) have no chart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.compare.render import count_verdicts, explain, verdict_words
from benchtrail.report.chartcache import ChartCache, ProgressFactory, no_progress, render_charts
from benchtrail.report.charts import ChartJob, Line, Tick
from benchtrail.report.links import commit_url, web_url
from benchtrail.report.outfolder import publish
from benchtrail.report.pages import inline_stylesheet, render, status_class, svg
from benchtrail.report.timelines import chart_anchor

__all__ = ["mr_chart_job", "write_mr_page"]


def mr_chart_job(row: Row, anchor: str) -> ChartJob | None:
    """The chart of one row: baseline jobs, then the runs under test; ``None`` without values."""
    baseline = [runs for runs in row.baseline_values if runs]
    if not baseline and not row.current_values:
        return None
    count = len(baseline)
    ticks = [Tick(f"−{count - i}", "", f"baseline job {i + 1} of {count} (oldest first)", None) for i in range(count)]
    lines = []
    if baseline:
        lines.append(Line(f"baseline ({row.fingerprint[:8]})", 1, tuple(range(count)), tuple(baseline)))
    if row.current_values:
        ticks.append(Tick("MR", "", "the runs under test", None))
        lines.append(Line("this merge request", 0, (count,), (tuple(row.current_values),)))
    return ChartJob(anchor, row.unit, row.direction, tuple(ticks), tuple(lines), len(ticks), find_changes=False,
                    reference=row.decision.baseline)


def _heading(comparison: Comparison) -> str:
    source = comparison.source
    if source.mr_iid:
        return f"Merge request !{source.mr_iid}: benchmarks"
    if source.commit:
        return f"Commit {source.commit[:8]}: benchmarks"
    return "Benchmarks compared"


def write_mr_page(comparison: Comparison, out: Path, *, title: str = "Benchmarks", project_url: str | None = None,
                  progress: ProgressFactory = no_progress) -> Path:
    """Write ``out/index.html`` for ``comparison`` (one page, its CSS inline); its path."""
    source = comparison.source
    project = web_url(project_url) or web_url(source.project_url)
    taken: set[str] = set()
    anchors = [chart_anchor(f"{row.suite} {row.label} {row.fingerprint[:8]}", row.metric, taken)
               for row in comparison.rows]
    jobs = {i: job for i, row in enumerate(comparison.rows) if (job := mr_chart_job(row, anchors[i])) is not None}
    drawn, _ = render_charts(list(jobs.values()), ChartCache(None), progress)
    charts = dict(zip(jobs, drawn))
    rows: list[dict[str, Any]] = [{
        "anchor": anchors[i], "verdict": verdict_words(row.verdict), "verdict_class": status_class(row.verdict),
        "suite": row.suite, "benchmark": row.label, "metric": row.metric, "environment": row.fingerprint[:8],
        "why": explain(row, comparison.min_effect, comparison.target_ref),
        "svg": svg(charts[i].recent) if i in charts else None,
    } for i, row in enumerate(comparison.rows)]
    notes = [note for (_, _), found in sorted(comparison.environment_notes.items()) for note in found]
    pipeline = None
    if source.pipeline_url or source.pipeline_id:
        pipeline = {"name": f"#{source.pipeline_id}" if source.pipeline_id else "pipeline",
                    "url": web_url(source.pipeline_url)}
    context = {
        "site_title": title, "page_title": _heading(comparison), "heading": _heading(comparison), "root": "",
        "nav": None, "inline_css": inline_stylesheet(), "data_until": None,
        "verdict": verdict_words(comparison.verdict), "verdict_class": status_class(comparison.verdict),
        "counts": count_verdicts(comparison), "target_ref": comparison.target_ref,
        "merge_base": (comparison.merge_base or "")[:12], "min_effect": f"{comparison.min_effect * 100:g} %",
        "commit": None if not source.commit else {"short": source.commit[:8], "title": source.commit_title or "",
                                                  "url": commit_url(project, source.commit)},
        "pipeline": pipeline, "notes": notes, "rows": rows,
    }
    text = render("mr.html", context)

    def write(folder: Path) -> None:
        (folder / "index.html").write_text(text, encoding="utf-8")

    publish(out, write)
    return out / "index.html"
