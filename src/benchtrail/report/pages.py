"""The site's HTML: Jinja2 templates shipped in the package, autoescaped.

Everything a page shows from a record (benchmark names, commit titles, refs, URLs) goes
through autoescape, so HTML or Markdown in a commit title shows as text; only the SVG
that ``svgmarkup`` and ``sparklines`` made (every text in it escaped there) is marked
safe.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from benchtrail.results.timestamps import parse_time

__all__ = ["day", "inline_stylesheet", "moment", "render", "status_class", "stylesheet", "svg"]


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("benchtrail.report", "templates"),
                              autoescape=jinja2.select_autoescape(("html", "xml", "svg")),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(template: str, context: Mapping[str, Any]) -> str:
    """``templates/<template>`` rendered with ``context``."""
    from benchtrail import __version__

    return _environment().get_template(template).render({"version": __version__, **context})


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    """The site's CSS (``templates/style.css``)."""
    from importlib.resources import files

    return files("benchtrail.report").joinpath("templates", "style.css").read_text(encoding="utf-8")


def inline_stylesheet() -> Any:
    """The CSS to put in a page's ``<style>`` (a one-file page, such as the MR page's)."""
    from markupsafe import Markup

    return Markup(stylesheet())


def svg(text: str | None) -> Any:
    """SVG that this package made, safe to inline (never text from a record)."""
    if text is None:
        return None
    from markupsafe import Markup

    return Markup(text)


def moment(text: str | None) -> str:
    """An RFC 3339 time as ``YYYY-MM-DD HH:MM UTC`` (the text as written when it is none)."""
    when = parse_time(text) if text else None
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else (text or "")


def day(text: str | None) -> str:
    """An RFC 3339 time as its UTC date, ``YYYY-MM-DD``."""
    when = parse_time(text) if text else None
    return when.strftime("%Y-%m-%d") if when is not None else ""


_CLASSES = {"broken": "broken", "errors": "broken", "missing": "broken", "regressed": "regressed",
            "regression": "regressed", "inconclusive": "inconclusive", "improved": "improved",
            "improvement": "improved"}


def status_class(status: str) -> str:
    """The CSS class of a status or verdict badge."""
    return _CLASSES.get(status, "unchanged")
