"""The result record's schema: versions, validation and upgrades.

Version history (a published version is frozen; a change is a new schema file plus a
one-step upgrade function registered in ``_UPGRADES``):

- ``benchtrail.result/1`` (benchtrail 0.1): suite, benchmarks with params and metrics
  (single values or distribution summaries with a fixed-quantile sketch and per-run
  headline values), source, environment fingerprint, run.
  Since 0.2 its numbers are bounded (within ±1e300; counts below 2**53): values no
  measurement reaches, which made every later reader of the branch fail.
  Since 0.2 a benchmark's kind may also be ``openai`` or ``kserve-v2``, with optional
  ``error_kinds``, ``client`` and ``tokens``: additions only, so every record written
  before still validates and keeps its digest (a version 2 would have changed every
  record's bytes, and re-recording an old history would have duplicated it); a reader
  older than 0.2 skips such a record with a warning, as it skips any it cannot read.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from benchtrail.errors import RecordError
from benchtrail.results.timestamps import is_rfc3339
from benchtrail.results.validation import (
    Problem,
    format_problems,
    json_path,
    json_type,
    load_schema,
    make_acceptor,
    make_validator,
    schema_problems,
    shorten,
)

__all__ = [
    "CURRENT_VERSION",
    "SCHEMA_ID",
    "SKETCH_QUANTILES",
    "is_unicode",
    "json_path",
    "json_type",
    "problems",
    "schema_document",
    "shorten",
    "suite_name_problem",
    "validate",
    "value_problems",
]

CURRENT_VERSION = 1
SCHEMA_PREFIX = "benchtrail.result/"
SCHEMA_ID = f"{SCHEMA_PREFIX}{CURRENT_VERSION}"

#: The quantiles every distribution keeps as its sketch (frozen with version 1).
SKETCH_QUANTILES: tuple[float, ...] = (
    0.001, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99, 0.999,
)

#: version -> function that turns a record of that version into one of the next.
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_TAG = re.compile(re.escape(SCHEMA_PREFIX) + r"([1-9][0-9]{0,8})", re.ASCII)  # a version, not 5,000 digits
#: words for the record schema's slug pattern (``$defs/slug``), which a suite name follows
_SLUG_TITLE = "lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"


def schema_document(version: int = CURRENT_VERSION) -> dict[str, Any]:
    """The JSON Schema of a record version, as shipped in the package."""
    return load_schema("benchtrail.results", f"result-{version}.schema.json")


def _is_date_time(value: object) -> bool:
    """The ``date-time`` format, which JSON Schema applies to strings only."""
    return not isinstance(value, str) or is_rfc3339(value)


@cache
def _validator(version: int) -> Any:
    return make_validator(schema_document(version), formats={"date-time": _is_date_time})


@cache
def _acceptor(version: int) -> Callable[..., bool]:
    return make_acceptor(schema_document(version), formats={"date-time": _is_date_time})


@cache
def _slug_validator() -> Any:
    # strict: a pattern's "$" ends the text, so "my-suite\n" is no slug (as in the suite file)
    record = schema_document()
    slug = {"$schema": record["$schema"], "$ref": f"{record['$id']}#/$defs/slug", "title": _SLUG_TITLE}
    return make_validator(slug, references=[record], strict=True)


def suite_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a suite name, by the record schema's slug rule, as
    ``expected ..., found ...`` (several problems joined by ``; ``); ``None`` when it is
    good. For names given before any record exists (``--suite``), so that they fail with
    one line up front rather than as a record refused on write."""
    found = format_problems(schema_problems(_slug_validator(), name), render=lambda path: "")
    return "; ".join(found) or None


def _version_of(record: Any) -> int:
    if not isinstance(record, dict):
        raise RecordError(f"$: expected a JSON object, found {json_type(record)}")
    if "schema" not in record:
        raise RecordError("$.schema: missing: this is not a benchtrail result record")
    tag = record["schema"]
    match = _TAG.fullmatch(tag) if isinstance(tag, str) else None
    if match is None:
        raise RecordError(f"$.schema: expected {json.dumps(SCHEMA_ID)}, found {shorten(tag)}")
    version = int(match.group(1))
    if version > CURRENT_VERSION:
        raise RecordError(
            f"$.schema: {shorten(tag)} is newer than this benchtrail reads ({SCHEMA_ID}): "
            "upgrade benchtrail"
        )
    return version


def is_unicode(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (JSON's ``"\\ud800"`` escape gives one that does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" escape
        return False
    return True


def _value_problems(record: Any) -> list[Problem]:
    """What JSON Schema cannot see: NaN and infinities, and text that is not Unicode."""
    found: list[Problem] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), record)]
    while stack:  # no recursion: a record nested a thousand deep is refused, not a crash
        path, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append((path, f"expected a finite number, found {value}"))
        elif isinstance(value, str) and not is_unicode(value):
            found.append((path, "expected Unicode text, found a lone surrogate"))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not is_unicode(key):
                    found.append((path, "expected Unicode text in a key, found a lone surrogate"))
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return found


def value_problems(record: Any) -> list[str]:
    """``$.path: message`` lines for what JSON Schema cannot see (non-finite numbers,
    lone surrogates): the checks a record must also pass before it is written."""
    return [f"{json_path(path)}: {message}" for path, message in _value_problems(record)]


def problems(record: Any, *, json_safe: bool = False) -> list[str]:
    """Every problem of ``record`` against its schema, as ``$.json.path: message`` lines;
    ``json_safe``: parsed from JSON text known to hold no NaN, infinity or lone surrogate."""
    try:
        version = _version_of(record)
    except RecordError as exc:
        return list(exc.problems)
    if _acceptor(version)(record, json_safe=json_safe):  # it refuses what _value_problems finds, too
        return []
    values = _value_problems(record)
    seen = {path for path, _ in values}  # an infinity is also beyond the bounds: say it once
    return format_problems(values + [problem for problem in schema_problems(_validator(version), record)
                                     if problem[0] not in seen])


def validate(record: Any, source: str = "<record>", *, json_safe: bool = False) -> dict[str, Any]:
    """Check ``record`` and return it at the current version; raise ``RecordError`` naming
    ``source`` and every problem otherwise (``json_safe`` as for ``problems``)."""
    found = problems(record, json_safe=json_safe)
    if found:
        raise RecordError(*(f"{source}: {line}" for line in found))
    version = _version_of(record)
    while version < CURRENT_VERSION:
        record = _UPGRADES[version](record)
        version += 1
    return record
