"""GitLab's CI report artifacts of a comparison: a unit test report and a metrics report.

``junit_xml`` is for ``artifacts: reports: junit``. GitLab shows a test by its
``testcase`` ``classname`` (as the suite) and ``name``, keeps only the first of two
tests with the same pair, and compares tests between the merge request and its target
branch by that pair ("newly failed", "resolved failures"). So a test's name is what is
measured (benchmark label and metric, plus the environment where a suite ran in
several) and never the verdict, which goes in the body. GitLab reads a failure's
element text, not its ``message`` attribute, so a failure carries its line in both. Only a regression fails: inconclusive, no baseline and environment changed were
measured, so they pass with a ``<system-out>`` that says what they are. They are not
``<skipped>``: GitLab would list them as skipped with that text as the reason, as if the
benchmark had not run, and a skipped test is no failure there either.

``metrics_report`` is for ``artifacts: reports: metrics`` (Premium). GitLab reads
``name value`` lines as strings and shows every name whose value differs from the
target branch's report. Its parser drops everything after a ``#`` and splits lines like
a shell, so label values with quotes, backslashes or ``#`` would be mangled: the whole
identity goes into the name instead, and values are rounded to four significant digits
so that float noise alone never shows as a change. The change against the baseline is
not a second series: on the target branch it would be a change against another
baseline, and comparing the two means nothing. The report ends with ``# EOF``, as
OpenMetrics requires and GitLab's own example shows.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.compare.render import explain, verdict_words
from benchtrail.errors import ReportError
from benchtrail.results.record import write_atomic

__all__ = ["junit_xml", "metrics_report", "write_report", "write_reports"]

#: characters XML 1.0 does not allow anywhere, escaped or not
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: runs of characters a metric name may not hold (``:`` is allowed but meant for recording rules)
_NOT_NAME = re.compile(r"[^a-zA-Z0-9]+")


def _xml_safe(text: str) -> str:
    """``text`` with each character XML 1.0 forbids written as its Python escape (``\\x01``)."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrib: object) -> ET.Element:
    """A child element whose attribute values and text are made XML-safe."""
    element = ET.SubElement(parent, tag, {k: _xml_safe(str(v)) for k, v in attrib.items()})
    if text is not None:
        element.text = _xml_safe(text)
    return element


def _several_environments(comparison: Comparison) -> set[str]:
    """The suites whose rows come from more than one environment fingerprint: only their
    names carry the fingerprint, so a suite's names survive another suite's new runner."""
    seen: dict[str, set[str]] = {}
    for row in comparison.rows:
        seen.setdefault(row.suite, set()).add(row.fingerprint)
    return {suite for suite, prints in seen.items() if len(prints) > 1}


def _testcase(parent: ET.Element, row: Row, comparison: Comparison, with_environment: bool) -> None:
    """The ``<testcase>`` of one row: a ``<failure>`` if it regressed, else a ``<system-out>``."""
    name = f"{row.label} {row.metric}" + (f" (env {row.fingerprint[:8]})" if with_environment else "")
    case = _add(parent, "testcase", classname=row.suite, name=name, time="0")
    line = explain(row, comparison.min_effect, comparison.target_ref)
    d = row.decision
    details = "\n".join([
        f"{verdict_words(row.verdict)}: {line}",
        *(f"environment {row.fingerprint[:12]}: {note}"
          for note in comparison.environment_notes.get((row.suite, row.fingerprint), ())),
        f"runs: {d.baseline_runs} baseline, {d.current_runs} current; {row.direction} is better",
    ])
    if row.verdict in comparison.gate:
        _add(case, "failure", details, message=line, type=row.verdict)
    else:
        _add(case, "system-out", details)


def junit_xml(comparison: Comparison) -> str:
    """A JUnit XML document: one ``<testsuite>`` per suite, one ``<testcase>`` per
    benchmark × metric (× environment), a ``<failure>`` for each regression."""
    several = _several_environments(comparison)
    root = ET.Element("testsuites")
    _add_counts(root, "benchtrail", comparison.rows, comparison.gate)
    for suite in comparison.suites:
        rows = [row for row in comparison.rows if row.suite == suite]
        element = _add(root, "testsuite")
        _add_counts(element, f"benchtrail {suite}", rows, comparison.gate)
        for row in rows:
            _testcase(element, row, comparison, suite in several)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _add_counts(element: ET.Element, name: str, rows: Sequence[Row], gate: Sequence[str]) -> None:
    failures = sum(row.verdict in gate for row in rows)
    for key, value in (("name", name), ("tests", len(rows)), ("failures", failures), ("errors", 0),
                       ("skipped", 0), ("time", "0")):
        element.set(key, _xml_safe(str(value)))


def _number(value: float) -> str:
    """An OpenMetrics number with four significant digits, without an exponent unless it
    is very large or small: ``2621000``, ``4.568``, ``0.0001235``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    rounded = float(f"{value:.4g}")
    exponent = math.floor(math.log10(abs(rounded))) if rounded else 0
    if not -7 < exponent < 16:
        return f"{rounded:.4g}"
    text = f"{rounded:.{max(0, 3 - exponent)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _metric_name(row: Row, with_environment: bool) -> str:
    """``benchtrail_<suite>_<benchmark>_<params>_<metric>[_<unit>][_<environment>]``, every
    run of other characters one ``_``; the unit is left out when the metric already ends in it."""
    def clean(text: str) -> str:
        return _NOT_NAME.sub("_", text).strip("_")

    name = "_".join(p for p in ("benchtrail", clean(row.suite), clean(row.label), clean(row.metric)) if p)
    unit = clean(row.unit)
    if unit and not name.lower().endswith("_" + unit.lower()):
        name += "_" + unit
    return name + (f"_{clean(row.fingerprint[:8])}" if with_environment else "")


def _unique(names: list[tuple[str, str]]) -> list[str]:
    """``(name, identity)`` pairs to unique names. Names that collide each get a hash of
    their own identity, which does not depend on the other rows, so the widget still
    pairs them with the target branch's; a counter settles what even that leaves equal."""
    counts = Counter(name for name, _ in names)
    taken: set[str] = set()
    unique = []
    for name, identity in names:
        if counts[name] > 1:
            name += "_" + hashlib.sha256(identity.encode()).hexdigest()[:8]
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name}_{n}", n + 1
        taken.add(candidate)
        unique.append(candidate)
    return unique


def metrics_report(comparison: Comparison) -> str:
    """GitLab's metrics report: ``name value`` per benchmark × metric (× environment), the
    current value, sorted by name, then ``# EOF``. A missing benchmark has no current
    value, so no line."""
    several = _several_environments(comparison)
    rows = sorted((r for r in comparison.rows if r.decision.current is not None),
                  key=lambda r: (r.suite, r.label, r.metric, r.unit, r.fingerprint))
    keyed = [(_metric_name(r, r.suite in several), repr((r.suite, r.label, r.metric, r.unit, r.fingerprint)))
             for r in rows]
    lines = sorted(f"{name} {_number(row.decision.current)}" for name, row in zip(_unique(keyed), rows))
    return "".join(f"{line}\n" for line in lines) + "# EOF\n"


def write_report(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, creating its folder: a temp file in that
    folder, then renamed over ``path``, so the artifact upload never finds half a report."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError too: a file where the folder should be
        raise ReportError(f"{target.parent}: cannot create the report's folder: {exc.strerror or exc}") from None
    try:
        write_atomic(target, text.encode("utf-8"))
    except OSError as exc:
        raise ReportError(f"{target}: cannot write the report: {exc.strerror or exc}") from None


def write_reports(comparison: Comparison, note: str, *, markdown: str | os.PathLike[str] | None = None,
                  junit: str | os.PathLike[str] | None = None,
                  metrics: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the reports asked for: the ``note`` (Markdown, already rendered), the JUnit
    report and the metrics report of ``comparison``; returns their paths, in that order."""
    written = []
    for path, render in ((markdown, lambda: note), (junit, lambda: junit_xml(comparison)),
                         (metrics, lambda: metrics_report(comparison))):
        if path is not None:
            write_report(path, render())
            written.append(Path(path))
    return written
