"""Fixed datasets: load a .npy, .jsonl or .csv file and cut it into batches.

The file's sha256 goes into the record, so two runs over different data never pass for
comparable. Batches wrap around the end of the data so that every batch is full.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchtrail.errors import DatasetError

__all__ = ["Dataset", "load_dataset", "file_sha256"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Dataset:
    path: Path
    sha256: str
    rows: Any  # a numpy array (.npy) or a list of rows (.jsonl: JSON values, .csv: dicts)

    def __len__(self) -> int:
        return len(self.rows)

    def batches(self, batch_size: int) -> list[Any]:
        """Full batches of ``batch_size`` rows covering every row once (at least one batch):
        the last batch wraps around to the first rows when the data does not divide evenly."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        n = len(self.rows)
        count = -(-n // batch_size)  # ceil: a row past the last full batch is still measured
        if hasattr(self.rows, "take"):  # numpy: one array per batch
            import numpy as np

            return [
                self.rows.take(np.arange(k * batch_size, (k + 1) * batch_size), axis=0, mode="wrap")
                for k in range(count)
            ]
        return [
            [self.rows[(k * batch_size + j) % n] for j in range(batch_size)] for k in range(count)
        ]

    def json_batches(self, batch_size: int) -> list[list[Any]]:
        """``batches`` with every row as a JSON-ready value (lists for array rows)."""
        return [
            [row.tolist() if hasattr(row, "tolist") else row for row in batch]
            for batch in self.batches(batch_size)
        ]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; ``DatasetError`` names the file and the problem."""
    path = Path(path)
    loader = {".npy": _load_npy, ".jsonl": _load_jsonl, ".csv": _load_csv}.get(path.suffix)
    try:
        if loader is None:
            raise DatasetError(f"{path}: unsupported dataset type {path.suffix!r} (use .npy, .jsonl or .csv)")
        sha256 = file_sha256(path)
        if path.stat().st_size == 0:
            raise DatasetError(f"{path}: empty file: dataset has no rows")
        rows = loader(path)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text: {exc.reason}") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read dataset: {getattr(exc, 'strerror', None) or exc}") from None
    if len(rows) == 0:
        raise DatasetError(f"{path}: dataset has no rows")
    return Dataset(path=path, sha256=sha256, rows=rows)


def _load_npy(path: Path) -> Any:
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable .npy array: {exc}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive under an .npy name
        array.close()
        raise DatasetError(f"{path}: expected one .npy array, found an .npz archive")
    if array.ndim == 0:
        raise DatasetError(f"{path}: expected an array of rows, found a scalar")
    return array


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _load_jsonl(path: Path) -> list[Any]:
    rows = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                text = line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not UTF-8 text: {exc.reason}") from None
            if not text.strip():
                continue
            try:
                rows.append(json.loads(text, parse_constant=_refuse_constant))
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON: {exc}") from None
            except RecursionError:
                raise DatasetError(f"{path}:{number}: not valid JSON: nested too deeply") from None
    return rows


def _load_csv(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header:
                raise DatasetError(f"{path}: CSV file has no header row")
            duplicates = sorted({name for name in header if header.count(name) > 1})
            if duplicates:
                raise DatasetError(f"{path}:1: duplicate column name {duplicates[0]!r}")
            for row in reader:
                if not row:  # a blank line
                    continue
                if len(row) != len(header):
                    raise DatasetError(
                        f"{path}:{reader.line_num}: expected {len(header)} fields, found {len(row)}"
                    )
                rows.append({key: _number_or_text(value) for key, value in zip(header, row)})
        except csv.Error as exc:
            raise DatasetError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None
    return rows


_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number_or_text(value: str) -> Any:
    """A cell as a number when it is written as one (``12``, ``-0.5``, ``1e-3``); anything
    else (``1_000``, ``nan``, ``inf``, `` 7``) stays text."""
    try:
        if _INTEGER.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            number = float(value)
            return number if math.isfinite(number) else value
    except ValueError:  # more digits than Python converts
        pass
    return value
