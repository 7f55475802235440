"""The source block: which commit was measured, read from GitLab CI or the local checkout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["describe_source"]

# record field -> GitLab CI predefined variable
_CI_VARIABLES = {
    "commit": "CI_COMMIT_SHA",
    "ref": "CI_COMMIT_REF_NAME",
    "commit_time": "CI_COMMIT_TIMESTAMP",
    "commit_title": "CI_COMMIT_TITLE",
    "pipeline_id": "CI_PIPELINE_ID",
    "job_id": "CI_JOB_ID",
    "pipeline_url": "CI_PIPELINE_URL",
    "project_url": "CI_PROJECT_URL",
    "mr_iid": "CI_MERGE_REQUEST_IID",
}


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, timeout=10, check=False,
            # git writes commit messages as UTF-8 whatever the locale says
            text=True, encoding="utf-8", errors="replace",
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _from_git(directory: Path) -> dict[str, str | None]:
    head = _git(directory, "log", "-1", "--format=%H%n%cI%n%s")
    if head is None:
        return {}
    commit, commit_time, title = (head.split("\n", 2) + ["", ""])[:3]
    return {
        "commit": commit,
        "commit_time": commit_time or None,
        "commit_title": title or None,
        "ref": _git(directory, "symbolic-ref", "--short", "-q", "HEAD"),
    }


def describe_source(directory: str | Path) -> dict[str, Any]:
    """The record's ``source`` block: GitLab CI variables where set, else what git says
    of the checkout holding ``directory``, else nulls."""
    source: dict[str, Any] = {field: os.environ.get(var) or None for field, var in _CI_VARIABLES.items()}
    if source["commit"] is None:
        for field, value in _from_git(Path(directory)).items():
            source[field] = source[field] or value
    return source
