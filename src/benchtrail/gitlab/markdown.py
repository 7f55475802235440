"""The merge request note of a comparison, in GitLab Flavored Markdown.

One note per suite: a headline with the suite's verdict, what it was compared with, the
rows that need attention in a table worst first, the unchanged ones folded away, the
environment changes, then links.

Every value from a record (benchmark names, params, units, refs, error messages, URLs)
can be hostile: the merge request's own code wrote it, and the note is posted as the
bot. So each one goes through one of three helpers: ``_code`` (a code span), ``_text``
(Markdown specials backslash-escaped, no bare address made a link) or ``_url`` (http(s)
only, what could end a link percent-encoded). Both text helpers put the value on one
line, show control characters as ``\\x1b``, turn ``<`` ``>`` into ``‹`` ``›`` (no HTML,
no comment that hides the rest, no other suite's marker) and put a zero-width space after
``@`` (no ``@all``). A name like ``a|b`` or ``<img>`` cannot break the note or inject markup.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.compare.render import confirmed_how, count_verdicts, format_change, format_quantity, verdict_words
from benchtrail.results.tabular import printable

__all__ = ["render_markdown", "render_note", "suite_page_url"]

_ICONS = {"broken": "⛔", "missing": "❓", "errors": "🔴", "regression": "🔴", "inconclusive": "🟡",
          "environment_changed": "⚪", "no_baseline": "⚪", "improvement": "🟢", "unchanged": "✅"}
_HEADLINES = {"broken": "❌", "missing": "❌", "errors": "❌", "regression": "❌", "inconclusive": "⚠️",
              "environment_changed": "ℹ️", "no_baseline": "ℹ️", "improvement": "✅", "unchanged": "✅"}
_WHY = {"broken": "every call failed", "errors": "calls fail", "missing": "the baseline has it, this run has not"}
_ACCEPT_MISSING = ("A missing benchmark was removed or renamed. If that is intended, run the pipeline with the "
                   "CI/CD variable `BENCHTRAIL_FAIL_ON_MISSING=false` (or set the template input "
                   "`fail-on-missing: false`); once merged, the baseline no longer has it.")
_RULE = ("<sub>A regression is a change in the bad direction beyond both the minimum effect and the "
         "run-to-run noise of the baseline; inconclusive: beyond the minimum effect but within the "
         "noise.</sub>\n")
#: rows with these verdicts are folded away in the note (they need no reader's attention)
_QUIET = ("unchanged",)
#: the serving table's columns: (metric, whether its p99 rather than its p50)
_SERVING_COLUMNS = (("ttft_ms", False), ("ttft_ms", True), ("tpot_ms", False), ("tpot_ms", True),
                    ("output_throughput", False), ("goodput", False))
_SERVING = {metric for metric, _ in _SERVING_COLUMNS}
_DEFANGED = str.maketrans({"<": "‹", ">": "›", "@": "@\u200b"})  # no HTML, no mention
_SPECIALS = re.compile(r"[\\`*_{}\[\]()#!|~&$]")  # what starts markup, math or a GitLab reference
_AUTOLINKS = re.compile(r"(?<=:)(?=//)|(?<=\bwww)(?=\.)", re.IGNORECASE)  # where a zero-width space stops one
_URL_SAFE = "/:?#&=%+,;!$*"  # kept in a link target: all but ()[]<>, spaces, quotes, @ and the like


def suite_page_url(report_url: str, suite: str) -> str:
    """The report site's page of ``suite`` (the site ``benchtrail report`` writes)."""
    return f"{report_url.rstrip('/')}/suites/{quote(suite, safe='')}.html"


def _defang(text: object) -> str:
    """``text`` on one line, its control characters visible, no ``<`` ``>`` and no mention."""
    return printable(" ".join(str(text).split())).translate(_DEFANGED)


def _code(text: object) -> str:
    """``text`` as a Markdown code span that is safe inside a table cell."""
    cleaned = _defang(text).replace("`", "'").replace("|", "\\|")
    return f"`{cleaned}`" if cleaned else ""


def _text(text: object) -> str:
    """``text`` as Markdown text that reads as itself, also inside a table cell, and links
    to nothing (no ``https://...`` or ``www....`` made a link)."""
    return _AUTOLINKS.sub("\u200b", _SPECIALS.sub(r"\\\g<0>", _defang(text)))


def _url(url: str | None) -> str | None:
    """``url`` as a link target when it is an absolute http(s) address, with whatever could
    end the target or the link percent-encoded; ``None`` (no link) otherwise."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url, safe=_URL_SAFE)


def _link(words: str, url: str | None) -> list[str]:
    """``[words](url)``, or nothing when ``url`` is not a web address."""
    target = _url(url)
    return [f"[{words}]({target})"] if target else []


def _cells(row: Row, with_environment: bool) -> list[str]:
    d = row.decision
    cells = [_ICONS[row.verdict], _code(row.label), _code(row.metric)]
    if with_environment:
        cells.append(_code(row.fingerprint[:12]))
    noise = (f" (within the noise: {d.threshold * 100:.1f} %)"
             if d.threshold is not None and row.verdict == "inconclusive" else "")
    why = f": {_WHY[row.verdict]}" if row.verdict in _WHY else ""
    error = f" {_code(row.detail)}" if row.detail and row.verdict in ("broken", "errors") else ""
    how = confirmed_how(row)
    confirmed = f" · {_text(how)}" if how else ""
    cells += [_text(format_quantity(d.baseline, row.unit)), _text(format_quantity(d.current, row.unit)),
              format_change(d.change), verdict_words(row.verdict) + noise + why + error + confirmed]
    return cells


def _markdown_table(rows: list[Row], with_environment: bool) -> str:
    from tabulate import tabulate

    headers = ["", "Benchmark", "Metric", *(["Environment"] if with_environment else []),
               "Baseline", "Current", "Change", "Verdict"]
    return tabulate([_cells(r, with_environment) for r in rows], headers=headers, tablefmt="github",
                    disable_numparse=True)


def _before_after(before: float | None, after: float | None, unit: str, change: float | None) -> str:
    """``120 → 131 ms (+9.2 %)``; only the current value without a baseline."""
    now = format_quantity(after, unit)
    if before is None or after is None:
        return _text(now)
    if change is None and before > 0:  # to zero (no request met the objectives): no log change, still a change
        change = after / before - 1
    return f"{_text(format_quantity(before, unit))} → {_text(now)} ({format_change(change)})"


def _serving_table(rows: list[Row]) -> list[str]:
    """What an LLM-serving engineer reads first, for each benchmark with token timings:
    TTFT and TPOT at p50 and p99, output tokens/s and goodput, baseline → current."""
    found: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        if row.metric in _SERVING:
            found.setdefault((row.label, row.fingerprint), {})[row.metric] = row
    found = {key: metrics for key, metrics in found.items() if "ttft_ms" in metrics}
    if not found:
        return []
    table = []
    for (label, _), metrics in found.items():
        cells = [_code(label)]
        for metric, tail in _SERVING_COLUMNS:
            row = metrics.get(metric)
            if row is None:
                cells.append("-")
            elif tail:
                before, after = row.tail or (None, None)
                cells.append(_before_after(before, after, row.unit, None))
            else:
                d = row.decision
                cells.append(_before_after(d.baseline, d.current, row.unit, d.change))
        table.append(cells)
    from tabulate import tabulate

    headers = ["Serving", "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "Output tokens/s", "Goodput"]
    return [tabulate(table, headers=headers, tablefmt="github", disable_numparse=True), ""]


def _baseline_line(comparison: Comparison, suite: str) -> str:
    source = comparison.source
    commit = _code((source.commit or "this run")[:12])
    mr = f" (!{_text(source.mr_iid)})" if source.mr_iid else ""
    baselines = [b for (s, _), b in comparison.baselines.items() if s == suite]
    commits = max((b.commits for b in baselines), default=0)
    at_base = any(b.at_merge_base for b in baselines)
    before_base = any(b.before_merge_base for b in baselines)
    target = _code(comparison.target_ref)
    if comparison.merge_base and at_base:
        where = f"{target} at the merge base {_code(comparison.merge_base[:12])}"
    elif comparison.merge_base and before_base:
        where = f"{target} before the merge base {_code(comparison.merge_base[:12])} (it has no runs)"
    elif comparison.merge_base:
        where = (f"the latest runs of {target} (the merge base {_code(comparison.merge_base[:12])} has no "
                 f"runs and is not in this clone)")
    else:
        where = f"the latest runs of {target}"
    span = f"{commits} commit{'s' if commits != 1 else ''} of runs" if commits else "no runs"
    return (f"{commit}{mr} compared with {where}: {span}, minimum effect "
            f"{comparison.min_effect * 100:g} %.")


def _confirmation_lines(rows: list[Row]) -> list[str]:
    """One line per way the suite's suspects were measured again."""
    lines = []
    for method in ("paired", "same_job"):
        found = [(row.label, row.confirmation) for row in rows
                 if row.confirmation is not None and row.confirmation.method == method]
        if not found:
            continue
        names = ", ".join(dict.fromkeys(_code(label) for label, _ in found))
        how = found[0][1]
        if method == "paired":
            lines.append(f"Confirmed in pairs: {names} ran {how.runs} times beside the code of "
                         f"{_code((how.against or '')[:12])}, the two in turn in this job; those rows are decided "
                         f"on the pairs (a busy runner slows both sides of a pair alike).")
        else:
            lines.append(f"Confirmed in this job: {names} ran {how.runs} more times, decided on all its runs; "
                         f"no pairs with the merge base: {_code(how.reason or 'unknown')}.")
    return lines + [""] if lines else []


def render_note(comparison: Comparison, suite: str, *, report_url: str | None = None,
                mr_page_url: str | None = None) -> str:
    """``suite``'s note: its rows that need attention in a table worst first, the
    unchanged ones folded away, then links (this merge request's charts at
    ``mr_page_url``, the suite's history on the site at ``report_url``)."""
    part = comparison.for_suite(suite)
    rows = list(part.rows)
    loud = [r for r in rows if r.verdict not in _QUIET]
    quiet = [r for r in rows if r.verdict in _QUIET]
    multi = len({row.fingerprint for row in rows}) > 1
    lines = [f"### {_HEADLINES[part.verdict]} benchtrail · {_code(suite)}: {count_verdicts(part)}", "",
             _baseline_line(part, suite), "", *_confirmation_lines(rows)]
    lines += _serving_table(rows)
    if loud:
        lines += [_markdown_table(loud, multi), ""]
    if quiet:
        lines += [f"<details><summary>{len(quiet)} unchanged</summary>", "",
                  _markdown_table(quiet, multi), "", "</details>", ""]
    if any(r.verdict == "missing" for r in rows):
        lines += [_ACCEPT_MISSING if "missing" in part.gate else
                  "A missing benchmark was removed or renamed; missing benchmarks do not fail this pipeline.", ""]
    for (_, fingerprint), notes in sorted(part.environment_notes.items()):
        lines += [f"- Environment {_code(fingerprint[:12])}: {_text(note)}." for note in notes]
    if any(part.environment_notes.values()):
        lines.append("")
    links = [*_link("This merge request's charts", mr_page_url),
             *_link("History charts", report_url and suite_page_url(report_url, suite)),
             *_link("Pipeline", comparison.source.pipeline_url)]
    if links:
        lines += [" · ".join(links), ""]
    return "\n".join(lines).rstrip() + "\n\n" + _RULE


def render_markdown(comparison: Comparison, *, report_url: str | None = None) -> str:
    """Every suite's note, one after the other: the note file for people to read."""
    return "\n".join(render_note(comparison, suite, report_url=report_url) for suite in comparison.suites)
