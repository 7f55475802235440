"""KServe v2 / Open Inference Protocol requests: URLs, bodies from every dataset format and
datatype (checked against the spec's own examples and a strict server), refusals, readiness."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kserveserver import KServe, Refused, check_request, serve

from benchtrail.bench.dataset import Dataset, load_dataset
from benchtrail.bench.httpload import HttpLoad, measure_http
from benchtrail.bench.kserve import DATATYPES, TensorSpec, infer_bodies, infer_url, ready_urls
from benchtrail.bench.readiness import wait_ready
from benchtrail.errors import DatasetError, SuiteError

WHERE = "suite.toml: benchmark[0]"
JSON = {"Content-Type": "application/json"}


def _npy(tmp_path: Path, array: Any, name: str = "rows.npy") -> Dataset:
    np.save(tmp_path / name, array)
    return load_dataset(tmp_path / name)


def _jsonl(tmp_path: Path, rows: list[Any], name: str = "rows.jsonl") -> Dataset:
    (tmp_path / name).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return load_dataset(tmp_path / name)


def _csv(tmp_path: Path, text: str) -> Dataset:
    (tmp_path / "rows.csv").write_text(text, encoding="utf-8")
    return load_dataset(tmp_path / "rows.csv")


def _bodies(dataset: Dataset, batch_size: int = 1, inputs: list[TensorSpec] | None = None,
            outputs: list[str] | None = None) -> list[dict[str, Any]]:
    """The bodies as JSON, each checked against the protocol by the strict server's rules."""
    bodies = infer_bodies(dataset, batch_size, inputs or [], outputs or [], WHERE)
    parsed = [json.loads(body) for body in bodies]
    for body in parsed:
        check_request(body)
    return parsed


def _refusal(dataset: Dataset, inputs: list[TensorSpec] | None = None, batch_size: int = 1) -> str:
    with pytest.raises(DatasetError) as caught:
        infer_bodies(dataset, batch_size, inputs or [], [], WHERE)
    return str(caught.value)


# --------------------------------------------------------------------------- URLs


def test_infer_and_ready_urls_follow_the_spec_paths() -> None:
    assert infer_url("http://127.0.0.1:8000", "iris") == "http://127.0.0.1:8000/v2/models/iris/infer"
    assert infer_url("http://h:8000/", "iris", "3") == "http://h:8000/v2/models/iris/versions/3/infer"
    assert ready_urls("http://h:8000/", "iris") == ["http://h:8000/v2/health/ready",
                                                   "http://h:8000/v2/models/iris/ready"]
    assert ready_urls("http://h/serving", "iris", "v10")[1] == "http://h/serving/v2/models/iris/versions/v10/ready"


def test_model_and_version_are_quoted_as_one_path_segment() -> None:
    assert infer_url("http://h", "my model/x?", "1/2") == "http://h/v2/models/my%20model%2Fx%3F/versions/1%2F2/infer"


def test_the_suite_schema_allows_exactly_these_datatypes() -> None:
    # The schema checks a suite's inputs[].datatype before a worker starts: one list, two homes.
    schema = json.loads((resources.files("benchtrail.bench") / "schemas" / "suite-1.schema.json").read_text())

    def enums(node: Any) -> Iterator[list[str]]:
        if isinstance(node, dict):
            if isinstance(node.get("datatype"), dict) and "enum" in node["datatype"]:
                yield node["datatype"]["enum"]
            for value in node.values():
                yield from enums(value)
        elif isinstance(node, list):
            for value in node:
                yield from enums(value)

    assert list(enums(schema)) == [list(DATATYPES)]


# --------------------------------------------------------------------------- the spec's examples


def test_the_specs_example_request(tmp_path: Path) -> None:
    # inference_rest.md: input0 of shape [2, 2], UINT32, data [1, 2, 3, 4], and output0 requested.
    # (Its input1, shape [3] with the data [true], holds one element for three: not reproduced.)
    dataset = _jsonl(tmp_path, [{"input0": [1, 2], "input1": True}, {"input0": [3, 4], "input1": False}])
    (body,) = _bodies(dataset, 2, [TensorSpec("input0", "UINT32")], ["output0"])
    assert body == {
        "inputs": [
            {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
            {"name": "input1", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        ],
        "outputs": [{"name": "output0"}],
    }


def test_nested_rows_go_out_flattened_row_major(tmp_path: Path) -> None:
    # The spec's matrix [[1, 2], [4, 5]] may be sent as [1, 2, 4, 5]: one row of it here.
    (body,) = _bodies(_jsonl(tmp_path, [[[1, 2], [4, 5]]]))
    assert body["inputs"] == [{"name": "input", "shape": [1, 2, 2], "datatype": "INT64", "data": [1, 2, 4, 5]}]
    assert "outputs" not in body


def test_bodies_are_compact_json_in_the_spec_key_order(tmp_path: Path) -> None:
    (raw,) = infer_bodies(_npy(tmp_path, np.array([[1, 2]], dtype=np.int32)), 1, [], ["y"], WHERE)
    assert raw == b'{"inputs":[{"name":"input","shape":[1,2],"datatype":"INT32","data":[1,2]}],"outputs":[{"name":"y"}]}'


# --------------------------------------------------------------------------- .npy


@pytest.mark.parametrize(("dtype", "datatype", "values"), [
    ("bool", "BOOL", [True, False]),
    ("uint8", "UINT8", [0, 255]), ("uint16", "UINT16", [0, 65535]), ("uint32", "UINT32", [0, 2**32 - 1]),
    ("uint64", "UINT64", [0, 2**64 - 1]),
    ("int8", "INT8", [-128, 127]), ("int16", "INT16", [-(2**15), 2**15 - 1]),
    ("int32", "INT32", [-(2**31), 2**31 - 1]), ("int64", "INT64", [-(2**63), 2**63 - 1]),
    ("float16", "FP16", [0.5, -2.0]), ("float32", "FP32", [0.5, -1.5]), ("float64", "FP64", [0.1, 1e300]),
    ("<U3", "BYTES", ["abc", "é"]), ("S3", "BYTES", ["abc", "x"]),
])
def test_npy_datatype_follows_the_dtype(tmp_path: Path, dtype: str, datatype: str, values: list[Any]) -> None:
    array = np.array([v.encode() if dtype.startswith("S") else v for v in values], dtype=dtype).reshape(2, 1)
    bodies = _bodies(_npy(tmp_path, array), 2)
    assert bodies == [{"inputs": [{"name": "input", "shape": [2, 1], "datatype": datatype, "data": values}]}]
    assert DATATYPES[datatype] == ("object" if datatype == "BYTES" else np.dtype(dtype).name)


def test_npy_batches_are_the_datasets_batches_wrapping_around(tmp_path: Path) -> None:
    dataset = _npy(tmp_path, np.arange(10, dtype=np.int64).reshape(5, 2))
    bodies = _bodies(dataset, 2, [TensorSpec("x")])
    assert [b["inputs"][0]["data"] for b in bodies] == [b.reshape(-1).tolist() for b in dataset.batches(2)]
    assert [b["inputs"][0]["data"] for b in bodies] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert {b["inputs"][0]["name"] for b in bodies} == {"x"}


def test_fp32_goes_out_as_the_shortest_decimal_that_reads_back_the_same(tmp_path: Path) -> None:
    (raw,) = infer_bodies(_npy(tmp_path, np.array([[0.1, 5.1, 1 / 3]], dtype=np.float32)), 1, [], [], WHERE)
    assert b'"data":[0.1,5.1,0.33333334]' in raw
    values = np.random.default_rng(7).standard_normal((64, 16)).astype(np.float32) * np.float32(1e-3)
    values[0, :4] = [np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1e-45, -0.0]
    bodies = _bodies(_npy(tmp_path, values, "random.npy"), 64)
    sent = np.array(bodies[0]["inputs"][0]["data"], dtype=np.float64).astype(np.float32).reshape(64, 16)
    assert np.array_equal(sent, values)


def test_fp16_round_trips_too(tmp_path: Path) -> None:
    values = np.random.default_rng(3).standard_normal(300).astype(np.float16).reshape(100, 3)
    (body,) = _bodies(_npy(tmp_path, values), 100)
    assert np.array_equal(np.array(body["inputs"][0]["data"]).astype(np.float16).reshape(100, 3), values)


def test_a_declared_datatype_converts_what_it_can_hold(tmp_path: Path) -> None:
    dataset = _npy(tmp_path, np.array([[1.0, 2.0], [3.0, 4.0]]))  # float64, as numpy makes it
    (body,) = _bodies(dataset, 2, [TensorSpec("float_input", "FP32")])
    assert body["inputs"][0] == {"name": "float_input", "shape": [2, 2], "datatype": "FP32",
                                 "data": [1.0, 2.0, 3.0, 4.0]}
    (body,) = _bodies(dataset, 2, [TensorSpec("ids", "UINT8")])
    assert body["inputs"][0]["data"] == [1, 2, 3, 4] and body["inputs"][0]["datatype"] == "UINT8"
    (body,) = _bodies(_npy(tmp_path, np.array([[0, 1]], dtype=np.int8), "mask.npy"), 1, [TensorSpec("m", "BOOL")])
    assert body["inputs"][0]["data"] == [False, True]


def test_a_declared_shape_reshapes_each_row(tmp_path: Path) -> None:
    dataset = _npy(tmp_path, np.arange(12, dtype=np.uint8).reshape(3, 4))
    bodies = _bodies(dataset, 2, [TensorSpec("image", None, (2, 2))])
    assert bodies[0]["inputs"][0]["shape"] == [2, 2, 2]
    assert bodies[0]["inputs"][0]["data"] == list(range(8))
    scalars = _npy(tmp_path, np.array([1.5, 2.5], dtype=np.float32), "scalars.npy")
    assert _bodies(scalars, 2)[0]["inputs"][0]["shape"] == [2]
    assert _bodies(scalars, 2, [TensorSpec("x", None, (1,))])[0]["inputs"][0]["shape"] == [2, 1]


# --------------------------------------------------------------------------- .jsonl and .csv


def test_jsonl_objects_make_one_tensor_per_key_with_inferred_datatypes(tmp_path: Path) -> None:
    rows = [{"ids": [1, 2], "score": 0.5, "mix": [1, 2.5], "flag": True, "text": "hi"},
            {"ids": [3, 4], "score": 1.25, "mix": [3, 4], "flag": False, "text": "ho"}]
    (body,) = _bodies(_jsonl(tmp_path, rows), 2)
    assert body["inputs"] == [
        {"name": "ids", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]},
        {"name": "score", "shape": [2], "datatype": "FP32", "data": [0.5, 1.25]},
        {"name": "mix", "shape": [2, 2], "datatype": "FP32", "data": [1.0, 2.5, 3.0, 4.0]},
        {"name": "flag", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        {"name": "text", "shape": [2], "datatype": "BYTES", "data": ["hi", "ho"]},
    ]


def test_jsonl_inputs_entries_give_datatype_and_shape_by_name(tmp_path: Path) -> None:
    rows = [{"a": [1, 2, 3, 4], "b": 7}, {"b": 8, "a": [5, 6, 7, 8]}]  # key order may differ per row
    (body,) = _bodies(_jsonl(tmp_path, rows), 2, [TensorSpec("b", "INT32"), TensorSpec("a", "FP64", (2, 2))])
    assert body["inputs"] == [
        {"name": "a", "shape": [2, 2, 2], "datatype": "FP64", "data": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]},
        {"name": "b", "shape": [2], "datatype": "INT32", "data": [7, 8]},
    ]


def test_jsonl_plain_rows_make_one_tensor(tmp_path: Path) -> None:
    bodies = _bodies(_jsonl(tmp_path, [[0.5, 1.0], [2.0, 3.0], [4.0, 5.0]]), 2, [TensorSpec("x")])
    assert bodies[1]["inputs"] == [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [4.0, 5.0, 0.5, 1.0]}]


def test_csv_makes_one_fp32_tensor_of_all_columns(tmp_path: Path) -> None:
    dataset = _csv(tmp_path, "sepal_length,sepal_width,petals\n5.1,3.5,2\n4.9,3,1\n")
    (body,) = _bodies(dataset, 2)
    assert body["inputs"] == [{"name": "input", "shape": [2, 3], "datatype": "FP32",
                               "data": [5.1, 3.5, 2.0, 4.9, 3.0, 1.0]}]
    (body,) = _bodies(dataset, 2, [TensorSpec("features", "FP64")])
    assert body["inputs"][0]["name"] == "features" and body["inputs"][0]["datatype"] == "FP64"
    assert "5.1 is not a whole number, as INT64 needs" in _refusal(dataset, [TensorSpec("f", "INT64")])


# --------------------------------------------------------------------------- refusals


def test_a_row_missing_an_input_or_with_an_extra_one_is_named(tmp_path: Path) -> None:
    message = _refusal(_jsonl(tmp_path, [{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 3}]))
    assert message == f"{WHERE}: rows.jsonl: row 3: missing input 'b' (row 1 has 'a', 'b')"
    message = _refusal(_jsonl(tmp_path, [{"a": 1}, {"a": 1, "c": 2}], "extra.jsonl"))
    assert message == f"{WHERE}: extra.jsonl: row 2: unexpected input 'c' (row 1 has 'a')"


def test_ragged_and_differing_shapes_are_refused(tmp_path: Path) -> None:
    assert _refusal(_jsonl(tmp_path, [{"x": [[1, 2], [3]]}])) == (
        f"{WHERE}: rows.jsonl: row 1: input 'x': ragged nested lists (sub-lists of different lengths): [[1, 2], [3]]")
    assert _refusal(_jsonl(tmp_path, [[1, 2], [1, 2], [1, 2, 3]], "b.jsonl")) == (
        f"{WHERE}: b.jsonl: row 3: input 'input': shape [3] differs from row 1's [2]")
    assert _refusal(_npy(tmp_path, np.zeros((2, 3))), [TensorSpec("x", None, (2, 2))]) == (
        f"{WHERE}: rows.npy: row 1: input 'x': a row of 3 values cannot take the shape [2, 2]")


@pytest.mark.parametrize(("values", "datatype", "problem"), [
    ([[1], [1.5]], "INT64", "row 2: input 'x': 1.5 is not a whole number, as INT64 needs"),
    ([[1], [300]], "UINT8", "row 2: input 'x': 300 is out of range for UINT8"),
    ([[-1]], "UINT32", "row 1: input 'x': -1 is out of range for UINT32"),
    ([[1e39]], "FP32", "row 1: input 'x': 1e+39 is out of range for FP32"),
    ([[70000]], "FP16", "row 1: input 'x': 70000 is out of range for FP16"),
    ([[0], [2]], "BOOL", "row 2: input 'x': 2 is not a boolean (true, false, 0 or 1)"),
    ([["a"]], "FP32", "row 1: input 'x': \"a\" is not a number, as FP32 needs"),
    ([[1]], "BYTES", "row 1: input 'x': 1 is not a string, as BYTES needs"),
    ([[2**63]], None, "row 1: input 'x': 9223372036854775808 is out of range for INT64"),
    ([[2**64]], "UINT64", "row 1: input 'x': 18446744073709551616 is out of range for INT64"),
])
def test_a_datatype_that_cannot_hold_a_value_names_the_row(tmp_path: Path, values: list[Any], datatype: str | None,
                                                           problem: str) -> None:
    dataset = _jsonl(tmp_path, [{"x": v} for v in values])
    assert _refusal(dataset, [TensorSpec("x", datatype)]) == f"{WHERE}: rows.jsonl: {problem}"


def test_numpy_values_json_cannot_carry_are_refused(tmp_path: Path) -> None:
    values = np.ones((3, 2), dtype=np.float32)
    values[2, 1] = np.nan
    assert _refusal(_npy(tmp_path, values)) == (
        f"{WHERE}: rows.npy: row 3: input 'input': NaN is not a finite number (JSON has no NaN or Infinity)")
    assert _refusal(_npy(tmp_path, values + np.float32(0.1), "f.npy"), [TensorSpec("x", "INT8")]) == (
        f"{WHERE}: f.npy: row 1: input 'x': 1.1 is not a whole number, as INT8 needs")
    assert _refusal(_npy(tmp_path, np.array([[1 + 2j]]), "c.npy")) == (
        f"{WHERE}: c.npy: input 'input': an array of complex128 has no KServe datatype "
        "(expected booleans, numbers or strings)")
    assert _refusal(_npy(tmp_path, np.array([b"\xff"]), "s.npy")) == (
        f"{WHERE}: s.npy: row 1: input 'input': b'\\xff' is not UTF-8 text, as BYTES needs in JSON")


def test_mixed_and_non_tensor_elements_are_refused(tmp_path: Path) -> None:
    assert _refusal(_jsonl(tmp_path, [[1, 2], ["a", "b"]])) == (
        f"{WHERE}: rows.jsonl: row 2: input 'input': mixes numbers and strings in one tensor")
    assert _refusal(_jsonl(tmp_path, [{"x": [1, None]}], "n.jsonl")) == (
        f"{WHERE}: n.jsonl: row 1: input 'x': null is not a tensor element (a number, string or boolean)")
    assert _refusal(_jsonl(tmp_path, [{"x": 1}, [1]], "m.jsonl")) == (
        f"{WHERE}: m.jsonl: row 2: [1] is not a JSON object, unlike row 1 (rows are either all objects of named "
        "inputs or all tensor values)")
    assert _refusal(_jsonl(tmp_path, [[1], [2], {"x": 1}], "o.jsonl")).startswith(
        f"{WHERE}: o.jsonl: row 3: {{\"x\": 1}} is a JSON object, unlike row 1")
    assert _refusal(_csv(tmp_path, "a,b\n1,2\n3,x\n")) == (
        f"{WHERE}: rows.csv: row 2: column 'b': \"x\" is not a number (a .csv makes one numeric tensor of all "
        "its columns)")


def test_inputs_that_do_not_fit_the_dataset_are_refused_all_at_once(tmp_path: Path) -> None:
    dataset = _jsonl(tmp_path, [{"a": 1, "b": "x"}])
    message = _refusal(dataset, [TensorSpec("a", "FLOAT32"), TensorSpec("a"), TensorSpec("c", None, (-1,))])
    assert message.splitlines() == [
        f"{WHERE}.inputs[0].datatype: unknown KServe datatype 'FLOAT32': expected one of BOOL, UINT8, UINT16, "
        "UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES",
        f"{WHERE}.inputs[1].name: input 'a' is named twice",
        f"{WHERE}.inputs[2].shape: expected whole numbers >= 0, found [-1]",
    ]
    assert _refusal(dataset, [TensorSpec("c")]) == (
        f"{WHERE}.inputs[0].name: no input 'c' in the rows of rows.jsonl (they have 'a', 'b')")
    assert _refusal(dataset, [TensorSpec("a", "BYTES"), TensorSpec("b", "FP32")]).splitlines() == [
        f"{WHERE}: rows.jsonl: row 1: input 'a': 1 is not a string, as BYTES needs",
        f"{WHERE}: rows.jsonl: row 1: input 'b': \"x\" is not a number, as FP32 needs",
    ]
    assert _refusal(_npy(tmp_path, np.zeros((2, 2))), [TensorSpec("a"), TensorSpec("b")]) == (
        f"{WHERE}.inputs: rows.npy makes one input tensor (its rows are not objects), but inputs names 2")


_SCALARS = st.one_of(st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=3), st.none())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
_ROWS = st.lists(st.one_of(_VALUES, st.dictionaries(st.sampled_from("ab"), _VALUES, max_size=2)), min_size=1,
                 max_size=4)
_SPECS = st.lists(st.builds(TensorSpec, st.sampled_from(["a", "b", "input"]),
                            st.one_of(st.none(), st.sampled_from(list(DATATYPES))),
                            st.one_of(st.none(), st.lists(st.integers(0, 3), max_size=2).map(tuple))), max_size=2)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_ROWS, inputs=_SPECS, batch_size=st.integers(1, 3))
def test_any_jsonl_gives_valid_bodies_or_a_message(tmp_path: Path, rows: list[Any], inputs: list[TensorSpec],
                                                   batch_size: int) -> None:
    dataset = _jsonl(tmp_path, rows)
    try:
        bodies = infer_bodies(dataset, batch_size, inputs, [], WHERE)
    except DatasetError as exc:
        assert all(line.startswith(WHERE) for line in exc.problems)
        return
    assert len(bodies) == len(dataset.batches(batch_size))
    for body in bodies:
        check_request(json.loads(body))


# --------------------------------------------------------------------------- against a server


@pytest.fixture(scope="module")
def iris_server() -> Iterator[KServe]:
    with serve(model="iris", version="1", inputs=[{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]) \
            as server:
        yield server


def test_readiness_waits_through_503_answers(tmp_path: Path) -> None:
    with serve(model="iris", unready=2) as server:
        wait_ready(ready_urls(server, "iris"), timeout_s=30, where=WHERE)
        assert server.stats()["ready_calls"] == {"/v2/health/ready": 3, "/v2/models/iris/ready": 3}


def test_readiness_gives_up_naming_the_url_and_its_last_answer() -> None:
    with serve(model="iris", unready=10_000) as server:
        with pytest.raises(SuiteError) as caught:
            wait_ready(ready_urls(server, "iris"), timeout_s=1, where=WHERE)
    message = str(caught.value)
    assert message.startswith(f"{WHERE}: ") and f"{server}/v2/health/ready: HTTP 503" in message


def test_an_unknown_model_is_never_ready(iris_server: KServe) -> None:
    with pytest.raises(SuiteError, match=r"/v2/models/nope/ready: HTTP 404"):
        wait_ready(ready_urls(iris_server, "nope"), timeout_s=0.5, where=WHERE)


def test_a_kserve_server_takes_every_body(iris_server: KServe, tmp_path: Path) -> None:
    features = np.random.default_rng(0).uniform(0, 8, size=(10, 4)).astype(np.float32)
    dataset = _npy(tmp_path, features)
    bodies = infer_bodies(dataset, 4, [TensorSpec("float_input")], ["probabilities"], WHERE)
    wait_ready(ready_urls(iris_server, "iris", "1"), timeout_s=30, where=WHERE)
    load = HttpLoad(infer_url(iris_server, "iris", "1"), "POST", JSON, bodies, 10.0, 4)
    before = len(iris_server.received())
    m = measure_http(load, warmup=0, iterations=9, duration_s=None, concurrency=3)
    assert (m.tally.calls, m.tally.errors, m.tally.timeouts) == (9, 0, 0), m.tally.error_samples
    received = iris_server.received()[before:]
    assert [r["status"] for r in received] == [200] * 9
    assert {r["path"] for r in received} == {"/v2/models/iris/versions/1/infer"}
    assert sorted(json.dumps(r["json"]) for r in received) == sorted(
        json.dumps(json.loads(bodies[i % 3])) for i in range(9))
    sent = np.array([x for r in received[:3] for x in r["json"]["inputs"][0]["data"]], dtype=np.float32)
    assert set(map(float, sent)) <= set(map(float, features.reshape(-1)))  # what the server read is the data
    assert all(math.isfinite(x) for x in sent)


def test_the_server_refuses_what_the_spec_does_not_allow(iris_server: KServe) -> None:
    load = HttpLoad(infer_url(iris_server, "iris"), "POST", JSON,
                    [b'{"inputs":[{"name":"float_input","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}'], 10.0, 1)
    m = measure_http(load, warmup=0, iterations=1, duration_s=None)
    assert m.tally.errors == 1 and m.tally.error_samples == ["HTTP 400"]
    assert iris_server.received()[-1]["error"] == "inputs[0]: shape [1, 4] holds 4 elements, data has 3"
    with pytest.raises(Refused, match="'UINT9' is not a datatype"):
        check_request({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT9", "data": [1]}]})
