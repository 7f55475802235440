"""Fixed datasets: load a .npy, .jsonl or .csv file and cut it into batches.

The file's sha256 goes into the record, so two runs over different data never pass for
comparable. Batches wrap around the end of the data so that every batch is full.
"""

from __future__ import annotations

import csv
import hashlib
import json
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
        """Full batches of ``batch_size`` rows covering the data once (at least one)."""
        count = max(1, len(self.rows) // batch_size)
        if hasattr(self.rows, "take"):  # numpy: one array per batch
            import numpy as np

            return [
                self.rows.take(np.arange(k * batch_size, (k + 1) * batch_size), axis=0, mode="wrap")
                for k in range(count)
            ]
        n = len(self.rows)
        return [
            [self.rows[(k * batch_size + j) % n] for j in range(batch_size)] for k in range(count)
        ]

    def json_rows(self) -> list[Any]:
        """The rows as JSON-ready Python values (lists for array rows)."""
        if hasattr(self.rows, "tolist"):
            return list(self.rows.tolist())
        return list(self.rows)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset file; ``DatasetError`` names the file and the problem."""
    path = Path(path)
    try:
        sha256 = file_sha256(path)
        loader = {".npy": _load_npy, ".jsonl": _load_jsonl, ".csv": _load_csv}.get(path.suffix)
        if loader is None:
            raise DatasetError(f"{path}: unsupported dataset type {path.suffix!r} (use .npy, .jsonl or .csv)")
        rows = loader(path)
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read dataset: {exc.strerror or exc}") from None
    if len(rows) == 0:
        raise DatasetError(f"{path}: dataset has no rows")
    return Dataset(path=path, sha256=sha256, rows=rows)


def _load_npy(path: Path) -> Any:
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise DatasetError(f"{path}: not a readable .npy array: {exc}") from None
    if array.ndim == 0:
        raise DatasetError(f"{path}: expected an array of rows, found a scalar")
    return array


def _load_jsonl(path: Path) -> list[Any]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON: {exc}") from None
    return rows


def _load_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise DatasetError(f"{path}: CSV file has no header row")
        return [{key: _number_or_text(value) for key, value in row.items()} for row in reader]


def _number_or_text(value: str | None) -> Any:
    if value is None:
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
