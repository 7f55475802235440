"""gitrepo: the push target in GitLab CI, secrets kept out of every message, git failures
as one-line ``StoreError``s, and the runner's deadlines against a real server that never
answers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gitremotes import ci_access, git
from loopback import Loopback, processes_talking_to, serve

from benchtrail.errors import StoreError
from benchtrail.gitlab.ci import read_ci
from benchtrail.results import gitrepo
from benchtrail.results.gitrepo import (
    GitRepo,
    GitResult,
    RemoteAccess,
    identity_env,
    open_repo,
    redact,
    remote_access,
    strip_credentials,
)

pytest_plugins = ("gitfixtures",)  # fixtures: git_env, work

TOKEN = "glcbt-64_SECRETjobtoken"
PUSH = "glpat-SECRETpushtoken"

pytestmark = pytest.mark.usefixtures("git_env")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://gitlab-ci-token:abc@gitlab.com/g/p.git", "https://gitlab.com/g/p.git"),
    ("https://oauth2@gitlab.com/g/p.git", "https://gitlab.com/g/p.git"),
    ("http://u:p@127.0.0.1:8080/g/p.git", "http://127.0.0.1:8080/g/p.git"),
    ("https://gitlab.com/g/p.git", "https://gitlab.com/g/p.git"),
    ("git@gitlab.com:g/p.git", "git@gitlab.com:g/p.git"),  # scp-like: "git@" is no secret
    ("/srv/git/p.git", "/srv/git/p.git"),
    ("https://gitlab.com/g/p@v2.git", "https://gitlab.com/g/p@v2.git"),
])
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


def test_redact_hides_url_credentials_and_given_secrets() -> None:
    text = f"fatal: unable to access 'https://gitlab-ci-token:{TOKEN}@h/g/p.git/': token {PUSH} refused"
    shown = redact(text, (PUSH, ""))
    assert TOKEN not in shown and PUSH not in shown
    assert shown == "fatal: unable to access 'https://***@h/g/p.git/': token *** refused"
    assert redact("nothing secret", ()) == "nothing secret"


CI = {"CI_SERVER_URL": "https://gitlab.example.com", "CI_PROJECT_PATH": "group/sub/proj"}


def test_outside_ci_the_remote_is_used_as_configured() -> None:
    assert remote_access("origin") == remote_access("origin", None, ()) == RemoteAccess("origin", "origin", ())
    access = ci_access("origin")
    assert access == RemoteAccess("origin", "origin", ())
    assert access.shown == "origin" and access.env is None


def test_ci_job_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    access = ci_access("origin")
    assert access.push_url == f"https://gitlab-ci-token:{TOKEN}@gitlab.example.com/group/sub/proj.git"
    assert access.secrets == (TOKEN,)
    assert access.shown == "https://***@gitlab.example.com/group/sub/proj.git"
    assert TOKEN not in repr(access) and TOKEN not in str(access)


def test_push_token_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN, "BENCHTRAIL_PUSH_TOKEN": PUSH}.items():
        monkeypatch.setenv(name, value)
    access = ci_access("origin")
    assert access.push_url == f"https://oauth2:{PUSH}@gitlab.example.com/group/sub/proj.git"
    assert set(access.secrets) == {TOKEN, PUSH}
    assert PUSH not in repr(access)


@pytest.mark.parametrize("server", ["https://gitlab.example.com/", "http://10.0.0.5:8080"])
def test_server_url_forms(monkeypatch: pytest.MonkeyPatch, server: str) -> None:
    monkeypatch.setenv("CI_SERVER_URL", server)
    monkeypatch.setenv("CI_PROJECT_PATH", "g/p")
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    scheme, _, host = server.rstrip("/").partition("://")
    assert ci_access("origin").push_url == f"{scheme}://gitlab-ci-token:{TOKEN}@{host}/g/p.git"


def test_relative_url_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_SERVER_URL", "https://example.com/gitlab")
    monkeypatch.setenv("CI_PROJECT_PATH", "g/p")
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    assert ci_access("origin").push_url == f"https://gitlab-ci-token:{TOKEN}@example.com/gitlab/g/p.git"


@pytest.mark.parametrize("missing", ["CI_SERVER_URL", "CI_PROJECT_PATH"])
def test_incomplete_ci_variables_keep_the_remote(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    access = ci_access("origin")
    assert access.push_url == "origin" and access.secrets == (TOKEN,)


def test_no_token_keeps_the_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    assert ci_access("origin").push_url == "origin"


def test_other_remotes_are_used_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    assert ci_access("upstream").push_url == "upstream"


def test_open_repo_from_a_subfolder(work: Path) -> None:
    (work / "sub").mkdir()
    assert open_repo(work / "sub").git_dir == work / ".git"


def test_open_repo_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_repo(tmp_path / "nowhere")
    assert str(info.value) == f"{tmp_path / 'nowhere'}: not inside a git repository (use --repo)"


def test_run_failure_is_one_redacted_line(work: Path) -> None:
    repo = open_repo(work, (TOKEN,))
    with pytest.raises(StoreError) as info:
        repo.run("fetch", f"https://gitlab-ci-token:{TOKEN}@127.0.0.1:1/g/p.git", what="fetching records")
    message = str(info.value)
    assert message.startswith("fetching records failed: unable to access ")
    assert TOKEN not in message and "\n" not in message
    with pytest.raises(StoreError, match=r"^git cat-file failed: "):
        repo.run("cat-file", "-p", "0" * 40)


def test_reason_prefers_git_s_fatal_line_over_advice(work: Path) -> None:
    repo = open_repo(work)
    with pytest.raises(StoreError) as info:
        repo.run("fetch", str(work / "missing.git"))
    assert str(info.value) == f"git fetch failed: '{work / 'missing.git'}' does not appear to be a git repository"


def test_run_passes_input_and_returns_stdout(work: Path) -> None:
    repo = open_repo(work)
    oid = repo.run("hash-object", "-w", "--stdin", input_text="hello\n").strip()
    assert repo.run("cat-file", "blob", oid) == "hello\n"
    assert repo.rev("HEAD") == git(work, "rev-parse", "HEAD").strip()
    assert repo.rev("refs/heads/nosuch") is None
    assert repo.rev(oid) is None  # a blob is not a commit


def test_gitrepo_wraps_a_gitpython_repo(work: Path) -> None:
    import git as gitpython

    repo = GitRepo(gitpython.Repo(work))
    assert repo.git_dir == work / ".git" and repo.secrets == ()


# --- the runner: output without raising, streams, deadlines ------------------------------

def test_result_gives_status_and_output_without_raising(work: Path) -> None:
    repo = open_repo(work)
    missing = repo.result("rev-parse", "--verify", "-q", "refs/heads/nosuch")
    assert missing == GitResult(1, "", "")
    broken = repo.result("cat-file", "-p", "0" * 40)
    assert broken.status == 128 and broken.stderr.startswith("fatal: ")
    assert repo.reason(broken).startswith("Not a valid object name")
    who = repo.result("var", "GIT_AUTHOR_IDENT", env={"GIT_AUTHOR_NAME": "Someone Else"})
    assert who.status == 0 and who.stdout.startswith("Someone Else <test@example.com> ")


def test_identity_env_is_the_gitlab_user_else_benchtrail(monkeypatch: pytest.MonkeyPatch) -> None:
    assert identity_env() == {"GIT_AUTHOR_NAME": "benchtrail", "GIT_AUTHOR_EMAIL": "benchtrail@localhost",
                              "GIT_COMMITTER_NAME": "benchtrail", "GIT_COMMITTER_EMAIL": "benchtrail@localhost"}
    monkeypatch.setenv("GITLAB_USER_NAME", "Ada")
    monkeypatch.setenv("GITLAB_USER_EMAIL", "ada@example.com")
    ci = read_ci()
    fixed = identity_env(ci.user_name, ci.user_email, date="946684800 +0000")
    assert (fixed["GIT_AUTHOR_NAME"], fixed["GIT_COMMITTER_EMAIL"]) == ("Ada", "ada@example.com")
    assert fixed["GIT_AUTHOR_DATE"] == fixed["GIT_COMMITTER_DATE"] == "946684800 +0000"


def _git_children() -> list[int]:
    """This test process's child processes that are git (reaped ones are gone from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_bytes()
        except (OSError, ValueError):
            continue
        name, rest = stat[stat.index(b"(") + 1:stat.rindex(b")")], stat[stat.rindex(b")") + 2:].split()
        if name.startswith(b"git") and int(rest[1]) == os.getpid():
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_stream_reads_as_git_writes_and_leaving_early_ends_git(work: Path) -> None:
    repo = open_repo(work)
    small = repo.run("hash-object", "-w", "--stdin", input_text="hello\n").strip()
    big = repo.run("hash-object", "-w", "--stdin", input_text="x" * 1_000_000).strip()
    with repo.stream("cat-file", "--batch", input_text=f"{small}\n{big}\n") as out:
        assert out.readline().split() == [small.encode(), b"blob", b"6"]
        assert out.read(6) == b"hello\n"
        out.read(1)
        assert out.readline().split()[2] == b"1000000"
        assert len(out.read(1_000_000)) == 1_000_000
    assert _git_children() == []

    # git blocks writing what is not read: the reader that leaves must end it
    with pytest.raises(RuntimeError, match="reader gave up"), \
            repo.stream("cat-file", "--batch", input_text=f"{big}\n{big}\n") as out:
        out.readline()
        raise RuntimeError("reader gave up")
    assert _git_children() == []


@pytest.fixture(scope="module")
def silent() -> Iterator[Loopback]:
    """An HTTP server that takes every request and never answers."""
    with serve(stall_at_s=0.0, stall_s=3600.0) as server:
        yield server


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_a_git_without_answer_is_killed_at_its_deadline_with_its_helpers(work: Path, silent: Loopback) -> None:
    repo = open_repo(work, (TOKEN,))
    url = f"http://gitlab-ci-token:{TOKEN}@127.0.0.1:{silent.port}/g/p.git"
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        repo.run("ls-remote", url, timeout_s=1.5, what=f"reading {url}")
    took = time.monotonic() - started
    assert str(info.value) == (f"reading http://***@127.0.0.1:{silent.port}/g/p.git failed: "
                               "git ls-remote gave no answer within 1.5 s")
    assert 1.5 <= took < 1.5 + 5
    assert any(r["path"] == "/g/p.git/info/refs" for r in silent.received())  # git did ask
    until = time.monotonic() + 2
    while processes_talking_to(silent.port) and time.monotonic() < until:
        time.sleep(0.05)
    assert processes_talking_to(silent.port) == []  # git-remote-http, which held the connection, is gone too


@pytest.mark.parametrize("args", [
    ("ls-remote", "{url}"),
    ("-c", "fetch.negotiationAlgorithm=noop", "fetch", "{url}", "main"),
    ("push", "{url}", "HEAD:refs/heads/x"),
])
def test_network_commands_have_a_deadline_by_default(work: Path, silent: Loopback, args: tuple[str, ...],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1")
    repo = open_repo(work)
    command = next(arg for arg in args if arg in ("ls-remote", "fetch", "push"))
    started = time.monotonic()
    with pytest.raises(StoreError, match=rf"^git {command} gave no answer within 1 s$"):
        repo.result(*(arg.format(url=f"{silent}/g/p.git") for arg in args))
    assert time.monotonic() - started < 1 + 5
    assert repo.result("rev-parse", "HEAD").status == 0  # local plumbing: no deadline to pass


@pytest.mark.parametrize("by", ["benchtrail", "user"])
def test_git_itself_gives_up_on_a_stalled_transfer(work: Path, silent: Loopback, by: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """libcurl's low-speed limit reaches git through the environment; a user's own wins."""
    if by == "benchtrail":
        monkeypatch.setattr(gitrepo, "LOW_SPEED_TIME_S", 1)
    else:
        monkeypatch.setenv("GIT_HTTP_LOW_SPEED_TIME", "1")
    repo = open_repo(work)
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        repo.run("ls-remote", f"{silent}/g/p.git", timeout_s=60)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith(f"git ls-remote failed: unable to access '{silent}/g/p.git/': Operation too slow")
    assert "\n" not in message


def test_a_cache_folder_with_other_files_is_refused_not_made_a_repository(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine\n")
    with pytest.raises(StoreError, match="not a benchtrail cache .* and not empty: give a new or empty folder"):
        gitrepo.open_bare(project)
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]  # no HEAD, config, hooks/ among them
    assert gitrepo.open_bare(tmp_path / "new").git_dir == tmp_path / "new"  # a new folder is made one
    assert gitrepo.open_bare(tmp_path / "new").git_dir == tmp_path / "new"  # and opened again


def test_a_cache_that_cannot_be_written_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot use as the cache"):
        gitrepo.open_bare(tmp_path / "file" / "cache")


def test_the_network_deadline_is_the_users_to_set(work: Path, silent: Loopback, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1.5")
    repo = open_repo(work)
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"^git ls-remote gave no answer within 1.5 s$"):
        repo.result("ls-remote", f"{silent}/g/p.git")
    assert time.monotonic() - started < 1.5 + 5
    for wrong in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", wrong)
        with pytest.raises(StoreError, match=r"^BENCHTRAIL_NETWORK_TIMEOUT: expected a number of seconds above 0, found "):
            repo.result("ls-remote", f"{silent}/g/p.git")


class _Misbehaving:
    """A git smart-HTTP server on loopback that answers every request with a 200 and then
    ``drips`` its body a byte a second, forever, or ``dies`` half-way (the connection cut)."""

    def __init__(self, how: str) -> None:
        import socket
        import threading

        self.how = how
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Any) -> None:
        with conn:
            conn.recv(65536)
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n"
                    b"Content-Length: 100000\r\n\r\n001e# service=git-upload-pack\n")
            try:
                conn.sendall(head)
                if self.how == "dies":
                    return  # the connection closes 99,970 bytes short
                while not self.stop.wait(1.0):
                    conn.sendall(b"0")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("how", ["drips", "dies"])
def test_a_git_server_that_drips_or_dies_ends_in_one_line_within_the_deadline(work: Path, how: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "2")
    server = _Misbehaving(how)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as info:
            open_repo(work).run("ls-remote", f"http://127.0.0.1:{server.port}/g/p.git", what="reading the remote")
        took = time.monotonic() - started
    finally:
        server.close()
    assert "\n" not in str(info.value) and str(info.value).startswith("reading the remote failed: ")
    assert took < 2 + 5  # a drip of a byte a second stays above git's own low-speed limit: the deadline ends it
    if how == "drips":
        assert str(info.value).endswith("gave no answer within 2 s")
