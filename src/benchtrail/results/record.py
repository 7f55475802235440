"""Reading and writing result record files.

A record file is UTF-8 JSON with sorted keys and a final newline, so the same record
always gives the same bytes. Writes validate first, go to a temporary file in the same
folder and are renamed into place, so a reader never sees half a file, and they refuse
to overwrite unless asked.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from benchtrail.errors import RecordError
from benchtrail.results.schema import validate

__all__ = ["dump_record", "load_record", "parse_record", "record_bytes"]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical bytes of a valid record."""
    _check_finite(record, "$")
    text = json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _check_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"{path}: {value} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, f"{path}[{index}]")


def parse_record(data: bytes | str, source: str) -> dict[str, Any]:
    """Parse and validate record bytes read from ``source`` (a path or a description)."""
    try:
        record = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError(f"{source}: not valid JSON: {exc}") from None
    return validate(record, source)


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate one record file, upgraded to the current schema version."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecordError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_record(data, str(path))


def dump_record(
    record: dict[str, Any], path: str | os.PathLike[str], *, replace: bool = False
) -> Path:
    """Validate ``record`` and write it to ``path`` atomically; refuse an existing file
    unless ``replace``."""
    target = Path(path)
    validate(record, str(target))
    data = record_bytes(record)
    if target.exists() and not replace:
        raise RecordError(f"{target}: already exists; refusing to overwrite a record")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target
