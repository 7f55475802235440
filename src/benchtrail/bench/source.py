"""The source: which commit was measured, as GitLab CI says it or the local checkout."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from benchtrail.errors import GitLabError, StoreError
from benchtrail.results.gitrepo import LOOKUP_TIMEOUT_S, GitRepo, open_repo
from benchtrail.results.model import Source

__all__ = ["describe_source"]

#: a commit as the record schema takes it: 40 hex digits (SHA-1) or 64 (SHA-256)
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")

def _git(repo: GitRepo, *args: str) -> str | None:
    """What git answers, or ``None`` when it fails or takes too long: the source block is
    filled as far as the checkout allows, never at the cost of the run."""
    try:
        done = repo.result(*args, timeout_s=LOOKUP_TIMEOUT_S)
    except StoreError:
        return None
    # a title that is not UTF-8 keeps its readable part (the record is written as UTF-8)
    text = done.stdout.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
    return text if done.status == 0 and text else None


def _from_git(directory: Path) -> dict[str, str | None]:
    try:
        repo = open_repo(directory)
    except StoreError:  # not in a checkout, or no git here
        return {}
    head = _git(repo, "log", "-1", "--format=%H%n%cI%n%s")
    if head is None:
        return {}
    commit, commit_time, title = (head.split("\n", 2) + ["", ""])[:3]
    return {
        "commit": commit,
        "commit_time": commit_time or None,
        "commit_title": title or None,
        "ref": _git(repo, "symbolic-ref", "--short", "-q", "HEAD"),
    }


def describe_source(directory: str | Path, ci: Mapping[str, str | None] | None = None) -> Source:
    """The record's source: what GitLab CI says (``ci``, the record fields its variables
    fill) where it says it, else what git says of the checkout holding ``directory``,
    else unknown."""
    given = {key: value for key, value in (ci or {}).items() if value}
    if given.get("commit") and not _COMMIT.fullmatch(given["commit"]):  # say it before the run, not after
        raise GitLabError(f"CI_COMMIT_SHA: expected a commit's 40 (or 64) lower-case hex digits, found "
                          f"{given['commit'][:80]!r}")
    if not given.get("commit"):
        for key, value in _from_git(Path(directory)).items():
            given.setdefault(key, value)
    return Source(**{f.name: given.get(f.name) for f in fields(Source)})
