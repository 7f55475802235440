"""The results branch: record result files into it with git plumbing, safely in parallel.

``record`` never checks the branch out. It fetches only the branch tip (``--depth 1``,
and ``--filter=blob:none`` where the remote serves it: the history lives in the files,
not in the commits), writes the new blobs, rewrites only the trees on the paths it
changes, commits on top of the tip and pushes. When another job pushed first, the push
is refused; the commit is then rebuilt on the new tip and pushed again after a jittered
back-off, so parallel jobs lose nothing and duplicate nothing; parallel records from one
checkout wait out each other's locks the same way. Refs are updated only after a
successful push: a failure leaves no half-written branch.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.errors import RecordError, StoreError
from benchtrail.results.branch import DEFAULT_BRANCH
from benchtrail.results.gitrepo import (
    GitRepo,
    RemoteAccess,
    credentials_env,
    identity_env,
    open_repo,
    redact,
    remote_access,
)
from benchtrail.results.record import load_record, record_bytes

__all__ = ["Recorded", "fetch_tip", "record"]

log = logging.getLogger(__name__)

_TREE_MODE = "040000"
_BLOB_MODE = "100644"
# what a remote says when another push updated the branch between our fetch and our push
#: the longest pause between two push attempts: contenders retry within seconds
MAX_PAUSE_S = 5.0
#: attempts at moving the local branch when another process of this checkout moves it too
LOCAL_RETRIES = 50
_RACES = ("failed to update ref", "cannot lock ref", "incorrect old value", "stale info")
_MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Recorded:
    """What ``record`` did: the new commit (``None`` when every file was already there),
    the paths it added, the ones it found already recorded, and the push attempts."""

    commit: str | None
    added: tuple[str, ...]
    already: tuple[str, ...]
    attempts: int
    pushed: bool


def _tip_ref(remote: str, branch: str) -> str:
    return f"refs/benchtrail/{remote}/{branch}"


class _Busy(StoreError):
    """Another process holds a lock in the local repository (parallel records from one
    checkout): worth another try after a pause."""


_LOCKED = re.compile(r"\.lock'?: File exists|cannot lock ref|could not lock config file|"
                     r"shallow file has changed since we read it")


def fetch_tip(repo: GitRepo, access: RemoteAccess, branch: str) -> str | None:
    """Fetch the branch tip alone (depth 1, no blobs) into a private ref; ``None`` when
    the remote has no such branch. A remote that cannot be reached, or gives no answer
    within the deadline, is a ``StoreError``."""
    done = repo.result("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth=1",
                       "--filter=blob:none", access.name, f"+refs/heads/{branch}:{_tip_ref(access.name, branch)}",
                       env=access.env, what=f"fetching {branch} from {access.shown}")
    if done.status != 0:
        if "couldn't find remote ref" in done.stderr:
            return None
        error = _Busy if _LOCKED.search(done.stderr) else StoreError
        raise error(f"cannot fetch {branch} from {access.shown}: {repo.reason(done)}")
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
        elif current is not None:  # the same path: the same content (the path ends in its digest)
            already.append(prefix + name)
        else:
            entries[name] = (_BLOB_MODE, "blob", change)
            changed = True
    if not changed:
        return None
    listing = "".join(f"{mode} {kind} {oid}\t{name}\0" for name, (mode, kind, oid) in sorted(entries.items()))
    # --missing: in a partial clone the other entries' blobs were never fetched, and need not be.
    return repo.run("mktree", "-z", "--missing", input_text=listing).strip()


def _commit(repo: GitRepo, tip: str | None, blobs: dict[str, str], legacy: Mapping[str, str], message: str,
            identity: Mapping[str, str]) -> tuple[str | None, list[str], list[str]]:
    """The commit on ``tip`` that adds ``blobs`` (path -> oid), or ``None`` when every one
    is there already (at its path, or the same bytes at its ``legacy`` path); the paths
    added and those found recorded."""
    before = _recorded_before(repo, tip, blobs, legacy)
    changes: dict[str, Any] = {}
    for path, oid in blobs.items():
        if path in before:
            continue
        *folders, name = path.split("/")
        node = changes
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = oid
    already = sorted(legacy[path] for path in before)
    root = _write_tree(repo, f"{tip}^{{tree}}" if tip else None, changes, already, "") if changes else None
    added = sorted(set(blobs) - set(already) - before)
    if root is None:
        return None, added, already
    parents = ["-p", tip] if tip else []
    commit = repo.run("commit-tree", root, *parents, "-m", message, env=dict(identity)).strip()
    return commit, added, already


def _load_all(paths: Sequence[str | Path]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Canonical bytes by branch path (a record given twice is one), and each path's legacy
    path; every file is validated before anything is written."""
    problems: list[str] = []
    loaded: dict[str, bytes] = {}
    legacy: dict[str, str] = {}
    for path in paths:
        try:
            record = load_record(path)
        except RecordError as exc:
            problems.extend(exc.problems)
            continue
        where = record.branch_path()
        loaded[where] = record_bytes(record)
        legacy[where] = record.legacy_branch_path()
    if problems:
        raise RecordError(*problems, "nothing was recorded")
    return loaded, legacy


def _recorded_before(repo: GitRepo, tip: str | None, blobs: Mapping[str, str], legacy: Mapping[str, str],
                     chunk: int = 1000) -> set[str]:
    """The paths of ``blobs`` whose record the branch at ``tip`` holds at its legacy path
    (recorded before paths had a digest), the same bytes."""
    if tip is None:
        return set()
    wanted = {legacy[path]: path for path in blobs}
    found: set[str] = set()
    names = sorted(wanted)
    for start in range(0, len(names), chunk):
        out = repo.run("ls-tree", "-r", "-z", "--full-tree", tip, "--", *names[start:start + chunk])
        for line in out.split("\0"):
            if line:
                meta, name = line.split("\t", 1)
                if name in wanted and meta.split()[2] == blobs[wanted[name]]:
                    found.add(wanted[name])
    return found


def _write_blobs(repo: GitRepo, contents: dict[str, bytes]) -> dict[str, str]:
    """Store ``contents`` (branch path -> bytes) as git blobs: branch path -> object id. One
    ``git fast-import`` writes them all into one pack, without a file or a loose object per
    record (an imported history has thousands)."""
    import tempfile

    stream = "".join(f"blob\nmark :{n}\ndata {len(data)}\n{data.decode('utf-8', 'surrogateescape')}\n"
                     for n, data in enumerate(contents.values(), 1))
    with tempfile.TemporaryDirectory(prefix="benchtrail-blobs-") as scratch:
        marks = Path(scratch) / "marks"
        repo.run("fast-import", "--quiet", f"--export-marks={marks}", input_text=stream,
                 what="storing the records in git")
        oids = dict(line.split(" ", 1) for line in marks.read_text(encoding="ascii").splitlines())
    return {path: oids[f":{n}"] for n, path in enumerate(contents, 1)}


def _push_or_say(repo: GitRepo, access: RemoteAccess, commit: str, branch: str) -> bool:
    """``_push``, saying what a stop in the middle of it (Ctrl-C, a cancelled job) leaves:
    git is stopped, but the remote may have taken the push already."""
    try:
        return _push(repo, access, commit, branch)
    except Exception:
        raise
    except BaseException:
        log.warning("stopped while pushing to %s: the records may have reached it or not; recording the same "
                    "files again is safe (each is recorded once)", branch)
        raise


def _message(paths: Sequence[str]) -> str:
    suites = sorted({path.split("/")[1] for path in paths})
    commits = sorted({Path(path).stem.split("-")[1] for path in paths})
    return f"benchtrail: record {len(paths)} result(s) of {', '.join(suites)} at {', '.join(commits)}"


def _push(repo: GitRepo, access: RemoteAccess, commit: str, branch: str) -> bool:
    """Push ``commit`` as the branch; ``False`` when the remote refused it because its tip
    moved (retry), ``StoreError`` for any other failure, with the remote's reason."""
    url, credentials = credentials_env(access.push_url)
    done = repo.result("push", "--quiet", "--porcelain", url, f"{commit}:refs/heads/{branch}",
                       env=credentials or access.env, what=f"pushing {branch} to {access.shown}")
    if done.status == 0:
        return True
    # --porcelain: "!<TAB>src:dst<TAB>[rejected] (fetch first)" for a refused ref
    status = next((line.split("\t")[2].strip() for line in done.stdout.splitlines()
                   if line.startswith("!\t") and line.count("\t") >= 2), "")
    if status.startswith("[rejected]") or (
            status.startswith("[remote rejected]") and any(m in status for m in _RACES)):
        return False
    if not status and _LOCKED.search(done.stderr):  # another process of this checkout
        return False
    if status:
        said = [line.removeprefix("remote:").strip() for line in done.stderr.splitlines()
                if line.startswith("remote:") and line.removeprefix("remote:").strip()]
        reason = status.removeprefix("[remote rejected]").strip().strip("()")
        if said:
            reason += ": " + "; ".join(said)
        if len(reason) > _MAX_REASON_CHARS:
            reason = reason[:_MAX_REASON_CHARS - 3] + "..."
        reason = redact(reason, repo.secrets)
    else:
        reason = repo.reason(done)
    raise StoreError(f"cannot push {branch} to {access.shown}: {reason}")


def _follow(repo: GitRepo, ref: str, commit: str) -> None:
    """Point the local branch at the pushed ``commit``, unless it is already ahead (another
    process of this checkout pushed since) or moving it would drop records only it has
    (committed with ``--no-push``): then leave it, saying so in the second case. The push
    is done: a failure here is a warning, not an error."""
    try:
        local = repo.rev(ref)
        if local is not None and local != commit:
            if _is_ancestor(repo, commit, local):
                return
            out = repo.run("diff-tree", "-r", "-z", "--no-renames", "--diff-filter=D", "--name-only",
                           local, commit)
            dropped = [path for path in out.split("\0") if path]
            if dropped:
                log.warning("%s has %d record(s) that are not on the remote (committed with --no-push?); "
                            "left as it is", ref.removeprefix("refs/heads/"), len(dropped))
                return
        repo.run("update-ref", ref, commit, *([local] if local else []))
    except StoreError as exc:
        log.warning("pushed, but the local %s was not moved: %s", ref.removeprefix("refs/heads/"), exc)


def _is_ancestor(repo: GitRepo, older: str, newer: str) -> bool:
    return repo.result("merge-base", "--is-ancestor", older, newer).status == 0


def _record_locally(repo: GitRepo, ref: str, blobs: dict[str, str], legacy: Mapping[str, str], message: str,
                    retries: int | None, identity: Mapping[str, str]) -> Recorded:
    """``--no-push``: commit on the local branch, retrying when another process of this
    checkout moved it in between (``update-ref`` checks the old value)."""
    retries = LOCAL_RETRIES if retries is None else retries
    for attempt in range(1, retries + 2):
        tip = repo.rev(ref)
        commit, added, already = _commit(repo, tip, blobs, legacy, message, identity)
        if commit is None:
            return Recorded(None, (), tuple(already), 0, False)
        try:
            repo.run("update-ref", ref, commit, tip or "", what=f"updating {ref.removeprefix('refs/heads/')}")
        except StoreError:
            if attempt > retries or repo.rev(ref) == tip:
                raise
            time.sleep(random.uniform(0.01, 0.1))
            continue
        return Recorded(commit, tuple(added), tuple(already), 0, False)
    raise AssertionError("unreachable")


def record(
    paths: Sequence[str | Path],
    *,
    repo: str | Path = ".",
    remote: str = "origin",
    branch: str = DEFAULT_BRANCH,
    push: bool = True,
    retries: int | None = None,
    retry_timeout_s: float = 600.0,
    access: RemoteAccess | None = None,
    identity: Mapping[str, str] | None = None,
) -> Recorded:
    """Record the result files ``paths`` in one commit on ``branch`` and push it to
    ``remote``, retrying on the new tip when another job pushed first: until
    ``retry_timeout_s``, and at most ``retries`` times when given. ``access`` says
    where ``remote`` is pushed to and with which secrets (default: the remote as
    configured); ``identity`` is the commit's author and committer (``identity_env``)."""
    contents, legacy = _load_all(paths)
    access = access if access is not None else remote_access(remote)
    identity = identity if identity is not None else identity_env()
    git_repo = open_repo(repo, access.secrets)
    local_ref = f"refs/heads/{branch}"
    if push and remote not in git_repo.run("remote").split():
        raise StoreError(f"no remote named {remote!r} in {git_repo.folder} "
                         "(see `git remote -v`; record with --no-push to commit locally)")
    blobs = _write_blobs(git_repo, contents)
    message = _message(sorted(contents))
    if not push:
        return _record_locally(git_repo, local_ref, blobs, legacy, message, retries, identity)

    deadline = time.monotonic() + retry_timeout_s
    busy: StoreError | None = None
    for attempt in itertools.count(1):
        try:
            tip = fetch_tip(git_repo, access, branch)
        except _Busy as exc:
            busy = exc
        else:
            busy = None
            commit, added, already = _commit(git_repo, tip, blobs, legacy, message, identity)
            if commit is None:
                return Recorded(None, (), tuple(already), attempt, False)
            if _push_or_say(git_repo, access, commit, branch):
                try:
                    git_repo.run("update-ref", _tip_ref(access.name, branch), commit)
                except StoreError:
                    pass  # another process of this checkout fetched meanwhile: its tip is as good
                _follow(git_repo, local_ref, commit)
                return Recorded(commit, tuple(added), tuple(already), attempt, True)
        # full jitter (AWS's name for it): contenders spread over the whole window, so 32
        # jobs that met once do not meet again on every round
        pause = random.uniform(0.0, min(MAX_PAUSE_S, 0.05 * 2 ** min(attempt, 6)))
        if (retries is not None and attempt > retries) or time.monotonic() + pause > deadline:
            break
        log.info("%s; retrying in %.2f s", busy or f"push of {branch} refused: {branch} moved", pause)
        time.sleep(pause)
    if busy is not None:
        raise StoreError(f"{busy} (after {attempt} attempts)")
    raise StoreError(
        f"cannot push {branch} to {access.shown}: refused {attempt} times because other jobs "
        f"pushed first (raise {'--retries or ' if retries is not None else ''}--retry-timeout)"
    )
