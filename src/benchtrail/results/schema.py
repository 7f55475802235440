"""The result record's schema: versions, validation and upgrades.

Version history (a published version is frozen; a change is a new schema file plus a
one-step upgrade function registered in ``_UPGRADES``):

- ``benchtrail.result/1`` (benchtrail 0.1): suite, benchmarks with params and metrics
  (single values or distribution summaries with a fixed-quantile sketch and per-run
  headline values), source, environment fingerprint, run.
"""

from __future__ import annotations

import json
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
    "validate",
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


def schema_document(version: int = CURRENT_VERSION) -> dict[str, Any]:
    """The JSON Schema of a record version, as shipped in the package."""
    text = resources.files("benchtrail.results").joinpath(
        f"schemas/result-{version}.schema.json"
    ).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@lru_cache(maxsize=None)
def _validator(version: int) -> Any:
    import jsonschema

    document = schema_document(version)
    cls = jsonschema.validators.validator_for(document)
    return cls(document, format_checker=cls.FORMAT_CHECKER)


def _version_of(record: Any) -> int:
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, found {type(record).__name__}")
    tag = record.get("schema")
    if tag is None:
        raise RecordError("$.schema: missing: this is not a benchtrail result record")
    match = re.fullmatch(re.escape(SCHEMA_PREFIX) + r"(\d+)", str(tag))
    if match is None:
        raise RecordError(f"$.schema: expected {SCHEMA_ID!r}, found {_shorten(tag)}")
    version = int(match.group(1))
    if version > CURRENT_VERSION or version < 1:
        raise RecordError(
            f"$.schema: {tag!r} is newer than this benchtrail reads ({SCHEMA_ID}): "
            "upgrade benchtrail"
        )
    return version


def _shorten(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _describe(error: Any) -> str:
    # For a oneOf failure the best message is the deepest one of the closest branch.
    import jsonschema

    best = jsonschema.exceptions.best_match([error])
    message = best.message
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{_json_path(best.absolute_path)}: {message}"


def problems(record: Any) -> list[str]:
    """Every problem of ``record`` against its schema, as ``$.json.path: message`` lines."""
    try:
        version = _version_of(record)
    except RecordError as exc:
        return list(exc.problems)
    errors = sorted(
        _validator(version).iter_errors(record), key=lambda e: list(map(str, e.absolute_path))
    )
    return [_describe(error) for error in errors]


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
