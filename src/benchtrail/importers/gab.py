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

from collections.abc import Callable
from pathlib import Path

from benchtrail.importers.base import Context, Importer, benchmark, each_benchmark, record, single
from benchtrail.importers.reader import Node, Problems, load_json
from benchtrail.results.model import Benchmark, Record

__all__ = ["BIGGER", "SMALLER", "bench_entry", "benches"]

#: What a bench without a unit is measured in (the schema needs a non-empty unit).
NO_UNIT = "unitless"


def bench_entry(node: Node, direction: str, target: str) -> Benchmark:
    """One ``{name, unit, value, ...}`` item as a benchmark entry."""
    # github-action-benchmark stores what it was given: values arrive as "31" too
    value = node.get("value").number(numeric_text=True)
    unit_node = node.opt("unit")
    unit = unit_node.text().strip() if unit_node is not None else ""
    warnings = [] if unit else [f"github-action-benchmark gave no unit: {NO_UNIT!r} is used"]
    return benchmark(
        node.get("name"),
        target=target,
        metrics={"value": single(unit or NO_UNIT, direction, value)},
        calls=0,
        warnings=warnings,
    )


def benches(problems: Problems, array: Callable[[], Node], direction: str, target: str) -> list[Benchmark]:
    """Every item of the list ``array()`` as a benchmark entry; problems go to ``problems``."""
    benchmarks, _ = each_benchmark(problems, array, "benchmark",
                                   lambda item: (bench_entry(item, direction, target), None))
    return benchmarks


def _reader(tool: str, direction: str) -> Callable[[Path, Context], list[Record]]:
    def read(path: Path, context: Context) -> list[Record]:
        doc = load_json(path)
        problems = Problems(str(path))
        benchmarks = benches(problems, lambda: doc, direction, f"github-action-benchmark {tool}")
        problems.check()
        return [record(context, benchmarks)]

    read.__doc__ = f"The one record of a github-action-benchmark {tool} JSON file."
    return read


SMALLER = Importer("gab-smaller", _reader("customSmallerIsBetter", "lower"))
BIGGER = Importer("gab-bigger", _reader("customBiggerIsBetter", "higher"))
