"""``benchtrail import`` without Click (``commands.importing``): all-or-nothing writes,
deterministic names and bytes, and no file overwritten."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_importers import DATA, SAMPLES

from benchtrail.commands.importing import ImportOptions, default_branch
from benchtrail.commands.importing import import_results as import_command
from benchtrail.errors import ImportFormatError
from benchtrail.results import load_record


def import_results(fmt: str, paths: list[Path], **options: Any) -> list[Path]:
    return import_command(ImportOptions(fmt=fmt, paths=paths, **options))


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_sample_imports_into_valid_records(fmt: str, tmp_path: Path) -> None:
    written = import_results(fmt, [SAMPLES[fmt]], suite="imported", out_dir=tmp_path,
                             machine="ci-small")
    assert written and all(path.parent == tmp_path for path in written)
    assert sorted(tmp_path.iterdir()) == sorted(written)
    for path in written:
        record = load_record(path)
        assert record.suite == "imported"
        assert record.environment.hardware.runner_label.split(" / ")[0] == "ci-small"  # asv adds its env
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


def test_a_refused_import_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as caught:
        import_results("criterion", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path)
    assert caught.value.problems == (
        ("unknown import format 'criterion': expected one of asv, gab-bigger, gab-data-js, "
         "gab-smaller, hyperfine, pytest-benchmark"),)
    with pytest.raises(ImportFormatError, match="^suite: expected lower-case"):
        import_results("hyperfine", [SAMPLES["hyperfine"]], suite="My Suite", out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_records_that_name_no_branch_get_the_one_given_or_the_default(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI_DEFAULT_BRANCH", raising=False)
    (given,) = import_results("hyperfine", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path / "a", ref="develop")
    assert load_record(given).source.ref == "develop"
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(tmp_path / "repo")], check=True)
    (default,) = import_results("hyperfine", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path / "b",
                                repo=tmp_path / "repo")
    assert load_record(default).source.ref == "trunk" and default_branch(tmp_path / "repo") == "trunk"
    assert default_branch(tmp_path) is None or default_branch(tmp_path) != "trunk"


def test_without_any_branch_a_warning_says_they_cannot_be_a_baseline(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI_DEFAULT_BRANCH", raising=False)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with caplog.at_level(logging.WARNING, logger="benchtrail"):
        (path,) = import_results("hyperfine", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path / "a",
                                 repo=outside)
    assert load_record(path).source.ref is None
    assert "1 imported record(s) name no branch, and none was given" in caplog.text
    assert "1 imported record(s) do not say when they ran: dated 1970-01-01T00:00:00Z" in caplog.text


def test_hardware_here_gives_the_fingerprint_a_run_on_this_machine_gets(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from benchtrail.bench.runner import local_environment

    monkeypatch.delenv("BENCHTRAIL_MACHINE", raising=False)
    monkeypatch.setenv("CI_RUNNER_TAGS", '["saas-linux-small"]')
    (elsewhere,) = import_results("hyperfine", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path / "a", ref="main")
    (here,) = import_results("hyperfine", [SAMPLES["hyperfine"]], suite="s", out_dir=tmp_path / "b", ref="main",
                             hardware="here")
    run_here = local_environment("saas-linux-small")
    imported = load_record(here).environment
    assert imported.fingerprint == run_here.fingerprint  # new runs here compare with the history
    assert imported.hardware == run_here.hardware
    assert imported.python == load_record(elsewhere).environment.python  # the software stays the input's
    # the input's own hardware (unknown) and no runner tags: a series of its own
    assert load_record(elsewhere).environment.hardware.runner_label == ""
    assert load_record(elsewhere).fingerprint != run_here.fingerprint
