"""``commands.record_results``: a GitLab job's push, with the token and the user of the
CI context handed in (the results package reads no CI variable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitremotes import BRANCH, PUSH_TOKEN, TOKEN, files_on, git, make_record, record_path, write_records

from benchtrail.commands.record_results import RecordOptions, record
from benchtrail.errors import StoreError
from benchtrail.gitlab.ci import read_ci

pytest_plugins = ("gitfixtures",)


def job_checkout(server: Any, path: Path) -> Path:
    """A CI job's checkout, as GitLab clones it: the job token in the remote's URL."""
    host = server.url.removeprefix("http://")
    git(path.parent, "clone", "-q", f"http://gitlab-ci-token:{TOKEN}@{host}/group/proj.git", str(path))
    return path


def ci_of(server: Any, **variables: str) -> dict[str, str]:
    return {"CI_SERVER_URL": server.url, "CI_PROJECT_PATH": "group/proj", **variables}


def test_the_context_push_token_and_user_make_the_commit(gitlab: Any, tmp_path: Path) -> None:
    job = job_checkout(gitlab, tmp_path / "job")
    ci = read_ci(ci_of(gitlab, BENCHTRAIL_PUSH_TOKEN=PUSH_TOKEN, GITLAB_USER_NAME="Ada Lovelace",
                       GITLAB_USER_EMAIL="ada@example.com"))
    done = record(RecordOptions(files=write_records(tmp_path / "a", [make_record(0)]), repo=job), ci)
    project = gitlab.root / "group" / "proj.git"
    assert done.recorded.pushed and files_on(project) == [record_path(make_record(0))]
    author = git(project, "log", "-1", "--format=%an <%ae>|%cn", BRANCH).strip()
    assert author == "Ada Lovelace <ada@example.com>|Ada Lovelace"


def test_the_process_environment_is_not_read(gitlab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong token in the process's variables changes nothing: the context decides."""
    job = job_checkout(gitlab, tmp_path / "job")
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", "glpat-SECRET-wrong")
    monkeypatch.setenv("GITLAB_USER_NAME", "Someone Else")
    done = record(RecordOptions(files=write_records(tmp_path / "a", [make_record(0)]), repo=job),
                  read_ci(ci_of(gitlab, BENCHTRAIL_PUSH_TOKEN=PUSH_TOKEN)))
    project = gitlab.root / "group" / "proj.git"
    assert done.recorded.pushed and files_on(project) == [record_path(make_record(0))]
    assert git(project, "log", "-1", "--format=%an", BRANCH).strip() == "benchtrail"
    with pytest.raises(StoreError) as caught:  # and a wrong one in the context is used, and refused
        record(RecordOptions(files=write_records(tmp_path / "b", [make_record(1)]), repo=job),
               read_ci(ci_of(gitlab, BENCHTRAIL_PUSH_TOKEN="glpat-SECRET-wrong")))
    assert "glpat-SECRET-wrong" not in str(caught.value) and "Authentication failed" in str(caught.value)


def test_no_token_reaches_any_process_arguments_during_pushes(gitlab: Any, tmp_path: Path) -> None:
    """``ps`` on a shared runner shows every process's arguments: git's own helpers
    (``remote-http``, ``send-pack``) get the URL, so it must carry no token."""
    import threading

    job = job_checkout(gitlab, tmp_path / "job")
    ci = read_ci(ci_of(gitlab, BENCHTRAIL_PUSH_TOKEN=PUSH_TOKEN))
    leaked: list[bytes] = []
    helpers: list[bytes] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = cmdline.read_bytes()
                except OSError:  # the process ended meanwhile
                    continue
                if PUSH_TOKEN.encode() in argv:
                    leaked.append(argv)
                if b"remote-http" in argv or b"send-pack" in argv:
                    helpers.append(argv)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        for n in range(10):
            pushed = record(RecordOptions(files=write_records(tmp_path / f"r{n}", [make_record(n)]), repo=job), ci)
            assert pushed.recorded.pushed
    finally:
        done.set()
        watcher.join()
    assert helpers, "the poll saw no git helper at all: it proves nothing"
    assert leaked == []


def test_sigterm_in_the_middle_of_a_push_stops_git_and_says_what_may_have_landed(gitlab: Any, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from loopback import processes_talking_to

    job = job_checkout(gitlab, tmp_path / "job")
    files = write_records(tmp_path / "a", [make_record(0)])
    gitlab.stall_pushes = True
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CI_", "BENCHTRAIL_"))},
           **ci_of(gitlab, BENCHTRAIL_PUSH_TOKEN=PUSH_TOKEN)}
    process = subprocess.Popen([sys.executable, "-m", "benchtrail", "record", *map(str, files), "--repo", str(job)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert gitlab.pushing.wait(30), "the push never began"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM
    lines = stderr.strip().splitlines()
    assert lines[-2] == ("Warning: stopped while pushing to benchtrail-results: the records may have reached it or "
                         "not; recording the same files again is safe (each is recorded once)")
    assert lines[-1] == "Terminated (SIGTERM)." and PUSH_TOKEN not in stderr
    port = int(gitlab.url.rsplit(":", 1)[1])
    until = time.monotonic() + 3
    while processes_talking_to(port) and time.monotonic() < until:
        time.sleep(0.05)
    assert processes_talking_to(port) == []  # no git push lands later on its own
