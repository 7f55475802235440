"""The result record's schema: versions, validation and upgrades.

Version history (a published version is frozen; a change is a new schema file plus a
one-step upgrade function registered in ``_UPGRADES``):

- ``benchtrail.result/1`` (benchtrail 0.1): suite, benchmarks with params and metrics
  (single values or distribution summaries with a fixed-quantile sketch and per-run
  headline values), source, environment fingerprint, run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from benchtrail.errors import RecordError

__all__ = [
    "CURRENT_VERSION",
    "SCHEMA_ID",
    "SKETCH_QUANTILES",
    "problems",
    "schema_document",
    "is_unicode",
    "json_path",
    "json_type",
    "shorten",
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

_MAX_VALUE_CHARS = 60
_MAX_MESSAGE_CHARS = 200
_TAG = re.compile(re.escape(SCHEMA_PREFIX) + r"([1-9][0-9]*)", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_DATE_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))", re.ASCII
)
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def schema_document(version: int = CURRENT_VERSION) -> dict[str, Any]:
    """The JSON Schema of a record version, as shipped in the package."""
    text = resources.files("benchtrail.results").joinpath(
        f"schemas/result-{version}.schema.json"
    ).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _is_date_time(value: object) -> bool:
    """RFC 3339 date-time, checked here rather than by an optional package, so that a
    record is valid or not whatever else is installed."""
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    off_hour, off_minute = match.group(7), match.group(8)
    try:
        dt.datetime(year, month, day, hour, minute, min(second, 59))  # 60: a leap second
    except ValueError:
        return False
    return second <= 60 and (off_hour is None or (int(off_hour) <= 23 and int(off_minute) <= 59))


@lru_cache(maxsize=None)
def _validator(version: int) -> Any:
    import jsonschema

    document = schema_document(version)
    cls = jsonschema.validators.validator_for(document)
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("date-time")(_is_date_time)
    return cls(document, format_checker=checker)


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


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type: ``number``, ``string``, ``object``, ..."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def shorten(value: Any) -> str:
    """``value`` as one line of JSON, cut to a few dozen characters."""
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = f"<{json_type(value)}>"
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def json_path(parts: Any) -> str:
    """``$.a[0]["b c"]``: a JSON path, one line whatever the keys hold."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:  # quoted, so a dot, a bracket or a newline in a key keeps the path one line
            path += f"[{json.dumps(str(part))}]"
    return path


def _path_key(parts: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in parts)


def is_unicode(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (JSON's ``"\\ud800"`` escape gives one that does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. from a "\ud800" escape
        return False
    return True


def _value_problems(record: Any) -> list[tuple[tuple[Any, ...], str]]:
    """What JSON Schema cannot see: NaN and infinities, and text that is not Unicode."""
    found: list[tuple[tuple[Any, ...], str]] = []
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


def _branch_rank(errors: list[Any]) -> tuple[bool, int]:
    """How far a oneOf branch is from the instance: a branch for another JSON type
    (``"none"`` where an object was given) comes last, then the fewest problems."""
    wrong_type = False
    size = 0
    for error in errors:
        at_root = not error.relative_path
        if at_root and error.validator == "type":
            wrong_type = True
        elif at_root and error.validator in ("const", "enum"):
            allowed = [error.validator_value] if error.validator == "const" else error.validator_value
            wrong_type = wrong_type or all(
                json_type(value) != json_type(error.instance) for value in allowed
            )
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            size += len(_extra_keys(error))
        else:
            size += 1
    return wrong_type, size


def _extra_keys(error: Any) -> list[str]:
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return [key for key in error.instance if key not in known]


def _describe(error: Any) -> list[tuple[tuple[Any, ...], str]]:
    """One or more ``(path, message)`` for a validation error; for a failed oneOf, the
    problems of the branch closest to what was given."""
    path = tuple(error.absolute_path)
    if error.validator in ("oneOf", "anyOf"):
        if not error.context:
            return [(path, "matches more than one of the allowed shapes")]
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        closest = min(branches.values(), key=_branch_rank)
        lines: list[tuple[tuple[Any, ...], str]] = []
        for sub in closest:
            lines.extend(_describe(sub))
        return lines
    return [(path, _message(error))]


def _message(error: Any) -> str:
    kind, expected, found = error.validator, error.validator_value, error.instance
    shown = shorten(found)
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        return f"expected {' or '.join(names)}, found {shown}"
    if kind == "additionalProperties" and isinstance(found, dict):
        extra = _extra_keys(error)
        listed = ", ".join(shorten(key) for key in extra[:5])
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        return f"unknown key{'s' if len(extra) > 1 else ''} {listed}{more}"
    if kind == "const":
        return f"expected {shorten(expected)}, found {shown}"
    if kind == "enum":
        return f"expected one of {', '.join(shorten(v) for v in expected)}, found {shown}"
    if kind == "pattern" and "propertyNames" in error.relative_schema_path:
        return f"key {shown} does not match {expected}"
    if kind == "pattern":
        return f"expected a string matching {expected}, found {shown}"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        return f"expected a number {sign} {expected}, found {shown}"
    if kind in ("minItems", "maxItems") and isinstance(found, list):
        bound = "at least" if kind == "minItems" else "at most"
        return f"expected {bound} {expected} items, found {len(found)}"
    if kind in ("minLength", "maxLength") and isinstance(found, str):
        bound = "at least" if kind == "minLength" else "at most"
        return f"expected {bound} {expected} characters, found {len(found)}"
    if kind == "format":
        return f"expected an RFC 3339 {expected}, found {shown}"
    message = " ".join(str(error.message).split())
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[: _MAX_MESSAGE_CHARS - 3] + "..."
    return message


def problems(record: Any) -> list[str]:
    """Every problem of ``record`` against its schema, as ``$.json.path: message`` lines."""
    try:
        version = _version_of(record)
    except RecordError as exc:
        return list(exc.problems)
    found = _value_problems(record)
    for error in _validator(version).iter_errors(record):
        found.extend(_describe(error))
    found.sort(key=lambda item: _path_key(item[0]))
    lines = (f"{json_path(path)}: {message}" for path, message in found)
    return list(dict.fromkeys(lines))  # in order, without repeats


def validate(record: Any, source: str = "<record>") -> dict[str, Any]:
    """Check ``record`` and return it at the current version; raise ``RecordError`` naming
    ``source`` and every problem otherwise."""
    found = problems(record)
    if found:
        raise RecordError(*(f"{source}: {line}" for line in found))
    version = _version_of(record)
    while version < CURRENT_VERSION:
        record = _UPGRADES[version](record)
        version += 1
    return record
