"""The comparison document (``benchtrail.comparison/1``): a ``Comparison`` as a file.

``benchtrail compare --json`` writes it; ``benchtrail note``, the JUnit and metrics
reports and the webhook are rendered from it, so no command ever parses another's
Markdown. Like the result record it is versioned, validated against a JSON Schema
shipped in the package (``compare/schemas/comparison-1.schema.json``) on write and on
read, and written with sorted keys through a temporary file.

Version history:
- 1: the first version; later, each result's optional ``confirmation`` (paired
  confirmation), which older documents lack and read as none; later still (0.2), the
  optional ``tail`` (a distribution's p99 on both sides), absent where there is none.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path
from typing import Any

from benchtrail.compare.comparison import BaselineSummary, Comparison, Confirmation, Row, overall_verdict
from benchtrail.compare.render import explain
from benchtrail.compare.rule import Decision
from benchtrail.errors import ComparisonError
from benchtrail.results.model import Source
from benchtrail.results.record import write_atomic
from benchtrail.results.validation import format_problems, load_schema, make_validator, schema_problems

__all__ = ["SCHEMA_ID", "comparison_document", "comparison_text", "dump_comparison", "load_comparison",
           "parse_comparison"]

SCHEMA_ID = "benchtrail.comparison/1"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _result(row: Row, comparison: Comparison) -> dict[str, Any]:
    d = row.decision
    return {
        "suite": row.suite, "benchmark": row.benchmark, "params": dict(row.params), "label": row.label,
        "metric": row.metric, "unit": row.unit, "direction": row.direction, "environment": row.fingerprint,
        "verdict": row.verdict, "baseline": _finite(d.baseline), "current": _finite(d.current),
        "change": _finite(d.change), "noise": _finite(d.noise), "threshold": _finite(d.threshold),
        "baseline_runs": d.baseline_runs, "current_runs": d.current_runs, "suspect": d.suspect, "detail": row.detail,
        "why": explain(row, comparison.min_effect, comparison.target_ref),
        "runs": {"baseline": [list(values) for values in row.baseline_values],
                 "current": list(row.current_values)},
        "confirmation": _confirmation(row.confirmation),
        **({"tail": {"baseline": _finite(row.tail[0]), "current": _finite(row.tail[1])}} if row.tail else {}),
    }


def _confirmation(confirmation: Confirmation | None) -> dict[str, Any] | None:
    if confirmation is None:
        return None
    return {"method": confirmation.method, "runs": confirmation.runs, "against": confirmation.against,
            "pairs": [list(pair) for pair in confirmation.pairs], "reason": confirmation.reason}


def comparison_document(comparison: Comparison) -> dict[str, Any]:
    """``comparison`` as a ``benchtrail.comparison/1`` document (plain JSON values)."""
    return {
        "schema": SCHEMA_ID,
        "verdict": comparison.verdict,
        "gate": list(comparison.gate),
        "target_ref": comparison.target_ref,
        "merge_base": comparison.merge_base,
        "min_effect": comparison.min_effect,
        "source": comparison.source.to_json(),
        "baselines": [{
            "suite": suite, "environment": fingerprint, "commits": list(summary.commit_ids),
            "anchor": summary.anchor, "at_merge_base": summary.at_merge_base,
            "before_merge_base": summary.before_merge_base, "environment_changed": summary.environment_changed,
            "environment_notes": list(comparison.environment_notes.get((suite, fingerprint), ())),
        } for (suite, fingerprint), summary in sorted(comparison.baselines.items())],
        "results": [_result(row, comparison) for row in comparison.rows],
    }


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    return make_validator(load_schema("benchtrail.compare", "comparison-1.schema.json"))


def _problems(document: Any, source: str) -> list[str]:
    if isinstance(document, dict) and document.get("schema") != SCHEMA_ID:
        found = document.get("schema")
        if isinstance(found, str) and found.startswith("benchtrail.comparison/"):
            return [f"{source}: schema: {found} is newer than this benchtrail reads ({SCHEMA_ID}): upgrade benchtrail"]
        return [f"{source}: schema: expected {SCHEMA_ID!r}, found {found!r}: not a comparison written by "
                f"`benchtrail compare --json`"]
    return format_problems(schema_problems(_validator(), document), source=source)


def _row(result: dict[str, Any]) -> Row:
    decision = Decision(result["verdict"], result["baseline"], result["current"], result["change"],
                        result["noise"], result["threshold"], result["baseline_runs"], result["current_runs"],
                        result["suspect"])
    return Row(result["suite"], result["benchmark"], tuple(sorted(result["params"].items())), result["metric"],
               result["unit"], result["direction"], result["environment"], decision,
               tuple(tuple(values) for values in result["runs"]["baseline"]), tuple(result["runs"]["current"]),
               result["detail"], _read_confirmation(result.get("confirmation")),
               (result["tail"]["baseline"], result["tail"]["current"]) if "tail" in result else None)


def _read_confirmation(found: dict[str, Any] | None) -> Confirmation | None:
    if found is None:
        return None
    return Confirmation(found["method"], found["runs"], found["against"],
                        tuple((base, head) for base, head in found["pairs"]), found["reason"])


def parse_comparison(document: Any, source: str = "<comparison>") -> Comparison:
    """The ``Comparison`` a valid document describes; ``ComparisonError`` naming every
    problem with its JSON path otherwise."""
    found = _problems(document, source)
    if found:
        raise ComparisonError(*found)
    rows = tuple(_row(result) for result in document["results"])
    baselines = {(b["suite"], b["environment"]): BaselineSummary(
        tuple(b["commits"]), b["anchor"], b["at_merge_base"], b["environment_changed"], b["before_merge_base"])
        for b in document["baselines"]}
    notes = {(b["suite"], b["environment"]): tuple(b["environment_notes"]) for b in document["baselines"]}
    comparison = Comparison(rows, document["target_ref"], document["merge_base"], document["min_effect"],
                            baselines, notes, Source.from_json(document["source"]), tuple(document["gate"]))
    if overall_verdict(row.verdict for row in rows) != document["verdict"]:
        raise ComparisonError(f"{source}: verdict: {document['verdict']!r} is not the worst of its results "
                              f"({comparison.verdict!r})")
    return comparison


def load_comparison(path: str | os.PathLike[str]) -> Comparison:
    """Read and validate a comparison document file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ComparisonError(f"{path}: cannot read the comparison: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ComparisonError(f"{path}: not valid JSON: {exc}") from None
    return parse_comparison(document, str(path))


def comparison_text(comparison: Comparison) -> str:
    """The document's canonical text: sorted keys, UTF-8, a final newline."""
    document = comparison_document(comparison)
    found = _problems(document, "<comparison>")
    if found:  # we built it: a problem here is our bug, not the user's
        raise ValueError("; ".join(found))
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def dump_comparison(comparison: Comparison, path: str | os.PathLike[str]) -> Path:
    """Write ``comparison`` as a document to ``path`` (atomically, replacing it)."""
    target = Path(path)
    text = comparison_text(comparison)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text.encode("utf-8"))
    except OSError as exc:
        raise ComparisonError(f"{target}: cannot write the comparison: {exc.strerror or exc}") from None
    return target
