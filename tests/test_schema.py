"""The record schema: what passes, and how every problem is reported."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benchtrail.errors import RecordError
from benchtrail.results import (
    SCHEMA_ID,
    SKETCH_QUANTILES,
    parse_record,
    problems,
    record_bytes,
    validate,
)
from benchtrail.results.model import Record
from benchtrail.results.schema import CURRENT_VERSION, schema_document, suite_name_problem

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"


def golden() -> dict[str, Any]:
    record: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return record


@pytest.fixture
def record() -> dict[str, Any]:
    return golden()


def refused(record: Any, source: str = "run.json") -> tuple[str, ...]:
    with pytest.raises(RecordError) as caught:
        validate(record, source)
    return caught.value.problems


# --- valid records -------------------------------------------------------------------


def test_valid_record_passes(record: dict[str, Any]) -> None:
    assert problems(record) == []
    assert validate(record, "run.json") == golden()


def test_valid_record_with_a_gpu_an_http_benchmark_and_an_mr(record: dict[str, Any]) -> None:
    record["environment"]["gpu"] = {
        "model": "NVIDIA H100 80GB HBM3", "count": 2, "driver_version": "550.54.15",
        "cuda_version": "12.4", "memory_total_mb": 81559.0,
    }
    record["source"]["mr_iid"] = "42"
    http = record["benchmarks"][1]
    http.update(kind="http", target="http://127.0.0.1:8000/v1/predict", duration_s=2.5,
                errors=3, timeouts=1, error_samples=["HTTP 503", "timeout after 1 s"],
                warnings=["3 errors and 1 timeouts in 600 calls"])
    http["params"] = {"batch_size": 8, "rate": 12.5, "tag": "warm", "streamed": False}
    del http["dataset"]
    assert problems(record) == []


def test_thread_settings_are_optional_and_checked(record: dict[str, Any]) -> None:
    assert "threads" not in record["environment"] and problems(record) == []
    record["environment"]["threads"] = {
        "variables": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        "pools": [{"user_api": "blas", "internal_api": "openblas", "num_threads": 1},
                  {"user_api": "openmp", "internal_api": "openmp", "num_threads": None}],
    }
    assert problems(record) == []
    record["environment"]["threads"] = {"variables": {}, "pools": []}
    assert problems(record) == []
    record["environment"]["threads"] = {"variables": {"OMP_NUM_THREADS": 1},
                                        "pools": [{"user_api": "blas", "internal_api": "mkl", "num_threads": "2"}],
                                        "extra": True}
    found = refused(record)
    assert len(found) == 3 and all("environment.threads" in line for line in found), found


# --- every problem, with its JSON path --------------------------------------------


def test_every_problem_is_listed_with_its_path_and_the_source(record: dict[str, Any]) -> None:
    record["benchmarks"][0]["metrics"]["latency_ms"]["p50"] = "fast"
    record["benchmarks"][1]["calls"] = -1
    record["suite"] = "My Suite"
    del record["run"]["timer"]
    assert refused(record) == (
        'run.json: $.benchmarks[0].metrics.latency_ms.p50: expected number, found "fast"',
        "run.json: $.benchmarks[1].calls: expected a number >= 0, found -1",
        "run.json: $.run: 'timer' is a required property",
        'run.json: $.suite: expected a string matching ^[a-z0-9][a-z0-9._-]*$, found "My Suite"',
    )


def _set(path: str, value: Any) -> Any:
    def mutate(record: dict[str, Any]) -> None:
        *parents, last = json.loads(path)
        target = record
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _delete(path: str) -> Any:
    def mutate(record: dict[str, Any]) -> None:
        *parents, last = json.loads(path)
        target = record
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


LATENCY = '"benchmarks", 0, "metrics", "latency_ms"'

CASES = [
    (_delete(f"[{LATENCY}, \"sketch\"]"),
     "$.benchmarks[0].metrics.latency_ms: 'sketch' is a required property"),
    (_set(f"[{LATENCY}, \"value\"]", 1.0),
     '$.benchmarks[0].metrics.latency_ms: unknown key "value"'),
    (_set(f"[{LATENCY}, \"direction\"]", "down"),
     '$.benchmarks[0].metrics.latency_ms.direction: expected one of "lower", "higher", found "down"'),
    (_set(f"[{LATENCY}, \"stdev\"]", -0.5),
     "$.benchmarks[0].metrics.latency_ms.stdev: expected a number >= 0, found -0.5"),
    (_set(f"[{LATENCY}, \"n\"]", 2.5),
     "$.benchmarks[0].metrics.latency_ms.n: expected integer, found 2.5"),
    (_set(f"[{LATENCY}, \"sketch\", \"values\"]", [0.1]),
     "$.benchmarks[0].metrics.latency_ms.sketch.values: expected at least 17 items, found 1"),
    (_set(f"[{LATENCY}, \"sketch\", \"values\", 3]", None),
     "$.benchmarks[0].metrics.latency_ms.sketch.values[3]: expected number, found null"),
    (_set(f"[{LATENCY}, \"sketch\", \"quantiles\", 0]", 0.002),
     "$.benchmarks[0].metrics.latency_ms.sketch.quantiles: expected [0.001, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, "
     "0..., found [0.002, 0.01, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0..."),
    (_set(f"[{LATENCY}, \"p50\"]", math.nan),
     "$.benchmarks[0].metrics.latency_ms.p50: expected a finite number, found nan"),
    (_set(f"[{LATENCY}, \"runs\", 1]", -math.inf),
     "$.benchmarks[0].metrics.latency_ms.runs[1]: expected a finite number, found -inf"),
    (_set('["benchmarks", 0, "metrics", "throughput", "value"]', "many"),
     '$.benchmarks[0].metrics.throughput.value: expected number, found "many"'),
    (_set('["benchmarks", 0, "metrics", "Latency"]', {"unit": "ms", "direction": "lower", "value": 1}),
     '$.benchmarks[0].metrics: key "Latency" does not match ^[a-z][a-z0-9_]*$'),
    (_set('["benchmarks", 0, "kind"]', "grpc"),
     '$.benchmarks[0].kind: expected one of "callable", "http", "openai", "kserve-v2", found "grpc"'),
    (_set('["benchmarks", 0, "params", "a.b\\nc"]', None),
     '$.benchmarks[0].params["a.b\\nc"]: expected string or number or boolean, found null'),
    (_set('["benchmarks", 0, "dataset", "sha256"]', "XYZ"),
     '$.benchmarks[0].dataset.sha256: expected a string matching ^[0-9a-f]{64}$, found "XYZ"'),
    (_set('["benchmarks"]', []),
     "$.benchmarks: expected at least 1 items, found 0"),
    (_set('["source", "commit"]', "HEAD"),
     '$.source.commit: expected a string matching ^[0-9a-f]{40}([0-9a-f]{24})?$, found "HEAD"'),
    (_set('["source", "commit_title"]', "broken \ud800 title"),
     "$.source.commit_title: expected Unicode text, found a lone surrogate"),
    (_set('["environment", "gpu"]', "nvidia"),
     '$.environment.gpu: expected "none", found "nvidia"'),
    (_set('["environment", "gpu"]', {"model": "A100", "count": 1, "driver_version": "550",
                                     "cuda_version": None}),
     "$.environment.gpu: 'memory_total_mb' is a required property"),
    (_set('["environment", "fingerprint"]', 12),
     "$.environment.fingerprint: expected string, found 12"),
    (_set('["run", "started_at"]', "yesterday"),
     '$.run.started_at: expected an RFC 3339 date-time, found "yesterday"'),
    (_set('["run", "started_at"]', "2026-02-30T10:00:00Z"),
     '$.run.started_at: expected an RFC 3339 date-time, found "2026-02-30T10:00:00Z"'),
    (_set('["run", "started_at"]', "2026-03-02 13:12:40"),
     '$.run.started_at: expected an RFC 3339 date-time, found "2026-03-02 13:12:40"'),
    (_set('["run", "runs"]', True),
     "$.run.runs: expected integer, found true"),
    (_set('["surprise"]', 1), '$: unknown key "surprise"'),
]


@pytest.mark.parametrize(("mutate", "expected"), CASES, ids=[line.split(":")[0] for _, line in CASES])
def test_one_problem_one_line(record: dict[str, Any], mutate: Any, expected: str) -> None:
    mutate(record)
    assert problems(record) == [expected]
    assert refused(record, "results/x.json") == (f"results/x.json: {expected}",)


@pytest.mark.parametrize("started_at", [
    "2026-03-02T13:12:40Z", "2026-03-02t13:12:40.123456z", "2026-03-02T13:12:40+05:30",
    "2016-12-31T23:59:60Z",  # a leap second
])
def test_rfc3339_date_times_pass(record: dict[str, Any], started_at: str) -> None:
    record["run"]["started_at"] = started_at
    assert problems(record) == []


def test_a_metric_with_several_gpu_problems_names_each(record: dict[str, Any]) -> None:
    record["environment"]["gpu"] = {"model": "A100"}
    assert problems(record) == [
        f"$.environment.gpu: '{key}' is a required property"
        for key in ("count", "driver_version", "cuda_version", "memory_total_mb")
    ]


def test_problems_are_in_document_order(record: dict[str, Any]) -> None:
    for index in (0, 1):
        record["benchmarks"][index]["errors"] = "none"
    record["benchmarks"].extend(copy.deepcopy(record["benchmarks"][0]) for _ in range(9))
    record["benchmarks"][10]["errors"] = "none"
    assert [line.split(":")[0] for line in problems(record)] == [
        "$.benchmarks[0].errors", "$.benchmarks[1].errors", "$.benchmarks[2].errors",
        "$.benchmarks[3].errors", "$.benchmarks[4].errors", "$.benchmarks[5].errors",
        "$.benchmarks[6].errors", "$.benchmarks[7].errors", "$.benchmarks[8].errors",
        "$.benchmarks[9].errors", "$.benchmarks[10].errors",
    ]


def test_a_large_value_is_shortened_never_the_whole_record(record: dict[str, Any]) -> None:
    whole = copy.deepcopy(record)
    record["benchmarks"] = {"x" * 1000: whole}
    (line,) = problems(record)
    assert line.startswith("$.benchmarks: expected array, found {")
    assert line.endswith("...")
    assert len(line) < 120


def test_many_unknown_keys_are_counted_not_all_shown(record: dict[str, Any]) -> None:
    record["run"].update({f"extra_{i:02}": i for i in range(12)})
    assert problems(record) == [
        '$.run: unknown keys "extra_00", "extra_01", "extra_02", "extra_03", "extra_04" and 7 more'
    ]


# --- the schema tag ----------------------------------------------------------------


def test_missing_schema_is_its_own_error(record: dict[str, Any]) -> None:
    del record["schema"]
    del record["run"]  # not reported: without a schema the rest is not checked
    assert refused(record) == (
        "run.json: $.schema: missing: this is not a benchtrail result record",
    )


def test_a_newer_version_says_upgrade_benchtrail(record: dict[str, Any]) -> None:
    record["schema"] = f"benchtrail.result/{CURRENT_VERSION + 1}"
    record["something_new"] = {"in": "version 2"}
    (line,) = refused(record)
    assert line == (
        f'run.json: $.schema: "benchtrail.result/{CURRENT_VERSION + 1}" is newer than this '
        f"benchtrail reads ({SCHEMA_ID}): upgrade benchtrail"
    )


@pytest.mark.parametrize(("tag", "shown"), [
    ("benchtrail.result/0", '"benchtrail.result/0"'),
    ("benchtrail.result/01", '"benchtrail.result/01"'),
    ("benchtrail.result/-1", '"benchtrail.result/-1"'),
    ("benchtrail.result/\u0661", '"benchtrail.result/\\u0661"'),  # an Arabic-Indic digit one
    ("benchtrail.result/1 ", '"benchtrail.result/1 "'),
    ("pytest-benchmark/4.0", '"pytest-benchmark/4.0"'),
    (None, "null"),
    (1, "1"),
    (["benchtrail.result/1"], '["benchtrail.result/1"]'),
])
def test_a_wrong_schema_id_is_named(record: dict[str, Any], tag: Any, shown: str) -> None:
    record["schema"] = tag
    assert refused(record) == (f'run.json: $.schema: expected "{SCHEMA_ID}", found {shown}',)


@pytest.mark.parametrize(("value", "found"), [
    ([], "array"), ("text", "string"), (None, "null"), (3, "number"), (True, "boolean"),
])
def test_not_an_object(value: Any, found: str) -> None:
    assert refused(value) == (f"run.json: $: expected a JSON object, found {found}",)


# --- the shipped schema -------------------------------------------------------------


_NOT_A_SLUG = "expected lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"


@pytest.mark.parametrize(("name", "expected"), [
    ("mlp-cpu", None),
    ("v1.2_x", None),
    ("a" * 100, None),
    ("My Suite", f'{_NOT_A_SLUG}, found "My Suite"'),
    ("-x", f'{_NOT_A_SLUG}, found "-x"'),
    ("mlp\n", f'{_NOT_A_SLUG}, found "mlp\\n"'),
    ("a" * 101, "expected at most 100 characters, found 101"),
    ("A" * 101, f'{_NOT_A_SLUG}, found "{"A" * 56}...; expected at most 100 characters, found 101'),
])
def test_a_suite_name_is_checked_by_the_schemas_slug(name: str, expected: str | None) -> None:
    assert suite_name_problem(name) == expected


def test_a_suite_name_the_check_lets_in_makes_a_valid_record(record: dict[str, Any]) -> None:
    for name in ("My Suite", "a" * 101, "x", "0.a_b-c"):
        record["suite"] = name
        assert (suite_name_problem(name) is None) == (problems(record) == [])


def test_the_shipped_schema_loads_as_package_data_and_is_a_valid_json_schema() -> None:
    text = resources.files("benchtrail.results").joinpath("schemas/result-1.schema.json").read_text(
        encoding="utf-8"
    )
    document = json.loads(text)
    assert document == schema_document(1) == schema_document()
    cls = jsonschema.validators.validator_for(document)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(document)
    assert document["properties"]["schema"] == {"const": SCHEMA_ID}
    sketch = document["$defs"]["metric"]["oneOf"][1]["properties"]["sketch"]["properties"]
    assert tuple(sketch["quantiles"]["const"]) == SKETCH_QUANTILES
    assert sketch["values"]["minItems"] == sketch["values"]["maxItems"] == len(SKETCH_QUANTILES)


def test_the_golden_record_passes_the_plain_json_schema_too(record: dict[str, Any]) -> None:
    # Other tools read records with any JSON Schema validator and the shipped file alone.
    document = schema_document()
    jsonschema.validators.validator_for(document)(document).validate(record)


# --- hypothesis: random damage is refused with a message, never a traceback -------------

JSON_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _locations(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _locations(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _locations(item, (*path, index))
    return found


def _mutate(record: Any, data: st.DataObject) -> Any:
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_locations(record)), label="where")
        operation = data.draw(st.sampled_from(["drop", "replace", "add", "retype"]), label="what")
        if not path:
            if operation == "replace":
                record = data.draw(JSON_VALUES, label="root")
            continue
        parent = record
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        if operation == "drop":
            del parent[key]
        elif operation == "replace":
            parent[key] = data.draw(JSON_VALUES, label="value")
        elif operation == "retype":
            parent[key] = data.draw(st.sampled_from(
                [str(parent[key]), [parent[key]], {"v": parent[key]}, None, math.nan, math.inf, 0, -1, True]
            ), label="retyped")
        elif isinstance(parent[key], dict):
            parent[key][data.draw(st.text(max_size=8), label="new key")] = data.draw(JSON_VALUES)
        elif isinstance(parent[key], list):
            parent[key].append(data.draw(JSON_VALUES, label="new item"))
    return record


def _check_refusal(exc: RecordError, source: str) -> None:
    assert exc.problems
    for line in exc.problems:
        assert line.startswith(f"{source}: $"), line
        assert len(line.splitlines()) == 1, line
        assert len(line) < 400, line


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_damage_is_accepted_or_refused_with_a_message(data: st.DataObject) -> None:
    record = _mutate(golden(), data)
    try:
        checked = validate(record, "damaged.json")
    except RecordError as exc:
        event("refused")
        _check_refusal(exc, "damaged.json")
        return
    event("accepted")
    # What is accepted can be written, and reads back the same.
    typed = Record.from_json(checked)
    assert parse_record(record_bytes(typed), "again.json") == typed


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_check_never_accepts_what_jsonschema_refuses(data: st.DataObject) -> None:
    # problems() trusts the compiled check's yes and asks jsonschema only on a no: a yes
    # for a record that jsonschema (or the NaN and surrogate walk) refuses would let it in.
    from benchtrail.results.schema import _acceptor, _validator, _value_problems
    from benchtrail.results.validation import schema_problems

    record = _mutate(golden(), data)
    full = schema_problems(_validator(1), record) + _value_problems(record) if isinstance(record, dict) else ["x"]
    accepted = isinstance(record, dict) and record.get("schema") == SCHEMA_ID and _acceptor(1)(record)
    event("accepted" if accepted else "refused")
    if accepted:
        assert full == []
    assert (problems(record) == []) == (full == [] and record.get("schema") == SCHEMA_ID)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_damage_in_a_file_is_refused_with_a_message(data: st.DataObject) -> None:
    record = _mutate(golden(), data)
    text = json.dumps(record, allow_nan=True)
    try:
        parse_record(text.encode("utf-8", "surrogatepass"), "damaged.json")
    except RecordError as exc:
        for line in exc.problems:
            assert line.startswith("damaged.json: "), line
            assert len(line.splitlines()) == 1, line


def test_a_schema_tag_with_thousands_of_digits_is_one_line(record: dict[str, Any]) -> None:
    record["schema"] = "benchtrail.result/" + "9" * 5000  # int() of it raised ValueError, exit 3
    (line,) = problems(record)
    assert line.startswith('$.schema: expected "benchtrail.result/1", found "benchtrail.result/999')
