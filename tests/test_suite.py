"""The suite file: every key, the defaults, and errors that name the file and the field."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from benchtrail.bench.suite import BenchmarkSpec, Suite, load_suite
from benchtrail.cli import cli
from benchtrail.errors import SuiteError

#: a good openai benchmark, which the cases below bend
OPENAI = ('[[benchmark]]\nname = "a"\nkind = "openai"\nurl = "http://h:8000/v1/chat/completions"\nmodel = "m"\n'
          'dataset = "data/rows.jsonl"\n')

EXAMPLE = '''
[suite]
name = "resnet50-cpu"
description = "ResNet-50 on the CPU runners, and the serving endpoint in front of it"
warmup = 5
runs = 2
timeout_s = 10

[[benchmark]]
name = "predict"
setup = "workload:load"
target = "workload:double"
dataset = "data/rows.jsonl"
batch_size = [1, 4, 8]
warmup = 3
iterations = 50
concurrency = 2

[[benchmark]]
name = "serve"
url = "http://127.0.0.1:8080/v1/models/resnet:predict?verbose=1"
method = "put"
headers = { Authorization = "Bearer ${MODEL_TOKEN}", X-Trace = "$$literal" }
body = { inputs = "$batch", options = { top_k = 5, scale = 0.5, fast = true } }
dataset = "data/rows.jsonl"
rate = [10.0, 25]
duration_s = 2.5
timeout_s = 1.5
'''


def problems_of(path: Path, **kwargs: Any) -> tuple[str, ...]:
    with pytest.raises(SuiteError) as caught:
        load_suite(path, **kwargs)
    return caught.value.problems


def by_label(suite: Suite) -> dict[str, BenchmarkSpec]:
    return {spec.label: spec for spec in suite.benchmarks}


# --- what a suite file can say ----------------------------------------------------------


def test_the_example_suite_with_every_key(write_suite: Any, suite_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_TOKEN", "s3cret")
    suite = load_suite(write_suite(EXAMPLE))
    assert suite.name == "resnet50-cpu"
    assert suite.description.startswith("ResNet-50 on the CPU")
    assert suite.path == (suite_dir / "suite.toml").resolve()
    specs = by_label(suite)
    assert list(specs) == [
        "predict[batch_size=1,concurrency=2]", "predict[batch_size=4,concurrency=2]",
        "predict[batch_size=8,concurrency=2]", "serve[rate=10.0]", "serve[rate=25.0]",
    ]
    predict = specs["predict[batch_size=4,concurrency=2]"]
    assert predict == BenchmarkSpec(
        name="predict", params={"batch_size": 4, "concurrency": 2}, kind="callable", index=0,
        suite_file=str((suite_dir / "suite.toml").resolve()), target="workload:double",
        setup="workload:load", url=None, method="POST", headers={}, body=None,
        dataset=str((suite_dir / "data" / "rows.jsonl").resolve()), batch_size=4, warmup=3,
        iterations=50, duration_s=None, concurrency=2, rate=None, runs=2, timeout_s=10.0,
    )
    assert predict.field_prefix == "suite.toml: benchmark[0]"
    # A rate is a float whether written 25 or 25.0, so both name the same series.
    serve = specs["serve[rate=25.0]"]
    assert serve == BenchmarkSpec(
        name="serve", params={"rate": 25.0}, kind="http", index=1,
        suite_file=str((suite_dir / "suite.toml").resolve()), target=None, setup=None,
        url="http://127.0.0.1:8080/v1/models/resnet:predict?verbose=1", method="PUT",
        # Headers keep their ${VAR} references: the worker fills them in, so the token
        # never travels in the spec file.
        headers={"Authorization": "Bearer ${MODEL_TOKEN}", "X-Trace": "$$literal"},
        body={"inputs": "$batch", "options": {"top_k": 5, "scale": 0.5, "fast": True}},
        dataset=str((suite_dir / "data" / "rows.jsonl").resolve()), batch_size=1, warmup=5,
        iterations=None, duration_s=2.5, concurrency=1, rate=25.0, runs=2, timeout_s=1.5,
    )
    assert specs["serve[rate=10.0]"].rate == 10.0
    assert all(spec.field_prefix == "suite.toml: benchmark[1]" for spec in suite.benchmarks[3:])


def test_a_minimal_suite_gets_the_built_in_defaults(write_suite: Any) -> None:
    suite = load_suite(write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "noop"\ntarget = "workload:noop"\n'))
    (spec,) = suite.benchmarks
    assert spec.label == "noop" and spec.params == {}
    assert (spec.kind, spec.warmup, spec.iterations, spec.duration_s, spec.runs) == ("callable", 10, 100, None, 1)
    assert (spec.concurrency, spec.batch_size, spec.timeout_s, spec.dataset) == (1, 1, 30.0, None)
    assert suite.description == ""


def test_the_dataset_is_relative_to_the_suite_file(
    tmp_path: Path, suite_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = suite_dir / "bench"
    (nested / "data").mkdir(parents=True)
    (nested / "data" / "x.npy").write_bytes(b"")
    (nested / "suite.toml").write_text(
        '[suite]\nname = "s"\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\ndataset = "data/x.npy"\n'
        '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\ndataset = "../data/rows.jsonl"\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    a, b = load_suite(Path("..") / "bench" / "suite.toml").benchmarks
    assert a.dataset == str((nested / "data" / "x.npy").resolve())
    assert b.dataset == str((suite_dir / "data" / "rows.jsonl").resolve())


def test_suite_level_defaults_and_what_overrides_them(write_suite: Any) -> None:
    suite = load_suite(write_suite('''
[suite]
name = "s"
warmup = 2
iterations = 7
runs = 3
timeout_s = 4
concurrency = [1, 2]

[[benchmark]]
name = "inherits"
target = "workload:noop"

[[benchmark]]
name = "overrides"
target = "workload:noop"
warmup = 0
runs = 1
concurrency = 8

[[benchmark]]
name = "timed"
url = "https://example.com/predict"
duration_s = 0.5
'''))
    specs = by_label(suite)
    assert [(s.label, s.warmup, s.iterations, s.duration_s, s.runs, s.timeout_s) for s in suite.benchmarks] == [
        ("inherits[concurrency=1]", 2, 7, None, 3, 4.0),
        ("inherits[concurrency=2]", 2, 7, None, 3, 4.0),
        ("overrides[concurrency=8]", 0, 7, None, 1, 4.0),
        ("timed[concurrency=1]", 2, None, 0.5, 3, 4.0),
        ("timed[concurrency=2]", 2, None, 0.5, 3, 4.0),
    ]
    assert specs["inherits[concurrency=2]"].concurrency == 2


def test_a_suite_level_duration_gives_way_to_a_benchmark_iterations(write_suite: Any) -> None:
    suite = load_suite(write_suite(
        '[suite]\nname = "s"\nduration_s = 3\n'
        '[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n'
        '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\niterations = 9\n'
    ))
    assert [(s.iterations, s.duration_s) for s in suite.benchmarks] == [(None, 3.0), (9, None)]


def test_the_runs_override_wins_over_the_file(write_suite: Any) -> None:
    path = write_suite('[suite]\nname = "s"\nruns = 5\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nruns = 4\n'
                       '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\n')
    assert [s.runs for s in load_suite(path).benchmarks] == [4, 5]
    assert [s.runs for s in load_suite(path, runs=2).benchmarks] == [2, 2]
    assert problems_of(path, runs=0) == ("suite.toml: runs: the override expects a whole number from 1 to 1000, found 0",)
    assert problems_of(path, runs=1001) == (
        "suite.toml: runs: the override expects a whole number from 1 to 1000, found 1001",)


def test_lists_make_one_benchmark_per_combination(write_suite: Any) -> None:
    suite = load_suite(write_suite(
        '[suite]\nname = "s"\n[[benchmark]]\nname = "grid"\nurl = "http://localhost:9/x"\n'
        'batch_size = [1, 2]\nconcurrency = [1, 4]\nrate = 5\n'
    ))
    assert [spec.params for spec in suite.benchmarks] == [
        {"batch_size": b, "concurrency": c, "rate": 5.0} for b in (1, 2) for c in (1, 4)
    ]
    assert [(s.batch_size, s.concurrency, s.rate) for s in suite.benchmarks][-1] == (2, 4, 5.0)


@pytest.mark.parametrize("name", ["a", "resnet50", "my-model", "llama_3.1-8b", "0day"])
def test_good_slugs(write_suite: Any, name: str) -> None:
    path = write_suite(f'[suite]\nname = "{name}"\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n')
    assert load_suite(path).name == name


# --- errors: the file and the field, every one at once -----------------------------------


def test_a_missing_dataset_names_the_file_and_the_field(write_suite: Any) -> None:
    path = write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n'
                       '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\ndataset = "data/x.npy"\n')
    assert problems_of(path) == ("suite.toml: benchmark[1].dataset: file not found: data/x.npy",)


def test_every_problem_is_listed_at_once(write_suite: Any) -> None:
    path = write_suite('''
[suite]
name = "My Suite"
colour = "blue"
warmup = -1

[[benchmark]]
name = ""
target = "workload"
dataset = "data/x.npy"
iterations = 10
duration_s = 1

[[benchmark]]
name = "b"
url = "ftp://example.com/"
target = "workload:noop"

[[benchmark]]
name = "c"
target = "workload:noop"
batch_size = [1, 0]
concurrency = 2.5
timeout_s = "soon"
method = "GET"
typo = 1

[[benchmark]]
name = "d"
url = "http://example.com/"
setup = "workload:load"
method = "DELETE"
rate = -5
dataset = "data/rows.txt"
''', name="my-suite.toml")
    # In document order, as record problems are: by field path, indexes before keys.
    assert problems_of(path) == (
        "my-suite.toml: benchmark[0].dataset: file not found: data/x.npy",
        "my-suite.toml: benchmark[0].iterations: give either iterations or duration_s, not both",
        'my-suite.toml: benchmark[0].name: expected a name that is not blank, found ""',
        'my-suite.toml: benchmark[0].target: expected module:function, found "workload"',
        "my-suite.toml: benchmark[1]: give exactly one of 'target' (module:function) or 'url'",
        'my-suite.toml: benchmark[2]: unknown key "typo"',
        "my-suite.toml: benchmark[2].batch_size[1]: expected a number >= 1, found 0",
        "my-suite.toml: benchmark[2].concurrency: expected integer, found 2.5",
        "my-suite.toml: benchmark[2].method: applies only where kind is 'http'; this benchmark's kind is 'callable'",
        'my-suite.toml: benchmark[2].timeout_s: expected number, found "soon"',
        'my-suite.toml: benchmark[3].dataset: expected a .npy, .jsonl, .csv file, found "data/rows.txt"',
        'my-suite.toml: benchmark[3].method: expected one of GET, POST, PUT, PATCH, found "DELETE"',
        "my-suite.toml: benchmark[3].rate: expected a number > 0, found -5",
        "my-suite.toml: benchmark[3].setup: applies only where kind is 'callable'; this benchmark's kind is 'http'",
        'my-suite.toml: suite: unknown key "colour"',
        "my-suite.toml: suite.name: expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found \"My Suite\"",
        "my-suite.toml: suite.warmup: expected a number >= 0, found -1",
    )


@pytest.mark.parametrize(("text", "expected"), [
    # unknown keys and tables
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbatchsize = 4\n',
     'benchmark[0]: unknown key "batchsize"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n[other]\nx = 1\n',
     'unknown key "other"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n"warm up" = 1\n',
     'benchmark[0]: unknown key "warm up"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n"x\\ny" = 2\n',
     'benchmark[0]: unknown key "x\\ny"'),
    ('"a.b" = 1\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n',
     'suite: unknown key "a.b"'),
    # iterations or duration_s
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\niterations = 0\n',
     "benchmark[0].iterations: expected a number >= 1, found 0"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\niterations = false\n',
     "benchmark[0].iterations: expected integer, found false"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\niterations = 2.0\n',
     "benchmark[0].iterations: expected integer, found 2.0"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nduration_s = 0\n',
     "benchmark[0].duration_s: expected a number > 0, found 0"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nduration_s = inf\n',
     "benchmark[0].duration_s: expected a finite number, found Infinity"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nduration_s = nan\n',
     "benchmark[0].duration_s: expected a finite number, found NaN"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nrate = 1' + "0" * 400 + "\n",
     "benchmark[0].rate: expected a finite number, found 1" + "0" * 56 + "..."),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nwarmup = 1979-05-27\n',
     "benchmark[0].warmup: expected integer, found 1979-05-27"),
    # target or url
    ('[[benchmark]]\nname = "a"\n', "benchmark[0]: give exactly one of 'target' (module:function) or 'url'"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nurl = "http://h/"\n',
     "benchmark[0]: give exactly one of 'target' (module:function) or 'url'"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nheaders = {A = "b"}\n',
     "benchmark[0].headers: applies only where kind is 'http' or 'openai' or 'kserve-v2'; this benchmark's kind is 'callable'"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbody = "x"\n',
     "benchmark[0].body: applies only where kind is 'http'; this benchmark's kind is 'callable'"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nsetup = "load"\n',
     'benchmark[0].setup: expected module:function, found "load"'),
    ('[[benchmark]]\nname = "a"\ntarget = 5\n', "benchmark[0].target: expected string, found 5"),
    ('[[benchmark]]\nname = "a"\nurl = "localhost:8000/x"\n',
     'benchmark[0].url: expected an http:// or https:// URL, found "localhost:8000/x"'),
    ('[[benchmark]]\nname = "a"\nurl = "http://[::1/x"\n',
     'benchmark[0].url: expected an http:// or https:// URL, found "http://[::1/x"'),
    ('[[benchmark]]\nname = "a"\nurl = "http://h:99999/x"\n',
     'benchmark[0].url: expected an http:// or https:// URL, found "http://h:99999/x"'),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/a b"\n',
     'benchmark[0].url: expected an http:// or https:// URL, found "http://h/a b"'),
    # http details
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nheaders = "Auth: x"\n',
     'benchmark[0].headers: expected object, found "Auth: x"'),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nheaders = {X-N = 5}\n',
     "benchmark[0].headers.X-N: expected string, found 5"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nheaders = {"Bad Name" = "x"}\n',
     "benchmark[0].headers: key \"Bad Name\" does not match ^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nheaders = {X = "a\\r\\nInjected: yes"}\n',
     "benchmark[0].headers.X: the value (after ${VAR} substitution) contains a line break or NUL"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nheaders = {X = "${"}\n',
     "benchmark[0].headers.X: bad ${VAR} reference: Invalid placeholder in string: line 1, col 1"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nbody = {when = 1979-05-27T07:32:00Z}\n',
     "benchmark[0].body.when: expected object or array or string or number or boolean, found 1979-05-27T07:32:00+00:00"),
    ('[[benchmark]]\nname = "a"\nurl = "http://h/"\nbody = [1.0, nan]\n',
     "benchmark[0].body[1]: expected a finite number, found NaN"),
    # sweeps
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbatch_size = []\n',
     "benchmark[0].batch_size: expected at least 1 items, found 0"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbatch_size = [[1]]\n',
     "benchmark[0].batch_size[0]: expected integer, found [1]"),
    # names
    ('[[benchmark]]\nname = "  "\ntarget = "workload:noop"\n', 'benchmark[0].name: expected a name that is not blank, found "  "'),
    ('[[benchmark]]\nname = "a\\nb"\ntarget = "workload:noop"\n',
     'benchmark[0].name: expected a name without control characters, found "a\\nb"'),
    ('[[benchmark]]\nname = "' + "x" * 201 + '"\ntarget = "workload:noop"\n',
     "benchmark[0].name: expected at most 200 characters, found 201"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n[[benchmark]]\nname = "a"\ntarget = "workload:double"\n',
     'benchmark[1].name: duplicate benchmark "a"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbatch_size = [2, 2]\n',
     'benchmark[0].name: duplicate benchmark "a[batch_size=2]"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\ndataset = 3\n',
     "benchmark[0].dataset: expected string, found 3"),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\ndataset = "data\\u0000.npy"\n',
     'benchmark[0].dataset: expected a path without NUL, found "data\\u0000.npy"'),
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\ndataset = "data"\n',
     'benchmark[0].dataset: expected a .npy, .jsonl, .csv file, found "data"'),
    # model servers
    (OPENAI.replace('model = "m"\n', ""), "benchmark[0].model: kind 'openai' needs the model's name"),
    (OPENAI.replace('dataset = "data/rows.jsonl"\n', ""),
     "benchmark[0].dataset: kind 'openai' reads its prompts from a .jsonl dataset"),
    (OPENAI.replace("/v1/chat/completions", "/generate"),
     "benchmark[0].url: kind 'openai' expects a url ending in /v1/chat/completions or /v1/completions"),
    (OPENAI + "sampling = { stream = false }\n", "benchmark[0].sampling.stream: benchtrail sets this request field itself"),
    (OPENAI + "batch_size = 2\n", "benchmark[0].batch_size: kind 'openai' sends one prompt per request"),
    (OPENAI + "body = {}\n", "benchmark[0].body: applies only where kind is 'http'; this benchmark's kind is 'openai'"),
    (OPENAI + "inputs = [{ name = \"x\" }]\n",
     "benchmark[0].inputs: applies only where kind is 'kserve-v2'; this benchmark's kind is 'openai'"),
    (OPENAI + "requests = 5\niterations = 5\n", "benchmark[0].iterations: give either iterations or requests, not both"),
    (OPENAI + "slo = { ttft_ms = 0 }\n", "benchmark[0].slo.ttft_ms: expected a number > 0, found 0"),
    (OPENAI + "slo = { e2e_ms = 5 }\n", 'benchmark[0].slo: unknown key "e2e_ms"'),
    (OPENAI + 'api_key_env = "BENCHTRAIL_SURELY_UNSET"\n',
     "benchmark[0].api_key_env: environment variable BENCHTRAIL_SURELY_UNSET is not set (or empty)"),
    ('[[benchmark]]\nname = "a"\nkind = "openai"\ntarget = "workload:noop"\nmodel = "m"\ndataset = "data/rows.jsonl"\n',
     "benchmark[0].kind: kind 'openai' measures a 'url', not a 'target'"),
    ('[[benchmark]]\nname = "a"\nkind = "kserve-v2"\nurl = "http://h:8080"\nmodel = "m"\n',
     "benchmark[0].dataset: kind 'kserve-v2' fills its input tensors from a dataset (.npy, .jsonl or .csv)"),
    ('[[benchmark]]\nname = "a"\nkind = "kserve-v2"\nurl = "http://h:8080"\nmodel = "m"\ndataset = "data/rows.jsonl"\n'
     'inputs = [{ name = "x", datatype = "FP128" }]\n',
     'benchmark[0].inputs[0].datatype: expected one of "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", '
     '"INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", found "FP128"'),
])
def test_one_problem(write_suite: Any, text: str, expected: str) -> None:
    path = write_suite('[suite]\nname = "s"\n' + text)
    assert problems_of(path) == (f"suite.toml: {expected}",)


@pytest.mark.parametrize(("suite_table", "expected"), [
    ('name = "Bad_Name"', "suite.name: expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found \"Bad_Name\""),
    ('name = "-x"', "suite.name: expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found \"-x\""),
    ('name = "caf\u00e9"', "suite.name: expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found \"caf\\u00e9\""),
    ('name = "s\\n"', "suite.name: expected a slug like 'my-model' ([a-z0-9][a-z0-9._-]*), found \"s\\n\""),
    ('name = 5', "suite.name: expected string, found 5"),
    ('description = "no name"', "suite: 'name' is a required property"),
    (f'name = "{"a" * 101}"', "suite.name: expected at most 100 characters, found 101"),
    ('name = "s"\ndescription = 5', "suite.description: expected string, found 5"),
    ('name = "s"\niterations = 5\nduration_s = 2', "suite.iterations: give either iterations or duration_s, not both"),
    ('name = "s"\ntimeout_s = -1', "suite.timeout_s: expected a number > 0, found -1"),
    ('name = "s"\nruns = 0', "suite.runs: expected a number >= 1, found 0"),
    ('name = "s"\nbatch_size = 4', 'suite: unknown key "batch_size"'),
    ('name = "s"\nconcurrency = [2, 5000]', "suite.concurrency[1]: expected a number <= 4096, found 5000"),
    ('name = "s"\nduration_s = 1e6', "suite.duration_s: expected a number <= 86400, found 1000000.0"),
    ('name = "s"\nruns = 100000', "suite.runs: expected a number <= 1000, found 100000"),
])
def test_suite_table_problems(write_suite: Any, suite_table: str, expected: str) -> None:
    path = write_suite(f"[suite]\n{suite_table}\n"
                       '[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n'
                       '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\n')
    # A wrong suite-level default is reported once, as suite.KEY, not once per benchmark.
    assert problems_of(path) == (f"suite.toml: {expected}",)


def test_a_kind_that_does_not_fit_says_so_beside_what_follows(write_suite: Any) -> None:
    path = write_suite('[suite]\nname = "s"\n' + OPENAI.replace("rows.jsonl", "x.npy").replace(
        'kind = "openai"', 'kind = "callable"'))
    assert problems_of(path) == (
        "suite.toml: benchmark[0].dataset: file not found: data/x.npy",
        "suite.toml: benchmark[0].kind: kind 'callable' measures a 'target' (module:function), not a 'url'",
        "suite.toml: benchmark[0].model: applies only where kind is 'openai' or 'kserve-v2'; "
        "this benchmark's kind is 'callable'",
    )
    openai = write_suite('[suite]\nname = "s"\n' + OPENAI.replace("rows.jsonl", "x.npy"))
    assert problems_of(openai) == ("suite.toml: benchmark[0].dataset: kind 'openai' reads a .jsonl dataset, "
                                   'found "data/x.npy"',
                                   "suite.toml: benchmark[0].dataset: file not found: data/x.npy")


def test_model_servers_take_their_keys(write_suite: Any) -> None:
    suite = load_suite(write_suite('[suite]\nname = "s"\n' + OPENAI + 'requests = 7\nconcurrency = [1, 8]\n'
                                   'sampling = { temperature = 0, ignore_eos = true }\nslo = { ttft_ms = 200 }\n'
                                   'max_tokens = 64\nready_timeout_s = 5\n'
                                   '[[benchmark]]\nname = "k"\nkind = "kserve-v2"\nurl = "http://h:8080"\n'
                                   'model = "iris"\nmodel_version = "2"\ndataset = "data/rows.jsonl"\n'
                                   'inputs = [{ name = "x", datatype = "FP32", shape = [4] }]\noutputs = ["y"]\n'))
    chat, _, kserve = suite.benchmarks
    assert (chat.kind, chat.iterations, chat.model, chat.max_tokens) == ("openai", 7, "m", 64)
    assert chat.sampling == {"temperature": 0, "ignore_eos": True} and chat.slo == {"ttft_ms": 200.0}
    assert chat.ready_timeout_s == 5.0 and chat.endpoint and chat.label == "a[concurrency=1]"
    assert (kserve.kind, kserve.model_version, kserve.outputs) == ("kserve-v2", "2", ("y",))
    assert kserve.inputs == ({"name": "x", "datatype": "FP32", "shape": [4]},) and kserve.ready_timeout_s == 60.0


@pytest.mark.parametrize(("text", "expected"), [
    ('[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n', ("'suite' is a required property",)),
    ('suite = "s"\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n', ('suite: expected object, found "s"',)),
    ('[suite]\nname = "s"\n', ("'benchmark' is a required property",)),
    ('benchmark = []\n[suite]\nname = "s"\n', ("benchmark: expected at least 1 items, found 0",)),
    ('[suite]\nname = "s"\n[benchmark]\nname = "a"\ntarget = "workload:noop"\n',
     ('benchmark: expected array, found {"name": "a", "target": "workload:noop"}',)),
    ('benchmark = [1, "x"]\n[suite]\nname = "s"\n',
     ("benchmark[0]: expected object, found 1", 'benchmark[1]: expected object, found "x"')),
])
def test_shape_problems(write_suite: Any, text: str, expected: tuple[str, ...]) -> None:
    assert problems_of(write_suite(text)) == tuple(f"suite.toml: {line}" for line in expected)


# --- limits: numbers far too large are refused at load, one line naming the field -----------

TOO_LARGE = [
    ('target = "workload:noop"\niterations = 10000001', "iterations: expected a number <= 10000000, found 10000001"),
    ('target = "workload:noop"\niterations = 9223372036854775807',
     "iterations: expected a number <= 10000000, found 9223372036854775807"),
    ('target = "workload:noop"\nwarmup = 1000001', "warmup: expected a number <= 1000000, found 1000001"),
    ('target = "workload:noop"\nduration_s = 86400.5', "duration_s: expected a number <= 86400, found 86400.5"),
    ('target = "workload:noop"\nruns = 1001', "runs: expected a number <= 1000, found 1001"),
    ('target = "workload:noop"\nconcurrency = 4097', "concurrency: expected a number <= 4096, found 4097"),
    ('target = "workload:noop"\nconcurrency = [1, 100000000]',
     "concurrency[1]: expected a number <= 4096, found 100000000"),
    ('target = "workload:noop"\nbatch_size = 1000000000000',
     "batch_size: expected a number <= 1000000, found 1000000000000"),
    ('url = "http://h/"\ntimeout_s = 1e9', "timeout_s: expected a number <= 86400, found 1000000000.0"),
    ('url = "http://h/"\nrate = 1e7', "rate: expected a number <= 1000000, found 10000000.0"),
    ('url = "http://h/"\nrate = [10, 1e-6]',
     ("rate: 100 requests at 1e-06/s take 1e+08 s, more than the 86400 s a run may last "
     "(raise rate or lower iterations)")),
    ('url = "http://h/"\nrate = [1e-6, 1e-300]\niterations = 5',  # one line for the table, not one per rate
     ("rate: 5 requests at 1e-06/s take 5e+06 s, more than the 86400 s a run may last "
     "(raise rate or lower iterations)")),
    ('url = "http://h/"\nrate = 200\nduration_s = 86400',
     ("rate: 200 requests/s for 86400 s make 17280000 requests, more than the 10000000 a run may send "
     "(lower rate or duration_s)")),
]


@pytest.mark.parametrize(("keys", "expected"), TOO_LARGE)
def test_a_number_far_too_large_is_one_line_naming_the_field_and_the_limit(
        write_suite: Any, tmp_path: Path, keys: str, expected: str) -> None:
    """Through the command line: before, a worker's MemoryError traceback, "worker died", or a hang."""
    suite = write_suite(f'[suite]\nname = "s"\n[[benchmark]]\nname = "a"\n{keys}\n')
    result = CliRunner().invoke(cli, ["run", str(suite), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == f"Error: suite.toml: benchmark[0].{expected}\n"
    assert not (tmp_path / "out").exists()


def test_the_runs_override_has_the_same_limit(write_suite: Any, tmp_path: Path) -> None:
    suite = write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "a"\ntarget = "workload:noop"\n')
    for args, env, found in ((["--runs", "1001"], {}, 1001), ([], {"BENCHTRAIL_RUNS": "1000000"}, 1000000)):
        result = CliRunner().invoke(cli, ["run", str(suite), "--out", str(tmp_path / "out"), *args], env=env)
        assert result.exit_code == 2
        assert result.stderr == ("Error: suite.toml: runs: the override expects a whole number from 1 to 1000, "
                                 f"found {found}\n")


def test_a_suite_level_duration_counts_toward_the_open_loop_limit(write_suite: Any) -> None:
    path = write_suite('[suite]\nname = "s"\nduration_s = 86400\n[[benchmark]]\nname = "a"\nurl = "http://h/"\n'
                       'rate = [100, 500]\n[[benchmark]]\nname = "b"\nurl = "http://h/"\nrate = 100\niterations = 10\n')
    assert problems_of(path) == (
        ("suite.toml: benchmark[0].rate: 500 requests/s for 86400 s make 43200000 requests, more than the "
        "10000000 a run may send (lower rate or duration_s)"),)


AT_THE_LIMITS = '''
[suite]
name = "s"
runs = 1000
[[benchmark]]
name = "a"
target = "workload:noop"
iterations = 10000000
warmup = 1000000
concurrency = 4096
batch_size = 1000000
[[benchmark]]
name = "b"
url = "http://h/"
duration_s = 86400
timeout_s = 86400
rate = 115.7
[[benchmark]]
name = "c"
url = "http://h/"
rate = 1000000
iterations = 10000000
'''


def test_values_at_the_limits_load(write_suite: Any) -> None:
    a, b, c = load_suite(write_suite(AT_THE_LIMITS)).benchmarks
    assert (a.iterations, a.warmup, a.concurrency, a.batch_size, a.runs) == (10**7, 10**6, 4096, 10**6, 1000)
    assert (b.duration_s, b.timeout_s, b.rate) == (86400.0, 86400.0, 115.7)
    assert (c.rate, c.iterations) == (10.0**6, 10**7)


def test_sweeps_make_at_most_1000_benchmarks(write_suite: Any) -> None:
    def suite(sizes: int, concurrency: int) -> Path:
        return write_suite(f'[suite]\nname = "s"\nconcurrency = {list(range(1, concurrency + 1))}\n'
                           f'[[benchmark]]\nname = "a"\ntarget = "workload:noop"\nbatch_size = {list(range(1, sizes + 1))}\n'
                           '[[benchmark]]\nname = "b"\ntarget = "workload:noop"\n')

    assert len(load_suite(suite(99, 10)).benchmarks) == 1000
    assert problems_of(suite(100, 10)) == ("suite.toml: benchmark: expected at most 1000 benchmarks, the sweeps make 1010",)
    # Counted, never made: a million combinations are refused at once.
    assert problems_of(suite(1000, 1000)) == (
        "suite.toml: benchmark: expected at most 1000 benchmarks, the sweeps make 1001000",)


# --- credentials stay out of the url ------------------------------------------------------

CREDENTIALS = ('benchmark[0].url: expected a URL without user or password: send them in headers, e.g. '
               'Authorization = "Basic ${CREDENTIALS}", filled in from the environment')


@pytest.mark.parametrize("url", [
    "http://user:s3cret@127.0.0.1:8000/v1/predict", "https://user@h/", "http://:s3cret@h/",
    "HTTPS://u:s3cret@[::1]:8/x?y=1", "http://u:s3cret@h:99999/", "ftp://u:s3cret@h/",
])
def test_a_user_or_password_in_the_url_is_refused_and_never_shown(write_suite: Any, url: str) -> None:
    path = write_suite(f'[suite]\nname = "s"\n[[benchmark]]\nname = "a"\nurl = "{url}"\n')
    assert problems_of(path) == (f"suite.toml: {CREDENTIALS}",)


def test_credentials_in_the_url_beside_an_authorization_header_are_one_line(
        write_suite: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, aiohttp's traceback from the worker ("Cannot combine AUTHORIZATION header ...")."""
    monkeypatch.setenv("MODEL_TOKEN", "tok")
    suite = write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "a"\nurl = "http://u:s3cret@127.0.0.1:9/x"\n'
                        'headers = { Authorization = "Bearer ${MODEL_TOKEN}" }\n')
    result = CliRunner().invoke(cli, ["run", str(suite), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr == f"Error: suite.toml: {CREDENTIALS}\n"
    assert "s3cret" not in result.output


@pytest.mark.parametrize("url", ["http://h/users/a@b", "http://h/x?email=a@b.example", "http://h/#me@there"])
def test_an_at_sign_after_the_host_is_no_credential(write_suite: Any, url: str) -> None:
    (spec,) = load_suite(write_suite(f'[suite]\nname = "s"\n[[benchmark]]\nname = "a"\nurl = "{url}"\n')).benchmarks
    assert spec.url == url


def test_a_header_variable_that_is_not_set(write_suite: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "a"\nurl = "http://h/"\n'
                       'headers = { Authorization = "Bearer ${BENCH_TOKEN}", X-Other = "$OTHER_VAR" }\n')
    monkeypatch.delenv("BENCH_TOKEN", raising=False)
    monkeypatch.delenv("OTHER_VAR", raising=False)
    assert problems_of(path) == (
        "suite.toml: benchmark[0].headers.Authorization: environment variable BENCH_TOKEN is not set",
        "suite.toml: benchmark[0].headers.X-Other: environment variable OTHER_VAR is not set",
    )
    monkeypatch.setenv("BENCH_TOKEN", "tok")
    monkeypatch.setenv("OTHER_VAR", "other")
    (spec,) = load_suite(path).benchmarks
    assert spec.headers == {"Authorization": "Bearer ${BENCH_TOKEN}", "X-Other": "$OTHER_VAR"}


def test_a_header_secret_is_never_shown(write_suite: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_TOKEN", "glpat-s3cret\nInjected: 1")
    path = write_suite('[suite]\nname = "s"\n[[benchmark]]\nname = "a"\nurl = "http://h/"\n'
                       'headers = { Authorization = "Bearer ${BENCH_TOKEN}" }\n')
    (line,) = problems_of(path)
    assert line == ("suite.toml: benchmark[0].headers.Authorization: the value (after ${VAR} substitution) "
                    "contains a line break or NUL")


def test_toml_syntax_error(write_suite: Any) -> None:
    path = write_suite('[suite]\nname = "s"\n[[benchmark]\nname = "a"\n')
    (line,) = problems_of(path)
    assert line.startswith("suite.toml: not valid TOML: ")
    assert "line 3" in line and "\n" not in line


def test_a_missing_suite_file(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.toml") == (f"{tmp_path / 'nope.toml'}: suite file not found",)


def test_a_folder_is_not_a_suite_file(tmp_path: Path) -> None:
    (line,) = problems_of(tmp_path)
    assert line.startswith(f"{tmp_path}: cannot read suite file: ")


def test_a_suite_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_bytes('[suite]\nname = "caf\u00e9"\n'.encode("latin-1"))
    assert problems_of(path) == (f"{path}: not UTF-8 text: byte 19: invalid continuation byte",)


# --- hypothesis: anything TOML can say gives a suite or a SuiteError -----------------------


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\' or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_string(key)} = {_toml_value(item)}" for key, item in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    """``data`` as TOML: scalars and arrays at the top, then tables and arrays of tables."""
    lines = []
    for key, value in data.items():
        if not isinstance(value, dict) and not (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
            lines.append(f"{_toml_string(key)} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{_toml_string(key)}]")
            lines += [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                lines.append(f"[[{_toml_string(key)}]]")
                lines += [f"{_toml_string(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


BENCHMARK_KEYS = ["name", "target", "setup", "url", "method", "headers", "body", "dataset", "batch_size",
                  "rate", "warmup", "iterations", "duration_s", "runs", "concurrency", "timeout_s", "other"]
SCALARS = (
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(-3, 300)
    | st.floats() | st.text(max_size=12)
    | st.sampled_from(["workload:noop", "workload:load", "http://127.0.0.1:1/x", "https://[::1]:8/",
                       "http://h:0/", "data/rows.jsonl", "data/x.npy", "../x.csv", "POST", "get",
                       "${HOME}", "$", "s", "my-suite"])
    | st.dates() | st.datetimes(timezones=st.none() | st.just(dt.timezone.utc))
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
BENCHMARK = st.dictionaries(st.sampled_from(BENCHMARK_KEYS), VALUES, max_size=8)
SUITE = st.dictionaries(st.sampled_from(["name", "description", "warmup", "iterations", "duration_s", "runs",
                                        "concurrency", "timeout_s", "batch_size"]), VALUES, max_size=5)
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "suite": SUITE | VALUES,
        "benchmark": st.lists(BENCHMARK, max_size=4) | VALUES,
        "extra": VALUES,
    },
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=DOCUMENTS, runs=st.none() | st.integers(-1, 3))
def test_any_toml_gives_a_suite_or_a_suite_error(suite_dir: Path, data: dict[str, Any], runs: int | None) -> None:
    path = suite_dir / "suite.toml"
    path.write_text(toml_document(data), encoding="utf-8")
    try:
        suite = load_suite(path, runs=runs)
    except SuiteError as exc:
        event("refused")
        assert "not valid TOML" not in str(exc)  # the writer above makes valid TOML
        for line in exc.problems:
            assert line.startswith("suite.toml: "), line
            assert len(line.splitlines()) == 1, line
            assert len(line) < 300, line
        return
    event("accepted")
    assert suite.benchmarks
    for spec in suite.benchmarks:
        json.dumps(spec.params, allow_nan=False)
        json.dumps(spec.body, allow_nan=False)  # what the worker sends must be JSON
        assert spec.iterations is None or spec.iterations >= 1
        assert (spec.iterations is None) != (spec.duration_s is None)
        assert spec.duration_s is None or math.isfinite(spec.duration_s)
        assert math.isfinite(spec.timeout_s) and spec.timeout_s > 0
        assert spec.runs >= 1 and spec.warmup >= 0 and spec.batch_size >= 1 and spec.concurrency >= 1
        # within the limits, so no worker is handed what it cannot hold
        assert spec.runs <= 1000 and spec.warmup <= 10**6 and spec.batch_size <= 10**6 and spec.concurrency <= 4096
        assert (spec.iterations or 0) <= 10**7 and (spec.duration_s or 0) <= 86400 and spec.timeout_s <= 86400
        if spec.rate is not None:
            assert spec.rate * (spec.duration_s or 0) <= 10**7 and (spec.iterations or 0) / spec.rate <= 86400
    assert len(suite.benchmarks) <= 1000


PLAUSIBLE = {
    "warmup": st.integers(-1, 5), "iterations": st.integers(0, 5), "runs": st.integers(0, 3),
    "duration_s": st.floats(-1, 5) | st.integers(0, 3), "timeout_s": st.floats(-1, 60) | st.integers(-1, 60),
    "concurrency": st.integers(0, 4) | st.lists(st.integers(0, 4), max_size=3),
    "batch_size": st.integers(0, 4) | st.lists(st.integers(0, 4), max_size=3),
    "rate": st.floats(-1, 100) | st.lists(st.floats(0, 100), max_size=2),
    "method": st.sampled_from(["GET", "post", "PATCH", "HEAD"]),
    "headers": st.dictionaries(st.sampled_from(["Accept", "X-Id", "Bad Name"]),
                               st.sampled_from(["json", "${HOME}", "$", "a\nb"]), max_size=2),
    "body": VALUES,
    "dataset": st.sampled_from(["data/rows.jsonl", "data/none.csv", "data", "../data/rows.jsonl"]),
    "setup": st.sampled_from(["workload:load", "load"]),
}


@st.composite
def near_valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    suite: dict[str, Any] = {"name": draw(st.sampled_from(["s", "my-suite", "Bad"]))}
    for key in draw(st.sets(st.sampled_from(["warmup", "iterations", "runs", "duration_s", "timeout_s",
                                             "concurrency"]), max_size=2)):
        suite[key] = draw(PLAUSIBLE[key])
    benchmarks = []
    for index in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["target", "url"]))
        bench: dict[str, Any] = {"name": draw(st.sampled_from([f"b{index}", "same"])),
                                 kind: "workload:noop" if kind == "target" else "http://127.0.0.1:9/x"}
        for key in draw(st.sets(st.sampled_from(sorted(PLAUSIBLE)), max_size=4)):
            bench[key] = draw(PLAUSIBLE[key])
        benchmarks.append(bench)
    return {"suite": suite, "benchmark": benchmarks}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=near_valid_documents())
def test_near_valid_suites_load_consistently_or_fail_cleanly(suite_dir: Path, data: dict[str, Any]) -> None:
    test_any_toml_gives_a_suite_or_a_suite_error.hypothesis.inner_test(suite_dir, data, None)  # type: ignore[attr-defined]


def test_the_shipped_suite_schema_is_package_data_and_a_valid_json_schema() -> None:
    import jsonschema

    from benchtrail.results.validation import load_schema

    document = load_schema("benchtrail.bench", "suite-1.schema.json")
    cls = jsonschema.validators.validator_for(document)
    assert cls is jsonschema.Draft202012Validator
    cls.check_schema(document)
    # The suite name is the record's slug: one rule, kept in the record schema.
    assert document["properties"]["suite"]["properties"]["name"]["$ref"] == "result-1.schema.json#/$defs/slug"
