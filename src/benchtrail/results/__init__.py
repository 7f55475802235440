"""The result record (schema, validation, files); later the git results branch."""

from __future__ import annotations

from benchtrail.results.record import (
    dump_record,
    load_record,
    parse_record,
    record_bytes,
)
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
