"""Hostile records and suites through every command that reads them: whatever a record or a
suite holds, each command either takes it or refuses it with ``Error:`` lines (exit 2), and
never exits 3.

The records are the golden one damaged at random (``test_schema``'s mutations: fields
dropped, replaced by any JSON, retyped to NaN, infinities, huge or negative numbers, keys
added), written as a file (``validate``, ``record``, ``compare``) and, for the readers of the
results branch (``history``, ``compare``'s baseline), committed to it directly, as a person or
an older benchtrail could have.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gitremotes import git, make_record, write_records
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_schema import _mutate
from test_suite import near_valid_documents, toml_document

from benchtrail.cli import cli
from benchtrail.results.store import record

pytestmark = pytest.mark.usefixtures("git_env")
pytest_plugins = ("gitfixtures",)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def branch_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose results branch holds a short history of good records."""
    root = tmp_path_factory.mktemp("fuzz")
    repo = root / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    record(write_records(root / "history", [make_record(n) for n in range(6)]), repo=repo, push=False)
    write_records(repo / ".good", [make_record(7)])
    return repo


def _commit_to_branch(repo: Path, path: str, data: bytes) -> None:
    """Put ``data`` at ``path`` on the results branch with git's plumbing, bypassing record."""
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data, capture_output=True,
                          check=True).stdout.decode().strip()
    index = repo / ".git" / "fuzz-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "read-tree", "benchtrail-results"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"], cwd=repo, env=env,
                   check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True, check=True).stdout.decode().strip()
    commit = git(repo, "commit-tree", tree, "-p", "benchtrail-results", "-m", "by hand").strip()
    git(repo, "update-ref", "refs/heads/benchtrail-results", commit)
    index.unlink()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_damaged_record_makes_any_command_fail_as_a_bug(branch_repo: Path, tmp_path: Path,
                                                          data: st.DataObject) -> None:
    damaged = _mutate(make_record(100 + data.draw(st.integers(0, 10_000), label="n")), data)
    file = tmp_path / f"damaged-{data.draw(st.integers(0, 10**9), label='name')}.json"
    file.write_text(json.dumps(damaged, allow_nan=True), encoding="utf-8", errors="surrogatepass")
    outcomes = {
        "validate": invoke("validate", str(file)),
        "compare": invoke("compare", str(file), "--repo", str(branch_repo), "--baseline-ref", "main"),
        "record": invoke("record", str(file), "--repo", str(branch_repo), "--no-push"),
    }
    _commit_to_branch(branch_repo, f"results/mlp-cpu/2026/03/fuzz-{file.stem}.json",
                      json.dumps(damaged, allow_nan=True).encode("utf-8", "surrogatepass"))
    outcomes["history"] = invoke("history", "--repo", str(branch_repo), "--suite", "mlp-cpu")
    outcomes["history --change-points"] = invoke("history", "--repo", str(branch_repo), "--suite", "mlp-cpu",
                                                 "--change-points")
    outcomes["compare against it"] = invoke("compare", str(branch_repo / ".good" / "r0.json"), "--repo",
                                            str(branch_repo), "--baseline-ref", "main")
    event("validate " + ("accepted" if outcomes["validate"].exit_code == 0 else "refused"))
    for command, result in outcomes.items():
        assert result.exit_code in (0, 1, 2), f"{command}: exit {result.exit_code}\n{result.output[-3000:]}"
        assert "Traceback" not in result.output, f"{command}:\n{result.output[-3000:]}"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(document=near_valid_documents())
def test_no_near_valid_suite_makes_run_fail_as_a_bug(suite_dir: Path, document: dict[str, Any]) -> None:
    """Suites are fuzzed at load in ``test_suite``; here the ones that load are also run."""
    for table in [document["suite"], *document["benchmark"]]:  # keep each example to seconds
        if isinstance(table.get("duration_s"), (int, float)):
            table["duration_s"] = min(table["duration_s"], 0.2)
        if isinstance(table.get("timeout_s"), (int, float)):
            table["timeout_s"] = min(table["timeout_s"], 1)
    suite = suite_dir / "suite.toml"
    suite.write_text(toml_document(document), encoding="utf-8")
    result = invoke("run", str(suite), "--out", str(suite_dir / "out"))
    event(f"run exit {result.exit_code}")
    assert result.exit_code in (0, 2), result.output[-3000:]
    assert "Traceback" not in result.output, result.output[-3000:]
