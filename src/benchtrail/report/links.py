"""Where things are: the site's pages relative to each other, and links out to GitLab.

Every link inside the site is relative, so it works from ``file://`` and under a Pages
sub-path; a link out is kept only when it is an absolute ``http(s)`` address, so a
record holding ``javascript:...`` as its pipeline URL gives no link at all.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

__all__ = ["DATA", "HISTORY", "SUITES", "commit_url", "data_file", "history_page", "suite_page", "web_url"]

#: the folders of the site: a page per suite, its whole-history page, its data files
SUITES = "suites"
HISTORY = "history"
DATA = "data"


def suite_page(suite: str) -> str:
    """The suite's page, from the site's root (``suites/<suite>.html``, as the note links it)."""
    return f"{SUITES}/{quote(suite, safe='')}.html"


def history_page(suite: str) -> str:
    """The page with the suite's whole history, from the site's root."""
    return f"{HISTORY}/{quote(suite, safe='')}.html"


def data_file(suite: str, extension: str) -> str:
    """``data/<suite>.json`` or ``.csv``, from the site's root."""
    return f"{DATA}/{quote(suite, safe='')}.{extension}"


def web_url(text: str | None) -> str | None:
    """``text`` when it is an absolute http(s) address, else ``None`` (never a link)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in text for c in "\"'<> \t\r\n"):
        return None
    return text


def commit_url(project_url: str | None, sha: str | None) -> str | None:
    """``<project>/-/commit/<sha>`` on GitLab, or ``None`` without a project or commit."""
    project = web_url(project_url)
    if project is None or not sha:
        return None
    return f"{project.rstrip('/')}/-/commit/{quote(sha, safe='')}"
