"""Requests of the KServe v2 / Open Inference Protocol: its URLs, and one JSON inference
request per batch of a dataset.

The protocol (Open Inference Protocol, HTTP/REST: kserve/open-inference-protocol,
``specification/protocol/inference_rest.md``; before it kserve/kserve
``docs/predict-api/v2/required_api.md``) is what Triton, KServe and MLServer serve:

- health: ``GET v2/health/ready`` and ``GET v2/models/<name>[/versions/<v>]/ready``, where
  200 means ready and a 4xx not (``readiness.wait_ready`` polls them);
- inference: ``POST v2/models/<name>[/versions/<v>]/infer`` with the request object
  ``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data"}], "outputs"?:
  [{"name"}]}``. A batched input's ``shape`` and ``data`` cover the whole batch; ``data``
  is row-major, either nested or flattened (we send it flattened, as the spec's own
  example does: ``"shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]``);
- datatypes: BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32,
  FP64 and BYTES (strings, in JSON).

How a dataset becomes tensors (``infer_bodies``):

- ``.npy``: one tensor, ``[batch, *row shape]``, named by the first ``inputs`` entry or
  ``input``; its datatype follows the array's dtype (float32 is FP32, int64 INT64, a
  string array BYTES) unless the entry names one. A ``.jsonl`` of plain values (numbers,
  lists) makes one tensor too, typed as a key's values are below.
- ``.jsonl`` of objects: one tensor per key, in the first row's order; every row has the
  same keys. A JSON ``true``/``false`` is BOOL, a whole number INT64, a string BYTES, and a
  number with a fraction (or a mix of whole and fractional ones) FP32, not FP64: FP32 is
  what most models take (sklearn-onnx's and ONNX Runtime's float inputs among them), and a
  server may refuse an FP64 tensor for an FP32 input. Name an input in ``inputs`` to give
  it another datatype.
- ``.csv``: one FP32 tensor of all the columns, in the header's order, named by the first
  ``inputs`` entry or ``input``.

An ``inputs`` entry's ``shape`` is the shape of one row (``[28, 28]`` for rows of 784
values), the batch dimension comes first. Values are checked against the datatype before
anything is sent (a whole number for an integer type, in its range; a finite number for a
float, as JSON has no NaN; a string for BYTES; true/false, 0 or 1 for BOOL); each problem
names the row, counted from 1. FP16 and FP32 values go out as the shortest decimal that
reads back as the same value (``0.1``, not ``0.10000000149011612``), so a body is about
the size a careful client sends. FP16 in JSON is the spec's weak spot: some servers
(Triton) take FP16 only as binary data, and answer such a request with an error.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from benchtrail.bench.dataset import Dataset
from benchtrail.errors import DatasetError

__all__ = ["DATATYPES", "TensorSpec", "infer_bodies", "infer_url", "ready_urls"]

#: The protocol's tensor datatypes, with the numpy dtype each is held in (BYTES: Python str)
DATATYPES: dict[str, str] = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
_DEFAULT_NAME = "input"
_SHOWN = 40  # characters of a refused value shown in a message


@dataclass(frozen=True)
class TensorSpec:
    """One input tensor as the suite describes it; only ``name`` is required."""

    name: str
    datatype: str | None = None  # a key of DATATYPES; default: from the values
    shape: tuple[int, ...] | None = None  # one row's shape; default: the row's own


def _model_path(base_url: str, model: str, version: str | None) -> str:
    path = f"{base_url.rstrip('/')}/v2/models/{quote(model, safe='')}"
    return path if version is None else f"{path}/versions/{quote(version, safe='')}"


def infer_url(base_url: str, model: str, version: str | None = None) -> str:
    """``POST`` URL of ``model``'s inference on the server at ``base_url`` (its root)."""
    return _model_path(base_url, model, version) + "/infer"


def ready_urls(base_url: str, model: str, version: str | None = None) -> list[str]:
    """The server's readiness URL, then the model's: both answer 200 once it can serve."""
    return [f"{base_url.rstrip('/')}/v2/health/ready", _model_path(base_url, model, version) + "/ready"]


@dataclass(frozen=True)
class _Tensor:
    name: str
    datatype: str
    row_shape: tuple[int, ...]
    wire: Any  # numpy array (rows, *row_shape) whose .tolist() gives the JSON values


class _Refusal(Exception):
    """A problem with one tensor: the first bad row (0-based, or None) and what is wrong."""

    def __init__(self, row: int | None, problem: str) -> None:
        super().__init__(problem)
        self.row, self.problem = row, problem


def infer_bodies(dataset: Dataset, batch_size: int, inputs: Sequence[TensorSpec], outputs: Sequence[str],
                 where: str) -> list[bytes]:
    """One inference request (UTF-8 JSON) per batch of ``dataset.batches(batch_size)``:
    the same rows, in the same order, wrapping around the same way.

    ``inputs`` name and type the tensors (see the module docstring for the defaults);
    ``outputs``, when given, asks for just those outputs. Every problem found (an unknown
    datatype, a row missing an input, ragged or differing shapes, a value the datatype
    cannot hold) is listed in one ``DatasetError``. ``where`` is the benchmark's place in
    the suite file (``suite.toml: benchmark[0]``, as ``readiness.wait_ready`` takes it):
    a problem of an ``inputs`` entry reads ``suite.toml: benchmark[0].inputs[1].datatype:
    ...``, one of the data ``suite.toml: benchmark[0]: iris.jsonl: row 3: input 'x': ...``.
    """
    import numpy as np

    problems = list(_spec_problems(inputs, where))
    if problems:
        raise DatasetError(*problems)
    specs = {spec.name: spec for spec in inputs}
    tensors: list[_Tensor] = []
    for name, source, label in _sources(dataset, inputs, where):
        spec = specs.get(name, TensorSpec(name))
        try:
            tensors.append(_tensor(spec, source, csv=dataset.path.suffix == ".csv"))
        except _Refusal as refusal:
            row = "" if refusal.row is None else f"row {refusal.row + 1}: "
            problems.append(f"{where}: {label}: {row}input {name!r}: {refusal.problem}")
    if problems:
        raise DatasetError(*problems)
    requested = [{"name": name} for name in outputs]
    bodies = []
    for rows in dataclasses.replace(dataset, rows=np.arange(len(dataset))).batches(batch_size):
        body: dict[str, Any] = {"inputs": [
            {"name": tensor.name, "shape": [len(rows), *tensor.row_shape], "datatype": tensor.datatype,
             "data": tensor.wire.take(rows, axis=0).reshape(-1).tolist()}
            for tensor in tensors]}
        if requested:
            body["outputs"] = requested
        bodies.append(json.dumps(body, separators=(",", ":"), allow_nan=False).encode())
    return bodies


def _spec_problems(inputs: Sequence[TensorSpec], where: str) -> Iterator[str]:
    seen: set[str] = set()
    for index, spec in enumerate(inputs):
        at = f"{where}.inputs[{index}]"
        if spec.name in seen:
            yield f"{at}.name: input {spec.name!r} is named twice"
        seen.add(spec.name)
        if spec.datatype is not None and spec.datatype not in DATATYPES:
            yield f"{at}.datatype: unknown KServe datatype {spec.datatype!r}: expected one of {', '.join(DATATYPES)}"
        if spec.shape is not None and not all(type(n) is int and n >= 0 for n in spec.shape):
            yield f"{at}.shape: expected whole numbers >= 0, found {list(spec.shape)}"


def _sources(dataset: Dataset, inputs: Sequence[TensorSpec], where: str) -> list[tuple[str, Any, str]]:
    """(name, values, label for messages) of each tensor: a numpy array of rows for a
    .npy, else a list of JSON values, one per row."""
    label = dataset.path.name
    rows = dataset.rows
    single = inputs[0].name if inputs else _DEFAULT_NAME
    if dataset.path.suffix == ".csv":
        if len(inputs) > 1:
            raise DatasetError(f"{where}.inputs: {label} makes one input tensor of all its columns, "
                               f"but inputs names {len(inputs)}")
        columns = list(rows[0])
        if not inputs or inputs[0].datatype != "BYTES":
            for number, row in enumerate(rows, start=1):
                text = next((column for column in columns if isinstance(row[column], str)), None)
                if text is not None:
                    raise DatasetError(f"{where}: {label}: row {number}: column {text!r}: {_show(row[text])} "
                                       f"is not a number (a .csv makes one numeric tensor of all its columns)")
        return [(single, [[row[column] for column in columns] for row in rows], label)]
    objects = [isinstance(row, dict) for row in rows] if dataset.path.suffix == ".jsonl" else [False]
    if not any(objects):
        if len(inputs) > 1:
            raise DatasetError(f"{where}.inputs: {label} makes one input tensor (its rows are not objects), "
                               f"but inputs names {len(inputs)}")
        return [(single, rows, label)]
    if not all(objects):
        first = objects.index(not objects[0])
        raise DatasetError(f"{where}: {label}: row {first + 1}: {_show(rows[first])} is "
                           f"{'' if objects[first] else 'not '}a JSON object, unlike row 1 (rows are either all "
                           f"objects of named inputs or all tensor values)")
    names = list(rows[0])
    problems = [f"{where}: {label}: row 1: expected a JSON object of inputs, found {{}}"] if not names else []
    for number, row in enumerate(rows, start=1):
        if set(row) != set(names):
            missing, extra = [n for n in names if n not in row], [n for n in row if n not in names]
            what = f"missing input {missing[0]!r}" if missing else f"unexpected input {extra[0]!r}"
            problems.append(f"{where}: {label}: row {number}: {what} (row 1 has {', '.join(map(repr, names))})")
            break
    for index, spec in enumerate(inputs):
        if spec.name not in names:
            problems.append(f"{where}.inputs[{index}].name: no input {spec.name!r} in the rows of {label} "
                            f"(they have {', '.join(map(repr, names))})")
    if problems:
        raise DatasetError(*problems)
    return [(name, [row[name] for row in rows], label) for name in names]


def _tensor(spec: TensorSpec, source: Any, *, csv: bool) -> _Tensor:
    """The tensor of one input: its values checked against, and cast to, its datatype."""
    import numpy as np

    if isinstance(source, np.ndarray):
        values = source
        inferred = _datatype_of(values.dtype)
    else:
        values, inferred = _from_json(source)
        if csv:
            inferred = "FP32"
    datatype = spec.datatype or inferred
    if spec.shape is not None:
        row_size = math.prod(values.shape[1:])
        if row_size != math.prod(spec.shape):
            raise _Refusal(0, f"a row of {row_size} values cannot take the shape {list(spec.shape)}")
        values = values.reshape(len(values), *spec.shape)
    return _Tensor(spec.name, datatype, tuple(values.shape[1:]), _cast(values, datatype))


def _datatype_of(dtype: Any) -> str:
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind in "iu" and dtype.itemsize in (1, 2, 4, 8):
        return f"{'U' if dtype.kind == 'u' else ''}INT{dtype.itemsize * 8}"
    if dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        return f"FP{dtype.itemsize * 8}"
    if dtype.kind in "US":
        return "BYTES"
    raise _Refusal(None, f"an array of {dtype} has no KServe datatype (expected booleans, numbers or strings)")


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a nested list (``()`` for a scalar), or None when it is ragged."""
    if not isinstance(value, list):
        return ()
    if not value:
        return (0,)
    inner = _shape(value[0])
    if inner is None or any(_shape(item) != inner for item in value[1:]):
        return None
    return (len(value), *inner)


def _flat(value: Any, out: list[Any]) -> None:
    if isinstance(value, list):
        for item in value:
            _flat(item, out)
    else:
        out.append(value)


_KINDS = {bool: "boolean", int: "number", float: "number", str: "string"}


def _from_json(rows: list[Any]) -> tuple[Any, str]:
    """JSON rows as one numpy array (rows, *row shape), and the datatype they suggest."""
    import numpy as np

    flat: list[Any] = []
    first_shape: tuple[int, ...] | None = None
    kind_rows: dict[str, int] = {}  # the first row of each kind of element
    seen_types: set[type] = set()
    for index, row in enumerate(rows):
        try:
            shape = _shape(row)
        except RecursionError:
            raise _Refusal(index, "nested too deeply") from None
        if shape is None:
            raise _Refusal(index, f"ragged nested lists (sub-lists of different lengths): {_show(row)}")
        if first_shape is None:
            first_shape = shape
        elif shape != first_shape:
            raise _Refusal(index, f"shape {list(shape)} differs from row 1's {list(first_shape)}")
        start = len(flat)
        _flat(row, flat)
        for item in flat[start:]:
            kind = _KINDS.get(type(item))
            if kind is None:
                raise _Refusal(index, f"{_show(item)} is not a tensor element (a number, string or boolean)")
            seen_types.add(type(item))
            kind_rows.setdefault(kind, index)
    assert first_shape is not None
    if len(kind_rows) > 1:
        later = max(kind_rows, key=lambda kind: kind_rows[kind])
        raise _Refusal(kind_rows[later], f"mixes {' and '.join(sorted(f'{k}s' for k in kind_rows))} in one tensor")
    shape = (len(rows), *first_shape)
    if str in seen_types:
        return np.array(flat, dtype=object).reshape(shape), "BYTES"
    if bool in seen_types:
        return np.array(flat, dtype=bool).reshape(shape), "BOOL"
    if float in seen_types:
        try:
            return np.array(flat, dtype=np.float64).reshape(shape), "FP32"
        except OverflowError:  # a whole number beyond any float, next to fractions
            big = next(i for i, item in enumerate(flat) if type(item) is int and abs(item) > 1e308)
            raise _Refusal(big // max(1, math.prod(first_shape)), f"{_show(flat[big])} is out of range") from None
    if int in seen_types:
        for dtype in (np.int64, np.uint64):
            try:
                return np.array(flat, dtype=dtype).reshape(shape), "INT64"
            except OverflowError:
                pass
        big = next(i for i, item in enumerate(flat) if not -(2**63) <= item < 2**63)
        raise _Refusal(big // max(1, math.prod(first_shape)), f"{_show(flat[big])} is out of range for INT64")
    return np.zeros(shape, dtype=np.float64), "FP32"  # rows of empty lists


def _cast(values: Any, datatype: str) -> Any:
    """``values`` as the array whose ``.tolist()`` is what goes on the wire for
    ``datatype``; a value the datatype cannot hold is a ``_Refusal``."""
    import numpy as np

    kind = values.dtype.kind
    text = kind in "USO"
    if datatype == "BYTES":
        if not text:
            _refuse(values, (np.ones(values.shape, dtype=bool), "is not a string, as BYTES needs"))
        if kind == "S":
            return _decoded(values)
        return values.astype(object) if kind == "U" else values
    if text:
        _refuse(values, (np.ones(values.shape, dtype=bool), f"is not a number, as {datatype} needs"))
    target = np.dtype(DATATYPES[datatype])
    if datatype == "BOOL":
        if kind != "b":
            _refuse(values, ((values != 0) & (values != 1), "is not a boolean (true, false, 0 or 1)"))
        return values.astype(bool)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(values) if kind == "f" else np.ones(values.shape, dtype=bool)
        if target.kind in "iu":
            info = np.iinfo(target)
            if kind == "f":
                _refuse(values, (~finite, "is not a finite number"),
                        (finite & (values != np.floor(values)), f"is not a whole number, as {datatype} needs"),
                        ((values < float(info.min)) | (values >= float(info.max) + 1),
                         f"is out of range for {datatype}"))
            elif kind in "iu":
                _refuse(values, ((values < info.min) | (values > info.max), f"is out of range for {datatype}"))
            return values.astype(target)
        cast = values.astype(target)
        _refuse(values, (~finite, "is not a finite number (JSON has no NaN or Infinity)"),
                (finite & ~np.isfinite(cast), f"is out of range for {datatype}"))
    if datatype == "FP64":
        return cast.astype(np.float64)
    # The shortest decimal of each value that reads back as the same FP16/FP32 value;
    # where a double reading of it would not round to that value, the value's exact double.
    shortest = cast.astype(str).astype(np.float64)
    return np.where(shortest.astype(target) == cast, shortest, cast.astype(np.float64))


def _decoded(values: Any) -> Any:
    import numpy as np

    flat = values.reshape(-1)
    out = np.empty(flat.shape, dtype=object)
    for index, item in enumerate(flat):
        try:
            out[index] = item.decode("utf-8")
        except UnicodeDecodeError:
            size = max(1, math.prod(values.shape[1:]))
            raise _Refusal(index // size, f"{_show(item)} is not UTF-8 text, as BYTES needs in JSON") from None
    return out.reshape(values.shape)


def _refuse(values: Any, *checks: tuple[Any, str]) -> None:
    """Raise a ``_Refusal`` for the earliest row where a check's mask (one bool per
    element) holds, naming its first such value; on one row the first check listed wins."""
    found: tuple[int, int, Any] | None = None
    for order, (bad, problem) in enumerate(checks):
        rows = bad.reshape(len(bad), -1).any(axis=1)
        if rows.any():
            row = int(rows.argmax())
            if found is None or (row, order) < found[:2]:
                found = (row, order, (bad, problem))
    if found is None:
        return
    row, _, (bad, problem) = found
    value = values.reshape(len(values), -1)[row][bad.reshape(len(bad), -1)[row].argmax()]
    raise _Refusal(row, f"{_show(value)} {problem}")


def _show(value: Any) -> str:
    """A value as a message shows it: JSON-like, shortened."""
    if hasattr(value, "item"):  # a numpy scalar
        if value.dtype.kind == "f" and math.isfinite(value):
            return str(value)  # numpy's shortest for its own precision: 5.1, not 5.099999904632568
        value = value.item()
    if isinstance(value, bytes):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, allow_nan=True)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
