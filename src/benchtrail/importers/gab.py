"""github-action-benchmark's custom JSON (``customSmallerIsBetter`` and
``customBiggerIsBetter``) into one record per file.

The file is a list of ``{name, unit, value, range?, extra?}``; each item becomes a
benchmark with one single-value metric ``value`` in its unit, lower (smaller) or higher
(bigger) is better. ``range`` and ``extra`` are free text for the tooltip with no fixed
meaning, so they are not kept. How many calls made a value is not known: ``calls`` is 0.
The file holds no commit, machine or time: those blocks say "unknown" as for hyperfine.
``bench_entry`` is shared with the ``data.js`` history importer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchtrail.importers.base import (
    Context,
    Importer,
    benchmark,
    benchmark_name,
    environment,
    record,
    run,
    single,
    source,
    unique,
)
from benchtrail.importers.reader import Bad, Node, Problems, load_json

__all__ = ["BIGGER", "SMALLER", "bench_entry", "benches"]

#: What a bench without a unit is measured in (the schema needs a non-empty unit).
NO_UNIT = "unitless"


def bench_entry(node: Node, direction: str, target: str) -> dict[str, Any]:
    """One ``{name, unit, value, ...}`` item as a benchmark entry."""
    # github-action-benchmark stores what it was given: values arrive as "31" too
    value = node.get("value").number(numeric_text=True)
    unit_node = node.opt("unit")
    unit = unit_node.text().strip() if unit_node is not None else ""
    warnings = [] if unit else [f"github-action-benchmark gave no unit: {NO_UNIT!r} is used"]
    return benchmark(
        benchmark_name(node.get("name")),
        target=target,
        metrics={"value": single(unit or NO_UNIT, direction, value)},
        calls=0,
        warnings=warnings,
    )


def benches(problems: Problems, node: Node, direction: str, target: str) -> list[dict[str, Any]]:
    """Every item of the list ``node`` as a benchmark entry; problems go to ``problems``."""
    items = node.items()
    if not items:
        raise node.fail("expected at least one benchmark")
    converted = problems.each(items, lambda item: (item, bench_entry(item, direction, target)))
    return unique(problems, converted)


def _reader(tool: str, direction: str) -> Any:
    def read(path: Path, context: Context) -> list[dict[str, Any]]:
        doc = load_json(path)
        problems = Problems(str(path))
        entries: list[dict[str, Any]] = []
        try:
            entries = benches(problems, doc, direction, f"github-action-benchmark {tool}")
        except Bad as bad:
            problems.add(bad)
        problems.check()
        return [record(context, source_block=source(None), environment_block=environment(context),
                       run_block=run(None), benchmarks=entries)]

    read.__doc__ = f"The one record of a github-action-benchmark {tool} JSON file."
    return read


SMALLER = Importer("gab-smaller", "github-action-benchmark customSmallerIsBetter JSON",
                   _reader("customSmallerIsBetter", "lower"))
BIGGER = Importer("gab-bigger", "github-action-benchmark customBiggerIsBetter JSON",
                  _reader("customBiggerIsBetter", "higher"))
