"""Reading and writing result record files: JSON in, a typed ``Record`` out, and back.

A record file is UTF-8 JSON with sorted keys and a final newline, so the same record
always gives the same bytes. Writes validate first, go to a temporary file in the same
folder and are renamed into place, so a reader never sees half a file, and they refuse
to overwrite unless asked.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any

from benchtrail.errors import RecordError
from benchtrail.results.model import Record
from benchtrail.results.schema import validate, value_problems

__all__ = [
    "dump_record",
    "json_safe",
    "load_record",
    "parse_record",
    "read_capped",
    "record_bytes",
    "refuse_constant",
    "write_atomic",
    "write_record_bytes",
]


def refuse_constant(name: str) -> Any:
    """A ``parse_constant`` for ``json.loads`` that refuses NaN and infinities."""
    raise ValueError(f"{name} is not a number JSON allows")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; a record that says two things is refused.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {json.dumps(key)}")
        result[key] = value
    return result


def record_bytes(record: Record) -> bytes:
    """The canonical bytes of a valid record."""
    data = record.to_json()
    try:
        text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        return (text + "\n").encode("utf-8")
    except ValueError as exc:  # NaN, an infinity or a lone surrogate (UnicodeEncodeError)
        raise RecordError(*(value_problems(data) or [str(exc)])) from None


#: a ``\\uD800``-``\\uDFFF`` escape in JSON text: a surrogate, maybe a lone one
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode("ascii"))


def json_safe(text: str | bytes) -> bool:
    """Whether what ``json.loads(text, parse_constant=refuse_constant)`` gives can hold no
    lone surrogate (nor, refused there, a NaN): the schema check need not look for them."""
    pattern = _SURROGATE_ESCAPE_BYTES if isinstance(text, bytes) else _SURROGATE_ESCAPE
    return pattern.search(text) is None  # type: ignore[arg-type]


def parse_record(data: bytes | str, source: str) -> Record:
    """Parse and validate record bytes read from ``source`` (a path or a description)."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RecordError(f"{source}: not UTF-8 text: byte {exc.start}: {exc.reason}") from None
    try:
        record = json.loads(
            data, parse_constant=refuse_constant, object_pairs_hook=_refuse_duplicates
        )
    except ValueError as exc:
        raise RecordError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise RecordError(f"{source}: not valid JSON: nested too deeply") from None
    return Record.from_json(validate(record, source, json_safe=json_safe(data)))


#: larger than any record benchtrail writes (a suite of thousands of benchmarks is a few MB)
MAX_RECORD_BYTES = 64 * 1024 * 1024


def read_capped(path: str | os.PathLike[str], limit: int = MAX_RECORD_BYTES) -> bytes:
    """The bytes of the regular file at ``path``; ``RecordError`` for what cannot be read,
    is no regular file (``/dev/zero`` would be read forever) or holds more than ``limit``."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise RecordError(f"{path}: not a regular file")
            data = handle.read(limit + 1)
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(data) > limit:
        raise RecordError(f"{path}: larger than {limit // (1024 * 1024)} MB: not a result record")
    return data


def load_record(path: str | os.PathLike[str]) -> Record:
    """Read and validate one record file, upgraded to the current schema version."""
    return parse_record(read_capped(path), str(path))


def _write_temporary(target: Path, data: bytes) -> Path:
    """A new file next to ``target`` holding ``data``, created with the usual permissions
    (``mkstemp`` would make it private to its owner: 0600)."""
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp


def _move_new(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target`` unless ``target`` exists, without a window in which
    another writer's file could be replaced: a hard link fails on an existing name."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if os.path.lexists(target):
            raise FileExistsError(target) from None
        os.replace(tmp, target)
    else:
        tmp.unlink()


def write_atomic(target: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``target`` through a temporary file in its folder, so no reader
    ever sees half of it; with ``replace`` false, ``FileExistsError`` when ``target``
    exists (checked without a race). Leaves no temporary file behind; ``OSError`` on failure."""
    tmp: Path | None = None
    try:
        tmp = _write_temporary(target, data)
        if replace:
            os.replace(tmp, target)
        else:
            _move_new(tmp, target)
    finally:
        if tmp is not None and os.path.lexists(tmp):
            tmp.unlink()


def dump_record(record: Record, path: str | os.PathLike[str], *, replace: bool = False) -> Path:
    """Validate ``record`` and write it to ``path`` atomically; refuse an existing file
    unless ``replace``."""
    validate(record.to_json(), str(path))
    return write_record_bytes(record_bytes(record), path, replace=replace)


def write_record_bytes(data: bytes, path: str | os.PathLike[str], *, replace: bool = False) -> Path:
    """Write the canonical bytes of a record validated already (``record_bytes``) to
    ``path`` atomically, its folder made; refuse an existing file unless ``replace``."""
    target = Path(path)
    exists = RecordError(f"{target}: already exists; refusing to overwrite a record")
    if not replace and os.path.lexists(target):
        raise exists
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError too: a file where the folder should be
        raise RecordError(f"{target.parent}: cannot create the folder: {exc.strerror or exc}") from None
    try:
        write_atomic(target, data, replace=replace)
    except FileExistsError:
        raise exists from None
    except OSError as exc:
        raise RecordError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target
