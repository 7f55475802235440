"""What a GitLab CI job tells benchtrail through its environment, read in one place.

``read_ci`` reads the variables once, when a command starts (never at import), into a
frozen ``CiContext``; the commands hand its plain values down, so no library module
reads ``os.environ`` for GitLab's sake. Outside GitLab CI every field is ``None`` (or
empty) and the commands fall back to the checkout and the options.

Tokens: a push uses ``BENCHTRAIL_PUSH_TOKEN`` (a project or personal access token with
``write_repository``) before ``CI_JOB_TOKEN``; a merge request note needs a token with
the ``api`` scope, ``BENCHTRAIL_GITLAB_TOKEN`` before ``GITLAB_TOKEN`` (``CI_JOB_TOKEN``
may only read notes). Token values never appear in a ``repr``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = ["JOB_TOKEN", "NOTE_TOKEN_VARIABLES", "PUSH_TOKEN", "CiContext", "read_ci", "runner_tags_label"]

PUSH_TOKEN = "BENCHTRAIL_PUSH_TOKEN"
JOB_TOKEN = "CI_JOB_TOKEN"
#: where the note's token is read from, first set wins
NOTE_TOKEN_VARIABLES = ("BENCHTRAIL_GITLAB_TOKEN", "GITLAB_TOKEN")

# record source field -> GitLab CI predefined variable
_SOURCE_VARIABLES = {
    "commit": "CI_COMMIT_SHA",
    "ref": "CI_COMMIT_REF_NAME",
    "commit_time": "CI_COMMIT_TIMESTAMP",
    "commit_title": "CI_COMMIT_TITLE",
    "pipeline_id": "CI_PIPELINE_ID",
    "job_id": "CI_JOB_ID",
    "pipeline_url": "CI_PIPELINE_URL",
    "project_url": "CI_PROJECT_URL",
    "mr_iid": "CI_MERGE_REQUEST_IID",
}


@dataclass(frozen=True)
class CiContext:
    """The CI variables benchtrail acts on; ``None`` where a variable is unset or empty."""

    server_url: str | None = None
    #: where GitLab says its API is (behind a proxy it is more than server_url + /api/v4)
    api_url: str | None = None
    project_path: str | None = None
    project_id: str | None = None
    mr_iid: str | None = None
    #: the record's ``source`` block as GitLab describes this job (values may be ``None``)
    source: Mapping[str, str | None] = field(default_factory=dict)
    #: ``BENCHTRAIL_MACHINE``: the machine class a CI/CD variable names
    machine_label: str | None = None
    #: the runner's tags (``CI_RUNNER_TAGS``) as one sorted, comma-joined label
    runner_tags: str | None = None
    job_image: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    push_token: str | None = field(default=None, repr=False)
    job_token: str | None = field(default=None, repr=False)
    note_token: str | None = field(default=None, repr=False)
    #: the variable ``note_token`` came from, for messages
    note_token_variable: str | None = None
    #: every ``CI_*`` and ``BENCHTRAIL_*`` variable, for a benchtrail run in a container
    #: (which needs the same context); may hold tokens, so never in a repr
    variables: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def machine(self) -> str | None:
        """The label of the machine class this job runs on: ``BENCHTRAIL_MACHINE``, else
        the runner's tags."""
        return self.machine_label or self.runner_tags

    @property
    def in_ci(self) -> bool:
        """``CI_SERVER_URL`` and ``CI_PROJECT_PATH`` are set: pushes go to this project
        over HTTPS with a token, not to the remote as configured."""
        return bool(self.server_url and self.project_path)

    @property
    def token_variable(self) -> str | None:
        """``PUSH_TOKEN``, ``JOB_TOKEN`` or ``None``: the variable whose token a push uses."""
        return PUSH_TOKEN if self.push_token else JOB_TOKEN if self.job_token else None

    @property
    def both_tokens(self) -> bool:
        """Both push tokens are set (``PUSH_TOKEN`` wins)."""
        return bool(self.push_token and self.job_token)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every token value, for redaction."""
        return tuple(t for t in (self.push_token, self.job_token, self.note_token) if t)

    def artifact_url(self, path: str) -> str | None:
        """Where GitLab shows the file at ``path`` among this job's artifacts, or ``None``
        outside a GitLab job (no http(s) ``CI_PROJECT_URL`` or no ``CI_JOB_ID``)."""
        project_url, job_id = self.source.get("project_url"), self.source.get("job_id")
        if not project_url or not job_id or not project_url.startswith(("https://", "http://")):
            return None
        return f"{project_url.rstrip('/')}/-/jobs/{quote(job_id)}/artifacts/file/{quote(path.lstrip('/'))}"

    def push_url(self) -> str | None:
        """This project's HTTPS URL with the push token in it, or ``None`` outside CI or
        without a token."""
        token = self.push_token or self.job_token
        if not (self.in_ci and token):
            return None
        user = "oauth2" if self.push_token else "gitlab-ci-token"
        scheme, _, host = str(self.server_url).partition("://")
        return f"{scheme}://{user}:{token}@{host}/{self.project_path}.git"


def runner_tags_label(tags: str) -> str:
    """The runner's tags (``CI_RUNNER_TAGS``) as one label: sorted, comma-joined.

    GitLab has written them as a JSON list (``["gpu", "linux"]``) and, in older
    releases, as a comma list (``gpu, linux``); order does not matter."""
    tags = tags.strip()
    try:
        parsed = json.loads(tags) if tags else []
    except ValueError:
        parsed = tags.split(",")
    if parsed is None:  # "null": no tags (str(None) would make a label "None")
        parsed = []
    elif not isinstance(parsed, list):  # one tag that parsed as a JSON scalar: "gpu", 42, true
        parsed = [parsed if isinstance(parsed, str) else tags]
    names = {str(t).strip() for t in parsed if t is not None}
    return ",".join(sorted(name for name in names if name))


def read_ci(environ: Mapping[str, str] | None = None) -> CiContext:
    """The ``CiContext`` of ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    note_variable = next((name for name in NOTE_TOKEN_VARIABLES if env.get(name)), None)
    api_url = (get("CI_API_V4_URL") or "").rstrip("/") or None
    return CiContext(
        server_url=(get("CI_SERVER_URL") or "").rstrip("/") or None,
        api_url=api_url,
        project_path=get("CI_PROJECT_PATH"),
        project_id=get("CI_PROJECT_ID"),
        mr_iid=get("CI_MERGE_REQUEST_IID"),
        source={key: env.get(variable) or None for key, variable in _SOURCE_VARIABLES.items()},
        machine_label=get("BENCHTRAIL_MACHINE"),
        runner_tags=runner_tags_label(env.get("CI_RUNNER_TAGS", "")) or None,
        job_image=get("CI_JOB_IMAGE"),
        user_name=get("GITLAB_USER_NAME"),
        user_email=get("GITLAB_USER_EMAIL"),
        push_token=env.get(PUSH_TOKEN) or None,
        job_token=env.get(JOB_TOKEN) or None,
        note_token=env[note_variable] if note_variable else None,
        note_token_variable=note_variable,
        variables={name: value for name, value in env.items() if name.startswith(("CI_", "BENCHTRAIL_"))},
    )

