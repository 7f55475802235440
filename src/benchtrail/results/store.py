"""The results branch: record result files into it with git plumbing, safely in parallel.

``record`` never checks the branch out. It fetches only the branch tip (``--depth 1``,
and ``--filter=blob:none`` where the remote serves it: the history lives in the files,
not in the commits), writes the new blobs, rewrites only the trees on the paths it
changes, commits on top of the tip and pushes. When another job pushed first, the push
is refused; the commit is then rebuilt on the new tip and pushed again after a jittered
back-off, so parallel jobs lose nothing and duplicate nothing. Refs are updated only
after a successful push: a failure leaves no half-written branch.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.errors import RecordError, StoreError
from benchtrail.results.gitrepo import GitRepo, RemoteAccess, open_repo, remote_access
from benchtrail.results.record import load_record, record_bytes

__all__ = ["DEFAULT_BRANCH", "Recorded", "fetch_tip", "record", "record_path"]

log = logging.getLogger(__name__)

DEFAULT_BRANCH = "benchtrail-results"
_TREE_MODE = "040000"
_BLOB_MODE = "100644"
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "failed to update ref", "stale info",
             "cannot lock ref", "incorrect old value")


@dataclass(frozen=True)
class Recorded:
    """What ``record`` did: the new commit (``None`` when every file was already there),
    the paths it added, the ones it found already recorded, and the push attempts."""

    commit: str | None
    added: tuple[str, ...]
    already: tuple[str, ...]
    attempts: int
    pushed: bool


def record_path(record: dict[str, Any]) -> str:
    """``results/<suite>/<YYYY>/<MM>/<UTC-timestamp>-<commit12>-<job-id>.json``."""
    started = dt.datetime.fromisoformat(record["run"]["started_at"].replace("Z", "+00:00"))
    started = started.astimezone(dt.timezone.utc)
    commit = (record["source"].get("commit") or "nocommit")[:12]
    job = record["source"].get("job_id") or "local"
    return f"results/{record['suite']}/{started:%Y}/{started:%m}/{started:%Y%m%dT%H%M%SZ}-{commit}-{job}.json"


def _tip_ref(remote: str, branch: str) -> str:
    return f"refs/benchtrail/{remote}/{branch}"


def fetch_tip(repo: GitRepo, access: RemoteAccess, branch: str) -> str | None:
    """Fetch the branch tip alone (depth 1, no blobs) into a private ref; ``None`` when
    the remote has no such branch. A remote that cannot be reached is a ``StoreError``."""
    import git

    args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1", "--filter=blob:none",
            access.name, f"+refs/heads/{branch}:{_tip_ref(access.name, branch)}"]
    try:
        repo.repo.git.execute(["git", *args], env=access.env)
    except git.GitCommandError as exc:
        message = str(exc.stderr or "")
        if "couldn't find remote ref" in message:
            return None
        raise StoreError(f"cannot fetch {branch} from {access.shown}: {repo.reason(exc)}") from None
    return repo.rev(_tip_ref(access.name, branch))


def _entries(repo: GitRepo, tree: str | None) -> dict[str, tuple[str, str, str]]:
    """name -> (mode, type, oid) of one tree's entries (not recursive)."""
    if tree is None:
        return {}
    entries = {}
    for line in repo.run("ls-tree", "-z", tree).split("\0"):
        if line:
            meta, name = line.split("\t", 1)
            mode, kind, oid = meta.split()
            entries[name] = (mode, kind, oid)
    return entries


def _write_tree(repo: GitRepo, tree: str | None, changes: dict[str, Any],
                already: list[str], prefix: str) -> str | None:
    """The tree ``tree`` with ``changes`` applied (name -> blob oid, or a nested dict for a
    sub-folder): only the trees on changed paths are read and rewritten. Returns ``None``
    when nothing changed."""
    entries = _entries(repo, tree)
    changed = False
    for name, change in sorted(changes.items()):
        current = entries.get(name)
        if isinstance(change, dict):
            sub = current[2] if current and current[1] == "tree" else None
            new = _write_tree(repo, sub, change, already, f"{prefix}{name}/")
            if new is not None:
                entries[name] = (_TREE_MODE, "tree", new)
                changed = True
        elif current is not None:
            # Same path: the same run (suite, second, commit, job). Keep the first copy.
            already.append(prefix + name)
            if current[2] != change:
                log.warning("%s%s: already recorded with other content; keeping the recorded one", prefix, name)
        else:
            entries[name] = (_BLOB_MODE, "blob", change)
            changed = True
    if not changed:
        return None
    listing = "".join(f"{mode} {kind} {oid}\t{name}\0" for name, (mode, kind, oid) in sorted(entries.items()))
    return repo.run("mktree", "-z", input_text=listing).strip()


def _identity() -> dict[str, str]:
    name = os.environ.get("GITLAB_USER_NAME") or "benchtrail"
    email = os.environ.get("GITLAB_USER_EMAIL") or "benchtrail@localhost"
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


def _commit(repo: GitRepo, tip: str | None, blobs: dict[str, str], message: str,
            ) -> tuple[str | None, list[str], list[str]]:
    changes: dict[str, Any] = {}
    for path, oid in blobs.items():
        *folders, name = path.split("/")
        node = changes
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = oid
    already: list[str] = []
    root = _write_tree(repo, f"{tip}^{{tree}}" if tip else None, changes, already, "")
    added = sorted(set(blobs) - set(already))
    if root is None:
        return None, added, already
    parents = ["-p", tip] if tip else []
    commit = repo.run("commit-tree", root, *parents, "-m", message, env=_identity()).strip()
    return commit, added, already


def _load_all(paths: Sequence[str | Path]) -> dict[str, bytes]:
    """Canonical bytes by branch path; every file is validated before anything is written."""
    problems: list[str] = []
    loaded: dict[str, bytes] = {}
    for path in paths:
        try:
            record = load_record(path)
        except RecordError as exc:
            problems.extend(exc.problems)
            continue
        loaded[record_path(record)] = record_bytes(record)
    if problems:
        raise RecordError(*problems, "nothing was recorded")
    return loaded


def _write_blobs(repo: GitRepo, contents: dict[str, bytes]) -> dict[str, str]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="benchtrail-blobs-") as scratch:
        files = []
        for index, data in enumerate(contents.values()):
            file = Path(scratch) / f"{index}.json"
            file.write_bytes(data)
            files.append(str(file))
        oids = repo.run("hash-object", "-w", "--no-filters", "--stdin-paths",
                        input_text="\n".join(files) + "\n").split()
    return dict(zip(contents, oids))


def _message(paths: Sequence[str]) -> str:
    suites = sorted({path.split("/")[1] for path in paths})
    commits = sorted({Path(path).stem.split("-")[1] for path in paths})
    return f"benchtrail: record {len(paths)} result(s) of {', '.join(suites)} at {', '.join(commits)}"


def _push(repo: GitRepo, access: RemoteAccess, commit: str, branch: str) -> bool:
    """Push ``commit`` as the branch; ``False`` when the remote refused it because its tip
    moved (retry), ``StoreError`` for any other failure."""
    import git

    try:
        repo.repo.git.execute(["git", "push", "--quiet", "--porcelain", access.push_url,
                               f"{commit}:refs/heads/{branch}"])
    except git.GitCommandError as exc:
        output = f"{exc.stdout or ''}\n{exc.stderr or ''}"
        if any(marker in output for marker in _REJECTED):
            return False
        raise StoreError(f"cannot push {branch} to {access.shown}: {repo.reason(exc)}") from None
    return True


def record(
    paths: Sequence[str | Path],
    *,
    repo: str | Path = ".",
    remote: str = "origin",
    branch: str = DEFAULT_BRANCH,
    push: bool = True,
    retries: int = 10,
    retry_timeout_s: float = 120.0,
) -> Recorded:
    """Record the result files ``paths`` in one commit on ``branch`` and push it to
    ``remote`` (retrying on the new tip when another job pushed first)."""
    contents = _load_all(paths)
    access = remote_access(remote)
    git_repo = open_repo(repo, access.secrets)
    blobs = _write_blobs(git_repo, contents)
    message = _message(sorted(contents))
    local_ref = f"refs/heads/{branch}"
    if not push:
        tip = git_repo.rev(local_ref)
        commit, added, already = _commit(git_repo, tip, blobs, message)
        if commit is not None:
            git_repo.run("update-ref", local_ref, commit, *([tip] if tip else []))
        return Recorded(commit, tuple(added), tuple(already), 0, False)

    deadline = time.monotonic() + retry_timeout_s
    for attempt in range(1, retries + 2):
        tip = fetch_tip(git_repo, access, branch)
        commit, added, already = _commit(git_repo, tip, blobs, message)
        if commit is None:
            return Recorded(None, (), tuple(already), attempt, False)
        if _push(git_repo, access, commit, branch):
            git_repo.run("update-ref", local_ref, commit)
            git_repo.run("update-ref", _tip_ref(access.name, branch), commit)
            return Recorded(commit, tuple(added), tuple(already), attempt, True)
        pause = min(5.0, 0.05 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.5)
        if attempt > retries or time.monotonic() + pause > deadline:
            break
        log.info("push of %s refused: %s moved; retrying on the new tip in %.2f s", branch, branch, pause)
        time.sleep(pause)
    raise StoreError(
        f"cannot push {branch} to {access.shown}: refused {attempt} times because other jobs "
        f"pushed first (raise --retries or --retry-timeout)"
    )
