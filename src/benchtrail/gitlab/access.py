"""Can this job push its results? Checked before ``benchtrail record``; one line when not.

GitLab decides push rights when git asks for the receive-pack advertisement
(``GET info/refs?service=git-receive-pack``): a job token without push permission, or an
access token without ``write_repository``, gets 403 there. So the check does what
``record`` does, minus the writing: ``git ls-remote`` through the remote as the checkout
has it (record fetches the branch tip that way; this also tells whether the branch
exists), then ``git push --dry-run`` of a throwaway ref to the push target with the token
(``remote_access``, as record pushes). Neither writes anything on the remote. What a dry
run cannot see is a rule on the pushed commit itself (a protected results branch, a
pre-receive hook); ``record`` reports those in the remote's own words.

No message ever carries a token.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchtrail.errors import GitLabError, StoreError
from benchtrail.gitlab.ci import JOB_TOKEN, PUSH_TOKEN, CiContext
from benchtrail.results.branch import DEFAULT_BRANCH
from benchtrail.results.gitrepo import (
    GitRepo,
    GitResult,
    credentials_env,
    identity_env,
    open_repo,
    redact,
    remote_access,
)

__all__ = ["PushCheck", "check_push"]

log = logging.getLogger(__name__)

#: never created: a dry run only asks the remote whether this push would be let in
_PROBE_REF = "refs/heads/benchtrail-push-check"
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_UNAUTHENTICATED = re.compile(r"returned error: 401|Authentication failed|could not read (Username|Password)|"
                              r"terminal prompts disabled|HTTP Basic: Access denied", re.IGNORECASE)
_FORBIDDEN = re.compile(r"returned error: 403|not allowed to (upload|push|download)", re.IGNORECASE)
_NOT_FOUND = re.compile(r"returned error: 404|repository '[^']*' not found|does not appear to be a git repository",
                        re.IGNORECASE)
_UNREACHABLE = re.compile(r"Could not resolve|Failed to connect|Connection refused|timed out|Couldn't connect|"
                          r"SSL|unable to access|Network is unreachable|No route to host", re.IGNORECASE)

_TOKEN_ADVICE = "set BENCHTRAIL_PUSH_TOKEN to a project access token with write_repository"
_JOB_TOKEN_GRANT = ("a maintainer must allow Git push requests from job tokens "
                    "(Settings > CI/CD > Job token permissions, GitLab 18.4+), or " + _TOKEN_ADVICE)
_PUSH_TOKEN_GRANT = ("create a project access token with the write_repository scope and the Developer role or "
                     "higher (Settings > Access tokens) and put it in the CI/CD variable BENCHTRAIL_PUSH_TOKEN")


@dataclass(frozen=True)
class PushCheck:
    """A push that would be let in: with which token, to where, and whether the results
    branch is there yet."""

    token: str | None  # "BENCHTRAIL_PUSH_TOKEN", "CI_JOB_TOKEN", or None: the remote's own credentials
    target: str  # the project path in GitLab CI, else the remote's URL without credentials
    branch: str
    branch_exists: bool

    @property
    def message(self) -> str:
        who = self.token or "the remote's own credentials"
        there = (f"{self.branch} exists" if self.branch_exists
                 else f"{self.branch} does not exist yet (the first record creates it)")
        return f"{who} can push to {self.target}: {there}"


def check_push(ci: CiContext, repo: str | Path = ".", *, remote: str = "origin",
               branch: str = DEFAULT_BRANCH) -> PushCheck:
    """Check that ``record`` could push ``branch`` to ``remote`` from ``repo`` now: the
    token it would use, that the remote accepts it for reading and for pushing. Raises
    ``GitLabError`` with one line saying what is missing and how to grant it (``ci`` is
    the job's CI context: its tokens and project), and
    ``StoreError`` when the remote gives no answer within git's network deadline."""
    if shutil.which("git") is None:  # GitPython would fail on import, with a traceback
        raise GitLabError("git is not installed here: benchtrail record needs it (install git in the "
                          "record job's image)")
    access = remote_access(remote, ci.push_url(), ci.secrets)
    git_repo = open_repo(repo, access.secrets)
    if remote not in git_repo.run("remote").split():
        raise StoreError(f"no remote named {remote!r} in {git_repo.folder} "
                         "(see `git remote -v`)")
    token = ci.token_variable if access.push_url != access.name else None
    _warn_unused(ci, token, remote)
    prompt = {"GIT_TERMINAL_PROMPT": "0"}  # a refused credential fails instead of waiting for a person

    # read as record fetches: through the remote as the checkout has it (in GitLab CI its
    # URL or a credential helper carries the job token)
    listed = git_repo.result("ls-remote", "--heads", remote, f"refs/heads/{branch}",
                             env={**(access.env or {}), **prompt}, what=f"reading the remote {remote!r}")
    if listed.status != 0:
        source = redact(git_repo.run("remote", "get-url", remote).strip(), access.secrets)
        raise GitLabError(_explain_read(git_repo, listed, remote, source, ci))
    exists = f"\trefs/heads/{branch}" in listed.stdout

    # push as record pushes: with the token, to this project, when there is one
    if token is not None:
        target = str(ci.project_path)
        url, env = credentials_env(access.push_url)
    else:
        target = redact(git_repo.run("remote", "get-url", "--push", remote).strip(), access.secrets)
        url, env = remote, access.env
    pushed = git_repo.result("push", "--dry-run", "--porcelain", "--no-verify", url,
                             f"{_probe_commit(git_repo)}:{_PROBE_REF}", env={**(env or {}), **prompt},
                             what=f"a dry-run push to {target}")
    if pushed.status != 0:
        raise GitLabError(_explain_push(git_repo, pushed, token, ci, target))
    return PushCheck(token, target, branch, exists)


def _probe_commit(repo: GitRepo) -> str:
    """A commit to name in the dry run: HEAD, or in a repository without commits an
    empty one (written locally, never sent)."""
    head = repo.rev("HEAD")
    if head is not None:
        return head
    return repo.run("commit-tree", _EMPTY_TREE, "-m", "benchtrail push check",
                    env=identity_env(date="946684800 +0000")).strip()


def _warn_unused(ci: CiContext, token: str | None, remote: str) -> None:
    if ci.token_variable is None or token is not None:
        if ci.both_tokens:
            log.info("both BENCHTRAIL_PUSH_TOKEN and CI_JOB_TOKEN are set: BENCHTRAIL_PUSH_TOKEN is used")
        return
    if not ci.in_ci:
        log.warning("%s is set but not used: without CI_SERVER_URL and CI_PROJECT_PATH, benchtrail pushes "
                    "to the remote as configured", ci.token_variable)
    else:
        log.warning("%s is set but not used: tokens are used only for the remote 'origin'; pushing to %r "
                    "as configured", ci.token_variable, remote)


def _words(repo: GitRepo, done: GitResult) -> tuple[str, str]:
    """git's reason (its first ``fatal:``/``error:`` line) and what the server said
    (``remote:`` lines), both redacted."""
    reason = repo.reason(done)
    said = "; ".join(line.removeprefix("remote:").strip() for line in done.stderr.splitlines()
                     if line.startswith("remote:") and line.removeprefix("remote:").strip())
    return reason, redact(said, repo.secrets)


def _no_token(where: str, reason: str) -> str:
    return (f"no token to push to {where} with ({reason}): neither BENCHTRAIL_PUSH_TOKEN nor CI_JOB_TOKEN is "
            f"set; {_TOKEN_ADVICE} (Settings > CI/CD > Variables; a protected variable reaches only protected "
            f"branches)")


def _explain_read(repo: GitRepo, done: GitResult, remote: str, source: str, ci: CiContext) -> str:
    """One line for a remote that cannot be read the way ``record`` fetches."""
    reason, _ = _words(repo, done)
    stderr = done.stderr
    refused = bool(_UNAUTHENTICATED.search(stderr) or _FORBIDDEN.search(stderr))
    if refused and ci.in_ci and ci.token_variable is None:
        return _no_token(source, reason)
    if refused:
        return (f"cannot read {source} ({reason}): benchtrail fetches the results branch through the remote "
                f"{remote!r} with the credentials the checkout has; give them read access")
    if _UNREACHABLE.search(stderr) and not _NOT_FOUND.search(stderr):
        return f"cannot reach {source}: {reason}"
    return f"cannot read {source}: {reason}"


def _explain_push(repo: GitRepo, done: GitResult, token: str | None, ci: CiContext,
                  target: str) -> str:
    """One line: what refused the dry-run push, why (git's words), and what to grant."""
    reason, said = _words(repo, done)
    stderr = done.stderr
    said = f" (GitLab said: {said})" if said else ""
    server = ci.server_url or target
    unauthenticated = bool(_UNAUTHENTICATED.search(stderr))
    forbidden = bool(_FORBIDDEN.search(stderr))
    # GitLab answers 404 for a project the token may not see, as for one that is not there
    hidden = token is not None and bool(_NOT_FOUND.search(stderr))
    if not (unauthenticated or forbidden or hidden):
        if _UNREACHABLE.search(stderr) and not _NOT_FOUND.search(stderr):
            return f"cannot reach {target}: {reason}"
        return f"cannot push to {target}: {reason}"
    if token == JOB_TOKEN:
        if unauthenticated:
            return (f"CI_JOB_TOKEN was refused by {server} ({reason}): a job token is valid only while its "
                    f"job runs; run the check in the record job, or {_TOKEN_ADVICE}")
        if hidden:
            return (f"CI_JOB_TOKEN cannot see {target} ({reason}): check CI_SERVER_URL and CI_PROJECT_PATH, "
                    f"or {_TOKEN_ADVICE}")
        return f"CI_JOB_TOKEN cannot push to {target}{said}: {_JOB_TOKEN_GRANT}"
    if token == PUSH_TOKEN:
        if unauthenticated:
            return (f"BENCHTRAIL_PUSH_TOKEN was refused by {server} ({reason}): it is wrong, expired or "
                    f"revoked; {_PUSH_TOKEN_GRANT}")
        if hidden:
            return (f"BENCHTRAIL_PUSH_TOKEN cannot see {target} ({reason}): the token must belong to a member "
                    f"of the project; {_PUSH_TOKEN_GRANT}")
        return (f"BENCHTRAIL_PUSH_TOKEN cannot push to {target}{said}: it needs the write_repository scope "
                f"and a role that may push (Developer or higher); {_PUSH_TOKEN_GRANT}")
    if ci.in_ci and ci.token_variable is None:
        return _no_token(target, reason)
    return (f"cannot push to {target}{said} ({reason}): outside GitLab CI benchtrail pushes with the "
            f"remote's own credentials; give them write access, or set CI_SERVER_URL, CI_PROJECT_PATH and "
            f"BENCHTRAIL_PUSH_TOKEN")
