"""hyperfine ``--export-json`` output into one record.

Each ``results[]`` entry becomes a benchmark named by its ``command`` (the ``--command-name``
when one was given), with ``parameters`` as params, and:

- ``latency_ms``: the distribution of the wall-clock ``times`` of every run, computed
  from all of them as ``benchtrail run`` does;
- ``user_ms`` and ``system_ms``: hyperfine's mean user and system CPU time per run.

A run that exited non-zero (kept only under ``--ignore-failure``) counts as an error.
hyperfine records neither the commit nor the machine nor the time it ran: the source
block is empty, the hardware "unknown" and ``run.started_at`` the fixed
1970-01-01T00:00:00Z, so that the same file always gives the same record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchtrail.importers.base import Context, Importer, benchmark, distribution, each_benchmark, record, single
from benchtrail.importers.reader import Node, Problems, load_json
from benchtrail.results.model import Benchmark, Record

__all__ = ["IMPORTER", "read"]

_MS = 1000.0


def _benchmark(node: Node) -> tuple[Benchmark, float]:
    """The entry and the seconds its runs took."""
    command = node.get("command")
    times = [item.number(minimum=0) for item in node.get("times").items()]
    if not times:
        raise node.get("times").fail("expected at least one run")
    metrics = {"latency_ms": distribution(times, _MS, "ms", "lower")}
    for key in ("user", "system"):
        if (cpu := node.opt(key)) is not None:
            metrics[f"{key}_ms"] = single("ms", "lower", cpu.number(minimum=0) * _MS)
    errors = 0
    if (codes := node.opt("exit_codes")) is not None:
        # null: the command was killed by a signal, which is a failed run too
        errors = sum(1 for code in codes.items() if code.value is None or code.integer() != 0)
    params: dict[str, Any] = {}
    if (parameters := node.opt("parameters")) is not None:
        params = {key: value.scalar() for key, value in parameters.fields()}
    warnings = [f"{errors} of {len(times)} runs exited non-zero"] if errors else []
    entry = benchmark(
        command,
        target=f"hyperfine: {command.text()}",
        params=params,
        metrics=metrics,
        calls=len(times),
        errors=errors,
        iterations=len(times),
        warnings=warnings,
    )
    return entry, sum(times)


def read(path: Path, context: Context) -> list[Record]:
    """The one record of a hyperfine JSON export."""
    doc = load_json(path)
    problems = Problems(str(path))
    benchmarks, spent = each_benchmark(problems, lambda: doc.get("results"), "command", _benchmark)
    problems.check()
    return [record(context, benchmarks, duration_s=sum(spent), timer="hyperfine")]


IMPORTER = Importer("hyperfine", read)
