"""The importer registry and ``import_results``: all-or-nothing writes, deterministic
names and bytes, and no input, however odd, gives anything but records or one-line
``ImportFormatError`` messages."""

from __future__ import annotations

import copy
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchtrail.commands.importing import ImportOptions
from benchtrail.commands.importing import import_results as import_command
from benchtrail.errors import ImportFormatError
from benchtrail.importers import IMPORTERS, read_records
from benchtrail.importers.base import Context
from benchtrail.results import load_record
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


def import_results(fmt: str, paths: list[Path], **options: Any) -> list[Path]:
    return import_command(ImportOptions(fmt, paths, **options))


def test_registry_names_every_format() -> None:
    assert sorted(IMPORTERS) == sorted(SAMPLES)
    for name, importer in IMPORTERS.items():
        assert importer.name == name
        assert importer.summary and "\n" not in importer.summary


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_sample_imports_into_valid_records(fmt: str, tmp_path: Path) -> None:
    written = import_results(fmt, [SAMPLES[fmt]], suite="imported", out_dir=tmp_path,
                             machine="ci-small")
    assert written and all(path.parent == tmp_path for path in written)
    assert sorted(tmp_path.iterdir()) == sorted(written)
    for path in written:
        record = load_record(path)
        assert record.suite == "imported"
        assert record.environment.hardware.runner_label == "ci-small"
        assert record.run.tool_version
        assert path.name.startswith("imported-")


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_same_input_same_bytes(fmt: str, tmp_path: Path) -> None:
    first = import_results(fmt, [SAMPLES[fmt]], suite="s", out_dir=tmp_path / "a")
    second = import_results(fmt, [SAMPLES[fmt]], suite="s", out_dir=tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_records_that_would_share_a_name_get_numbered(tmp_path: Path) -> None:
    written = import_results("hyperfine", [SAMPLES["hyperfine"], DATA / "hyperfine-params.json",
                                           DATA / "hyperfine-failing.json"],
                             suite="cli", out_dir=tmp_path)
    assert [p.name for p in written] == [
        "cli-19700101T000000Z-nocommit.json",
        "cli-19700101T000000Z-nocommit-2.json",
        "cli-19700101T000000Z-nocommit-3.json",
    ]


def test_a_bad_input_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"command": "x", "times": "soon"}]}', encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ImportFormatError) as caught:
        import_results("hyperfine", [SAMPLES["hyperfine"], bad], suite="s", out_dir=out)
    assert caught.value.problems == (f'{bad}: $.results[0].times: expected an array, found "soon"',)
    assert not out.exists()


def test_every_bad_input_is_listed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    missing = tmp_path / "missing.json"
    with pytest.raises(ImportFormatError) as caught:
        read_records("gab-smaller", [broken, missing], suite="s")
    first, second = caught.value.problems
    assert first.startswith(f"{broken}: not valid JSON: ")
    assert second == f"{missing}: cannot read: No such file or directory"


def test_importing_again_changes_nothing(tmp_path: Path) -> None:
    first = import_results("gab-bigger", [SAMPLES["gab-bigger"]], suite="s", out_dir=tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    again = import_results("gab-bigger", [SAMPLES["gab-bigger"]], suite="s", out_dir=tmp_path)
    assert again == first
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before


def test_a_different_record_never_overwrites_one_with_its_name(tmp_path: Path) -> None:
    (first,) = import_results("gab-bigger", [SAMPLES["gab-bigger"]], suite="s", out_dir=tmp_path)
    kept = first.read_bytes()
    (second,) = import_results("gab-smaller", [SAMPLES["gab-smaller"]], suite="s",
                               out_dir=tmp_path)
    assert (first.name, second.name) == ("s-19700101T000000Z-nocommit.json",
                                         "s-19700101T000000Z-nocommit-2.json")
    assert first.read_bytes() == kept
    assert load_record(second).benchmarks[0].metrics["value"].direction == "lower"


def test_unknown_format_bad_suite_and_no_paths(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as caught:
        import_results("criterion", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path)
    assert caught.value.problems == (
        ("unknown import format 'criterion': expected one of asv, gab-bigger, gab-data-js, "
         "gab-smaller, hyperfine, pytest-benchmark"),)
    with pytest.raises(ImportFormatError, match="^suite: expected lower-case"):
        read_records("hyperfine", [SAMPLES["hyperfine"]], suite="My Suite")
    with pytest.raises(ImportFormatError, match="^hyperfine: no input path given$"):
        read_records("hyperfine", [], suite="s")
    assert list(tmp_path.iterdir()) == []


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
        records = IMPORTERS[fmt].read(path, Context("fuzz", None))
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
    from benchtrail.cli import _IMPORT_FORMATS

    assert sorted(_IMPORT_FORMATS) == sorted(IMPORTERS)
