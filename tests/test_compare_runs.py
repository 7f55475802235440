"""``benchtrail compare`` (``commands.compare_runs``) with a real results branch: records read from the remote, the merge
base's time from the project repository, and the fallbacks of a shallow CI clone."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from comparefixtures import (
    OTHER_FINGERPRINT,
    STEP_AFTER_6,
    bench_record,
    history,
    push_history,
    sha,
    stamp,
)
from gitremotes import BRANCH, DATE, ci_clone, git, rev, write_records

from benchtrail.commands.compare_runs import CompareOptions, commit_time, read_baseline_history
from benchtrail.commands.compare_runs import compare as compare_command
from benchtrail.errors import BenchtrailError, RecordError

pytest_plugins = ("gitfixtures",)


@pytest.fixture
def recorded(work: Path, tmp_path: Path) -> Path:
    push_history(work, history(STEP_AFTER_6, seed=21) + history(STEP_AFTER_6, seed=22, suite="other"), tmp_path / "hist")
    return work


def under_test(tmp_path: Path, level: float = 10.0, **fields) -> Path:  # type: ignore[no-untyped-def]
    record = bench_record({"double": [level, level * 1.01, level * 0.99]}, n=100, ref="feature", **fields)
    (path,) = write_records(tmp_path / "current", [record], prefix=f"cur-{level}-")
    return path


def compare(files: list[Path], repo: Path, **options):  # type: ignore[no-untyped-def]
    return compare_command(CompareOptions(files=files, baseline_ref="main", repo=repo, branch=BRANCH, **options)).comparison


def test_commit_time_reads_the_committer_date(work: Path, tmp_path: Path) -> None:
    head = rev(work, "HEAD")
    assert head is not None
    expected = dt.datetime.fromtimestamp(int(DATE.split()[0]), dt.timezone.utc).isoformat()
    assert commit_time(work, head) == expected
    assert commit_time(work, sha(99)) is None
    assert commit_time(tmp_path / "nowhere", head) is None


def test_read_baseline_history_reads_only_the_suites_asked_for(recorded: Path) -> None:
    found = read_baseline_history(["other"], repo=recorded, branch=BRANCH)
    assert len(found) == 12 and {r.suite for r in found} == {"other"}
    assert len(read_baseline_history(["demo", "other"], repo=recorded, branch=BRANCH)) == 24


def test_read_baseline_history_without_a_branch_warns_and_is_empty(work: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="benchtrail"):
        assert read_baseline_history(["demo"], repo=work, branch=BRANCH) == []
    (line,) = caplog.messages
    assert line == f"no results branch {BRANCH!r} in origin or the local repository: nothing to compare with yet"


def test_without_a_merge_base_the_latest_runs_of_the_target_are_the_baseline(recorded: Path,
                                                                              tmp_path: Path) -> None:
    comparison = compare([under_test(tmp_path, 13.0)], recorded)
    assert comparison.verdict == "unchanged" and comparison.rows[0].decision.baseline_runs == 18
    assert compare([under_test(tmp_path, 17.0)], recorded).verdict == "regression"


def test_a_shallow_ci_clone_fetches_the_results_branch(recorded: Path, remote: Path, tmp_path: Path) -> None:
    job = ci_clone(remote, tmp_path / "job")
    assert rev(job, BRANCH) is None
    comparison = compare([under_test(tmp_path, 17.0)], job, cache=tmp_path / "cache")
    assert comparison.verdict == "regression"
    assert comparison.rows[0].decision.baseline == pytest.approx(13.0, rel=0.03)


def test_the_merge_base_time_comes_from_the_project_repository(recorded: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge base has no runs (commit 6½): its committer date, read with git, ends
    the baseline before the step at commit 7."""
    when = dt.datetime.fromisoformat(stamp(6, minutes=30).replace("Z", "+00:00"))
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{int(when.timestamp())} +0000")
    git(recorded, "commit", "-q", "--allow-empty", "-m", "the merge base")
    merge_base = rev(recorded, "HEAD")
    assert merge_base is not None
    current = under_test(tmp_path, 10.0)
    assert compare([current], recorded).verdict == "improvement"  # against 13 ms: the step after it
    comparison = compare([current], recorded, baseline_commit=merge_base)
    assert comparison.verdict == "unchanged" and comparison.merge_base == merge_base
    (baseline,) = [b for (suite, _), b in comparison.baselines.items() if suite == "demo"]
    assert baseline.anchor == sha(6) and not baseline.at_merge_base


def test_a_merge_base_outside_the_clone_takes_its_time_from_its_records(work: Path, tmp_path: Path) -> None:
    elsewhere = [bench_record({"double": [1.0]}, n=50, commit=sha(50), commit_time=stamp(6, minutes=30),
                              fingerprint=OTHER_FINGERPRINT)]
    push_history(work, history(STEP_AFTER_6, seed=23) + elsewhere, tmp_path / "hist")
    comparison = compare([under_test(tmp_path, 10.0)], work, baseline_commit=sha(50))
    assert comparison.verdict == "unchanged"
    assert comparison.baselines[next(iter(comparison.baselines))].anchor == sha(6)


def test_the_merge_base_with_runs_anchors_the_window(recorded: Path, tmp_path: Path) -> None:
    comparison = compare([under_test(tmp_path, 10.0)], recorded, baseline_commit=sha(6), window=4)
    baseline = next(iter(comparison.baselines.values()))
    assert baseline.at_merge_base and baseline.commits == 4
    assert list(baseline.commit_ids) == [sha(n) for n in (3, 4, 5, 6)]
    assert comparison.verdict == "unchanged"


def test_no_results_branch_gives_no_baseline(work: Path, tmp_path: Path) -> None:
    comparison = compare([under_test(tmp_path)], work)
    assert {row.verdict for row in comparison.rows} == {"no_baseline"}


def test_bad_input_is_a_benchtrail_error(recorded: Path, tmp_path: Path) -> None:
    with pytest.raises(BenchtrailError, match="no record files"):
        compare([], recorded)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(RecordError, match=str(bad)):
        compare([bad], recorded)
