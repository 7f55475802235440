"""The merge request note: one per suite, found by a hidden marker and updated in place.

Every pipeline of a merge request edits the same note, so the discussion holds one
current verdict per suite instead of a new comment per push. The note ends with an HTML
comment (``note_marker``) that GitLab does not render; the note to edit is the oldest one
that carries this suite's marker *and* was written by the token's own user, because a
token may edit only its own notes (another user's copy or quote is left alone).

``CI_JOB_TOKEN`` may read merge request notes but not write them, so a note needs a
token with the ``api`` scope: a project access token with the Reporter role or higher,
in ``BENCHTRAIL_GITLAB_TOKEN``, else ``GITLAB_TOKEN``. Without one, ``benchtrail note``
skips the note and says what to set; it does not fail the job.

Retries are python-gitlab's own (``retry_transient_errors``: 5xx, timeouts, refused
connections; 429 after its ``Retry-After``), at most ``max_retries`` per request. A
response hook clamps every ``Retry-After`` so that the waits of one ``upsert_note`` add
up to at most ``retry_budget_s``, whatever the server asks for. All of one
``upsert_note`` has a deadline (``webhook.Deadline``: ``BENCHTRAIL_NETWORK_TIMEOUT``, else
120 s), so that a server that drips its answer cannot hold the job. A 2xx answer that is
not JSON (a login page at a wrong ``CI_SERVER_URL``) is refused in one line.

python-gitlab is imported where it is used: importing ``benchtrail.cli`` never loads it.
No message or log line carries the token.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from benchtrail.deadlines import NETWORK_TIMEOUT_VARIABLE, network_timeout_s
from benchtrail.errors import GitLabError
from benchtrail.gitlab.ci import CiContext
from benchtrail.gitlab.refusals import explain_refusal
from benchtrail.gitlab.webhook import Deadline, DeadlinePassed
from benchtrail.results.gitrepo import redact

__all__ = [
    "NOTE_WHEN",
    "TOKEN_ADVICE",
    "NoteOutcome",
    "NoteTarget",
    "note_marker",
    "note_target",
    "note_text",
    "should_post",
    "upsert_note",
]

log = logging.getLogger(__name__)

#: when a new note is posted: always, when the verdict says something changed, on a regression
NOTE_WHEN = ("always", "changed", "regressed")

_QUIET_VERDICTS = ("unchanged", "no_baseline")  # nothing changed worth a new note
_FAILING = ("broken", "missing", "errors", "regression")  # what when=regressed posts on
_PER_PAGE = 100  # GitLab's maximum: an MR with many system notes ("added 1 commit") needs few pages
TOKEN_ADVICE = ("set BENCHTRAIL_GITLAB_TOKEN to a project access token with the api scope and the Reporter "
                "role or higher (Settings > Access tokens, then Settings > CI/CD > Variables)")

Action = Literal["created", "updated", "unchanged", "skipped"]


def note_marker(suite: str) -> str:
    """The hidden HTML comment that marks ``suite``'s note. The suite name is
    percent-encoded, so no name can close the comment (``-->``, ``--!>``) or be a prefix
    of another's marker."""
    return f"<!-- benchtrail:note suite={quote(suite, safe='')} -->"


def note_text(body: str, suite: str) -> str:
    """The note as posted: ``body``, a blank line, then ``suite``'s marker."""
    return f"{body.rstrip()}\n\n{note_marker(suite)}"


def should_post(when: str, verdict: str) -> bool:
    """Whether ``verdict`` deserves a new note under ``when`` (one of ``NOTE_WHEN``):
    ``changed`` posts unless the verdict is ``unchanged`` or ``no_baseline``, ``regressed``
    only on ``regression``. An existing note is updated whatever this says."""
    if when not in NOTE_WHEN:
        raise ValueError(f"when must be one of {', '.join(NOTE_WHEN)}, not {when!r}")
    if when == "changed":
        return verdict not in _QUIET_VERDICTS
    return when == "always" or verdict in _FAILING


@dataclass(frozen=True)
class NoteTarget:
    """The merge request a note goes on: ``project`` is an ID or a ``group/name`` path."""

    server_url: str
    project: str
    mr_iid: int

    @property
    def host(self) -> str:
        """The server's host[:port], for messages."""
        parts = urlsplit(self.server_url)
        return parts.netloc.rpartition("@")[2] or self.server_url

    @property
    def shown(self) -> str:
        """GitLab's reference to the merge request, e.g. ``group/proj!7``."""
        return f"{self.project}!{self.mr_iid}"


def note_target(ci: CiContext, *, project: str | int | None = None, mr_iid: str | int | None = None,
                server_url: str | None = None) -> NoteTarget:
    """The merge request to post on: the arguments given, else the job's CI variables.
    Raises ``GitLabError`` naming the option and the variable of a value that is
    missing or malformed."""
    # CI_API_V4_URL first: it is where GitLab says its API is (behind a proxy or on a
    # relative URL root it is more than CI_SERVER_URL + /api/v4)
    api_root = (ci.api_url or "").removesuffix("/api/v4") or None
    server, server_from = _pick(server_url, "--gitlab-url", api_root or ci.server_url,
                                "CI_API_V4_URL" if api_root else "CI_SERVER_URL")
    where, where_from = _pick(project, "--project", ci.project_id or ci.project_path, "CI_PROJECT_ID")
    iid, iid_from = _pick(mr_iid, "--mr-iid", ci.mr_iid, "CI_MERGE_REQUEST_IID")
    missing = [f"pass {option} or set {variable}" for (value, option, variable) in (
        (server, "--gitlab-url", "CI_SERVER_URL"), (where, "--project", "CI_PROJECT_ID or CI_PROJECT_PATH"),
        (iid, "--mr-iid", "CI_MERGE_REQUEST_IID (set only in merge request pipelines)")) if not value]
    if missing:
        raise GitLabError(f"no merge request to post the note on: {'; '.join(missing)}")
    server = server.rstrip("/")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise GitLabError(f"{server_from}: expected the GitLab server's URL, like https://gitlab.example.com, "
                          f"found {redact(server)!r}")
    if not iid.isdigit() or int(iid) < 1:
        raise GitLabError(f"{iid_from}: expected a merge request number (the N of !N), found {iid!r}")
    project_text = where.strip("/")
    if not project_text:
        raise GitLabError(f"{where_from}: expected a project ID or a group/name path, found {where!r}")
    return NoteTarget(server, project_text, int(iid))


def _pick(given: str | int | None, option: str, ci_value: str | None, variable: str) -> tuple[str, str]:
    """The value to use and where it came from (for messages): the argument wins."""
    if given is not None and str(given).strip():
        return str(given).strip(), option
    return (ci_value or "").strip(), variable


@dataclass(frozen=True)
class NoteOutcome:
    """What ``upsert_note`` did; ``note_id`` and ``web_url`` are ``None`` when skipped."""

    action: Action
    note_id: int | None = None
    web_url: str | None = None


def upsert_note(body: str, *, suite: str, target: NoteTarget, token: str, create: bool = True,
                token_variable: str = "BENCHTRAIL_GITLAB_TOKEN", max_retries: int = 3,
                retry_budget_s: float = 60.0, timeout_s: float = 30.0, deadline_s: float | None = None) -> NoteOutcome:
    """Put ``body`` (plus ``suite``'s marker) in ``suite``'s note on ``target``: update
    the token user's earlier note (no request when its text is already the same), else
    create one, unless ``create`` is false. ``token_variable`` names the token in messages;
    ``timeout_s`` bounds each read, ``deadline_s`` (``None``: ``network_timeout_s``) all of it.
    Raises ``GitLabError`` with one line when GitLab refuses or cannot be reached."""
    import gitlab
    import requests

    text, marker = note_text(body, suite), note_marker(suite)
    deadline = Deadline(network_timeout_s(GitLabError) if deadline_s is None else deadline_s)
    with requests.Session() as session, deadline:
        deadline.mount(session)
        session.hooks["response"] += [_RetryWait(retry_budget_s, deadline), _only_json]
        gl = gitlab.Gitlab(target.server_url, private_token=token, session=session, timeout=timeout_s,
                           retry_transient_errors=True)
        retry = {"max_retries": max_retries}
        step = "user"
        try:
            user_id = _user_id(gl, retry)
            step = "merge request"
            mr = gl.projects.get(target.project, lazy=True).mergerequests.get(target.mr_iid, **retry)
            step = "list"
            mine = _own_note(mr, marker, user_id, retry)
            if mine is not None and mine.body.strip() == text.strip():
                log.info("note %s on %s is up to date", mine.id, target.shown)
                return NoteOutcome("unchanged", mine.id, f"{mr.web_url}#note_{mine.id}")
            if mine is not None:
                step = "update"
                mine.body = text
                mine.save(**retry)
                log.info("updated note %s on %s", mine.id, target.shown)
                return NoteOutcome("updated", mine.id, f"{mr.web_url}#note_{mine.id}")
            if not create:
                return NoteOutcome("skipped")
            step = "create"
            note = mr.notes.create({"body": text}, **retry)
            log.info("created note %s on %s", note.id, target.shown)
            return NoteOutcome("created", note.id, f"{mr.web_url}#note_{note.id}")
        except (_NotGitLab, gitlab.exceptions.GitlabError, requests.RequestException, DeadlinePassed) as exc:
            if deadline.passed:  # whatever the cut sockets caused: the whole note took too long
                line = explain_refusal(requests.Timeout(), step, gl, target, token_variable, max_retries,
                                       deadline.seconds) + f" (set {NETWORK_TIMEOUT_VARIABLE} to wait longer)"
            elif isinstance(exc, _NotGitLab):
                line = (f"{target.host} did not answer like a GitLab API ({exc}: is CI_SERVER_URL or "
                        f"--gitlab-url right?)")
            else:
                line = explain_refusal(exc, step, gl, target, token_variable, max_retries, timeout_s)
            raise GitLabError(redact(line, (token,))) from None


class _NotGitLab(Exception):
    """An answer GitLab's API would not give; its text says what it was instead."""


def _only_json(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A requests response hook: refuses a 2xx answer that is not JSON (a login page, a
    proxy's page), which python-gitlab would hand back as it is."""
    if not 200 <= response.status_code < 300:
        return response
    kind = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if kind == "application/json":
        return response
    response.close()
    raise _NotGitLab("an HTML page" if "html" in kind else f"a {kind} answer" if kind else
                     "an answer without a Content-Type")


def _user_id(gl: Any, retry: dict[str, int]) -> int:
    """The ID of the token's user."""
    user = gl.http_get("/user", **retry)
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, int):
        raise _NotGitLab("no user ID in its answer about the token's user")
    return user_id


def _own_note(mr: Any, marker: str, user_id: int, retry: dict[str, int]) -> Any:
    """The oldest note of ``mr`` with ``marker`` written by ``user_id``, or None. Reads
    page after page (oldest first) until found: system notes ("added 1 commit") and
    review comments may come before it."""
    for note in mr.notes.list(iterator=True, sort="asc", order_by="created_at", per_page=_PER_PAGE, **retry):
        seen = note.attributes
        if marker in (seen.get("body") or "") and (seen.get("author") or {}).get("id") == user_id \
                and not seen.get("system"):
            return note
    return None


class _RetryWait:
    """A requests response hook: rewrites ``Retry-After`` (or GitLab's ``RateLimit-Reset``)
    on a 429 or 5xx as whole seconds, clamped so that all waits add up to at most
    ``budget_s`` and none outlasts the ``deadline``. python-gitlab then sleeps that long;
    without either header it uses its own short back-off (0.1 s, doubling)."""

    def __init__(self, budget_s: float, deadline: Deadline) -> None:
        self.left_s = max(0, math.floor(budget_s))
        self.deadline = deadline

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code != 429 and response.status_code < 500:
            return response
        headers = response.headers
        wait_s = _seconds(headers.get("Retry-After", ""))
        if wait_s is None and response.status_code == 429 and headers.get("RateLimit-Reset", "").isdigit():
            wait_s = int(headers["RateLimit-Reset"]) - time.time()
        headers.pop("Retry-After", None)
        headers.pop("RateLimit-Reset", None)
        if wait_s is not None:
            clamped = min(max(0, math.ceil(wait_s)), self.left_s, math.floor(self.deadline.left_s()))
            self.left_s -= clamped
            headers["Retry-After"] = str(clamped)
        return response


def _seconds(value: str) -> float | None:
    """A ``Retry-After`` value in seconds (delay-seconds or an HTTP date), read the way
    urllib3 reads it; ``None`` when it is neither."""
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    if not value.strip():
        return None
    try:
        return Retry(0).parse_retry_after(value.strip())
    except InvalidHeader:
        return None
