"""``commands.report``: the site from a real results branch, read once; the MR page."""

from __future__ import annotations

from pathlib import Path

import pytest
from comparefixtures import history, push_history
from gitremotes import ci_clone

from benchtrail.commands.report import CHART_CACHE, ReportOptions, report
from benchtrail.gitlab.ci import read_ci
from benchtrail.results.history import BranchView, NoResultsBranch

pytest_plugins = ("gitfixtures",)


def test_the_site_of_the_branch_from_a_fresh_ci_clone(work: Path, remote: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    push_history(work, history([10.0] * 6 + [13.0] * 6, seed=3), tmp_path / "hist")
    job = ci_clone(remote, tmp_path / "job")  # no results branch here: it is fetched
    done = report(ReportOptions(repo=job, out=tmp_path / "public", project_url="https://gitlab.example.com/g/p",
                                default_branch="main"), read_ci({}))
    assert done.index == tmp_path / "public" / "index.html" and done.index.is_file()
    assert done.notices == ("Wrote " + str(done.index) + ": 1 suites, 12 records, 1 charts (1 drawn, 0 unchanged), "
                            "1 change points",)
    assert (tmp_path / CHART_CACHE).is_dir() and not (tmp_path / "public" / CHART_CACHE).exists()
    page = (tmp_path / "public" / "suites" / "demo.html").read_text(encoding="utf-8")
    assert "https://gitlab.example.com/g/p/-/commit/" in page
    again = report(ReportOptions(repo=job, out=tmp_path / "public", chart_cache=tmp_path / "charts"), read_ci({}))
    assert "(1 drawn, 0 unchanged)" in again.notices[0]


def test_a_suite_whose_records_did_not_change_is_not_read(work: Path, remote: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    push_history(work, history([10.0] * 4, seed=3) + history([5.0] * 4, seed=4, suite="other"), tmp_path / "hist")
    job = ci_clone(remote, tmp_path / "job")
    options = ReportOptions(repo=job, out=tmp_path / "public", default_branch="main")
    assert "2 suites, 8 records, 2 charts (2 drawn, 0 unchanged)" in report(options, read_ci({})).notices[0]
    read: list[list[str]] = []
    reading = BranchView.records
    monkeypatch.setattr(BranchView, "records", lambda view, **kw: read.append(kw["suites"]) or reading(view, **kw))
    assert "2 suites, 8 records, 2 charts (0 drawn, 2 unchanged)" in report(options, read_ci({})).notices[0]
    push_history(work, history([5.0], seed=5, suite="other", first=5), tmp_path / "more")
    assert "2 suites, 9 records, 2 charts (1 drawn, 1 unchanged)" in report(options, read_ci({})).notices[0]
    assert read == [["other"]]


def test_no_results_branch_is_one_clear_error(work: Path, tmp_path: Path) -> None:
    with pytest.raises(NoResultsBranch, match="no results branch 'benchtrail-results'"):
        report(ReportOptions(repo=work, out=tmp_path / "public"), read_ci({}))
    assert not (tmp_path / "public").exists()
