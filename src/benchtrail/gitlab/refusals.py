"""GitLab's refusals of a note, in one line each: what failed and what to change.

GitLab answers 404 for a project the token may not see as for one that is not there,
and python-gitlab's exceptions carry the URL; these lines name the step, the host and
the option or variable to fix, never the token or the request's URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchtrail.gitlab.notes import NoteTarget

__all__ = ["WRITE_GRANT", "explain_refusal"]

WRITE_GRANT = "it needs the api scope and at least the Reporter role on the project to write merge request notes"

_DOING = {"user": "reading the token's user", "merge request": "reading merge request {shown}",
          "list": "reading the notes of {shown}", "update": "updating the note on {shown}",
          "create": "creating the note on {shown}"}


def explain_refusal(exc: Exception, step: str, gl: Any, target: NoteTarget, who: str, retries: int,
             timeout_s: float) -> str:
    """One line for a failed ``step``: what was refused or failed, and what to change."""
    import gitlab
    import requests

    host, doing = target.host, _DOING[step].format(shown=target.shown)
    if isinstance(exc, requests.Timeout):
        return f"cannot reach the GitLab server {host}: no answer within {timeout_s:g} s while {doing}"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"cannot reach the GitLab server {host}: the TLS connection failed ({_reason(exc)})"
    if isinstance(exc, requests.RequestException):
        return (f"cannot reach the GitLab server {host} ({_reason(exc)}) while {doing}: check CI_SERVER_URL "
                f"or --gitlab-url")
    if isinstance(exc, gitlab.exceptions.RedirectError):
        return (f"{host} redirected a write while {doing}: set CI_SERVER_URL or --gitlab-url to the address "
                f"it redirects to (https?)")
    code = getattr(exc, "response_code", None)
    if code is None:  # GitlabParsingError and kin: an answer that is not GitLab's
        return f"{host} did not answer like a GitLab API while {doing}: check CI_SERVER_URL or --gitlab-url"
    said = _said(exc, code)
    if code == 401:
        return f"the token in {who} was refused by {host} (401): expired, revoked or mistyped"
    if code == 403:
        return f"the token in {who} may not write notes on {target.shown} (403{said}): {WRITE_GRANT}"
    if code == 404 and step == "user":
        return f"{host} has no GitLab API at {target.server_url}/api/v4 (404): check CI_SERVER_URL or --gitlab-url"
    if code == 404 and step in ("merge request", "list"):
        return _not_found(gl, target, who)
    again = f", still after {retries} retries" if code == 429 or code >= 500 else ""
    return f"{host} answered HTTP {code}{said} while {doing}{again}"


def _not_found(gl: Any, target: NoteTarget, who: str) -> str:
    """Which of project and merge request is missing: GitLab answers 404 for both, and
    for a project the token's user may not see."""
    import gitlab
    import requests

    try:
        gl.projects.get(target.project, max_retries=0)
    except (gitlab.exceptions.GitlabError, requests.RequestException):
        return (f"project {target.project} not found on {target.host}, or not visible to the token in {who} "
                f"(404): check CI_PROJECT_ID or --project, and that the token belongs to the project")
    return (f"merge request !{target.mr_iid} not found in {target.project} on {target.host} (404): check "
            f"CI_MERGE_REQUEST_IID or --mr-iid")


def _said(exc: Any, code: int) -> str:
    """``: <GitLab's message>`` in one short line, or nothing when it only repeats the code."""
    message = exc.error_message
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = " ".join(str(message or "").split())
    if not text or text.startswith(str(code)):
        return ""
    return f": {text[:117] + '...' if len(text) > 120 else text}"


def _reason(exc: Exception) -> str:
    """The words of a connection failure, without the request's URL."""
    text = str(exc)
    for words in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                  "nodename nor servname provided", "No route to host", "Network is unreachable",
                  "Connection reset by peer", "certificate verify failed", "Remote end closed connection"):
        if words in text:
            return words.lower()
    return type(exc).__name__
