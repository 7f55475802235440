"""The suite file: a TOML description of what to benchmark, checked and expanded.

Every problem in the file is collected and reported at once, each naming the file and
the field (``suite.toml: benchmark[2].dataset: file not found: data/x.npy``). A list
value for ``batch_size``, ``concurrency`` or ``rate`` makes one benchmark per value.
"""

from __future__ import annotations

import itertools
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchtrail.errors import SuiteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BenchmarkSpec", "Suite", "load_suite", "SLUG"]

SLUG = re.compile(r"[a-z0-9][a-z0-9._-]*")
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_DATASET_SUFFIXES = (".npy", ".jsonl", ".csv")
_METHODS = ("GET", "POST", "PUT", "PATCH")

# Keys a benchmark may set, with the suite-level defaults they fall back to.
_DEFAULTS: dict[str, Any] = {
    "warmup": 10,
    "iterations": None,
    "duration_s": None,
    "runs": 1,
    "concurrency": 1,
    "timeout_s": 30.0,
}
_SWEEPS = ("batch_size", "concurrency", "rate")
_BENCHMARK_KEYS = frozenset(
    {"name", "target", "setup", "url", "method", "headers", "body", "dataset", "batch_size", "rate"}
    | set(_DEFAULTS)
)
_SUITE_KEYS = frozenset({"name", "description"} | set(_DEFAULTS))
_DEFAULT_ITERATIONS = 100


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark with every setting resolved: what a worker process measures."""

    name: str
    params: dict[str, Any]
    kind: str  # "callable" or "http"
    index: int  # position in the suite file, for messages
    suite_file: str
    target: str | None = None
    setup: str | None = None
    url: str | None = None
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    dataset: str | None = None
    batch_size: int = 1
    warmup: int = 10
    iterations: int | None = _DEFAULT_ITERATIONS
    duration_s: float | None = None
    concurrency: int = 1
    rate: float | None = None
    runs: int = 1
    timeout_s: float = 30.0

    @property
    def label(self) -> str:
        """``name[key=value,...]``: how people see this benchmark."""
        if not self.params:
            return self.name
        inner = ",".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return f"{self.name}[{inner}]"

    @property
    def field_prefix(self) -> str:
        return f"{Path(self.suite_file).name}: benchmark[{self.index}]"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    benchmarks: tuple[BenchmarkSpec, ...]
    description: str = ""


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.path.name}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise SuiteError(*self.lines)


def load_suite(path: str | Path, *, runs: int | None = None) -> Suite:
    """Read, check and expand the suite file at ``path``; ``runs`` overrides the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path.name}: not valid TOML: {exc}") from None

    problems = _Problems(path)
    suite_table = data.get("suite")
    for key in sorted(set(data) - {"suite", "benchmark"}):
        problems.add(key, "unknown table or key (expected [suite] and [[benchmark]])")
    if not isinstance(suite_table, dict):
        problems.add("suite", "missing [suite] table with a name")
        suite_table = {}
    name = suite_table.get("name")
    if not isinstance(name, str) or not SLUG.fullmatch(name):
        problems.add("suite.name", f"expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found {name!r}")
    for key in sorted(set(suite_table) - _SUITE_KEYS):
        problems.add(f"suite.{key}", "unknown key")
    defaults = {key: suite_table[key] for key in _DEFAULTS if key in suite_table}

    raw_benchmarks = data.get("benchmark")
    if not isinstance(raw_benchmarks, list) or not raw_benchmarks:
        problems.add("benchmark", "no [[benchmark]] entries")
        raw_benchmarks = []
    specs: list[BenchmarkSpec] = []
    for index, raw in enumerate(raw_benchmarks):
        specs.extend(_benchmarks(raw, index, defaults, path, problems, runs))
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            problems.add(f"benchmark[{spec.index}].name", f"duplicate benchmark {spec.label!r}")
        seen.add(spec.label)
    problems.raise_if_any()
    assert isinstance(name, str)
    description = suite_table.get("description", "")
    return Suite(name=name, path=path.resolve(), benchmarks=tuple(specs), description=str(description))


def _benchmarks(
    raw: Any,
    index: int,
    defaults: dict[str, Any],
    path: Path,
    problems: _Problems,
    runs_override: int | None,
) -> Iterator[BenchmarkSpec]:
    where = f"benchmark[{index}]"
    if not isinstance(raw, dict):
        problems.add(where, "expected a table")
        return
    before = len(problems.lines)
    for key in sorted(set(raw) - _BENCHMARK_KEYS):
        problems.add(f"{where}.{key}", "unknown key")
    settings = {**_DEFAULTS, **defaults, **raw}
    given = set(defaults) | set(raw)
    if runs_override is not None:
        settings["runs"] = runs_override

    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{where}.name", f"expected a non-empty string, found {name!r}")
    kind = _kind(raw, where, problems)
    dataset = _dataset(raw.get("dataset"), path, where, problems, required=False)
    if "setup" in raw and not (isinstance(raw["setup"], str) and _TARGET.fullmatch(raw["setup"])):
        problems.add(f"{where}.setup", f"expected 'module:function', found {raw['setup']!r}")
    if kind == "http":
        for key in ("setup",):
            if key in raw:
                problems.add(f"{where}.{key}", "applies to a 'target' benchmark, not to a 'url' one")
        _check_headers(raw.get("headers", {}), where, problems)
        method = str(raw.get("method", "POST")).upper()
        if method not in _METHODS:
            problems.add(f"{where}.method", f"expected one of {', '.join(_METHODS)}, found {raw.get('method')!r}")
    else:
        for key in ("method", "headers", "body", "rate"):
            if key in raw:
                problems.add(f"{where}.{key}", "applies to a 'url' benchmark, not to a 'target' one")
        method = "POST"

    counts = {
        "warmup": _integer(settings["warmup"], f"{where}.warmup", problems, minimum=0),
        "runs": _integer(settings["runs"], f"{where}.runs", problems, minimum=1),
    }
    iterations: int | None = None
    duration_s: float | None = None
    if "iterations" in raw and "duration_s" in raw:
        problems.add(f"{where}.iterations", "give either iterations or duration_s, not both")
    elif "duration_s" in raw or ("iterations" not in raw and settings["duration_s"] is not None):
        duration_s = _number(settings["duration_s"], f"{where}.duration_s", problems)
    else:
        iterations = _integer(
            settings["iterations"] or _DEFAULT_ITERATIONS, f"{where}.iterations", problems, minimum=1
        )
    timeout_s = _number(settings["timeout_s"], f"{where}.timeout_s", problems)

    sweeps: dict[str, list[Any]] = {}
    for key in _SWEEPS:
        if key not in given:
            continue
        values = settings[key] if isinstance(settings[key], list) else [settings[key]]
        if not values:
            problems.add(f"{where}.{key}", "empty list")
        for value in values:
            if key == "rate":
                _number(value, f"{where}.rate", problems)
            else:
                _integer(value, f"{where}.{key}", problems, minimum=1)
        sweeps[key] = values
    if len(problems.lines) > before:
        return

    assert isinstance(name, str)
    keys = list(sweeps)
    for combination in itertools.product(*(sweeps[key] for key in keys)):
        params = dict(zip(keys, combination))
        yield BenchmarkSpec(
            name=name,
            params=params,
            kind=kind,
            index=index,
            suite_file=str(path.resolve()),
            target=raw.get("target") if kind == "callable" else None,
            setup=raw.get("setup"),
            url=raw.get("url") if kind == "http" else None,
            method=method,
            headers=dict(raw.get("headers", {})),
            body=raw.get("body"),
            dataset=dataset,
            batch_size=params.get("batch_size", 1),
            warmup=counts["warmup"],
            iterations=iterations,
            duration_s=duration_s,
            concurrency=params.get("concurrency", 1),
            rate=params.get("rate"),
            runs=counts["runs"],
            timeout_s=timeout_s,
        )


def _kind(raw: dict[str, Any], where: str, problems: _Problems) -> str:
    target, url = raw.get("target"), raw.get("url")
    if (target is None) == (url is None):
        problems.add(where, "give exactly one of 'target' (module:function) or 'url'")
        return "callable"
    if target is not None:
        if not isinstance(target, str) or not _TARGET.fullmatch(target):
            problems.add(f"{where}.target", f"expected 'module:function', found {target!r}")
        return "callable"
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.add(f"{where}.url", f"expected an http:// or https:// URL, found {url!r}")
    return "http"


def _dataset(value: Any, path: Path, where: str, problems: _Problems, required: bool) -> str | None:
    if value is None:
        if required:
            problems.add(f"{where}.dataset", "missing")
        return None
    if not isinstance(value, str):
        problems.add(f"{where}.dataset", f"expected a path, found {value!r}")
        return None
    dataset = (path.parent / value).resolve()
    if dataset.suffix not in _DATASET_SUFFIXES:
        problems.add(f"{where}.dataset", f"expected a {', '.join(_DATASET_SUFFIXES)} file, found {value!r}")
    elif not dataset.is_file():
        problems.add(f"{where}.dataset", f"file not found: {value}")
    return str(dataset)


def _check_headers(headers: Any, where: str, problems: _Problems) -> None:
    import os

    if not isinstance(headers, dict):
        problems.add(f"{where}.headers", "expected a table of header = value")
        return
    for header, value in headers.items():
        if not isinstance(value, str):
            problems.add(f"{where}.headers.{header}", f"expected a string, found {value!r}")
            continue
        try:
            string.Template(value).substitute(os.environ)
        except KeyError as exc:
            problems.add(f"{where}.headers.{header}", f"environment variable {exc.args[0]} is not set")
        except ValueError as exc:
            problems.add(f"{where}.headers.{header}", f"bad ${{VAR}} reference: {exc}")


def _integer(value: Any, where: str, problems: _Problems, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(where, f"expected a whole number >= {minimum}, found {value!r}")
        return minimum
    return value


def _number(value: Any, where: str, problems: _Problems) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        problems.add(where, f"expected a number > 0, found {value!r}")
        return 1.0
    return float(value)
