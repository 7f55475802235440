"""The importer registry and ``read_records``: one list of formats, every problem of every
input listed, and no input, however odd, gives anything but records or one-line
``ImportFormatError`` messages. Writing the records is ``test_importing``'s."""

from __future__ import annotations

import copy
import importlib
import json
import math
import pkgutil
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchtrail import importers
from benchtrail.errors import ImportFormatError
from benchtrail.importers import FORMATS, importer_for, read_records
from benchtrail.importers.base import Context, Importer
from benchtrail.results.schema import problems

DATA = Path(__file__).parent / "data" / "imports"

#: format -> a real sample input of it
SAMPLES = {
    "pytest-benchmark": DATA / "pytest-benchmark.json",
    "hyperfine": DATA / "hyperfine.json",
    "gab-smaller": DATA / "gab-smaller.json",
    "gab-bigger": DATA / "gab-bigger.json",
    "gab-data-js": DATA / "data.js",
    "asv": DATA / "asv-results",
}


def test_formats_name_every_sample_in_one_line_each() -> None:
    assert sorted(FORMATS) == sorted(SAMPLES)
    for summary in FORMATS.values():
        assert summary and "\n" not in summary


def test_the_registry_has_an_importer_of_each_format() -> None:
    for name in FORMATS:
        assert importer_for(name).name == name


def test_formats_and_the_format_modules_agree() -> None:
    """Every ``Importer`` a format module defines is one of ``FORMATS``, and each format
    has one: a new module cannot be left out of the list, nor a name misspelt in it."""
    defined = []
    for info in pkgutil.iter_modules(importers.__path__, "benchtrail.importers."):
        module = importlib.import_module(info.name)
        defined.extend(value.name for value in vars(module).values() if isinstance(value, Importer))
    assert sorted(defined) == sorted(FORMATS)


def test_importing_the_package_loads_no_format_module() -> None:
    code = ("import sys, json, benchtrail.importers; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('benchtrail.importers.', "
            "'benchtrail.results.', 'numpy', 'jsonschema', 'click')))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_every_bad_input_is_listed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    missing = tmp_path / "missing.json"
    with pytest.raises(ImportFormatError) as caught:
        read_records("gab-smaller", [broken, missing], suite="s")
    first, second = caught.value.problems
    assert first.startswith(f"{broken}: not valid JSON: ")
    assert second == f"{missing}: cannot read: No such file or directory"


def test_unknown_format_bad_suite_and_no_paths() -> None:
    with pytest.raises(ImportFormatError) as caught:
        read_records("criterion", [SAMPLES["hyperfine"]], suite="s")
    assert caught.value.problems == (
        ("unknown import format 'criterion': expected one of asv, gab-bigger, gab-data-js, "
         "gab-smaller, hyperfine, pytest-benchmark"),)
    with pytest.raises(ImportFormatError, match="^suite: expected lower-case"):
        read_records("hyperfine", [SAMPLES["hyperfine"]], suite="My Suite")
    with pytest.raises(ImportFormatError, match="^hyperfine: no input path given$"):
        read_records("hyperfine", [], suite="s")


# --- hypothesis: random and mutated inputs -------------------------------------------

_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
            | st.sampled_from(["", "1.5", "2026-01-02T03:04:05Z", "a" * 250, "\ud800", "pytest",
                               "9c1e5be4d0b7a3f2e8c6d4b2a0f9e7c5b3a1d8f6", "time", "'x'",
                               1e308, -1e308, 1e99, 0, 0.0, -1.0, 2**60]))
JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_FUZZ = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*at, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*at, index)))
    return found


def _mutate(data: st.DataObject, document: Any) -> Any:
    """``document`` with one value replaced by random JSON, or one field removed."""
    document = copy.deepcopy(document)
    path = data.draw(st.sampled_from(_paths(document)))
    if not path:
        return data.draw(JSON)
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(JSON)
    return document


def _check(fmt: str, path: Path) -> None:
    """The property: valid records, or an ImportFormatError of one-line problems that
    name the input."""
    try:
        records = importer_for(fmt).read(path, Context("fuzz", None))
    except ImportFormatError as exc:
        for line in exc.problems:
            assert "\n" not in line
            assert line.startswith((str(path), "... and "))
        return
    assert records
    for record in records:
        assert problems(record.to_json()) == []


def _load_sample(fmt: str) -> Any:
    text = SAMPLES[fmt].read_text(encoding="utf-8")
    if fmt == "gab-data-js":
        text = text.split("=", 1)[1]
    return json.loads(text)


def _write(fmt: str, folder: Path, document: Any) -> Path:
    text = json.dumps(document, allow_nan=True)
    if fmt == "gab-data-js":
        text = "window.BENCHMARK_DATA = " + text
    path = folder / ("data.js" if fmt == "gab-data-js" else "input.json")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["pytest-benchmark", "hyperfine", "gab-smaller", "gab-data-js"])
@_FUZZ
@given(data=st.data())
def test_mutated_or_random_file_inputs(fmt: str, data: st.DataObject) -> None:
    sample = _load_sample(fmt)
    document = data.draw(JSON) if data.draw(st.integers(0, 4)) == 0 else _mutate(data, sample)
    with tempfile.TemporaryDirectory() as folder:
        _check(fmt, _write(fmt, Path(folder), document))


_ASV_RESULT = SAMPLES["asv"] / "ci-runner-1" / "428465a3-existing-py_tmp_asvenv_bin_python.json"


@_FUZZ
@given(data=st.data())
def test_mutated_asv_folders(data: st.DataObject) -> None:
    which = data.draw(st.sampled_from(["result", "machine", "benchmarks"]))
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "results"
        shutil.copytree(SAMPLES["asv"], root)
        target = {
            "result": root / "ci-runner-1" / _ASV_RESULT.name,
            "machine": root / "ci-runner-1" / "machine.json",
            "benchmarks": root / "benchmarks.json",
        }[which]
        document = json.loads(target.read_text(encoding="utf-8"))
        target.write_text(json.dumps(_mutate(data, document), allow_nan=True), encoding="utf-8")
        _check("asv", root)


def test_fuzz_inputs_include_non_finite_numbers() -> None:
    # the asv sample itself carries NaN (a skipped benchmark): parsing must allow it
    text = _ASV_RESULT.read_text(encoding="utf-8")
    assert "NaN" in text and math.isnan(json.loads(text)["results"]["bench_infer.Predict.time_predict"][0][3])


def test_the_cli_offers_exactly_the_registered_formats() -> None:
    from benchtrail.cli import cli

    fmt = next(param for param in cli.commands["import"].params if param.name == "fmt")
    assert sorted(fmt.type.choices) == sorted(FORMATS)
