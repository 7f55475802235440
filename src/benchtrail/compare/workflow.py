"""``benchtrail compare`` as one call: load the records under test, read their baselines
from the results branch, decide, and confirm suspected regressions by running again."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchtrail.compare.baseline import DEFAULT_WINDOW
from benchtrail.compare.comparison import Comparison, compare_records
from benchtrail.compare.confirm import CONFIRM_TIMES, confirm_runs
from benchtrail.compare.rule import DEFAULT_MIN_EFFECT
from benchtrail.errors import BenchtrailError, StoreError
from benchtrail.results.gitrepo import open_repo
from benchtrail.results.history import NoResultsBranch, iter_records
from benchtrail.results.record import load_record

__all__ = ["commit_time", "compare_files", "read_baseline_history"]

log = logging.getLogger(__name__)


def commit_time(repo: str | Path, commit: str) -> str | None:
    """The committer date of ``commit`` in ``repo``, or ``None`` when the clone lacks it
    (CI clones are shallow; the merge base may be outside them)."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return None  # not a commit name: never handed to git as an option
    try:
        return open_repo(repo).run("show", "-s", "--format=%cI", "--end-of-options", commit, "--").strip() or None
    except StoreError:
        return None


def read_baseline_history(suites: Sequence[str], **options: Any) -> list[dict[str, Any]]:
    """Every record of ``suites`` on the results branch (``iter_records`` options); none
    when the branch does not exist yet: a project's first merge requests have no baseline."""
    found: list[dict[str, Any]] = []
    for suite in suites:
        try:
            found.extend(stored.record for stored in iter_records(suite=suite, **options))
        except NoResultsBranch as exc:
            log.warning("%s: nothing to compare with yet", exc)
            return []
    return found


def compare_files(
    files: Sequence[str | Path],
    *,
    repo: str | Path = ".",
    remote: str = "origin",
    branch: str,
    baseline_ref: str,
    baseline_commit: str | None = None,
    min_effect: float = DEFAULT_MIN_EFFECT,
    window: int = DEFAULT_WINDOW,
    cache: str | Path | None = None,
    fetch: bool = True,
    confirm_suite: str | Path | None = None,
    confirm_times: int = CONFIRM_TIMES,
    confirm_out: str | Path = "benchtrail-report/confirm",
) -> Comparison:
    """Compare the records in ``files`` with their baseline on the results ``branch``;
    with ``confirm_suite``, run that suite's suspect benchmarks ``confirm_times`` more
    (records into ``confirm_out``) and decide on all the runs together."""
    if not files:
        raise BenchtrailError("compare: no record files given")
    if baseline_commit and set(baseline_commit) == {"0"}:
        baseline_commit = None  # GitLab's "no commit" (e.g. CI_COMMIT_BEFORE_SHA of a new branch)
    current = [load_record(path) for path in files]
    history = read_baseline_history(sorted({r["suite"] for r in current}), repo=repo, remote=remote,
                                    branch=branch, cache=cache, fetch=fetch)
    when = commit_time(repo, baseline_commit) if baseline_commit else None
    if baseline_commit and when is None:
        when = next((r["source"].get("commit_time") for r in history
                     if r["source"].get("commit") == baseline_commit), None)
        if when is None:
            log.warning("the merge base %s has no runs and is not in this clone: comparing with the latest "
                        "runs of %s (fetch it, e.g. GIT_DEPTH: 0, to compare with the runs before it)",
                        baseline_commit[:12], baseline_ref)
    options = {"target_ref": baseline_ref, "merge_base": baseline_commit, "merge_base_time": when,
               "min_effect": min_effect, "window": window}
    comparison = compare_records(current, history, **options)
    if confirm_suite is not None:
        more = confirm_runs(confirm_suite, comparison, current, out_dir=confirm_out, times=confirm_times)
        if more:
            comparison = compare_records(current + more, history, **options)
    return comparison
