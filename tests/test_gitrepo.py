"""gitrepo: the push target in GitLab CI, secrets kept out of every message, git failures
as one-line ``StoreError``s."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitremotes import git

from benchtrail.errors import StoreError
from benchtrail.results.gitrepo import (
    GitRepo,
    RemoteAccess,
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
    access = remote_access("origin")
    assert access == RemoteAccess("origin", "origin", ())
    assert access.shown == "origin" and access.env is None


def test_ci_job_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    access = remote_access("origin")
    assert access.push_url == f"https://gitlab-ci-token:{TOKEN}@gitlab.example.com/group/sub/proj.git"
    assert access.secrets == (TOKEN,)
    assert access.shown == "https://***@gitlab.example.com/group/sub/proj.git"
    assert TOKEN not in repr(access) and TOKEN not in str(access)


def test_push_token_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN, "BENCHTRAIL_PUSH_TOKEN": PUSH}.items():
        monkeypatch.setenv(name, value)
    access = remote_access("origin")
    assert access.push_url == f"https://oauth2:{PUSH}@gitlab.example.com/group/sub/proj.git"
    assert set(access.secrets) == {TOKEN, PUSH}
    assert PUSH not in repr(access)


@pytest.mark.parametrize("server", ["https://gitlab.example.com/", "http://10.0.0.5:8080"])
def test_server_url_forms(monkeypatch: pytest.MonkeyPatch, server: str) -> None:
    monkeypatch.setenv("CI_SERVER_URL", server)
    monkeypatch.setenv("CI_PROJECT_PATH", "g/p")
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    scheme, _, host = server.rstrip("/").partition("://")
    assert remote_access("origin").push_url == f"{scheme}://gitlab-ci-token:{TOKEN}@{host}/g/p.git"


def test_relative_url_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_SERVER_URL", "https://example.com/gitlab")
    monkeypatch.setenv("CI_PROJECT_PATH", "g/p")
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    assert remote_access("origin").push_url == f"https://gitlab-ci-token:{TOKEN}@example.com/gitlab/g/p.git"


@pytest.mark.parametrize("missing", ["CI_SERVER_URL", "CI_PROJECT_PATH"])
def test_incomplete_ci_variables_keep_the_remote(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        if name != missing:
            monkeypatch.setenv(name, value)
    access = remote_access("origin")
    assert access.push_url == "origin" and access.secrets == (TOKEN,)


def test_no_token_keeps_the_remote(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    assert remote_access("origin").push_url == "origin"


def test_other_remotes_are_used_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**CI, "CI_JOB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    assert remote_access("upstream").push_url == "upstream"


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
