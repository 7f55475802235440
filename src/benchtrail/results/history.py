"""Read the results branch: every record, or one suite's recent months, fast.

Readers fetch the branch tip from the remote first (depth 1, no blobs), list the paths
they want with one ``ls-tree -r``, fetch just the blobs they lack in one request, and
read them all through one ``cat-file --batch``: never a process per file. With a cache
repository (``cache=``; the CI template keeps it in GitLab's ``cache:``) a repeated
read transfers only the records added since. When the remote cannot be reached, they
fall back to the local branch or ``<remote>/<branch>``.

Records were validated when they were recorded; reading checks the schema version of
each (upgrading older ones) and leaves full validation to ``validate=True``, which costs
about a millisecond a record.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.errors import RecordError, StoreError
from benchtrail.results.branch import DEFAULT_BRANCH
from benchtrail.results.gitrepo import (
    GitRepo,
    RemoteAccess,
    credentials_env,
    open_bare,
    open_repo,
    remote_access,
    strip_credentials,
)
from benchtrail.results.model import RESULTS_FOLDER, Record, suite_folder
from benchtrail.results.record import json_safe, parse_record, refuse_constant
from benchtrail.results.schema import validate
from benchtrail.results.store import fetch_tip

__all__ = ["BranchView", "NoResultsBranch", "StoredRecord", "iter_records", "open_branch", "read_records"]

log = logging.getLogger(__name__)


class NoResultsBranch(StoreError):
    """The results branch exists neither on the remote nor locally (nothing recorded yet)."""


@dataclass(frozen=True)
class StoredRecord:
    path: str  # inside the branch
    record: Record


def _cache_repo(source: GitRepo, access: RemoteAccess, cache: Path) -> tuple[GitRepo, RemoteAccess]:
    """A bare repository at ``cache`` whose ``origin`` is ``remote`` of ``source``, without
    credentials in its config (GitLab keeps caches as files): they go through the env."""
    found = source.result("remote", "get-url", access.name)
    if found.status != 0:
        raise StoreError(f"no remote named {access.name!r} in {source.folder}")
    url = found.stdout.strip()
    if access.push_url != access.name:  # GitLab CI: read with the same token we would push with
        url = access.push_url
    plain = strip_credentials(url)
    repo = open_bare(cache, access.secrets)
    current = repo.result("config", "--get", "remote.origin.url").stdout.strip()
    if not current:
        repo.run("remote", "add", "origin", plain)
    elif current != plain:
        repo.run("remote", "set-url", "origin", plain)
    return repo, RemoteAccess("origin", plain, access.secrets, credentials_env(url)[1])


def _tip(repo: GitRepo, access: RemoteAccess, branch: str, fetch: bool) -> tuple[str | None, bool]:
    """The commit to read and whether it was just fetched. Without a fetch (not asked, or
    the remote cannot be reached) the local copies count; when the remote is reachable
    but has no such branch, only a local branch does (the others are stale)."""
    refs = [f"refs/benchtrail/{access.name}/{branch}", f"refs/heads/{branch}",
            f"refs/remotes/{access.name}/{branch}"]
    if fetch:
        try:
            tip = fetch_tip(repo, access, branch)
        except StoreError as exc:
            log.warning("%s; reading the local copy of %s", exc, branch)
        else:
            if tip is not None:
                return tip, True
            refs = [f"refs/heads/{branch}"]
    for ref in refs:
        tip = repo.rev(ref)
        if tip is not None:
            return tip, False
    return None, False


def _prefixes(repo: GitRepo, tip: str, suites: Sequence[str] | None, months: Sequence[str] | None) -> list[str]:
    """The folders to read: every record's, some suites', or some months of some or every
    suite (literal prefixes: neither ``ls-tree`` nor the object walk of ``rev-list`` glob)."""
    if suites is not None:
        bases = [suite_folder(suite) for suite in suites]
    elif months:
        out = repo.run("ls-tree", "-z", "-d", "--full-tree", "--name-only", tip, "--", RESULTS_FOLDER)
        bases = [f"{path}/" for path in out.split("\0") if path]
    else:
        return [RESULTS_FOLDER]
    return [f"{base}{month.strip('/')}/" for base in bases for month in months] if months else bases


def _listing(repo: GitRepo, tip: str, prefixes: Sequence[str]) -> list[tuple[str, str]]:
    """(path, blob oid) of the records under ``prefixes`` at ``tip``, sorted by path."""
    out = repo.run("ls-tree", "-r", "-z", "--full-tree", tip, "--", *prefixes)
    found = []
    for line in out.split("\0"):
        if line:
            meta, path = line.split("\t", 1)
            _, kind, oid = meta.split()
            if kind == "blob" and path.endswith(".json"):
                found.append((path, oid))
    return sorted(found)


def _fetch_missing(repo: GitRepo, access: RemoteAccess, tip: str, prefixes: Sequence[str]) -> int:
    """Fetch the blobs under ``prefixes`` that this repository lacks, in one request."""
    out = repo.run("rev-list", "--objects", "--missing=print", tip, "--", *prefixes)
    missing = [line[1:] for line in out.splitlines() if line.startswith("?")]
    if missing:
        repo.run("-c", "fetch.negotiationAlgorithm=noop", "fetch", "--quiet", "--no-tags",
                 "--no-write-fetch-head", "--filter=blob:none", "--stdin", access.name,
                 input_text="\n".join(missing) + "\n", env=access.env,
                 what=f"fetching {len(missing)} records from {access.shown}")
    return len(missing)


def _cat(repo: GitRepo, oids: Sequence[str]) -> Iterator[bytes]:
    """The contents of ``oids``, in order, streamed from one ``git cat-file --batch``."""
    with repo.stream("cat-file", "--batch", input_text="\n".join(oids) + "\n") as out:
        for oid in oids:
            header = out.readline().split()
            if len(header) != 3:
                raise StoreError(f"object {oid} is missing from the results branch")
            size = int(header[2])
            yield out.read(size)
            out.read(1)  # the newline after each object


def _fast_parse(data: bytes, source: str) -> Record:
    """A record read from the branch, checked by the compiled schema check (``record``
    checked it in full, but the branch may hold one put there by other means): a bad one
    is refused with its problems, an older one upgraded."""
    try:
        record = json.loads(data, parse_constant=refuse_constant)
    except ValueError as exc:
        raise RecordError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise RecordError(f"{source}: not valid JSON: nested too deeply") from None
    record = validate(record, source, json_safe=json_safe(data))
    try:
        return Record.from_json(record)
    except (KeyError, TypeError, AttributeError):  # the schema allows what the model cannot hold: say where
        return parse_record(data, source)


@dataclass(frozen=True)
class BranchView:
    """The results branch at one tip, fetched (or not) once: what is in it, and its records."""

    repo: GitRepo
    access: RemoteAccess
    branch: str
    tip: str
    fetched: bool

    def suite_trees(self) -> dict[str, str]:
        """Each suite -> the object id of its folder at the tip: the same id, the same records."""
        out = self.repo.run("ls-tree", "-z", "-d", "--full-tree", self.tip, "--", RESULTS_FOLDER)
        found = {}
        for line in out.split("\0"):
            if line:
                meta, path = line.split("\t", 1)
                found[path[len(RESULTS_FOLDER):]] = meta.split()[2]
        return found

    def records(self, *, suites: Sequence[str] | None = None, months: Sequence[str] | None = None,
                validate: bool = False) -> Iterator[StoredRecord]:
        """The records, oldest path first, streamed; only ``suites`` and only ``months``
        (``"YYYY/MM"``) when given."""
        prefixes = _prefixes(self.repo, self.tip, suites, months)
        if not prefixes:
            return
        if self.fetched:
            count = _fetch_missing(self.repo, self.access, self.tip, prefixes)
            log.info("fetched %d new records from %s", count, self.access.shown)
        listing = _listing(self.repo, self.tip, prefixes)
        parse = parse_record if validate else _fast_parse
        for data, (path, _) in zip(_cat(self.repo, [oid for _, oid in listing]), listing):
            try:
                yield StoredRecord(path, parse(data, f"{self.branch}:{path}"))
            except RecordError as exc:  # one bad record must not stop every reader of the branch
                log.warning("skipped a bad record: %s", exc.problems[0])


def open_branch(
    repo: str | Path = ".",
    *,
    remote: str = "origin",
    branch: str = DEFAULT_BRANCH,
    cache: str | Path | None = None,
    fetch: bool = True,
    access: RemoteAccess | None = None,
) -> BranchView:
    """``branch`` as the remote has it now (fetched first, unless ``fetch`` is false or the
    remote cannot be reached: then the local copy). ``access`` says where ``remote`` is
    read from (default: the remote as configured); ``cache`` keeps fetched records in a
    bare repository between runs. ``NoResultsBranch`` when the branch exists nowhere."""
    access = access if access is not None else remote_access(remote)
    source = open_repo(repo, access.secrets)
    if cache is not None:
        git_repo, access = _cache_repo(source, access, Path(cache))
    else:
        git_repo = source
        if remote not in git_repo.run("remote").split():
            fetch = False
    tip, fetched = _tip(git_repo, access, branch, fetch)
    if tip is None:
        raise NoResultsBranch(f"no results branch {branch!r} in {access.shown} or the local repository")
    return BranchView(git_repo, access, branch, tip, fetched)


def iter_records(
    repo: str | Path = ".",
    *,
    remote: str = "origin",
    branch: str = DEFAULT_BRANCH,
    suite: str | None = None,
    months: Sequence[str] | None = None,
    cache: str | Path | None = None,
    fetch: bool = True,
    validate: bool = False,
    access: RemoteAccess | None = None,
) -> Iterator[StoredRecord]:
    """The records on ``branch`` (``open_branch``'s options), oldest path first, streamed;
    only ``suite`` and only ``months`` (``"YYYY/MM"``) when given."""
    view = open_branch(repo, remote=remote, branch=branch, cache=cache, fetch=fetch, access=access)
    yield from view.records(suites=[suite] if suite else None, months=months, validate=validate)


def read_records(repo: str | Path = ".", **options: Any) -> list[StoredRecord]:
    """``iter_records`` as a list (same options)."""
    # Building 100,000 records makes millions of containers, and every collection of the
    # cyclic GC would walk all of them again: without it, the read is several times faster.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return list(iter_records(repo, **options))
    finally:
        if collecting:
            gc.enable()
