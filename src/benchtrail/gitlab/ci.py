"""What a GitLab CI job tells benchtrail through its environment.

Read when called, never at import. The push token follows the order that
``benchtrail.results.gitrepo.remote_access`` uses: ``BENCHTRAIL_PUSH_TOKEN`` first (a
project or personal access token with ``write_repository``), then ``CI_JOB_TOKEN``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["JOB_TOKEN", "PUSH_TOKEN", "CiEnvironment", "read_ci_environment"]

PUSH_TOKEN = "BENCHTRAIL_PUSH_TOKEN"
JOB_TOKEN = "CI_JOB_TOKEN"


@dataclass(frozen=True)
class CiEnvironment:
    """The CI variables that decide where and how a record job pushes (no token values)."""

    server_url: str | None
    project_path: str | None
    #: ``PUSH_TOKEN``, ``JOB_TOKEN`` or ``None``: the variable whose token a push uses
    token_variable: str | None
    #: both tokens are set (``PUSH_TOKEN`` wins)
    both_tokens: bool = False
    default_branch: str | None = None
    commit_branch: str | None = None

    @property
    def in_ci(self) -> bool:
        """``CI_SERVER_URL`` and ``CI_PROJECT_PATH`` are set: pushes go to this project
        over HTTPS with a token, not to the remote as configured."""
        return bool(self.server_url and self.project_path)


def read_ci_environment(environ: Mapping[str, str] | None = None) -> CiEnvironment:
    """The ``CiEnvironment`` of ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    push, job = bool(env.get(PUSH_TOKEN)), bool(env.get(JOB_TOKEN))
    return CiEnvironment(
        server_url=(env.get("CI_SERVER_URL") or "").rstrip("/") or None,
        project_path=env.get("CI_PROJECT_PATH") or None,
        token_variable=PUSH_TOKEN if push else JOB_TOKEN if job else None,
        both_tokens=push and job,
        default_branch=env.get("CI_DEFAULT_BRANCH") or None,
        commit_branch=env.get("CI_COMMIT_BRANCH") or None,
    )
