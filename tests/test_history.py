"""``read_records``: the results branch read back from the local ref, a fresh clone, a
partial clone that fetches only the wanted records, and a cache repository."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from gitremotes import (
    BRANCH,
    PUSH_TOKEN,
    TOKEN,
    ci_access,
    ci_clone,
    clone,
    git,
    gitlab_job,
    make_record,
    missing_blobs,
    record_path,
    rev,
    write_records,
)
from loopback import processes_talking_to, serve

from benchtrail.errors import StoreError
from benchtrail.results import history
from benchtrail.results.history import StoredRecord, read_records
from benchtrail.results.store import record

pytest_plugins = ("gitfixtures",)  # fixtures: git_env, remote, work, gitlab

# two suites, three months each
HISTORY = ([make_record(i, month=1 + i % 3) for i in range(6)]
           + [make_record(10 + i, suite="resnet-gpu", month=1 + i % 3) for i in range(6)])

pytestmark = pytest.mark.usefixtures("git_env")


def _paths(stored: list[StoredRecord]) -> list[str]:
    return [s.path for s in stored]


@pytest.fixture
def filled(work: Path, remote: Path, tmp_path: Path) -> Path:
    """The remote with HISTORY on its results branch, recorded from ``work``."""
    record(write_records(tmp_path / "history", HISTORY), repo=work)
    return remote


@pytest.fixture
def warnings_seen(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="benchtrail")
    return caplog


def test_reads_the_local_branch_without_a_remote(tmp_path: Path) -> None:
    repo = tmp_path / "solo"
    git(tmp_path, "init", "-q", str(repo))
    record(write_records(tmp_path / "a", HISTORY[:3]), repo=repo, push=False)
    stored = read_records(repo)
    assert _paths(stored) == sorted(record_path(r) for r in HISTORY[:3])
    by_path = {record_path(r): r for r in HISTORY}
    assert all(s.record.to_json() == by_path[s.path] for s in stored)


def test_reads_every_record_oldest_path_first(filled: Path, work: Path) -> None:
    stored = read_records(work)
    assert _paths(stored) == sorted(record_path(r) for r in HISTORY)
    assert stored[0].record.suite == "mlp-cpu"


def test_reads_from_the_remote_in_a_fresh_clone(filled: Path, tmp_path: Path) -> None:
    fresh = clone(filled, tmp_path / "fresh")
    assert rev(fresh, BRANCH) is None and rev(fresh, f"origin/{BRANCH}") is not None
    git(fresh, "update-ref", "-d", f"refs/remotes/origin/{BRANCH}")  # as a single-branch CI clone
    assert len(read_records(fresh)) == len(HISTORY)
    assert git(fresh, "status", "--porcelain") == ""


def test_reads_new_records_pushed_since(filled: Path, work: Path, tmp_path: Path) -> None:
    reader = ci_clone(filled, tmp_path / "reader")
    assert len(read_records(reader)) == len(HISTORY)
    record(write_records(tmp_path / "more", [make_record(99)]), repo=work)
    assert len(read_records(reader)) == len(HISTORY) + 1


@pytest.mark.parametrize(("suite", "months", "expected"), [
    ("mlp-cpu", None, [r for r in HISTORY if r["suite"] == "mlp-cpu"]),
    ("resnet-gpu", ["2026/02", "2026/03"],
     [r for r in HISTORY if r["suite"] == "resnet-gpu" and r["run"]["started_at"][5:7] in ("02", "03")]),
    (None, ["2026/01"], [r for r in HISTORY if r["run"]["started_at"][5:7] == "01"]),
    ("nosuch", None, []),
    ("mlp-cpu", ["2025/12"], []),
])
def test_partial_reader_fetches_only_the_wanted_records(
        filled: Path, tmp_path: Path, suite: str | None, months: list[str] | None,
        expected: list[dict[str, Any]]) -> None:
    reader = ci_clone(filled, tmp_path / "reader")
    stored = read_records(reader, suite=suite, months=months)
    wanted = sorted(record_path(r) for r in expected)
    assert _paths(stored) == wanted
    present, missing = missing_blobs(reader, f"refs/benchtrail/origin/{BRANCH}")
    assert present == set(wanted)
    assert len(missing) == len(HISTORY) - len(wanted)


def test_a_suite_tree_changes_with_its_records_only(filled: Path, work: Path, tmp_path: Path) -> None:
    reader = ci_clone(filled, tmp_path / "reader")
    before = history.open_branch(reader).suite_trees()
    assert sorted(before) == ["mlp-cpu", "resnet-gpu"]
    record(write_records(tmp_path / "more", [make_record(99)]), repo=work)
    view = history.open_branch(reader)
    after = view.suite_trees()
    assert after["resnet-gpu"] == before["resnet-gpu"] and after["mlp-cpu"] != before["mlp-cpu"]
    stored = list(view.records(suites=["resnet-gpu"]))
    assert _paths(stored) == sorted(record_path(r) for r in HISTORY if r["suite"] == "resnet-gpu")
    assert list(view.records(suites=[])) == []


def test_process_count_does_not_grow_with_records(filled: Path, work: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import git as gitpython

    reader = ci_clone(filled, tmp_path / "reader")
    commands: list[str] = []
    execute = gitpython.Git.execute

    def counting(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        commands.append(command[1] if command[1] != "-c" else command[3])
        return execute(self, command, *args, **kwargs)

    monkeypatch.setattr(gitpython.Git, "execute", counting)
    read_records(reader)
    assert commands.count("cat-file") == 1 and commands.count("ls-tree") == 1
    assert commands.count("fetch") == 2 and len(commands) <= 8, commands


def test_cache_fetches_only_new_records(filled: Path, work: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[int] = []
    real = history._fetch_missing

    def spy(*args: Any) -> int:
        fetched.append(real(*args))
        return fetched[-1]

    monkeypatch.setattr(history, "_fetch_missing", spy)
    cache = tmp_path / "cache"
    first_job = ci_clone(filled, tmp_path / "job1")
    assert len(read_records(first_job, cache=cache)) == len(HISTORY)
    assert (cache / "HEAD").exists() and rev(first_job, f"refs/benchtrail/origin/{BRANCH}") is None
    record(write_records(tmp_path / "more", [make_record(98), make_record(99)]), repo=work)
    second_job = ci_clone(filled, tmp_path / "job2")  # a new job, the same cache
    assert len(read_records(second_job, cache=cache)) == len(HISTORY) + 2
    assert fetched == [len(HISTORY), 2]
    assert len(read_records(second_job, cache=cache)) == len(HISTORY) + 2
    assert fetched[-1] == 0


def test_cache_of_a_gitlab_job_keeps_no_token(gitlab: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    record(write_records(tmp_path / "a", HISTORY[:4]), repo=job)
    assert TOKEN in git(job, "config", "remote.origin.url")  # GitLab puts it there
    cache = tmp_path / "cache"
    stored = read_records(job, cache=cache, suite="mlp-cpu")
    assert _paths(stored) == sorted(record_path(r) for r in HISTORY[:4])
    for file in cache.rglob("*"):
        if file.is_file():
            assert TOKEN.encode() not in file.read_bytes(), file
    assert git(cache, "config", "remote.origin.url").strip() == f"{gitlab.url}/group/proj.git"


def test_cache_in_gitlab_ci_with_a_push_token(gitlab: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", PUSH_TOKEN)
    record(write_records(tmp_path / "a", HISTORY[:2]), repo=job, access=ci_access())
    cache = tmp_path / "cache"
    assert len(read_records(job, cache=cache, access=ci_access())) == 2
    for file in cache.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert TOKEN.encode() not in data and PUSH_TOKEN.encode() not in data, file


def test_unreachable_gitlab_falls_back_without_showing_the_token(
        filled: Path, work: Path, monkeypatch: pytest.MonkeyPatch, warnings_seen: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    monkeypatch.setenv("CI_SERVER_URL", "https://127.0.0.1:1")
    monkeypatch.setenv("CI_PROJECT_PATH", "group/proj")
    git(work, "remote", "set-url", "origin", f"https://gitlab-ci-token:{TOKEN}@127.0.0.1:1/group/proj.git")
    assert len(read_records(work, access=ci_access())) == len(HISTORY)
    with pytest.raises(StoreError) as info:  # the cache has no local copy to fall back to
        read_records(work, cache=tmp_path / "cache", access=ci_access())
    assert TOKEN not in str(info.value) and TOKEN not in warnings_seen.text
    assert "cannot fetch" in warnings_seen.text


def test_falls_back_to_the_local_copy_when_the_remote_is_unreachable(
        filled: Path, work: Path, tmp_path: Path, warnings_seen: pytest.LogCaptureFixture) -> None:
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    stored = read_records(work)
    assert len(stored) == len(HISTORY)
    warning = [r for r in warnings_seen.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert warning[0].getMessage().startswith(f"cannot fetch {BRANCH} from origin: ")
    assert "reading the local copy" in warning[0].getMessage()


def test_falls_back_to_the_local_copy_when_the_remote_never_answers(
        work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        warnings_seen: pytest.LogCaptureFixture) -> None:
    record(write_records(tmp_path / "a", HISTORY[:3]), repo=work, push=False)
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1")
    with serve(stall_at_s=0.0, stall_s=3600.0) as silent:
        git(work, "remote", "set-url", "origin", f"{silent}/group/proj.git")
        started = time.monotonic()
        stored = read_records(work)
        took = time.monotonic() - started
    assert _paths(stored) == sorted(record_path(r) for r in HISTORY[:3])
    assert took < 1 + 5
    warning = [r.getMessage() for r in warnings_seen.records if r.levelno == logging.WARNING]
    assert warning == [(f"fetching {BRANCH} from origin failed: git fetch gave no answer within 1 s; "
                        f"reading the local copy of {BRANCH}")]


def test_falls_back_to_origin_branch_of_a_clone(filled: Path, tmp_path: Path) -> None:
    fresh = clone(filled, tmp_path / "fresh")  # has origin/benchtrail-results only
    git(fresh, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    assert len(read_records(fresh)) == len(HISTORY)


def test_reads_the_local_branch_when_the_remote_has_none(work: Path, remote: Path, tmp_path: Path) -> None:
    record(write_records(tmp_path / "a", HISTORY[:2]), repo=work, push=False)
    assert rev(remote, BRANCH) is None
    assert len(read_records(work)) == 2


def test_no_fetch_reads_only_the_local_copy(filled: Path, tmp_path: Path) -> None:
    job = ci_clone(filled, tmp_path / "job")
    with pytest.raises(StoreError):
        read_records(job, fetch=False)
    assert len(read_records(job)) == len(HISTORY)
    assert len(read_records(job, fetch=False)) == len(HISTORY)


def test_no_branch_anywhere_is_a_store_error(work: Path) -> None:
    with pytest.raises(StoreError) as info:
        read_records(work)
    assert str(info.value) == f"no results branch {BRANCH!r} in origin or the local repository"


def test_no_repository_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not inside a git repository"):
        read_records(tmp_path)


def _commit_directly(remote: Path, tmp_path: Path, path: str, data: bytes) -> None:
    """Commit a file to the results branch as a person with git would, bypassing record."""
    hand = clone(remote, tmp_path / "by-hand")
    git(hand, "checkout", "-q", BRANCH)
    file = hand / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(data)
    git(hand, "add", path)
    git(hand, "commit", "-q", "-m", "by hand")
    git(hand, "push", "-q", "origin", BRANCH)


@pytest.mark.parametrize(("damage", "said"), [
    (lambda r: r["benchmarks"][0]["metrics"]["latency_ms"].update(p50="fast"), "$.benchmarks[0].metrics.latency_ms"),
    (lambda r: r["benchmarks"][0]["metrics"]["latency_ms"].update(p50=10**400),
     "$.benchmarks[0].metrics.latency_ms.p50: expected a number <= 1e+300"),
    (lambda r: r["benchmarks"][0].pop("calls"), "$.benchmarks[0]: 'calls' is a required property"),
    (lambda r: r.pop("source"), "$: 'source' is a required property"),
])
def test_a_bad_record_on_the_branch_is_skipped_with_a_warning(filled: Path, work: Path, tmp_path: Path, damage: Any,
                                                              said: str, warnings_seen: pytest.LogCaptureFixture
                                                              ) -> None:
    import json

    bad = make_record(50)
    damage(bad)
    path = record_path(make_record(50))
    _commit_directly(filled, tmp_path, path, json.dumps(bad).encode())
    # every reader goes on with the others: one bad record (committed by other means, or
    # let through by an older benchtrail) must not stop history, compare and report
    assert _paths(read_records(work)) == sorted(record_path(r) for r in HISTORY)
    warned = [r.getMessage() for r in warnings_seen.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith(f"skipped a bad record: {BRANCH}:{path}: ")
    assert said in warned[0]


def test_invalid_json_is_skipped_with_a_warning(filled: Path, work: Path, tmp_path: Path,
                                                warnings_seen: pytest.LogCaptureFixture) -> None:
    path = "results/mlp-cpu/2026/03/20260302T000000Z-000000000000-1.json"
    _commit_directly(filled, tmp_path, path, b'{"schema": "benchtrail.result/1", ')
    assert len(read_records(work)) == len(HISTORY)
    assert f"skipped a bad record: {BRANCH}:{path}: not valid JSON" in warnings_seen.text


def test_other_files_on_the_branch_are_ignored(filled: Path, work: Path, tmp_path: Path) -> None:
    _commit_directly(filled, tmp_path, "results/README.md", b"notes\n")
    assert len(read_records(work)) == len(HISTORY)


def test_sigterm_while_git_waits_on_a_silent_remote_leaves_no_git_behind(work: Path, tmp_path: Path) -> None:
    """A cancelled job's SIGTERM reaches benchtrail while ``git fetch`` waits: git and its
    helpers go with it, and the command says it was stopped (before, git ran on, orphaned)."""
    import signal
    import subprocess
    import sys

    record(write_records(tmp_path / "a", HISTORY[:3]), repo=work, push=False)
    with serve(stall_at_s=0.0, stall_s=3600.0) as silent:
        git(work, "remote", "set-url", "origin", f"{silent}/group/proj.git")
        process = subprocess.Popen([sys.executable, "-m", "benchtrail", "history", "--repo", str(work)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        until = time.monotonic() + 20
        while not silent.received() and time.monotonic() < until:  # git is waiting on the remote
            time.sleep(0.05)
        assert silent.received(), "git never asked the remote"
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 128 + signal.SIGTERM
        assert stderr.strip().splitlines()[-1] == "Terminated (SIGTERM)." and "Traceback" not in stderr
        until = time.monotonic() + 3
        while processes_talking_to(silent.port) and time.monotonic() < until:
            time.sleep(0.05)
        assert processes_talking_to(silent.port) == []

