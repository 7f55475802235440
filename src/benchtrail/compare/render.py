"""A comparison in words and numbers: quantities, changes, verdicts, a terminal table.

What every rendering of a comparison (the terminal, the merge request note, the CI
reports, the webhook) shares, so that all of them say +12.3 % and "no baseline" alike.
The GitLab and chat markup lives in ``benchtrail.gitlab``.
"""

from __future__ import annotations

import math

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.results.tabular import printable

__all__ = ["VERDICT_ORDER", "confirmed_how", "count_verdicts", "explain", "format_change", "format_quantity",
           "render_table", "verdict_words"]

_WORDS = {"environment_changed": "environment changed", "no_baseline": "no baseline"}
#: the order verdicts are counted in, in the note's headline
VERDICT_ORDER = ("broken", "missing", "errors", "regression", "inconclusive", "improvement", "environment_changed",
                 "no_baseline", "unchanged")


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
    """A relative change as a signed percentage: ``+12.3 %``, ``-0.4 %``; ``from 0`` for a
    change from a level of zero (infinite)."""
    if change is None:
        return "-"
    if math.isinf(change):
        return "from 0"
    return f"{change * 100:+.1f} %"


def verdict_words(verdict: str) -> str:
    """A verdict as words: ``no_baseline`` reads "no baseline"."""
    return _WORDS.get(verdict, verdict)


def count_verdicts(comparison: Comparison) -> str:
    """``2 regressions, 1 unchanged``: how many rows got each verdict, worst first."""
    counts: dict[str, int] = {}
    for row in comparison.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    plural = {"regression": "regressions", "improvement": "improvements"}
    return ", ".join(f"{counts[v]} {plural.get(v, verdict_words(v)) if counts[v] > 1 else verdict_words(v)}"
                     for v in VERDICT_ORDER if v in counts) or "nothing compared"


def render_table(comparison: Comparison) -> str:
    """An aligned text table for a terminal, worst first; every cell ``printable``."""
    from tabulate import tabulate

    rows = [[r.suite, r.label, r.metric, r.fingerprint[:12], format_quantity(r.decision.baseline, r.unit),
             format_quantity(r.decision.current, r.unit), format_change(r.decision.change),
             "-" if r.decision.noise is None else f"{r.decision.noise * 100:.1f} %", verdict_words(r.verdict)]
            for r in comparison.rows]
    headers = ["suite", "benchmark", "metric", "environment", "baseline", "current", "change", "σ/run", "verdict"]
    table = tabulate([[printable(cell) for cell in row] for row in rows], headers=headers, disable_numparse=True)
    return f"{table}\n\nverdict: {verdict_words(comparison.verdict)}\n"


def confirmed_how(row: Row) -> str | None:
    """How the row's verdict was confirmed, briefly: ``5 pairs with the merge base`` or
    ``5 more runs``; ``None`` when its benchmark did not run again."""
    confirmation = row.confirmation
    if confirmation is None:
        return None
    if confirmation.method == "paired":
        return f"{len(confirmation.pairs)} pairs with {(confirmation.against or 'the baseline')[:12]}"
    return f"{confirmation.runs} more runs"


def _noise(row: Row) -> str:
    d = row.decision
    per = "pair" if row.confirmation is not None and row.confirmation.method == "paired" else "run"
    parts = ([] if d.noise is None else [f"±{d.noise * 100:.1f} % per {per}"]) + (
        [] if d.threshold is None else [f"threshold {d.threshold * 100:.1f} %"])
    return f"the noise ({', '.join(parts)})" if parts else "the noise"


def explain(row: Row, min_effect: float, target_ref: str) -> str:
    """One line: the metric, its change and values, and why that is the verdict (the
    comparison document keeps it as ``why``; the JUnit report shows it)."""
    d = row.decision
    effect = f"the {min_effect * 100:g} % minimum effect"
    if d.baseline is None or d.change is None:
        measured = f"{row.metric} {format_quantity(d.current, row.unit)}"
    else:
        measured = (f"{row.metric} {format_change(d.change)} (baseline {format_quantity(d.baseline, row.unit)}"
                    f" → {format_quantity(d.current, row.unit)})")
    if d.change is None and row.verdict == "inconclusive":
        why = "the change is undefined for zero or negative values"
    else:
        error = f": {row.detail}" if row.detail else ""
        why = {"broken": f"every call failed{error}",
               "errors": f"calls fail where the baseline's did not, or clearly more often{error}",
               "missing": f"{target_ref} has it, the runs compared have not: removed or renamed",
               "regression": f"beyond {effect} and {_noise(row)}",
               "improvement": f"beyond {effect} and {_noise(row)}",
               "inconclusive": f"beyond {effect} but within {_noise(row)}",
               "unchanged": f"within {effect}",
               "no_baseline": f"{target_ref} has no runs of it in this environment",
               "environment_changed": "the environment changed since the baseline, so it was not compared",
               }[row.verdict]
    confirmation = row.confirmation
    if confirmation is not None and confirmation.method == "paired":
        why += (f"; measured in {len(confirmation.pairs)} pairs with {(confirmation.against or '')[:12]}, "
                f"the two codes in turn in one job")
    elif confirmation is not None:
        why += f"; with {confirmation.runs} more runs in one job (no pairs: {confirmation.reason})"
    return f"{measured}, {why}"
