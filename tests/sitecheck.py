"""Read a written site back: every link and resource of every page, and the ids it holds."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The links (``href``, ``src``, SVG's ``xlink:href``), ids, and ``<script>`` bodies of one page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.duplicate_ids: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("href", "src", "xlink:href"):
            if found.get(name) is not None:
                self.links.append(found[name] or "")
        if found.get("id"):
            if found["id"] in self.ids:
                self.duplicate_ids.append(found["id"] or "")
            self.ids.add(found["id"] or "")
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def broken_links(site: Path, allowed_prefix: str) -> list[str]:
    """Every link of every page that does not resolve to a file (and id) of the site, and
    every absolute one outside ``allowed_prefix``; empty when all is well."""
    pages = {path: Page(path.read_text(encoding="utf-8")) for path in site.rglob("*.html")}
    problems = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                if not (parts.scheme == "https" and link.startswith(allowed_prefix)):
                    problems.append(f"{path.relative_to(site)}: outside link {link}")
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if site.resolve() not in target.parents or not target.is_file():
                problems.append(f"{path.relative_to(site)}: no such file {link}")
            elif parts.fragment and (target.suffix != ".html" or parts.fragment not in pages[target].ids):
                problems.append(f"{path.relative_to(site)}: no such anchor {link}")
    return problems
