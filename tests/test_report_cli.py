"""``benchtrail report`` on the command line: exit codes, one-line errors, CI defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from comparefixtures import history, push_history

from benchtrail.cli import cli

pytest_plugins = ("gitfixtures",)


def invoke(*args: str | Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def test_help_names_the_options_and_their_variables() -> None:
    result = invoke("report", "--help")
    assert result.exit_code == 0
    for text in ("--comparison", "--out", "CI_PROJECT_URL", "CI_DEFAULT_BRANCH", "BENCHTRAIL_CHART_CACHE",
                 "BENCHTRAIL_BRANCH", "--no-fetch"):
        assert text in result.output


def test_writes_the_site_and_prints_its_index(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    push_history(work, history([10.0] * 4, seed=3), tmp_path / "hist")
    result = invoke("report", "--repo", work, "--out", tmp_path / "site", "--title", "Our <speed>",
                    env={"CI_PROJECT_URL": "https://gitlab.example.com/g/p", "CI_DEFAULT_BRANCH": "main"})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "site" / "index.html")
    assert "Wrote " in result.stderr and "Drawing charts: 1/1" in result.stderr
    assert "Our &lt;speed&gt;" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


def test_bad_input_is_one_line_and_exit_2(work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    missing = invoke("report", "--repo", work, "--out", tmp_path / "site")
    assert missing.exit_code == 2
    assert missing.stderr.splitlines() == [
        "Error: no results branch 'benchtrail-results' in origin or the local repository"]
    (tmp_path / "c.json").write_text("{nope", encoding="utf-8")
    bad = invoke("report", "--comparison", tmp_path / "c.json", "--out", tmp_path / "mr")
    assert bad.exit_code == 2 and bad.stderr.startswith(f"Error: {tmp_path / 'c.json'}: not valid JSON")
    assert len(bad.stderr.splitlines()) == 1 and not (tmp_path / "mr").exists()
    gone = invoke("report", "--comparison", tmp_path / "none.json")
    assert gone.exit_code == 2 and "cannot read the comparison" in gone.stderr
    url = invoke("report", "--project-url", "javascript:alert(1)")
    assert url.exit_code == 2 and "expected an http(s) address" in url.stderr
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    push_history(work, history([10.0] * 2, seed=3), tmp_path / "hist")
    taken = invoke("report", "--repo", work, "--out", tmp_path)
    assert taken.exit_code == 2 and "not a site benchtrail wrote" in taken.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
