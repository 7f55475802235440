"""``benchtrail check-push``: whether this job's token may push to the results branch."""

from __future__ import annotations

from pathlib import Path

from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.branch import DEFAULT_BRANCH

__all__ = ["check_push"]


def check_push(repo: Path = Path("."), *, remote: str = "origin", branch: str = DEFAULT_BRANCH,
               ci: CiContext | None = None) -> str:
    """One line saying which token can push where; ``GitLabError`` saying what to grant."""
    from benchtrail.gitlab.access import check_push as check

    return check(ci if ci is not None else read_ci(), repo, remote=remote, branch=branch).message
