"""The suite file: a TOML description of what to benchmark, checked and expanded.

The parsed file is checked against ``schemas/suite-1.schema.json`` through the same
formatter as records, then here for what one field cannot say alone (exactly one of target
or url, iterations or duration_s, a url that parses and holds no password, ``${VAR}`` in
headers, datasets that exist, an open loop's schedule, labels that repeat, the number of
benchmarks). Every problem is reported at once, one line each naming the
file and the field (``suite.toml: benchmark[2].dataset: file not found: data/x.npy``). A
list value for ``batch_size``, ``concurrency`` or ``rate`` makes one benchmark per value.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import string
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchtrail.bench.openai_requests import OWN_FIELDS
from benchtrail.errors import SuiteError
from benchtrail.results.model import benchmark_label
from benchtrail.results.schema import schema_document
from benchtrail.results.validation import (
    Problem,
    field_path,
    format_problems,
    load_schema,
    make_validator,
    schema_problems,
    shorten,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_SUITE", "KINDS", "BenchmarkSpec", "Suite", "load_suite"]

#: Where a project keeps its suite, and what ``benchtrail run`` runs when given none.
DEFAULT_SUITE = "bench/suite.toml"

# Keys a benchmark may set, with the built-in defaults; the suite table may set them too.
_DEFAULTS: dict[str, Any] = {
    "warmup": 10,
    "iterations": None,
    "duration_s": None,
    "runs": 1,
    "concurrency": 1,
    "timeout_s": 30.0,
}
_SWEEPS = ("batch_size", "concurrency", "rate")
#: the kinds of benchmark, and the keys that only some of them take
KINDS = ("callable", "http", "openai", "kserve-v2")
_ENDPOINT_KINDS = ("http", "openai", "kserve-v2")
_ONLY: dict[str, tuple[str, ...]] = {
    "setup": ("callable",),
    "method": ("http",),
    "body": ("http",),
    "headers": _ENDPOINT_KINDS,
    "rate": _ENDPOINT_KINDS,
    "requests": _ENDPOINT_KINDS,
    "model": ("openai", "kserve-v2"),
    "api_key_env": ("openai", "kserve-v2"),
    "ready_timeout_s": ("openai", "kserve-v2"),
    "model_version": ("kserve-v2",),
    "inputs": ("kserve-v2",),
    "outputs": ("kserve-v2",),
    "max_tokens": ("openai",),
    "sampling": ("openai",),
    "slo": ("openai",),
}
_DEFAULT_ITERATIONS = 100
# Each benchmark costs at least one worker process per run, a line in the summary and in
# the merge request note: a sweep that makes more is a mistake, not a plan.
_MAX_BENCHMARKS = 1000
# user[:password]@ before the host (what urlsplit takes as the netloc's user info)
_USERINFO = re.compile(r"^[^:/?#]*://[^/?#]*@")


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark with every setting resolved: what a worker process measures."""

    name: str
    params: dict[str, Any]
    kind: str  # one of KINDS
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
    #: openai, kserve-v2: the served model (and its version), the API key's variable, readiness
    model: str | None = None
    model_version: str | None = None
    api_key_env: str | None = None
    ready_timeout_s: float = 60.0
    #: kserve-v2: input tensors ({name, datatype?, shape?}) and the outputs asked for
    inputs: tuple[dict[str, Any], ...] = ()
    outputs: tuple[str, ...] = ()
    #: openai: output tokens of rows without their own, more request fields, latency objectives (ms)
    max_tokens: int | None = None
    sampling: dict[str, Any] = field(default_factory=dict)
    slo: dict[str, float] = field(default_factory=dict)

    @property
    def endpoint(self) -> bool:
        """Whether this benchmark sends requests to a server (every kind but ``callable``)."""
        return self.kind != "callable"

    @property
    def label(self) -> str:
        """``name[key=value,...]``: how people see this benchmark."""
        return benchmark_label(self.name, self.params)

    @property
    def field_prefix(self) -> str:
        return f"{Path(self.suite_file).name}: benchmark[{self.index}]"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    benchmarks: tuple[BenchmarkSpec, ...]
    description: str = ""


def load_suite(path: str | Path, *, runs: int | None = None) -> Suite:
    """Read, check and expand the suite file at ``path``; ``runs`` overrides the file."""
    path = Path(path)
    data = _read(path)
    found = schema_problems(_validator(), data)
    most_runs = _maximum("runs")
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= most_runs):
        found.append((("runs",), f"the override expects a whole number from 1 to {most_runs}, found {shorten(runs)}"))
        runs = None
    table = data.get("suite") if isinstance(data.get("suite"), dict) else {}
    if "iterations" in table and "duration_s" in table:
        found.append((("suite", "iterations"), "give either iterations or duration_s, not both"))
    entries = data.get("benchmark") if isinstance(data.get("benchmark"), list) else []
    for index, raw in enumerate(entries):
        if isinstance(raw, dict):
            found += list(_cross_problems(raw, ("benchmark", index), path, found))

    # Expand what is right, so that a repeated label is found along with other problems.
    defaults = {key: table[key] for key in _DEFAULTS if key in table and _clean(found, ("suite", key))}
    clean = [(index, raw) for index, raw in enumerate(entries) if _clean(found, ("benchmark", index))]
    count = sum(_combinations(raw, defaults) for _, raw in clean)
    if count > _MAX_BENCHMARKS:  # counted before they are made: sweeps multiply to millions
        found.append((("benchmark",), f"expected at most {_MAX_BENCHMARKS} benchmarks, the sweeps make {count}"))
        clean = []
    specs = [spec for index, raw in clean for spec in _expand(raw, index, defaults, path, runs)]
    found += list(_spec_problems(specs))
    if found:
        raise SuiteError(*format_problems(found, source=path.name, render=field_path))
    return Suite(name=table["name"], path=path.resolve(), benchmarks=tuple(specs),
                 description=table.get("description", ""))


def _read(path: Path) -> dict[str, Any]:
    """The parsed TOML of the file at ``path``; one problem ends the reading."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"{path}: suite file not found") from None
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path}: not UTF-8 text: byte {exc.start}: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise SuiteError(f"{path}: cannot read suite file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path.name}: not valid TOML: {exc}") from None


@cache
def _schema() -> dict[str, Any]:
    return load_schema("benchtrail.bench", "suite-1.schema.json")


@cache
def _validator() -> Any:
    """The suite schema's validator; a suite name follows the record schema's slug rule."""
    return make_validator(_schema(), references=[schema_document(1)], strict=True)


def _maximum(definition: str) -> int:
    """The schema's ``maximum`` of one of its ``$defs``: each limit has one home."""
    return int(_schema()["$defs"][definition]["maximum"])


def _clean(found: list[Problem], where: tuple[Any, ...]) -> bool:
    """Whether no problem was found at ``where`` or inside it."""
    return not any(path[: len(where)] == where for path, _ in found)


def _kind(raw: dict[str, Any]) -> str:
    """The benchmark's kind: as given, else ``callable`` with a target and ``http`` with a url."""
    given = raw.get("kind")
    if isinstance(given, str) and given in KINDS:
        return given
    return "http" if "url" in raw and "target" not in raw else "callable"


def _cross_problems(raw: dict[str, Any], where: tuple[Any, ...], path: Path,
                    found: list[Problem]) -> Iterator[Problem]:
    """What the schema cannot say about one benchmark; fields it refused are skipped."""
    kind = _kind(raw)
    endpoint = kind in _ENDPOINT_KINDS
    if "kind" in raw and kind == "callable" and "url" in raw:
        yield (*where, "kind"), "kind 'callable' measures a 'target' (module:function), not a 'url'"
    elif "kind" in raw and endpoint and "target" in raw:
        yield (*where, "kind"), f"kind {kind!r} measures a 'url', not a 'target'"
    elif ("target" in raw) == ("url" in raw):
        yield where, "give exactly one of 'target' (module:function) or 'url'"
    for key, kinds in _ONLY.items():
        if key in raw and kind not in kinds:
            yield (*where, key), (f"applies only where kind is {' or '.join(repr(k) for k in kinds)}; "
                                  f"this benchmark's kind is {kind!r}")
    if kind in ("openai", "kserve-v2") and "model" not in raw:
        yield (*where, "model"), f"kind {kind!r} needs the model's name"
    if kind == "openai" and "dataset" not in raw:
        yield (*where, "dataset"), "kind 'openai' reads its prompts from a .jsonl dataset"
    elif kind == "kserve-v2" and "dataset" not in raw:
        yield (*where, "dataset"), "kind 'kserve-v2' fills its input tensors from a dataset (.npy, .jsonl or .csv)"
    elif kind == "openai" and isinstance(raw.get("dataset"), str) and not raw["dataset"].endswith(".jsonl"):
        yield (*where, "dataset"), f"kind 'openai' reads a .jsonl dataset, found {shorten(raw['dataset'])}"
    if kind == "openai" and isinstance(raw.get("sampling"), dict):
        for key in OWN_FIELDS:
            if key in raw["sampling"]:
                yield (*where, "sampling", key), "benchtrail sets this request field itself"
    if kind == "openai" and "batch_size" in raw:
        yield (*where, "batch_size"), "kind 'openai' sends one prompt per request"
    if isinstance(raw.get("api_key_env"), str) and not os.environ.get(raw["api_key_env"], "").strip():
        yield (*where, "api_key_env"), f"environment variable {raw['api_key_env']} is not set (or empty)"
    for first, second in (("iterations", "duration_s"), ("requests", "duration_s"), ("iterations", "requests")):
        if first in raw and second in raw:
            yield (*where, first), f"give either {first} or {second}, not both"
    if endpoint and _clean(found, (*where, "url")) and "url" in raw:
        yield from _url_problems(raw["url"], (*where, "url"))
    if kind == "openai" and _clean(found, (*where, "url")) and "url" in raw and not urlsplit(
            raw["url"]).path.rstrip("/").endswith(("/chat/completions", "/completions")):
        yield (*where, "url"), "kind 'openai' expects a url ending in /v1/chat/completions or /v1/completions"
    if endpoint and _clean(found, (*where, "headers")):
        yield from _header_problems(raw.get("headers", {}), (*where, "headers"))
    if "dataset" in raw and _clean(found, (*where, "dataset")):
        try:
            exists = (path.parent / raw["dataset"]).resolve().is_file()
        except (OSError, ValueError) as exc:
            yield (*where, "dataset"), f"cannot use {raw['dataset']}: {getattr(exc, 'strerror', None) or exc}"
        else:
            if not exists:
                yield (*where, "dataset"), f"file not found: {raw['dataset']}"


def _url_problems(url: str, where: tuple[Any, ...]) -> Iterator[Problem]:
    """A URL that is not http(s), or that holds a user or password: a secret in the suite
    file, which aiohttp also refuses beside an ``Authorization`` header. Never shown."""
    if _USERINFO.match(url):
        yield where, ('expected a URL without user or password: send them in headers, e.g. '
                      'Authorization = "Basic ${CREDENTIALS}", filled in from the environment')
    elif not _is_http_url(url):
        yield where, f"expected an http:// or https:// URL, found {shorten(url)}"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return (parts.scheme in ("http", "https") and bool(parts.hostname)
                and (parts.port is None or parts.port > 0)
                and not any(char.isspace() or ord(char) < 32 for char in url))
    except ValueError:  # a bad IPv6 literal or port
        return False


def _header_problems(headers: dict[str, str], where: tuple[Any, ...]) -> Iterator[Problem]:
    """``${VAR}`` references that cannot be filled in, or fill in a line break."""
    for name, value in headers.items():
        try:
            filled = string.Template(value).substitute(os.environ)
        except KeyError as exc:
            yield (*where, name), f"environment variable {exc.args[0]} is not set"
        except ValueError as exc:
            yield (*where, name), f"bad ${{VAR}} reference: {exc}"
        else:  # the filled-in value may hold a secret: say what is wrong, never show it
            if any(char in filled for char in "\r\n\0"):
                yield (*where, name), "the value (after ${VAR} substitution) contains a line break or NUL"


def _combinations(raw: dict[str, Any], defaults: dict[str, Any]) -> int:
    """How many benchmarks one checked ``[[benchmark]]`` table makes: its sweeps' product."""
    values = (raw.get(key, defaults.get(key)) for key in _SWEEPS)
    return math.prod(len(value) if isinstance(value, list) else 1 for value in values)


def _spec_problems(specs: list[BenchmarkSpec]) -> Iterator[Problem]:
    """Labels that repeat, and open-loop schedules beyond the limits: one line per table."""
    seen: set[str] = set()
    scheduled: set[int] = set()
    for spec in specs:
        if spec.label in seen:
            yield ("benchmark", spec.index, "name"), f"duplicate benchmark {shorten(spec.label)}"
        seen.add(spec.label)
        problem = _schedule_problem(spec)
        if problem and spec.index not in scheduled:
            scheduled.add(spec.index)
            yield ("benchmark", spec.index, "rate"), problem


def _schedule_problem(spec: BenchmarkSpec) -> str | None:
    """An open loop schedules every request up front, for as long as they take at ``rate``:
    the same limits as ``iterations`` and ``duration_s`` hold for it."""
    if spec.rate is None:
        return None
    if spec.duration_s is not None:
        requests, most = spec.rate * spec.duration_s, _maximum("iterations")
        if requests > most:
            return (f"{spec.rate:g} requests/s for {spec.duration_s:g} s make {requests:.0f} requests, "
                    f"more than the {most} a run may send (lower rate or duration_s)")
        return None
    calls = spec.iterations or _DEFAULT_ITERATIONS
    seconds, longest = calls / spec.rate, _maximum("seconds")
    if seconds > longest:
        return (f"{calls} requests at {spec.rate:g}/s take {seconds:.3g} s, more than the "
                f"{longest} s a run may last (raise rate or lower iterations)")
    return None


def _expand(raw: dict[str, Any], index: int, defaults: dict[str, Any], path: Path,
            runs: int | None) -> Iterator[BenchmarkSpec]:
    """The benchmarks of one checked ``[[benchmark]]`` table, one per sweep combination."""
    settings = {**_DEFAULTS, **defaults, **{key: raw[key] for key in (*_DEFAULTS, *_SWEEPS) if key in raw}}
    if "requests" in raw:
        raw = {**raw, "iterations": raw["requests"]}
        settings["iterations"] = raw["requests"]
    if runs is not None:
        settings["runs"] = runs
    # The benchmark's own iterations or duration_s wins over the suite's.
    if "duration_s" in raw or ("iterations" not in raw and "duration_s" in defaults):
        iterations, duration_s = None, float(settings["duration_s"])
    else:
        iterations, duration_s = settings["iterations"] or _DEFAULT_ITERATIONS, None
    sweeps = {key: settings[key] if isinstance(settings[key], list) else [settings[key]]
              for key in _SWEEPS if key in raw or key in defaults}
    if "rate" in sweeps:  # 25 and 25.0 name the same series
        sweeps["rate"] = [float(rate) for rate in sweeps["rate"]]
    kind = _kind(raw)
    for combination in itertools.product(*sweeps.values()):
        params = dict(zip(sweeps, combination))
        yield BenchmarkSpec(
            name=raw["name"],
            params=params,
            kind=kind,
            index=index,
            suite_file=str(path.resolve()),
            target=raw.get("target"),
            setup=raw.get("setup"),
            url=raw.get("url"),
            method=raw.get("method", "POST").upper(),
            headers=dict(raw.get("headers", {})),
            body=raw.get("body"),
            dataset=str((path.parent / raw["dataset"]).resolve()) if "dataset" in raw else None,
            batch_size=params.get("batch_size", 1),
            warmup=settings["warmup"],
            iterations=iterations,
            duration_s=duration_s,
            concurrency=params.get("concurrency", 1),
            rate=params.get("rate"),
            runs=settings["runs"],
            timeout_s=float(settings["timeout_s"]),
            model=raw.get("model"),
            model_version=raw.get("model_version"),
            api_key_env=raw.get("api_key_env"),
            ready_timeout_s=float(raw.get("ready_timeout_s", 60.0)),
            inputs=tuple(dict(entry) for entry in raw.get("inputs", ())),
            outputs=tuple(raw.get("outputs", ())),
            max_tokens=raw.get("max_tokens"),
            sampling=dict(raw.get("sampling", {})),
            slo={key: float(value) for key, value in raw.get("slo", {}).items()},
        )
