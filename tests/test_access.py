"""``check-push``: which token a record job has, and whether the remote lets it push, tested
against a real ``git http-backend`` behind a token-checking server on loopback (``gitremotes``),
which refuses pushes as GitLab does: 403 on the receive-pack advertisement."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import loopback
import pytest
from click.testing import CliRunner
from gitremotes import (
    BRANCH,
    PUSH_TOKEN,
    TOKEN,
    GitHttpServer,
    clone,
    git,
    gitlab_job,
    new_remote,
    rev,
)

from benchtrail.cli import cli
from benchtrail.errors import GitLabError
from benchtrail.gitlab.access import PushCheck
from benchtrail.gitlab.access import check_push as check_with
from benchtrail.gitlab.ci import read_ci

pytest_plugins = ("gitfixtures",)  # fixtures: git_env, remote, work, gitlab

WRONG = "glpat-SECRET-wrong-token-555"
SECRETS = (TOKEN, PUSH_TOKEN, WRONG)
JOB_TOKEN_LINE = ("Error: CI_JOB_TOKEN cannot push to group/proj (GitLab said: You are not allowed to upload "
                  "code.): a maintainer must allow Git push requests from job tokens (Settings > CI/CD > Job "
                  "token permissions, GitLab 18.4+), or set BENCHTRAIL_PUSH_TOKEN to a project access token "
                  "with write_repository\n")


def check_push(repo: Path, **options: Any) -> PushCheck:
    """The check as ``benchtrail check-push`` runs it: with this process's CI variables."""
    return check_with(read_ci(), repo, **options)


def invoke(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    for secret in SECRETS:
        assert secret not in result.output, "a token was printed"
    return result


def serve(tmp_path: Path, no_push: frozenset[str] = frozenset()) -> GitHttpServer:
    root = tmp_path / "gitlab"
    (root / "group").mkdir(parents=True)
    new_remote(root / "group" / "proj.git")
    return GitHttpServer(root, {TOKEN: "gitlab-ci-token", PUSH_TOKEN: "oauth2"}, no_push)


@pytest.fixture
def refusing(git_env: None, tmp_path: Path) -> Iterator[GitHttpServer]:
    """A GitLab where job tokens may read but not push (the maintainer has not allowed it)."""
    server = serve(tmp_path, frozenset({"gitlab-ci-token"}))
    yield server
    server.close()


@pytest.fixture
def read_only_pat(git_env: None, tmp_path: Path) -> Iterator[GitHttpServer]:
    """A GitLab where the push token is a read_repository-only token."""
    server = serve(tmp_path, frozenset({"oauth2"}))
    yield server
    server.close()


def pushed_anything(server: GitHttpServer) -> bool:
    return any(path.split("?")[0].endswith("/git-receive-pack") for path in server.requests)


def asked_to_push(server: GitHttpServer) -> bool:
    return any("service=git-receive-pack" in path for path in server.requests)


# --- the job token --------------------------------------------------------------------------

def test_job_token_allowed_to_push(gitlab: GitHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    result = invoke("check-push", "--repo", str(job))
    assert result.exit_code == 0, result.output
    assert result.stdout == ("CI_JOB_TOKEN can push to group/proj: benchtrail-results does not exist yet "
                             "(the first record creates it)\n")
    # it asked for the push advertisement, and sent nothing
    assert asked_to_push(gitlab) and not pushed_anything(gitlab)
    project = gitlab.root / "group" / "proj.git"
    assert git(project, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]


def test_an_existing_results_branch_is_named(gitlab: GitHttpServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    project = gitlab.root / "group" / "proj.git"
    git(project, "branch", BRANCH, "main")
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    done = check_push(job)
    assert (done.token, done.target, done.branch_exists) == ("CI_JOB_TOKEN", "group/proj", True)
    assert done.message == "CI_JOB_TOKEN can push to group/proj: benchtrail-results exists"


def test_job_token_refused_says_what_a_maintainer_must_allow(refusing: GitHttpServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(refusing, tmp_path / "job", monkeypatch)  # cloning with it works: reading is allowed
    result = invoke("check-push", "--repo", str(job))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == JOB_TOKEN_LINE


def test_expired_job_token(gitlab: GitHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("CI_JOB_TOKEN", WRONG)
    with pytest.raises(GitLabError) as info:
        check_push(job)
    message = str(info.value)
    assert message.startswith(f"CI_JOB_TOKEN was refused by {gitlab.url} (Authentication failed for ")
    assert "a job token is valid only while its job runs" in message
    assert WRONG not in message and "\n" not in message


# --- BENCHTRAIL_PUSH_TOKEN ------------------------------------------------------------------

def test_push_token_works_where_the_job_token_may_not(refusing: GitHttpServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(refusing, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", PUSH_TOKEN)
    result = invoke("-v", "check-push", "--repo", str(job))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("BENCHTRAIL_PUSH_TOKEN can push to group/proj: ")
    assert "BENCHTRAIL_PUSH_TOKEN is used" in result.stderr  # both set: which one wins is said
    assert not pushed_anything(refusing)


def test_push_token_without_write_repository(read_only_pat: GitHttpServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(read_only_pat, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", PUSH_TOKEN)
    result = invoke("check-push", "--repo", str(job))
    assert result.exit_code == 2
    line = result.stderr
    assert line.startswith("Error: BENCHTRAIL_PUSH_TOKEN cannot push to group/proj (GitLab said: You are not "
                           "allowed to upload code.): it needs the write_repository scope")
    assert line.count("\n") == 1


def test_wrong_push_token(gitlab: GitHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", WRONG)
    result = invoke("check-push", "--repo", str(job))
    assert result.exit_code == 2
    host = gitlab.url.removeprefix("http://")
    assert result.stderr.startswith(
        f"Error: BENCHTRAIL_PUSH_TOKEN was refused by {gitlab.url} (Authentication failed for "
        f"'http://{host}/group/proj.git/'): it is wrong, expired or revoked; create a project access token "
        "with the write_repository scope")
    assert result.stderr.count("\n") == 1


# --- no token -------------------------------------------------------------------------------

def test_no_token_in_ci(gitlab: GitHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(gitlab, tmp_path / "job", monkeypatch)
    git(job, "remote", "set-url", "origin", f"{gitlab.url}/group/proj.git")  # no credentials in it
    monkeypatch.delenv("CI_JOB_TOKEN")
    result = invoke("check-push", "--repo", str(job))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: no token to push to {gitlab.url}/group/proj.git with (")
    assert "neither BENCHTRAIL_PUSH_TOKEN nor CI_JOB_TOKEN is set; set BENCHTRAIL_PUSH_TOKEN to a project " \
           "access token with write_repository" in result.stderr
    assert result.stderr.count("\n") == 1


def test_outside_ci_the_remote_as_configured(remote: Path, work: Path) -> None:
    result = invoke("check-push", "--repo", str(work))
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"the remote's own credentials can push to {remote}: benchtrail-results does "
                             "not exist yet (the first record creates it)\n")


def test_a_token_without_ci_variables_is_not_used_and_that_is_said(remote: Path, work: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", PUSH_TOKEN)
    result = invoke("check-push", "--repo", str(work))
    assert result.exit_code == 0
    assert result.stderr == ("Warning: BENCHTRAIL_PUSH_TOKEN is set but not used: without CI_SERVER_URL and "
                             "CI_PROJECT_PATH, benchtrail pushes to the remote as configured\n")


def test_outside_ci_refused_by_a_server(gitlab: GitHttpServer, tmp_path: Path) -> None:
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", str(work))
    git(work, "remote", "add", "origin", f"{gitlab.url}/group/proj.git")
    with pytest.raises(GitLabError) as info:
        check_push(work)
    message = str(info.value)
    assert message.startswith(f"cannot read {gitlab.url}/group/proj.git (could not read Username for ")
    assert message.endswith("benchtrail fetches the results branch through the remote 'origin' with the "
                            "credentials the checkout has; give them read access")


# --- what the check does not do, and other failures -------------------------------------------

def test_a_dry_run_writes_nothing_and_runs_no_hook(remote: Path, work: Path) -> None:
    """The remote's hooks see nothing: a hook that would refuse the push is left to ``record``,
    which reports it in the remote's words."""
    hook = remote / "hooks" / "pre-receive"
    marker = remote.parent / "hook-ran"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\necho 'results are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    refs = git(remote, "for-each-ref")
    assert check_push(work).branch_exists is False
    assert not marker.exists() and git(remote, "for-each-ref") == refs


def test_a_repository_without_commits_can_be_checked(remote: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    git(empty, "remote", "add", "origin", str(remote))
    assert check_push(empty).token is None
    assert rev(empty, "HEAD") is None  # nothing was committed on a branch


def test_unreachable_gitlab(remote: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"CI_JOB_TOKEN": TOKEN, "CI_SERVER_URL": "http://127.0.0.1:1",
                        "CI_PROJECT_PATH": "group/proj"}.items():
        monkeypatch.setenv(name, value)
    result = invoke("check-push", "--repo", str(work))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: cannot reach group/proj: unable to access "
                                    "'http://127.0.0.1:1/group/proj.git/': Failed to connect")
    assert result.stderr.count("\n") == 1


def test_a_missing_remote_path(work: Path, tmp_path: Path) -> None:
    git(work, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(GitLabError) as info:
        check_push(work)
    assert str(info.value).startswith(f"cannot read {tmp_path / 'gone.git'}: ")
    assert "does not appear to be a git repository" in str(info.value)


def test_no_such_remote_or_repository(work: Path, tmp_path: Path) -> None:
    result = invoke("check-push", "--repo", str(work), "--remote", "results")
    assert result.exit_code == 2 and result.stderr.startswith("Error: no remote named 'results' in ")
    (tmp_path / "plain").mkdir()
    result = invoke("check-push", "--repo", str(tmp_path / "plain"))
    assert result.exit_code == 2 and "not inside a git repository" in result.stderr


def test_a_remote_that_never_answers_ends_the_check_at_the_deadline(work: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "1")
    with loopback.serve(stall_at_s=0.0, stall_s=3600.0) as silent:
        git(work, "remote", "set-url", "origin", f"{silent}/group/proj.git")
        started = time.monotonic()
        result = invoke("check-push", "--repo", str(work))
        took = time.monotonic() - started
    assert result.exit_code == 2
    assert result.stderr == "Error: reading the remote 'origin' failed: git ls-remote gave no answer within 1 s\n"
    assert took < 1 + 5


def test_no_git_in_the_image(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = invoke("check-push", "--repo", str(work))
    assert result.exit_code == 2
    assert result.stderr == ("Error: git is not installed here: benchtrail record needs it (install git in the "
                             "record job's image)\n")


def test_ci_environment_reading() -> None:
    ci = read_ci({"CI_SERVER_URL": "https://gitlab.example.com/", "CI_PROJECT_PATH": "g/p",
                              "CI_JOB_TOKEN": "x", "BENCHTRAIL_PUSH_TOKEN": "", "CI_DEFAULT_BRANCH": "main"})
    assert ci.in_ci and ci.server_url == "https://gitlab.example.com"
    assert (ci.token_variable, ci.both_tokens) == ("CI_JOB_TOKEN", False)
    assert not read_ci({"CI_PROJECT_PATH": "g/p"}).in_ci
    assert read_ci({"CI_JOB_TOKEN": "a", "BENCHTRAIL_PUSH_TOKEN": "b"}).token_variable \
        == "BENCHTRAIL_PUSH_TOKEN"


def test_a_real_process_refused(refusing: GitHttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = gitlab_job(refusing, tmp_path / "job", monkeypatch)
    done = subprocess.run([sys.executable, "-m", "benchtrail", "check-push", "--repo", str(job)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == "" and done.stderr == JOB_TOKEN_LINE
    assert not pushed_anything(refusing)


def test_a_refused_job_token_still_reads(refusing: GitHttpServer, tmp_path: Path) -> None:
    """The refusing server serves clones to the user whose pushes it refuses, as GitLab does."""
    host = refusing.url.removeprefix("http://")
    copy = clone(f"http://gitlab-ci-token:{TOKEN}@{host}/group/proj.git", tmp_path / "copy")
    assert (copy / "README.md").read_text() == "project\n"
