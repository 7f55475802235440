"""``report.suitepage``: chart jobs with one line per environment, and the suite page's context."""

from __future__ import annotations

from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, typed
from reportfixtures import PROJECT, site_records

from benchtrail.report.charts import ChartOutput
from benchtrail.report.suitepage import chart_jobs, short_commit, suite_context
from benchtrail.report.timelines import build_histories


def test_one_line_per_environment_with_the_same_colour_on_every_chart() -> None:
    history = build_histories(typed(site_records(12)))["demo"]
    jobs = chart_jobs(history, PROJECT, window=5)
    assert len(jobs) == len(history.charts) == 3
    for job in jobs:
        assert [(line.name, line.slot) for line in job.lines] == [(FINGERPRINT[:8], 1), (OTHER_FINGERPRINT[:8], 2)]
        assert len(job.ticks) == 12 and job.window == 5
        assert job.ticks[0].url == f"{PROJECT}/-/commit/{history.commits[0].sha}"
    assert short_commit(history.commits[0]) == history.commits[0].sha[:8]


def test_the_page_links_the_whole_history_only_when_there_is_more() -> None:
    history = build_histories(typed(site_records(12)))["demo"]
    outputs = [ChartOutput("<svg>recent</svg>", "<svg>full</svg>", ((), ())) for _ in history.charts]
    recent = suite_context(history, outputs, whole=False, window=5, project_url=PROJECT, runs_listed=4, status=None)
    chart = recent["charts"][0]
    assert chart["span"] == "last 5 of 12 commits" and chart["other"] == f"../history/demo.html#{chart['anchor']}"
    assert str(chart["svg"]) == "<svg>recent</svg>" and len(chart["legend"]) == 2
    assert len(recent["runs"]) == 4 and recent["more_runs"] == 25 - 4
    assert recent["runs"][0]["pipeline_url"] == f"{PROJECT}/-/pipelines/712"
    assert [e["runs"] for e in recent["environments"]] == [13, 12]
    whole = suite_context(history, outputs, whole=True, window=5, project_url=PROJECT, runs_listed=4, status=None)
    assert str(whole["charts"][0]["svg"]) == "<svg>full</svg>" and whole["runs"] == []
    short = suite_context(history, outputs, whole=False, window=50, project_url=None, runs_listed=4, status=None)
    assert short["charts"][0]["other"] is None and short["charts"][0]["span"] == "12 commits"
    assert short["runs"][0]["url"] is None
