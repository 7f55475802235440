"""The result record: the typed model, its schema and validation, record files, and the
git results branch (``store`` writes it, ``history`` reads it).

The names below load their module when first used (PEP 562), so that importing a light
module of this package (``results.branch``, ``results.model``) does not load them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchtrail.results.record import dump_record, load_record, parse_record, record_bytes
    from benchtrail.results.schema import SCHEMA_ID, SKETCH_QUANTILES, problems, validate

__all__ = [
    "SCHEMA_ID",
    "SKETCH_QUANTILES",
    "dump_record",
    "load_record",
    "parse_record",
    "problems",
    "record_bytes",
    "validate",
]

_HOMES = {"dump_record": "record", "load_record": "record", "parse_record": "record", "record_bytes": "record",
          "SCHEMA_ID": "schema", "SKETCH_QUANTILES": "schema", "problems": "schema", "validate": "schema"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value
