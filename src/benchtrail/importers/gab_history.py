"""A whole github-action-benchmark history (``data.js`` from its gh-pages branch) into
one record per entry.

``data.js`` is ``window.BENCHMARK_DATA = {lastUpdate, repoUrl, entries}`` where
``entries[<benchmark set name>]`` lists one ``{commit, date, tool, benches}`` per run.
Each entry keeps its commit (``id``, ``timestamp``, the first line of ``message``),
``date`` (when it ran) becomes ``run.started_at``, and ``repoUrl`` the project URL.
Every bench becomes a single-value metric ``value`` as for ``gab-smaller``; lower or
higher is better as github-action-benchmark itself decides by the tool that produced it
(``biggerIsBetter``: ``pytest``, ``benchmarkjs`` and ``customBiggerIsBetter``). The
``target`` names the tool and the benchmark set, and all sets go into the one suite.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchtrail.errors import ImportFormatError
from benchtrail.importers.base import Context, Importer, from_epoch_ms, record, rfc3339, source
from benchtrail.importers.gab import benches
from benchtrail.importers.reader import Bad, Node, Problems, read_text
from benchtrail.results.model import Record

__all__ = ["IMPORTER", "parse_data_js", "read"]

#: github-action-benchmark's ``biggerIsBetter(tool)``: True when higher is better.
BIGGER_IS_BETTER = {
    "cargo": False, "go": False, "benchmarkjs": True, "benchmarkluau": False, "pytest": True,
    "googlecpp": False, "catch2": False, "julia": False, "jmh": False, "benchmarkdotnet": False,
    "customBiggerIsBetter": True, "customSmallerIsBetter": False,
}
_PREFIX = re.compile(r"\s*window\.BENCHMARK_DATA\s*=\s*")


def parse_data_js(text: str, source_name: str) -> Node:
    """The object assigned in ``data.js`` (a plain JSON object is taken as well)."""
    match = _PREFIX.match(text)
    start = match.end() if match else len(text) - len(text.lstrip())
    if not match and not text[start:].startswith("{"):
        raise ImportFormatError(
            f"{source_name}: expected 'window.BENCHMARK_DATA = {{...}}' (github-action-benchmark "
            f"data.js), found {text[start:start + 30]!r}")
    try:
        value, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError as exc:
        raise ImportFormatError(f"{source_name}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ImportFormatError(f"{source_name}: not valid JSON: nested too deeply") from None
    rest = text[end:].strip()
    if rest not in ("", ";"):
        raise ImportFormatError(
            f"{source_name}: unexpected text after the data at char {end}: {rest[:30]!r}")
    return Node(value)


def _entry(node: Node, set_name: str, context: Context, project_url: str | None,
           problems: Problems) -> Record:
    commit = node.get("commit")
    tool = node.get("tool")
    if tool.text() not in BIGGER_IS_BETTER:
        raise tool.expected(f"one of {', '.join(sorted(BIGGER_IS_BETTER))}")
    direction = "higher" if BIGGER_IS_BETTER[tool.text()] else "lower"
    message = commit.opt("message")
    timestamp = commit.opt("timestamp")
    source_block = source(
        commit.get("id").text(),
        time=rfc3339(timestamp) if timestamp is not None else None,
        title=message.text() if message is not None else None,
        project_url=project_url,
    )
    started = from_epoch_ms(node.get("date"))
    entries = benches(problems, lambda: node.get("benches"), direction,
                      f"github-action-benchmark {tool.text()}: {set_name}")
    return record(context, entries, source_block=source_block, started_at=started)


def read(path: Path, context: Context) -> list[Record]:
    """One record per entry of a github-action-benchmark ``data.js``."""
    doc = parse_data_js(read_text(path), str(path))
    problems = Problems(str(path))
    records: list[Record] = []
    try:
        url = doc.opt("repoUrl")
        project_url = url.text() if url is not None else None
        sets = list(doc.get("entries").fields())
        for set_name, runs in sets:
            records.extend(problems.each(
                runs.items(),
                lambda node, name=set_name: _entry(node, name, context, project_url, problems)))
        if not problems.lines and not records:
            raise doc.get("entries").fail("expected at least one entry")
    except Bad as bad:
        problems.add(bad)
    problems.check()
    return records


IMPORTER = Importer("gab-data-js", read)
