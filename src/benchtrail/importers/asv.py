"""An asv ``results/`` folder (result format version 2) into one record per result file.

The folder holds ``benchmarks.json`` and one folder per machine with ``machine.json``
and ``<commit8>-<env>.json`` files; a single machine folder may be given too. A result
file maps each benchmark to a row of the columns ``result_columns`` names (``result``,
``params``, ``samples``, ``stats_number``, ...). A parameterized benchmark has one
result per combination of its parameter values (``itertools.product`` of ``params``,
written as Python reprs), and each combination becomes a benchmark with named params
(``param_names`` from ``benchmarks.json``, else ``param1``, ``param2``, ...).

The metric follows the benchmark type (``benchmarks.json``, else the name prefix):
``time_``: ``latency_ms``; ``mem_``: ``memory_bytes``; ``peakmem_``: ``peak_rss_mb``;
``track_``: ``value`` in the benchmark's unit. All are lower-is-better, as asv assumes.
With recorded samples (``asv run --record-samples``) the metric is a distribution of
them, else asv's result (the median) as a single value. A null result (the benchmark
failed) counts one error, NaN (skipped) is kept with a warning; both have no metrics.
The record keeps ``commit_hash`` and ``date`` (the commit's time); ``run.started_at`` is
the earliest benchmark start, or the commit time when the file does not say.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from pathlib import Path
from typing import Any

from benchtrail.errors import ImportFormatError
from benchtrail.importers.base import (
    Context,
    Importer,
    benchmark,
    distribution,
    environment,
    from_epoch_ms,
    record,
    single,
    source,
    unique,
)
from benchtrail.importers.reader import Bad, Node, Problems, limit, load_json
from benchtrail.results.model import Benchmark, Metric, Record

__all__ = ["IMPORTER", "machine_facts", "param_value", "read"]

log = logging.getLogger(__name__)

_RESULT_VERSION = 2
#: benchmark type -> (metric name, unit, factor from asv's unit)
_METRICS = {
    "time": ("latency_ms", "ms", 1000.0),
    "memory": ("memory_bytes", "bytes", 1.0),
    "peakmemory": ("peak_rss_mb", "MB", 1.0 / 2**20),
}
#: name prefix -> benchmark type, as asv_runner names them in benchmarks.json
_PREFIXES = (("timeraw_", "time"), ("time_", "time"), ("peakmem_", "peakmemory"),
             ("mem_", "memory"), ("track_", "track"))
_INT = re.compile(r"[-+]?\d{1,15}", re.ASCII)
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?", re.ASCII)


def param_value(text: str) -> str | int | float | bool:
    """An asv parameter value (its Python repr) as a JSON scalar: ``"'x'"`` -> ``"x"``,
    ``"10"`` -> 10, ``"True"`` -> True; anything else stays the repr text."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    if text in ("True", "False"):
        return text == "True"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _kind(name: str, info: dict[str, Any]) -> tuple[str, str | None]:
    """The benchmark type and, for ``track``, its unit."""
    kind, unit = info.get("type"), info.get("unit")
    if not isinstance(kind, str):
        last = name.rsplit(".", 1)[-1]
        kind = next((k for prefix, k in _PREFIXES if last.startswith(prefix)), "track")
    return kind, unit if isinstance(unit, str) and unit.strip() else None


def _metric(kind: str, unit: str | None, value: float, samples: list[float] | None) -> dict[str, Metric]:
    name, shown_unit, factor = _METRICS.get(kind, ("value", unit or "unitless", 1.0))
    if samples:
        return {name: distribution(samples, factor, shown_unit, "lower")}
    return {name: single(shown_unit, "lower", value * factor)}


def _column(row: dict[str, Node], key: str, index: int, count: int) -> Node | None:
    """Combination ``index`` of a per-combination column, or None when not recorded."""
    column = row.get(key)
    if column is None or column.value is None:
        return None
    items = column.items()
    if len(items) != count:
        raise column.expected(f"{count} values, one per parameter combination")
    return items[index] if items[index].value is not None else None


def _benchmarks(name: str, node: Node, columns: list[str], info: dict[str, Any],
                env_name: str) -> tuple[list[tuple[Node, Benchmark]], list[float], float]:
    """The entries of one benchmark (one per parameter combination) with the node they
    come from, its start time (ms, when recorded) and its duration (s)."""
    row = dict(zip(columns, node.items()))
    if "result" not in row:
        raise node.fail("missing the result column")
    grid = [[value.text() for value in values.items()] for values in row["params"].items()] \
        if "params" in row else []
    names = info.get("param_names")
    if not (isinstance(names, list) and len(names) == len(grid)
            and all(isinstance(n, str) and n for n in names)):
        names = [f"param{k}" for k in range(1, len(grid) + 1)]
    combos = list(itertools.product(*grid))
    results = row["result"].items() if row["result"].value is not None else [None] * len(combos)
    if len(results) != len(combos):
        raise row["result"].expected(f"{len(combos)} results, one per parameter combination")
    kind, unit = _kind(name, info)
    entries = []
    for index, (combo, result) in enumerate(zip(combos, results)):
        warnings: list[str] = []
        metrics: dict[str, Metric] = {}
        errors = 0
        samples_node = _column(row, "samples", index, len(combos))
        samples = [s.number() for s in samples_node.items()] if samples_node is not None else None
        number = _column(row, "stats_number", index, len(combos))
        repeat = _column(row, "stats_repeat", index, len(combos))
        calls = (number.integer(minimum=0) * repeat.integer(minimum=0)
                 if number is not None and repeat is not None else len(samples or ()))
        if result is None or result.value is None:
            errors, calls = 1, max(calls, 1)
            warnings.append("asv: the benchmark failed: no result")
        elif isinstance(result.value, float) and math.isnan(result.value):
            warnings.append("asv: the benchmark was skipped: NaN result")
        else:
            metrics = _metric(kind, unit, result.number(), samples)
        entries.append((node, benchmark(
            Node(name, node.path),
            target=f"asv: {name} ({env_name})",
            params={key: param_value(value) for key, value in zip(names, combo)},
            metrics=metrics, calls=calls, errors=errors, iterations=calls, warnings=warnings,
        )))
    starts = []
    if row.get("started_at") is not None and row["started_at"].value is not None:
        from_epoch_ms(row["started_at"])  # refuses a time out of range here, at its path
        starts.append(row["started_at"].number())
    spent = row["duration"].number(minimum=0) if row.get("duration") and \
        row["duration"].value is not None else 0.0
    return entries, starts, spent


def machine_facts(machine: Node) -> dict[str, Any]:
    """What ``machine.json`` tells of the hardware, as ``environment`` arguments."""
    def text(key: str) -> str | None:
        # machine.json holds what a person typed in: anything but text is left out
        node = machine.opt(key)
        return node.text() if node is not None and isinstance(node.value, str) else None

    count = re.match(r"\s*(\d{1,6})", text("num_cpu") or "")
    platform = " ".join(part for part in (text("os"), text("arch")) if part)
    return {"cpu_model": text("cpu"), "cpu_count": int(count.group(1)) if count else None,
            "platform": platform or None, "label": text("machine")}


def _current(rows: list[tuple[str, Node]], columns: list[str],
             info: dict[str, Any]) -> tuple[list[tuple[str, Node]], int]:
    """The rows measured with the benchmark version that ``benchmarks.json`` lists (all of
    them without one), and how many were of another version: asv hides those, and a
    changed benchmark must not join the old one's series."""
    if "version" not in columns:
        return rows, 0
    at = columns.index("version")
    kept = []
    for name, node in rows:
        current = info.get(name, {}).get("version")
        row = node.value
        if current is None or not isinstance(row, list) or at >= len(row) or row[at] in (None, current):
            kept.append((name, node))  # a malformed row is left for the reader to name
    return kept, len(rows) - len(kept)


def _record(path: Path, machine: dict[str, Any], infos: dict[str, Any],
            context: Context) -> tuple[Record, int]:
    """The record of one result file, and how many of its benchmarks were of a version
    that ``benchmarks.json`` no longer lists (left out)."""
    doc = load_json(path)
    problems = Problems(str(path))
    try:
        version = doc.get("version")
        if version.value != _RESULT_VERSION:
            raise version.expected(f"{_RESULT_VERSION} (asv's result format; `asv update` "
                                   "upgrades older results)")
        commit = doc.get("commit_hash").text()
        commit_time = from_epoch_ms(doc.get("date"))
        env_name = doc.get("env_name").text()
        python = doc.opt("python")
        columns = [column.text() for column in doc.get("result_columns").items()]
        rows = list(doc.get("results").fields())
        if not rows:
            raise doc.get("results").fail("expected at least one benchmark")
        requirements = doc.opt("requirements")
        packages = {} if requirements is None else {
            key: value.value for key, value in requirements.fields()
            if isinstance(value.value, str) and value.value}
        env = environment(context, python=python.text() if python else None, packages=packages,
                          env=env_name, **machine)
    except Bad as bad:
        problems.add(bad)
        problems.check()
    info = {name: value for name, value in infos.items() if isinstance(value, dict)}
    rows, stale = _current(rows, columns, info)
    if not rows:
        problems.add(doc.get("results").fail("expected at least one benchmark of a version benchmarks.json lists"))
        problems.check()
    names = {node.path: name for name, node in rows}
    converted = problems.each(
        [node for _, node in rows],
        lambda node: _benchmarks(names[node.path], node, columns, info.get(names[node.path], {}),
                                 env_name))
    entries = unique(problems, [pair for found, _, _ in converted for pair in found])
    problems.check()
    starts = [start for _, found, _ in converted for start in found]
    started = from_epoch_ms(Node(min(starts))) if starts else commit_time
    made = record(context, entries, source_block=source(commit, time=commit_time), environment_block=env,
                  started_at=started, duration_s=sum(spent for _, _, spent in converted), timer="asv")
    return made, stale


def read(path: Path, context: Context) -> list[Record]:
    """One record per result file in an asv results folder (or one machine folder)."""
    if (path / "machine.json").is_file():
        machines, infos_path = [path], path.parent / "benchmarks.json"
    elif path.is_dir():
        machines = sorted(p for p in path.iterdir() if (p / "machine.json").is_file())
        infos_path = path / "benchmarks.json"
    else:
        raise ImportFormatError(f"{path}: expected an asv results folder")
    if not machines:
        raise ImportFormatError(f"{path}: no asv machine folder (<machine>/machine.json) in it")
    infos = load_json(infos_path).value if infos_path.is_file() else {}
    infos = infos if isinstance(infos, dict) else {}
    records: list[Record] = []
    lines: list[str] = []
    stale = 0
    for folder in machines:
        try:
            machine = machine_facts(load_json(folder / "machine.json"))
        except Bad as bad:
            lines.append(f"{folder / 'machine.json'}: {bad.path}: {bad.message}")
            continue
        except ImportFormatError as exc:
            lines.extend(exc.problems)
            continue
        for result in sorted(folder.glob("*.json")):
            if result.name in ("machine.json", "benchmarks.json"):
                continue
            try:
                made, left_out = _record(result, machine, infos, context)
            except ImportFormatError as exc:
                lines.extend(exc.problems)
                continue
            records.append(made)
            stale += left_out
    if lines:
        raise ImportFormatError(*limit(lines))
    if not records:
        raise ImportFormatError(f"{path}: no asv result files in it")
    if stale:
        log.warning("%s: %d benchmark result(s) of a version that benchmarks.json no longer lists were left out "
                    "(asv hides them too)", path, stale)
    return records


IMPORTER = Importer("asv", read)
