"""``record``: the results branch written with git plumbing, safely in parallel, with real
git everywhere (bare repositories as remotes, real processes for the concurrency test)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from gitremotes import (
    BRANCH,
    PUSH_TOKEN,
    TOKEN,
    blob_oids,
    ci_access,
    ci_clone,
    clone,
    files_on,
    git,
    gitlab_job,
    golden,
    make_record,
    missing_blobs,
    new_remote,
    record_bytes,
    record_path,
    rev,
    tree_oid,
    write_records,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from loopback import serve

from benchtrail.errors import RecordError, StoreError
from benchtrail.results import parse_record, store
from benchtrail.results.gitrepo import GitRepo
from benchtrail.results.model import Record
from benchtrail.results.schema import problems
from benchtrail.results.store import record

pytest_plugins = ("gitfixtures",)  # fixtures: git_env, remote, work, gitlab

GOLDEN_PATH = "results/mlp-cpu/2026/03/20260302T131240Z-3f9c2a7e5b1d-8823411-ad734af6f4.json"

pytestmark = pytest.mark.usefixtures("git_env")


# --- record_path ---------------------------------------------------------------------------

def test_record_path_layout() -> None:
    assert record_path(golden()) == GOLDEN_PATH


@pytest.mark.parametrize(("started_at", "expected"), [
    ("2026-04-01T00:30:00+02:00", "2026/03/20260331T223000Z"),  # to UTC: another month
    ("2025-12-31T23:59:59.999999-01:00", "2026/01/20260101T005959Z"),  # fractions dropped
    ("2026-03-02t13:12:40z", "2026/03/20260302T131240Z"),  # RFC 3339 allows lower case
    ("2026-06-30T23:59:60Z", "2026/06/20260630T235959Z"),  # a leap second
    ("2026-03-02T13:12:40.1234567Z", "2026/03/20260302T131240Z"),
])
def test_record_path_is_utc(started_at: str, expected: str) -> None:
    record = golden()
    record["run"]["started_at"] = started_at
    month, stamp = expected.rsplit("/", 1)
    assert re.fullmatch(f"results/mlp-cpu/{month}/{stamp}-3f9c2a7e5b1d-8823411-[0-9a-f]{{10}}.json",
                        record_path(record))


def test_record_path_without_commit_or_job() -> None:
    record = golden()
    record["source"]["commit"] = None
    record["source"]["job_id"] = None
    assert re.search("/20260302T131240Z-nocommit-local-[0-9a-f]{10}.json$", record_path(record))


@pytest.mark.parametrize("job_id", ["a/b", "../x", "x\ny", "x\0y", "a b", "", ".", "日本"])
def test_record_path_has_one_safe_file_name(job_id: str) -> None:
    record = golden()
    record["source"]["job_id"] = job_id
    path = record_path(record)
    name = path.split("/")[-1]
    assert path.count("/") == 4
    assert name.startswith("20260302T131240Z-3f9c2a7e5b1d-") and name.endswith(".json")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)


# --- one commit, no work tree ------------------------------------------------------------

def _state(repo: Path) -> tuple[str, str, str, str]:
    index = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "-q", "HEAD", check=False),
            git(repo, "status", "--porcelain", "--untracked-files=all"), index)


def test_record_writes_all_files_in_one_orphan_commit(work: Path, remote: Path, tmp_path: Path) -> None:
    records = [make_record(0), make_record(1, month=2), make_record(2, suite="resnet-gpu")]
    paths = write_records(tmp_path / "out", records)
    (work / "dirty.txt").write_text("untracked\n")
    (work / "README.md").write_text("edited\n")
    git(work, "add", "README.md")
    before = _state(work)

    done = record(paths, repo=work)

    assert _state(work) == before  # work tree, index and HEAD untouched
    assert done.pushed and done.attempts == 1 and done.already == ()
    assert done.added == tuple(sorted(record_path(r) for r in records))
    assert rev(remote, BRANCH) == rev(work, BRANCH) == done.commit
    assert git(work, "rev-list", "--count", done.commit).strip() == "1"  # one commit...
    assert git(work, "rev-list", "--parents", "-n1", done.commit).split() == [done.commit]  # ...orphan
    assert files_on(remote) == sorted(record_path(r) for r in records)
    for r in records:
        assert git(remote, "cat-file", "blob", f"{BRANCH}:{record_path(r)}").encode() == record_bytes(r)
    assert git(remote, "log", "-1", "--format=%s", BRANCH).startswith("benchtrail: record 3 result(s)")


def test_second_record_stacks_on_the_tip(work: Path, remote: Path, tmp_path: Path) -> None:
    first = record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    second = record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert git(remote, "rev-parse", f"{BRANCH}^").strip() == first.commit
    assert rev(remote, BRANCH) == second.commit
    assert len(files_on(remote)) == 2


def test_recording_the_same_record_twice_leaves_one_file(work: Path, remote: Path, tmp_path: Path) -> None:
    paths = write_records(tmp_path / "out", [make_record(0), make_record(1)])
    first = record(paths, repo=work)
    again = record(paths, repo=work)
    assert again.commit is None and again.added == () and not again.pushed
    assert again.already == first.added
    assert rev(remote, BRANCH) == first.commit
    # the same record under two file names, in one call: one file
    copy = tmp_path / "copy.json"
    copy.write_bytes(paths[0].read_bytes())
    third = record([paths[0], copy, *write_records(tmp_path / "c", [make_record(2)])], repo=work)
    assert third.added == (record_path(make_record(2)),)
    assert len(files_on(remote)) == 3


def test_two_records_alike_but_for_their_content_both_land(work: Path, remote: Path, tmp_path: Path) -> None:
    original = make_record(0)
    record(write_records(tmp_path / "a", [original]), repo=work)
    changed = make_record(0)  # same suite, second, commit and job
    changed["benchmarks"][0]["metrics"]["throughput"]["value"] = 1.0
    done = record(write_records(tmp_path / "b", [changed]), repo=work)
    assert done.added == (record_path(changed),) and record_path(changed) != record_path(original)
    variant = make_record(5)
    variant["run"]["duration_s"] = 9.0
    done = record(write_records(tmp_path / "c", [make_record(5), variant, make_record(5)]), repo=work)
    assert done.added == tuple(sorted({record_path(make_record(5)), record_path(variant)}))
    for each in (original, changed, make_record(5), variant):
        assert git(remote, "cat-file", "blob", f"{BRANCH}:{record_path(each)}").encode() == record_bytes(each)


def test_a_record_kept_at_its_path_without_a_digest_is_recorded_already(work: Path, remote: Path,
                                                                         tmp_path: Path) -> None:
    old = make_record(3)
    legacy = Record.from_json(old).legacy_branch_path()
    blob = git(work, "hash-object", "-w", "--stdin", input=record_bytes(old).decode()).strip()
    tree = git(work, "mktree", input=f"100644 blob {blob}\t{legacy.rsplit('/', 1)[1]}\n").strip()
    for folder in reversed(legacy.split("/")[:-1]):
        tree = git(work, "mktree", input=f"040000 tree {tree}\t{folder}\n").strip()
    commit = git(work, "commit-tree", tree, "-m", "recorded by an older benchtrail").strip()
    git(work, "push", "-q", "origin", f"{commit}:refs/heads/{BRANCH}")
    done = record(write_records(tmp_path / "a", [old, make_record(4)]), repo=work)
    assert done.already == (legacy,) and done.added == (record_path(make_record(4)),)
    assert sorted(files_on(remote)) == sorted([legacy, record_path(make_record(4))])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["2026-03-02T13:12:40Z", "1970-01-01T00:00:00Z"]),
                          st.sampled_from([None, "3f9c2a7e5b1d4c8f0a6e2d9b7c4a1f3e8d5b0c2a"]),
                          st.sampled_from([None, "1", "2"]), st.integers(0, 3)), min_size=1, max_size=8))
def test_n_distinct_records_leave_n_files(work: Path, tmp_path_factory: pytest.TempPathFactory,
                                          identities: list[tuple[str, str | None, str | None, int]]) -> None:
    records = []
    for started, commit, job, value in identities:
        each = golden()
        each["run"]["started_at"], each["source"]["commit"], each["source"]["job_id"] = started, commit, job
        each["run"]["duration_s"] = float(value)
        records.append(each)
    distinct = {record_bytes(each) for each in records}
    paths = {record_path(each) for each in records}
    assert len(paths) == len(distinct)
    folder = tmp_path_factory.mktemp("records")
    branch = f"prop-{len(list(folder.parent.iterdir()))}"
    done = record(write_records(folder, records), repo=work, branch=branch, push=False)
    assert set(done.added) == paths


def test_one_bad_file_means_nothing_is_committed(work: Path, remote: Path, tmp_path: Path) -> None:
    good = write_records(tmp_path / "out", [make_record(0), make_record(1)])
    bad = tmp_path / "out" / "bad.json"
    broken = make_record(2)
    del broken["run"]["timer"]
    bad.write_text(json.dumps(broken))
    objects = git(work, "count-objects", "-v")
    with pytest.raises(RecordError) as info:
        record([good[0], bad, good[1]], repo=work)
    assert any(str(bad) in line and "timer" in line for line in info.value.problems)
    assert info.value.problems[-1] == "nothing was recorded"
    assert all("\n" not in line for line in info.value.problems)
    assert rev(work, BRANCH) is None and rev(remote, BRANCH) is None
    assert git(work, "count-objects", "-v") == objects  # not even a blob was written


def test_missing_file_is_named(work: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"nope\.json: cannot read"):
        record([tmp_path / "nope.json"], repo=work)


def test_outside_a_repository_is_a_store_error(tmp_path: Path) -> None:
    paths = write_records(tmp_path / "out", [make_record(0)])
    with pytest.raises(StoreError, match="not inside a git repository"):
        record(paths, repo=tmp_path / "out")


# --- only the changed path is rewritten ----------------------------------------------------

def test_only_trees_on_the_changed_path_are_rewritten(work: Path, remote: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    history = [make_record(i, month=m) for i, m in enumerate([1, 1, 2, 2, 3, 3])]
    history += [make_record(10 + i, suite="other", month=3) for i in range(3)]
    record(write_records(tmp_path / "old", history), repo=work)
    before = blob_oids(remote, BRANCH)
    kept = {p: tree_oid(remote, BRANCH, p) for p in
            ("results/mlp-cpu/2026/01", "results/mlp-cpu/2026/02", "results/other")}
    changed = {p: tree_oid(remote, BRANCH, p) for p in
               ("results", "results/mlp-cpu", "results/mlp-cpu/2026", "results/mlp-cpu/2026/03")}

    calls: list[str] = []
    run = GitRepo.run

    def counting(self: GitRepo, *args: str, **kwargs: Any) -> str:
        calls.append(args[0])
        return run(self, *args, **kwargs)

    monkeypatch.setattr(GitRepo, "run", counting)
    done = record(write_records(tmp_path / "new", [make_record(99, month=3)]), repo=work)

    assert {p: tree_oid(remote, BRANCH, p) for p in kept} == kept
    assert all(tree_oid(remote, BRANCH, p) != oid for p, oid in changed.items())
    after = blob_oids(remote, BRANCH)
    assert {p: after[p] for p in before} == before
    assert set(after) - set(before) == set(done.added)
    # root, results, suite, year, month: five trees read and five written, whatever the history,
    # and one listing of the paths the records had before paths had a digest
    assert calls.count("ls-tree") == 6 and calls.count("mktree") == 5


# --- parallel jobs: rejected pushes are retried on the new tip ---------------------------

def _other_job_pushes_first(monkeypatch: pytest.MonkeyPatch, other: Path, tmp_path: Path,
                            times: int) -> list[str]:
    """Before each of ``times`` pushes of the job under test, another clone pushes a record."""
    pushed: list[str] = []
    real = store._push

    def push(repo: GitRepo, access: Any, commit: str, branch: str) -> bool:
        if len(pushed) < times and repo.git_dir != other / ".git":
            n = 500 + len(pushed)
            monkeypatch.setattr(store, "_push", real)
            try:
                done = record(write_records(tmp_path / f"other{n}", [make_record(n)]), repo=other)
            finally:
                monkeypatch.setattr(store, "_push", push)
            pushed.extend(done.added)
        return real(repo, access, commit, branch)

    monkeypatch.setattr(store, "_push", push)
    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    return pushed


def test_push_rejected_is_rebuilt_on_the_new_tip(work: Path, remote: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    record(write_records(tmp_path / "seed", [make_record(0)]), repo=work)
    other = clone(remote, tmp_path / "other")
    pushed = _other_job_pushes_first(monkeypatch, other, tmp_path, times=2)
    mine = write_records(tmp_path / "mine", [make_record(1), make_record(2)])
    done = record(mine, repo=work)
    assert done.attempts == 3 and done.pushed
    assert len(pushed) == 2
    assert files_on(remote) == sorted([record_path(make_record(n)) for n in (0, 1, 2)] + pushed)
    assert git(remote, "rev-list", "--count", BRANCH).strip() == "4"  # nothing rewritten
    assert git(remote, "rev-parse", f"{BRANCH}^").strip() == rev(other, BRANCH)
    assert rev(work, BRANCH) == done.commit


def test_first_record_races_another_first_record(work: Path, remote: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = clone(remote, tmp_path / "other")
    pushed = _other_job_pushes_first(monkeypatch, other, tmp_path, times=1)
    done = record(write_records(tmp_path / "mine", [make_record(1)]), repo=work)
    assert done.attempts == 2
    assert files_on(remote) == sorted([record_path(make_record(1)), *pushed])


def test_retries_are_bounded(work: Path, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record(write_records(tmp_path / "seed", [make_record(0)]), repo=work)
    before = rev(work, BRANCH)
    other = clone(remote, tmp_path / "other")
    _other_job_pushes_first(monkeypatch, other, tmp_path, times=99)
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "mine", [make_record(1)]), repo=work, retries=2)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot push {BRANCH} to origin: refused 3 times")
    assert "--retries" in message
    assert rev(work, BRANCH) == before
    assert record_path(make_record(1)) not in files_on(remote)


def test_by_default_only_the_time_bounds_the_retries(work: Path, remote: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # 32 jobs recording at once may each be refused many times: a count of 10 failed some of them
    from benchtrail.results import store

    monkeypatch.setattr(store, "MAX_PAUSE_S", 0.01)
    other = clone(remote, tmp_path / "other")
    _other_job_pushes_first(monkeypatch, other, tmp_path, times=15)
    done = record(write_records(tmp_path / "mine", [make_record(1)]), repo=work)
    assert done.attempts == 16 and record_path(make_record(1)) in files_on(remote)


def test_retry_timeout_is_bounded(work: Path, remote: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    other = clone(remote, tmp_path / "other")
    _other_job_pushes_first(monkeypatch, other, tmp_path, times=99)
    started = time.monotonic()
    with pytest.raises(StoreError, match="refused 1 times"):
        record(write_records(tmp_path / "mine", [make_record(1)]), repo=work, retries=50,
               retry_timeout_s=0)
    assert time.monotonic() - started < 5


# --- parallel records from one checkout: local locks are waited out ----------------------

def test_a_locked_checkout_is_retried(work: Path, remote: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    record(write_records(tmp_path / "seed", [make_record(9)]), repo=clone(remote, tmp_path / "other"))
    lock = work / ".git" / "shallow.lock"  # another git process of this checkout is fetching
    lock.write_text("")
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        lock.unlink()

    monkeypatch.setattr(store.time, "sleep", sleep)
    done = record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    assert done.pushed and done.attempts == 2 and len(pauses) == 1
    assert len(files_on(remote)) == 2


def test_a_checkout_locked_for_good_is_one_error(work: Path, remote: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    record(write_records(tmp_path / "seed", [make_record(9)]), repo=clone(remote, tmp_path / "other"))
    (work / ".git" / "refs" / "benchtrail" / "origin").mkdir(parents=True)
    (work / ".git" / "refs" / "benchtrail" / "origin" / f"{BRANCH}.lock").write_text("")
    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "a", [make_record(0)]), repo=work, retries=2)
    message = str(info.value)
    assert message.startswith(f"cannot fetch {BRANCH} from origin: ")
    assert f"{BRANCH}.lock" in message and message.endswith("(after 3 attempts)") and "\n" not in message
    assert len(files_on(remote)) == 1 and rev(work, BRANCH) is None


def test_no_push_while_another_process_commits_loses_nothing(work: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = store._commit
    others: list[str] = []

    def commit_racing(repo: GitRepo, tip: Any, blobs: Any, legacy: Any, message: str, identity: Any) -> Any:
        result = real(repo, tip, blobs, legacy, message, identity)
        if not others:  # another process commits between our read of the tip and our update
            monkeypatch.setattr(store, "_commit", real)
            others.extend(record(write_records(tmp_path / "other", [make_record(7)]), repo=work,
                                 push=False).added)
            monkeypatch.setattr(store, "_commit", commit_racing)
        return result

    monkeypatch.setattr(store, "_commit", commit_racing)
    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    done = record(write_records(tmp_path / "mine", [make_record(1)]), repo=work, push=False)
    assert files_on(work) == sorted([*done.added, *others])
    assert git(work, "rev-list", "--count", BRANCH).strip() == "2"


SHARED_PROCESSES = 6


def test_parallel_processes_from_one_checkout(remote: Path, work: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "BENCHTRAIL_"))}
    batches = [write_records(tmp_path / f"p{p}", [make_record(1000 + p * 5 + i) for i in range(5)])
               for p in range(SHARED_PROCESSES)]
    processes = [
        subprocess.Popen([sys.executable, "-m", "benchtrail", "record", *map(str, files), "--repo", str(work)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for files in batches
    ]
    outputs = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    assert [code for code, _, _ in outputs] == [0] * SHARED_PROCESSES, [err for _, _, err in outputs]
    assert len(files_on(remote)) == 5 * SHARED_PROCESSES
    assert git(work, "status", "--porcelain") == ""


# --- --no-push, and remotes that fail ----------------------------------------------------

def test_no_push_commits_locally_only(work: Path, remote: Path, tmp_path: Path) -> None:
    first = record(write_records(tmp_path / "a", [make_record(0)]), repo=work, push=False)
    second = record(write_records(tmp_path / "b", [make_record(1)]), repo=work, push=False)
    assert not first.pushed and first.attempts == 0
    assert rev(work, BRANCH) == second.commit
    assert git(work, "rev-parse", f"{BRANCH}^").strip() == first.commit
    assert rev(remote, BRANCH) is None
    assert git(work, "for-each-ref", "refs/benchtrail").strip() == ""


def test_push_after_no_push_keeps_the_local_only_records(work: Path, remote: Path, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    local = record(write_records(tmp_path / "a", [make_record(0)]), repo=work, push=False)
    with caplog.at_level(logging.WARNING, logger="benchtrail"):
        pushed = record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert files_on(remote) == [record_path(make_record(1))]
    assert rev(work, BRANCH) == local.commit  # not moved: that would drop record 0
    assert "1 record(s) that are not on the remote" in caplog.text
    assert rev(work, f"refs/benchtrail/origin/{BRANCH}") == pushed.commit


def test_local_branch_follows_the_remote_when_it_loses_nothing(work: Path, remote: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    other = clone(remote, tmp_path / "other")
    record(write_records(tmp_path / "b", [make_record(1)]), repo=other)
    done = record(write_records(tmp_path / "c", [make_record(2)]), repo=work)  # behind, shallow-fetched
    assert rev(work, BRANCH) == done.commit == rev(remote, BRANCH)
    assert len(missing_blobs(work, BRANCH)[1]) == 1  # the other job's record was never fetched


def test_no_push_needs_no_remote(tmp_path: Path) -> None:
    repo = tmp_path / "solo"
    git(tmp_path, "init", "-q", str(repo))
    done = record(write_records(tmp_path / "a", [make_record(0)]), repo=repo, push=False)
    assert files_on(repo) == [record_path(make_record(0))]
    assert rev(repo, BRANCH) == done.commit
    assert git(repo, "status", "--porcelain") == ""


def test_unreachable_remote_is_a_store_error_and_moves_nothing(work: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", [make_record(0)]), repo=work, push=False)
    local = rev(work, BRANCH)
    git(work, "remote", "set-url", "origin", str(tmp_path / "does-not-exist.git"))
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert str(info.value).startswith(f"cannot fetch {BRANCH} from origin: ")
    assert "does-not-exist.git" in str(info.value) and "\n" not in str(info.value)
    assert rev(work, BRANCH) == local


def test_unreachable_remote_creates_no_branch(work: Path, tmp_path: Path) -> None:
    git(work, "remote", "set-url", "origin", str(tmp_path / "does-not-exist.git"))
    refs = git(work, "for-each-ref")
    with pytest.raises(StoreError):
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert git(work, "for-each-ref") == refs


@pytest.mark.parametrize("remote_name", ["upstream", "/srv/git/results.git", "https://h/g/p.git"])
def test_missing_remote_name_is_a_store_error(work: Path, tmp_path: Path, remote_name: str) -> None:
    objects = git(work, "count-objects", "-v")
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work, remote=remote_name)
    assert str(info.value) == (f"no remote named {remote_name!r} in {work} "
                               "(see `git remote -v`; record with --no-push to commit locally)")
    assert rev(work, BRANCH) is None and git(work, "count-objects", "-v") == objects


def _hook(remote: Path, name: str, body: str) -> None:
    hook = remote / "hooks" / name
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(0o755)


def test_remote_hook_refusal_is_reported_with_its_reason(work: Path, remote: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    before = rev(work, BRANCH)
    _hook(remote, "pre-receive",
          'echo "GitLab: You are not allowed to push code to protected branches on this project." >&2\n'
          "exit 1\n")
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    message = str(info.value)
    assert message.startswith(f"cannot push {BRANCH} to origin: ")
    assert "pre-receive hook declined" in message
    assert "You are not allowed to push code to protected branches" in message
    assert "\n" not in message
    assert rev(work, BRANCH) == rev(remote, BRANCH) == before
    assert git(work, "rev-parse", f"refs/benchtrail/origin/{BRANCH}").strip() == before


def test_remote_that_vanishes_between_fetch_and_push(work: Path, remote: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    before = rev(work, BRANCH)
    gone = tmp_path / "gone.git"
    # the remote's upload-pack serves the fetch, then the repository is moved away
    script = tmp_path / "upload-pack-then-vanish"
    script.write_text(f'#!/bin/sh\ngit-upload-pack "$@"\nrc=$?\nmv "{remote}" "{gone}"\nexit $rc\n')
    script.chmod(0o755)
    git(work, "config", "remote.origin.uploadpack", str(script))
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert not remote.exists()
    assert str(info.value).startswith(f"cannot push {BRANCH} to origin: ")
    assert "does not appear to be a git repository" in str(info.value)
    assert rev(work, BRANCH) == before
    assert rev(gone, BRANCH) == before


def test_remote_that_dies_mid_push(work: Path, remote: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
    before = rev(work, BRANCH)
    _hook(remote, "pre-receive", "kill -9 $PPID\nsleep 1\n")  # receive-pack dies with the pack received
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "b", [make_record(1)]), repo=work)
    assert str(info.value).startswith(f"cannot push {BRANCH} to origin: ")
    assert "hung up" in str(info.value) or "disconnect" in str(info.value)
    assert rev(work, BRANCH) == rev(remote, BRANCH) == before


def test_remote_that_refuses_filters_gets_a_plain_shallow_fetch(tmp_path: Path) -> None:
    plain = new_remote(tmp_path / "plain.git", filters=False)
    first = clone(plain, tmp_path / "first")
    record(write_records(tmp_path / "a", [make_record(0)]), repo=first)
    job = ci_clone(plain, tmp_path / "job")
    done = record(write_records(tmp_path / "b", [make_record(1)]), repo=job)
    assert done.pushed and len(files_on(plain)) == 2


# --- GitLab CI ----------------------------------------------------------------------------

@pytest.mark.parametrize("branch_exists", [False, True])
def test_record_from_a_ci_checkout(remote: Path, tmp_path: Path, branch_exists: bool) -> None:
    if branch_exists:
        record(write_records(tmp_path / "a", [make_record(0, month=1), make_record(1)]),
               repo=clone(remote, tmp_path / "earlier"))
    job = ci_clone(remote, tmp_path / "job")
    assert (job / ".git" / "shallow").exists() and rev(job, BRANCH) is None
    before = _state(job)
    done = record(write_records(tmp_path / "b", [make_record(2)]), repo=job)
    assert _state(job) == before
    assert done.pushed and rev(remote, BRANCH) == done.commit
    assert len(files_on(remote)) == (3 if branch_exists else 1)
    if branch_exists:  # the job fetched trees, not the past records
        present, missing = missing_blobs(job, BRANCH)
        assert present == {record_path(make_record(2))} and len(missing) == 2


def test_record_from_gitlab_with_the_job_token(gitlab: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    project = gitlab.root / "group" / "proj.git"
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    done = record(write_records(tmp_path / "a", [make_record(0)]), repo=job)
    assert done.pushed and files_on(project) == [record_path(make_record(0))]
    job2 = gitlab_job(gitlab, tmp_path / "job2", monkeypatch)
    done2 = record(write_records(tmp_path / "b", [make_record(1)]), repo=job2)
    assert done2.pushed and len(files_on(project)) == 2
    assert TOKEN not in capfd.readouterr().err


WRONG_TOKEN = "glpat-SECRET-wrong-token"


def test_record_from_gitlab_with_a_push_token(gitlab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", PUSH_TOKEN)
    done = record(write_records(tmp_path / "a", [make_record(0)]), repo=job)
    assert done.pushed and files_on(gitlab.root / "group" / "proj.git") == [record_path(make_record(0))]


def test_a_wrong_token_is_refused_without_showing_it(gitlab: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", WRONG_TOKEN)
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "a", [make_record(0)]), repo=job, access=ci_access())
    message = str(info.value)
    host = gitlab.url.removeprefix("http://")
    assert message.startswith(f"cannot push {BRANCH} to http://***@{host}/group/proj.git: ")
    assert "Authentication failed" in message
    assert WRONG_TOKEN not in message and TOKEN not in message
    assert rev(job, BRANCH) is None


def test_unreachable_gitlab_never_shows_the_token(remote: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    job = ci_clone(remote, tmp_path / "job")
    for name, value in {"CI_JOB_TOKEN": TOKEN, "BENCHTRAIL_PUSH_TOKEN": PUSH_TOKEN,
                        "CI_SERVER_URL": "https://127.0.0.1:1", "CI_PROJECT_PATH": "group/proj"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StoreError) as info:
        record(write_records(tmp_path / "a", [make_record(0)]), repo=job, access=ci_access())
    message = str(info.value)
    assert message.startswith(f"cannot push {BRANCH} to https://***@127.0.0.1:1/group/proj.git: ")
    assert TOKEN not in message and PUSH_TOKEN not in message and "\n" not in message
    assert rev(job, BRANCH) is None and rev(remote, BRANCH) is None


def test_a_remote_that_never_answers_ends_record_at_the_deadline(work: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1")
    with serve(stall_at_s=0.0, stall_s=3600.0) as silent:
        git(work, "remote", "set-url", "origin", f"{silent}/group/proj.git")
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            record(write_records(tmp_path / "a", [make_record(0)]), repo=work)
        took = time.monotonic() - started
    assert str(info.value) == f"fetching {BRANCH} from origin failed: git fetch gave no answer within 1 s"
    assert took < 1 + 5 and rev(work, BRANCH) is None


def test_a_push_target_that_never_answers_ends_record_at_the_deadline(remote: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch works (the checkout's remote); the push to GitLab with the token stalls."""
    job = ci_clone(remote, tmp_path / "job")
    git(job, "remote", "set-url", "origin", str(remote))
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1")
    with serve(stall_at_s=0.0, stall_s=3600.0) as silent:
        for name, value in {"BENCHTRAIL_PUSH_TOKEN": PUSH_TOKEN, "CI_SERVER_URL": silent.url,
                            "CI_PROJECT_PATH": "group/proj"}.items():
            monkeypatch.setenv(name, value)
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            record(write_records(tmp_path / "a", [make_record(0)]), repo=job, access=ci_access())
        took = time.monotonic() - started
    assert str(info.value) == (f"pushing {BRANCH} to http://***@127.0.0.1:{silent.port}/group/proj.git failed: "
                               "git push gave no answer within 1 s")
    assert took < 2 * 1 + 5 and rev(remote, BRANCH) is None


# --- 16 real processes at once -----------------------------------------------------------

PROCESSES = 16
PER_PROCESS = 25


def test_parallel_processes_lose_nothing_and_duplicate_nothing(remote: Path, tmp_path: Path) -> None:
    jobs = []
    for p in range(PROCESSES):
        folder = tmp_path / f"job{p}"
        repo = ci_clone(remote, folder / "checkout")
        files = write_records(folder / "out", [make_record(p * PER_PROCESS + i, month=1 + p % 3)
                                               for i in range(PER_PROCESS)])
        jobs.append((repo, files))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "BENCHTRAIL_"))}
    started = time.monotonic()
    processes = [
        subprocess.Popen([sys.executable, "-m", "benchtrail", "record", *map(str, files), "--repo", str(repo)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for repo, files in jobs
    ]
    outputs = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    elapsed = time.monotonic() - started
    failures = [(code, err) for code, _, err in outputs if code != 0]
    assert not failures, failures
    on_remote = files_on(remote)
    expected = {record_path(make_record(n, month=1 + (n // PER_PROCESS) % 3))
                for n in range(PROCESSES * PER_PROCESS)}
    assert len(on_remote) == len(set(on_remote)) == PROCESSES * PER_PROCESS
    assert set(on_remote) == expected
    assert sum(len(out.split()) for _, out, _ in outputs) == PROCESSES * PER_PROCESS
    assert git(remote, "rev-list", "--count", BRANCH).strip() == str(PROCESSES)  # one commit each
    attempts = [int(err.split(" after ")[1].split()[0]) if " after " in err else 1 for _, _, err in outputs]
    print(f"{PROCESSES} processes x {PER_PROCESS} records: {elapsed:.1f} s, "
          f"push attempts max {max(attempts)}, total {sum(attempts)}")


# --- hypothesis: bad records never commit, never crash -----------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _parses(data: bytes) -> bool:
    try:
        parse_record(data, "generated")
    except RecordError:
        return False
    return True


@st.composite
def bad_records(draw: st.DrawFn) -> bytes:
    record = golden()
    kind = draw(st.sampled_from(["replace", "delete", "add", "bytes"]))
    if kind == "bytes":
        data = json.dumps(record).encode()
        cut = draw(st.integers(0, len(data) - 1))
        mutated = draw(st.sampled_from([data[:cut], data[:cut] + b"\xff" + data[cut:],
                                        data[:cut] + b"NaN" + data[cut + 1:], b"", b"[]", b"\"x\""]))
        assume(not _parses(mutated))  # "NaN" inside a string leaves a valid record
        return mutated
    path = draw(st.sampled_from(_paths(record)[1:]))
    *parents, last = path
    node = record
    for part in parents:
        node = node[part]
    if kind == "replace":
        node[last] = draw(_JSON)
    elif kind == "delete":
        del node[last]
    else:
        target = node[last]
        if isinstance(target, dict):
            target[draw(st.text(min_size=1, max_size=5))] = draw(_JSON)
        elif isinstance(target, list):
            target.append(draw(_JSON))
        else:
            node[last] = [target]
    assume(problems(record))
    return json.dumps(record, allow_nan=True).encode()


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hyp")
    git(root, "init", "-q", "--bare", str(root / "remote.git"))
    git(root, "init", "-q", str(root / "repo"))
    git(root / "repo", "remote", "add", "origin", str(root / "remote.git"))
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=bad_records())
def test_generated_bad_records_are_refused_by_name(shared_repo: Path, data: bytes) -> None:
    folder = shared_repo / "files"
    folder.mkdir(exist_ok=True)
    good = write_records(folder, [make_record(0)], prefix="good") if not (folder / "good0.json").exists() \
        else [folder / "good0.json"]
    bad = folder / "generated.json"
    bad.write_bytes(data)
    with pytest.raises(RecordError) as info:
        record([good[0], bad], repo=shared_repo / "repo")
    assert all(line.startswith(f"{bad}: ") for line in info.value.problems[:-1])
    assert info.value.problems[-1] == "nothing was recorded"
    assert rev(shared_repo / "repo", BRANCH) is None and rev(shared_repo / "remote.git", BRANCH) is None


_SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    started=st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    sep=st.sampled_from("Tt"),
    job_id=st.none() | _SAFE_TEXT,
    suite=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
)
def test_valid_odd_records_are_recorded(shared_repo: Path, started: str, sep: str, job_id: str | None,
                                        suite: str) -> None:
    """Whatever the schema allows in the fields that name the file, ``record`` files it under
    ``results/<suite>/<YYYY>/<MM>/`` and never crashes."""
    r = golden()
    date, _, rest = started.partition("T")
    r["run"]["started_at"] = f"{date}{sep}{rest}"
    r["source"]["job_id"] = job_id
    r["suite"] = suite
    assume(not problems(r))
    path = record_path(r)
    parts = path.split("/")
    assert len(parts) == 5 and parts[:2] == ["results", suite]
    assert len(parts[2]) == 4 and len(parts[3]) == 2 and parts[4].endswith(".json")
    file = shared_repo / "odd.json"
    file.write_bytes(record_bytes(r))
    repo = shared_repo / "odd"
    if not repo.exists():
        git(shared_repo, "init", "-q", str(repo))
    done = record([file], repo=repo, push=False)
    assert path in done.added + done.already
    assert path in files_on(repo)
