"""The suite file: a TOML description of what to benchmark, checked and expanded.

Every problem in the file is collected and reported at once, each naming the file and
the field (``suite.toml: benchmark[2].dataset: file not found: data/x.npy``). A list
value for ``batch_size``, ``concurrency`` or ``rate`` makes one benchmark per value.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchtrail.bench.fields import (
    BAD,
    Problems,
    check_headers,
    field_key,
    integer,
    not_json,
    number,
    show,
)
from benchtrail.errors import SuiteError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_SUITE", "SLUG", "BenchmarkSpec", "Suite", "load_suite"]

#: Where a project keeps its suite, and what ``benchtrail run`` runs when given none.
DEFAULT_SUITE = "bench/suite.toml"

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


_SUITE_NAME_MAX = 100  # the record schema's limits
_BENCHMARK_NAME_MAX = 200


def load_suite(path: str | Path, *, runs: int | None = None) -> Suite:
    """Read, check and expand the suite file at ``path``; ``runs`` overrides the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found") from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not UTF-8 text: byte {exc.start}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: cannot read suite file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path.name}: not valid TOML: {exc}") from None

    problems = Problems(path)
    for key in sorted(set(data) - {"suite", "benchmark"}):
        problems.add(field_key(key), "unknown table or key (expected [suite] and [[benchmark]])")
    suite_table = data.get("suite")
    name: Any = None
    if suite_table is None:
        problems.add("suite", "missing [suite] table with a name")
        suite_table = {}
    elif not isinstance(suite_table, dict):
        problems.add("suite", f"expected a [suite] table, found {show(suite_table)}")
        suite_table = {}
    else:
        name = suite_table.get("name")
        if not isinstance(name, str) or not SLUG.fullmatch(name):
            problems.add("suite.name", f"expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found {show(name)}")
        elif len(name) > _SUITE_NAME_MAX:
            problems.add("suite.name", f"expected at most {_SUITE_NAME_MAX} characters, found {len(name)}")
    for key in sorted(set(suite_table) - _SUITE_KEYS):
        problems.add(f"suite.{field_key(key)}", "unknown key")
    description = suite_table.get("description", "")
    if not isinstance(description, str):
        problems.add("suite.description", f"expected a string, found {show(description)}")
    defaults = _suite_defaults(suite_table, problems)
    if runs is not None and integer(runs, "runs", None, minimum=1) is BAD:
        problems.add("runs", f"the override expects a whole number >= 1, found {show(runs)}")
        runs = None

    raw_benchmarks = data.get("benchmark")
    if isinstance(raw_benchmarks, dict):
        problems.add("benchmark", "expected [[benchmark]] entries (an array of tables), found one [benchmark] table")
        raw_benchmarks = []
    elif not isinstance(raw_benchmarks, list) or not raw_benchmarks:
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
    return Suite(name=name, path=path.resolve(), benchmarks=tuple(specs), description=description)


def _setting(key: str, value: Any, where: str, problems: Problems) -> Any:
    """A checked value of one of the keys in ``_DEFAULTS``, or ``BAD``."""
    if key == "warmup":
        return integer(value, where, problems, minimum=0)
    if key in ("iterations", "runs"):
        return integer(value, where, problems, minimum=1)
    if key in ("duration_s", "timeout_s"):
        return number(value, where, problems)
    assert key == "concurrency"
    return _sweep(value, where, problems, lambda v, w: integer(v, w, problems, minimum=1))


def _suite_defaults(table: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """The suite-level settings that are right; the wrong ones are reported as suite.KEY."""
    if "iterations" in table and "duration_s" in table:
        problems.add("suite.iterations", "give either iterations or duration_s, not both")
    defaults = {}
    for key in _DEFAULTS:
        if key in table:
            value = _setting(key, table[key], f"suite.{key}", problems)
            if value is not BAD:
                defaults[key] = value
    if "iterations" in table and "duration_s" in table:
        defaults.pop("iterations", None)
        defaults.pop("duration_s", None)
    return defaults


def _benchmarks(
    raw: Any,
    index: int,
    defaults: dict[str, Any],
    path: Path,
    problems: Problems,
    runs_override: int | None,
) -> Iterator[BenchmarkSpec]:
    where = f"benchmark[{index}]"
    if not isinstance(raw, dict):
        problems.add(where, f"expected a table, found {show(raw)}")
        return
    before = len(problems.lines)
    for key in sorted(set(raw) - _BENCHMARK_KEYS):
        problems.add(f"{where}.{field_key(key)}", "unknown key")
    settings: dict[str, Any] = {**_DEFAULTS, **defaults}
    for key in _DEFAULTS:
        if key in raw:
            settings[key] = _setting(key, raw[key], f"{where}.{key}", problems)
    if runs_override is not None:
        settings["runs"] = runs_override

    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{where}.name", f"expected a non-empty string, found {show(name)}")
    elif len(name) > _BENCHMARK_NAME_MAX:
        problems.add(f"{where}.name", f"expected at most {_BENCHMARK_NAME_MAX} characters, found {len(name)}")
    elif any(ord(char) < 32 or 127 <= ord(char) < 160 for char in name):
        problems.add(f"{where}.name", f"expected a name without control characters, found {show(name)}")
    kind = _kind(raw, where, problems)
    dataset = _dataset(raw.get("dataset"), path, where, problems, required=False)
    if "setup" in raw and not (isinstance(raw["setup"], str) and _TARGET.fullmatch(raw["setup"])):
        problems.add(f"{where}.setup", f"expected 'module:function', found {show(raw['setup'])}")
    if kind == "http":
        for key in ("setup",):
            if key in raw:
                problems.add(f"{where}.{key}", "applies to a 'target' benchmark, not to a 'url' one")
        check_headers(raw.get("headers", {}), where, problems)
        method = str(raw.get("method", "POST")).upper()
        if method not in _METHODS:
            problems.add(f"{where}.method", f"expected one of {', '.join(_METHODS)}, found {show(raw.get('method'))}")
        if "body" in raw and (trouble := not_json(raw["body"])):
            problems.add(f"{where}.body", f"expected JSON values only, found {trouble}")
    else:
        for key in ("method", "headers", "body", "rate"):
            if key in raw:
                problems.add(f"{where}.{key}", "applies to a 'url' benchmark, not to a 'target' one")
        method = "POST"

    # The benchmark's own iterations or duration_s wins over the suite's.
    iterations: int | None = None
    duration_s: float | None = None
    if "iterations" in raw and "duration_s" in raw:
        problems.add(f"{where}.iterations", "give either iterations or duration_s, not both")
    elif "duration_s" in raw or ("iterations" not in raw and "duration_s" in defaults):
        duration_s = settings["duration_s"]
    else:
        iterations = settings["iterations"] if settings["iterations"] is not None else _DEFAULT_ITERATIONS

    sweeps: dict[str, list[Any]] = {}
    for key in _SWEEPS:
        if key in raw and key != "concurrency":
            check = (lambda v, w: number(v, w, problems)) if key == "rate" else (
                lambda v, w: integer(v, w, problems, minimum=1))
            settings[key] = _sweep(raw[key], f"{where}.{key}", problems, check)
        if key in raw or key in defaults:
            value = settings[key]
            sweeps[key] = value if isinstance(value, list) else [value]
    if len(problems.lines) > before or any(v is BAD for v in settings.values()):
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
            warmup=settings["warmup"],
            iterations=iterations,
            duration_s=duration_s,
            concurrency=params.get("concurrency", 1),
            rate=params.get("rate"),
            runs=settings["runs"],
            timeout_s=settings["timeout_s"],
        )


def _sweep(value: Any, where: str, problems: Problems, check: Any) -> Any:
    """One value, or a non-empty list of values (one benchmark each), each passing ``check``."""
    if not isinstance(value, list):
        return check(value, where)
    if not value:
        problems.add(where, "expected a value or a non-empty list, found []")
        return BAD
    checked = [check(item, where) for item in value]
    return BAD if any(item is BAD for item in checked) else checked


def _kind(raw: dict[str, Any], where: str, problems: Problems) -> str:
    target, url = raw.get("target"), raw.get("url")
    if (target is None) == (url is None):
        problems.add(where, "give exactly one of 'target' (module:function) or 'url'")
        return "callable"
    if target is not None:
        if not isinstance(target, str) or not _TARGET.fullmatch(target):
            problems.add(f"{where}.target", f"expected 'module:function', found {show(target)}")
        return "callable"
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        ok = (parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
              and (parts.port is None or parts.port > 0)
              and not any(char.isspace() or ord(char) < 32 for char in url))
    except ValueError:  # a bad IPv6 literal or port
        ok = False
    if not ok:
        problems.add(f"{where}.url", f"expected an http:// or https:// URL, found {show(url)}")
    return "http"


def _dataset(value: Any, path: Path, where: str, problems: Problems, required: bool) -> str | None:
    if value is None:
        if required:
            problems.add(f"{where}.dataset", "missing")
        return None
    if not isinstance(value, str) or not value or "\0" in value:
        problems.add(f"{where}.dataset", f"expected a path, found {show(value)}")
        return None
    try:
        dataset = (path.parent / value).resolve()
        is_file = dataset.is_file()
    except (OSError, ValueError) as exc:
        problems.add(f"{where}.dataset", f"cannot use {value}: {getattr(exc, 'strerror', None) or exc}")
        return None
    if dataset.suffix not in _DATASET_SUFFIXES:
        problems.add(f"{where}.dataset", f"expected a {', '.join(_DATASET_SUFFIXES)} file, found {show(value)}")
    elif not is_file:
        problems.add(f"{where}.dataset", f"file not found: {value}")
    return str(dataset)


