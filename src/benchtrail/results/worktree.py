"""Another commit's files beside the clone: where paired confirmation runs the merge base.

A detached git worktree of the commit, in a scratch folder, removed afterwards. CI clones
are shallow (GitLab's default ``GIT_DEPTH`` is 20), so the merge base of an older branch
may be missing: it is then fetched by its name alone (``git fetch --depth=1 REMOTE SHA``;
GitLab serves any commit of the project that way). Where the fetch is refused, the error
says which variable gives the clone the depth it needs.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchtrail.errors import StoreError
from benchtrail.results.gitrepo import GitRepo, RemoteAccess, open_repo

__all__ = ["commit_tree"]


def _has_commit(repo: GitRepo, commit: str) -> bool:
    return repo.result("cat-file", "-e", f"{commit}^{{commit}}").status == 0


def _fetch_commit(repo: GitRepo, commit: str, access: RemoteAccess) -> None:
    done = repo.result("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1", access.name, commit,
                       env=access.env, what=f"fetching {commit[:12]} from {access.shown}")
    if done.status != 0 or not _has_commit(repo, commit):
        raise StoreError(f"{commit[:12]} is not in this clone and fetching it from {access.shown} failed "
                         f"({repo.reason(done) if done.status else 'not found'}): give the job a deeper clone "
                         f"(GIT_DEPTH: 0, or at least the merge request's commits)")


@contextlib.contextmanager
def commit_tree(repo_path: str | Path, commit: str, access: RemoteAccess) -> Iterator[Path]:
    """The files of ``commit`` (a full or abbreviated hex name) in a scratch worktree of
    the repository holding ``repo_path``, for the ``with`` block; fetched from
    ``access`` first when the clone lacks it. ``StoreError`` when it cannot be had."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        raise StoreError(f"{commit!r} is not a commit name")  # never handed to git as an option
    repo = open_repo(repo_path, access.secrets)
    if not _has_commit(repo, commit):
        _fetch_commit(repo, commit, access)
    folder = Path(tempfile.mkdtemp(prefix="benchtrail-base-"))
    try:
        repo.run("worktree", "add", "--quiet", "--detach", "--force", str(folder), commit,
                 what=f"checking out {commit[:12]}")
        yield folder
    finally:
        repo.result("worktree", "remove", "--force", str(folder))
        shutil.rmtree(folder, ignore_errors=True)
        repo.result("worktree", "prune")
