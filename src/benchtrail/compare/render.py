"""A comparison as people read it: the merge request note (Markdown), a terminal table, JSON.

User text (benchmark names, units, refs) only ever appears inside code spans with the
characters that could end them or a table cell neutralised, so a name like ``a|b`` or
``<img>`` cannot break the note or inject markup.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any
from urllib.parse import quote, unquote

from benchtrail.compare.comparison import Comparison, Row

__all__ = ["format_change", "format_quantity", "note_sections", "render_json", "render_markdown",
           "render_table", "suite_page_url", "verdict_words", "webhook_payload"]

_ICONS = {"regression": "🔴", "inconclusive": "🟡", "environment_changed": "⚪", "no_baseline": "⚪",
          "improvement": "🟢", "unchanged": "✅"}
_WORDS = {"environment_changed": "environment changed", "no_baseline": "no baseline"}
_HEADLINES = {"regression": "❌", "inconclusive": "⚠️", "environment_changed": "ℹ️", "no_baseline": "ℹ️",
              "improvement": "✅", "unchanged": "✅"}
_SECTION = re.compile(r"^<!-- benchtrail:section suite=(\S+) verdict=(\w+) -->$", re.MULTILINE)
_RULE = ("<sub>A regression is a change in the bad direction beyond both the minimum effect and the "
         "run-to-run noise of the baseline; inconclusive: beyond the minimum effect but within the "
         "noise.</sub>\n")
#: rows with these verdicts are folded away in the note (they need no reader's attention)
_QUIET = ("unchanged",)


def format_quantity(value: float | None, unit: str) -> str:
    """Three significant digits (thousands grouped, never an exponent), then the unit."""
    if value is None or not math.isfinite(value):
        return "-"
    rounded = float(f"{value:.3g}")
    if abs(rounded) >= 100 or rounded == 0:
        text = f"{rounded:,.0f}"
    else:  # three significant digits written out: 0.0000123, never 1.23e-05
        text = f"{rounded:.{2 - math.floor(math.log10(abs(rounded)))}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} {unit}".strip()


def format_change(change: float | None) -> str:
    """A relative change as a signed percentage: ``+12.3 %``, ``-0.4 %``."""
    if change is None:
        return "-"
    return f"{change * 100:+.1f} %"


def verdict_words(verdict: str) -> str:
    """A verdict as words: ``no_baseline`` reads "no baseline"."""
    return _WORDS.get(verdict, verdict)


def suite_page_url(report_url: str, suite: str) -> str:
    """The report site's page of ``suite`` (see ``benchtrail report``)."""
    return f"{report_url.rstrip('/')}/suites/{quote(suite, safe='')}.html"


def _code(text: str) -> str:
    """``text`` as a Markdown code span that is safe inside a table cell."""
    cleaned = " ".join(str(text).replace("`", "'").split()).replace("|", "\\|")
    return f"`{cleaned}`" if cleaned else ""


def _cell(text: str) -> str:
    """Free text (a unit) for a table cell: no HTML, no cell break."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _counts(comparison: Comparison) -> str:
    counts: dict[str, int] = {}
    for row in comparison.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    order = ("regression", "inconclusive", "improvement", "environment_changed", "no_baseline", "unchanged")
    plural = {"regression": "regressions", "improvement": "improvements"}
    return ", ".join(f"{counts[v]} {plural.get(v, verdict_words(v)) if counts[v] > 1 else verdict_words(v)}"
                     for v in order if v in counts) or "nothing compared"


def _multi_environment(comparison: Comparison) -> bool:
    return len({row.fingerprint for row in comparison.rows}) > 1


def _cells(row: Row, with_environment: bool) -> list[str]:
    d = row.decision
    cells = [_ICONS[row.verdict], _code(row.label), _code(row.metric)]
    if with_environment:
        cells.append(_code(row.fingerprint[:12]))
    noise = (f" (within the noise: {d.threshold * 100:.1f} %)"
             if d.threshold is not None and row.verdict == "inconclusive" else "")
    cells += [_cell(format_quantity(d.baseline, row.unit)), _cell(format_quantity(d.current, row.unit)),
              format_change(d.change), verdict_words(row.verdict) + noise]
    return cells


def _markdown_table(rows: list[Row], with_environment: bool) -> str:
    from tabulate import tabulate

    headers = ["", "Benchmark", "Metric", *(["Environment"] if with_environment else []),
               "Baseline", "Current", "Change", "Verdict"]
    return tabulate([_cells(r, with_environment) for r in rows], headers=headers, tablefmt="github",
                    disable_numparse=True)


def _baseline_line(comparison: Comparison, suite: str) -> str:
    source = comparison.source
    commit = _code((source.get("commit") or "this run")[:12])
    mr = f" (!{source['mr_iid']})" if source.get("mr_iid") else ""
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


def render_markdown(comparison: Comparison, *, report_url: str | None = None) -> str:
    """The merge request note: one section per suite, the rows that need attention in a
    table worst first, the unchanged ones folded away, then links."""
    parts = []
    for suite in comparison.suites:
        part = comparison.for_suite(suite)
        rows = list(part.rows)
        loud = [r for r in rows if r.verdict not in _QUIET]
        quiet = [r for r in rows if r.verdict in _QUIET]
        multi = _multi_environment(part)
        lines = [f"<!-- benchtrail:section suite={quote(suite, safe='')} verdict={part.verdict} -->",
                 f"### {_HEADLINES[part.verdict]} benchtrail · {_code(suite)}: {_counts(part)}", "",
                 _baseline_line(part, suite), ""]
        if loud:
            lines += [_markdown_table(loud, multi), ""]
        if quiet:
            lines += [f"<details><summary>{len(quiet)} unchanged</summary>", "",
                      _markdown_table(quiet, multi), "", "</details>", ""]
        for (_, fingerprint), notes in sorted(part.environment_notes.items()):
            lines += [f"- Environment {_code(fingerprint[:12])}: {_cell(note)}." for note in notes]
        if any(part.environment_notes.values()):
            lines.append("")
        links = []
        if report_url:
            links.append(f"[History charts]({suite_page_url(report_url, suite)})")
        if comparison.source.get("pipeline_url"):
            links.append(f"[Pipeline]({comparison.source['pipeline_url']})")
        if links:
            lines += [" · ".join(links), ""]
        parts.append("\n".join(lines).rstrip() + "\n\n" + _RULE)
    return "\n".join(parts)


def note_sections(markdown: str) -> dict[str, tuple[str, str]]:
    """The suites of a ``render_markdown`` text: ``{suite: (verdict, that suite's note)}``."""
    found = list(_SECTION.finditer(markdown))
    sections = {}
    for match, after in zip(found, [*found[1:], None]):
        body = markdown[match.start():after.start() if after else len(markdown)]
        sections[unquote(match.group(1))] = (match.group(2), body.rstrip() + "\n")
    return sections


def render_table(comparison: Comparison) -> str:
    """An aligned text table for a terminal, worst first."""
    from tabulate import tabulate

    rows = [[r.suite, r.label, r.metric, r.fingerprint[:12], format_quantity(r.decision.baseline, r.unit),
             format_quantity(r.decision.current, r.unit), format_change(r.decision.change),
             "-" if r.decision.noise is None else f"{r.decision.noise * 100:.1f} %", verdict_words(r.verdict)]
            for r in comparison.rows]
    headers = ["suite", "benchmark", "metric", "environment", "baseline", "current", "change", "σ/run", "verdict"]
    table = tabulate(rows, headers=headers, disable_numparse=True)
    return f"{table}\n\nverdict: {verdict_words(comparison.verdict)}\n"


def _jsonable(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def render_json(comparison: Comparison) -> dict[str, Any]:
    """``{"verdict": ..., "results": [...]}``: one result per benchmark × metric × environment."""
    return {
        "verdict": comparison.verdict,
        "target_ref": comparison.target_ref,
        "merge_base": comparison.merge_base,
        "min_effect": comparison.min_effect,
        "results": [{
            "suite": r.suite, "benchmark": r.benchmark, "params": dict(r.params), "metric": r.metric,
            "unit": r.unit, "direction": r.direction, "environment": r.fingerprint,
            "baseline": _jsonable(r.decision.baseline), "current": _jsonable(r.decision.current),
            "change": _jsonable(r.decision.change), "noise": _jsonable(r.decision.noise),
            "threshold": _jsonable(r.decision.threshold), "baseline_runs": r.decision.baseline_runs,
            "current_runs": r.decision.current_runs, "verdict": r.verdict,
        } for r in comparison.rows],
    }


def webhook_payload(comparison: Comparison) -> dict[str, Any]:
    """The alert for a regression on the default branch: a Slack/Mattermost ``text`` plus
    the structured results (regressions only)."""
    source = comparison.source
    regressed = [r for r in comparison.rows if r.verdict == "regression"]
    where = f"{source.get('ref') or comparison.target_ref} at {(source.get('commit') or '?')[:12]}"
    lines = [f"benchtrail: {len(regressed)} regression{'s' if len(regressed) != 1 else ''} on {where}"]
    lines += [f"- {r.suite} {r.label} {r.metric}: {format_change(r.decision.change)} "
              f"({format_quantity(r.decision.baseline, r.unit)} -> {format_quantity(r.decision.current, r.unit)})"
              for r in regressed[:10]]
    if len(regressed) > 10:
        lines.append(f"- and {len(regressed) - 10} more")
    if source.get("pipeline_url"):
        lines.append(f"Pipeline: {source['pipeline_url']}")
    body = render_json(comparison)
    body["results"] = [r for r in body["results"] if r["verdict"] == "regression"]
    # Slack and Mattermost read <...> as links and mentions (<!channel>): escape as they ask
    text = "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {"text": text, "commit": source.get("commit"), "ref": source.get("ref"),
            "pipeline_url": source.get("pipeline_url"), **body}