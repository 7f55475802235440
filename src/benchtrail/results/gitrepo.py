"""Git access for the results branch: one place that runs git, redacts secrets and turns
git's failures into ``StoreError``.

Tokens reach git only inside URLs built here; every message that leaves this module has
them replaced by ``***``, whatever git printed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchtrail.errors import StoreError

__all__ = [
    "GitRepo",
    "RemoteAccess",
    "credentials_env",
    "open_repo",
    "redact",
    "remote_access",
    "strip_credentials",
]

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_TOKEN_VARIABLES = ("BENCHTRAIL_PUSH_TOKEN", "CI_JOB_TOKEN")


def strip_credentials(url: str) -> str:
    """``url`` without ``user:password@``."""
    return _CREDENTIALS.sub("", url)


def credentials_env(url: str) -> tuple[str, dict[str, str] | None]:
    """``url`` without its credentials, and the environment that hands them back to git
    (a ``url.<with>.insteadOf`` rule in ``GIT_CONFIG_*``): a token then appears neither in
    a process's arguments (``ps`` on a shared runner) nor in a config file."""
    plain = strip_credentials(url)
    if plain == url:
        return url, None
    return plain, {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{url}.insteadOf",
                   "GIT_CONFIG_VALUE_0": plain}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL credentials and the given secrets replaced by ``***``."""
    text = _CREDENTIALS.sub("***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class RemoteAccess:
    """Where to fetch from and push to; ``push_url`` may carry a token, never shown."""

    name: str
    push_url: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    #: git configuration passed through the environment (never argv or files), e.g. the
    #: credentials a cache repository needs to fetch from the project's remote.
    env: dict[str, str] | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        return redact(self.push_url, self.secrets)

    def __repr__(self) -> str:  # a logged or printed RemoteAccess shows no token
        return f"RemoteAccess(name={self.name!r}, push_url={self.shown!r})"


def remote_access(remote: str) -> RemoteAccess:
    """The push target for ``remote``: in GitLab CI, an HTTPS URL of this project with
    ``BENCHTRAIL_PUSH_TOKEN`` (a project or personal access token with
    ``write_repository``), else ``CI_JOB_TOKEN``; elsewhere the remote as configured."""
    server, project = os.environ.get("CI_SERVER_URL"), os.environ.get("CI_PROJECT_PATH")
    secrets = tuple(os.environ[v] for v in _TOKEN_VARIABLES if os.environ.get(v))
    if server and project and remote == "origin":
        scheme, _, host = server.rstrip("/").partition("://")
        if os.environ.get("BENCHTRAIL_PUSH_TOKEN"):
            user, token = "oauth2", os.environ["BENCHTRAIL_PUSH_TOKEN"]
        elif os.environ.get("CI_JOB_TOKEN"):
            user, token = "gitlab-ci-token", os.environ["CI_JOB_TOKEN"]
        else:
            return RemoteAccess(remote, remote, secrets)
        return RemoteAccess(remote, f"{scheme}://{user}:{token}@{host}/{project}.git", secrets)
    return RemoteAccess(remote, remote, secrets)


class GitRepo:
    """A repository driven through GitPython's command wrapper."""

    def __init__(self, repo: Any, secrets: tuple[str, ...] = ()) -> None:
        self.repo = repo
        self.secrets = secrets

    @property
    def git_dir(self) -> Path:
        return Path(self.repo.git_dir)

    def run(self, *args: str, input_text: str | None = None, env: dict[str, str] | None = None,
            what: str | None = None) -> str:
        """Run ``git ARGS`` and return stdout; a failure is a ``StoreError`` saying ``what``
        failed with git's last line, secrets redacted."""
        import tempfile

        import git

        with tempfile.TemporaryFile() as stdin:
            if input_text is not None:
                stdin.write(input_text.encode())
                stdin.seek(0)
            try:
                return str(self.repo.git.execute(
                    ["git", *args], istream=stdin if input_text is not None else None,
                    env=env, strip_newline_in_stdout=False,
                ))
            except git.GitCommandError as exc:
                raise StoreError(f"{what or 'git ' + args[0]} failed: {self.reason(exc)}") from None

    def reason(self, exc: Any) -> str:
        """git's own words for a failed command: its first ``fatal:`` or ``error:`` line
        (the last ones are often advice such as "and the repository exists."), redacted."""
        lines = [line.strip() for line in self.streams(exc)[1].splitlines()]
        lines = [line for line in lines if line]
        errors = [line for line in lines if line.startswith(("fatal:", "error:"))
                  and not line.startswith("error: failed to push some refs")]
        text = errors[0] if errors else lines[-1] if lines else f"exit code {getattr(exc, 'status', '?')}"
        return redact(text.removeprefix("fatal: ").removeprefix("error: ").strip(), self.secrets)

    @staticmethod
    def streams(exc: Any) -> tuple[str, str]:
        """(stdout, stderr) of a failed command, without GitPython's ``stderr: '...'``."""
        found = []
        for name in ("stdout", "stderr"):
            text = str(getattr(exc, name, "") or "").strip()
            if text.startswith(f"{name}: '") and text.endswith("'"):
                text = text[len(name) + 3:-1]
            found.append(text)
        return found[0], found[1]

    def rev(self, ref: str) -> str | None:
        """The commit ``ref`` points to, or ``None`` when there is no such ref."""
        import git

        try:
            return str(self.repo.git.execute(["git", "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"])).strip() or None
        except git.GitCommandError:
            return None


def open_repo(path: str | Path, secrets: tuple[str, ...] = ()) -> GitRepo:
    """The git repository holding ``path``; ``StoreError`` when there is none, or no git."""
    try:
        import git
    except ImportError:  # GitPython refuses to import when the git executable is missing
        raise StoreError("git is not installed here: install git (the job image needs it to record)") from None
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise StoreError(f"{path}: not inside a git repository (use --repo)") from None
    return GitRepo(repo, secrets)
