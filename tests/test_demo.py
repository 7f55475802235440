"""commands/demo.py: the whole flow in a new folder, with real git and real runs.

One demo (three commits of ``main``) is built once for the module, under a git
configuration that would get in the way if the demo read it: another default branch,
another user, and a hook that refuses every commit.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pytest

from benchtrail.commands.demo import SLOWED, DemoOptions, DemoOutcome, _environment, demo
from benchtrail.compare.document import load_comparison
from benchtrail.errors import BenchtrailError
from benchtrail.results.branch import DEFAULT_BRANCH

COMMITS = 3
REPO = Path(__file__).resolve().parents[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoOutcome]:
    home = tmp_path_factory.mktemp("home")
    hooks = home / "hooks"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg"):
        (hooks / name).write_text("#!/bin/sh\necho refused by the user's hook >&2\nexit 1\n", encoding="utf-8")
        (hooks / name).chmod(0o755)
    config = home / "gitconfig"
    config.write_text(f"[init]\n\tdefaultBranch = trunk\n[user]\n\tname = Someone Else\n\temail = else@example.com\n"
                      f"[core]\n\thooksPath = {hooks}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GIT_CONFIG_GLOBAL", str(config))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                     "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_DIR", "GIT_WORK_TREE"):
            patch.delenv(name, raising=False)
        patch.chdir(home)  # the demo works in its folder, whatever the working directory
        patch.setenv("OMP_NUM_THREADS", "2")  # a setting of the user's, which the demo's runs do not take
        patch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        yield demo(DemoOptions(folder=tmp_path_factory.mktemp("demo") / "new", commits=COMMITS))


def test_every_commit_of_main_is_recorded_on_the_results_branch(built: DemoOutcome) -> None:
    remote = built.index.parents[1] / "remote.git"
    on_branch = git(remote, "ls-tree", "-r", "--name-only", DEFAULT_BRANCH).split()
    assert sorted(built.recorded) == sorted(on_branch)
    assert len(on_branch) == COMMITS
    main = git(remote, "rev-list", "main").split()
    assert len(main) == COMMITS
    assert git(remote, "rev-parse", "slower-predict~1").strip() == main[0]
    for path in on_branch:
        record = json.loads(git(remote, "show", f"{DEFAULT_BRANCH}:{path}"))
        assert record["suite"] == "default"
        assert record["source"]["ref"] == "main"
        assert record["source"]["commit"] in main
    assert {json.loads(git(remote, "show", f"{DEFAULT_BRANCH}:{p}"))["source"]["commit"] for p in on_branch} == set(main)


def test_the_runs_have_one_blas_thread(built: DemoOutcome) -> None:
    remote = built.index.parents[1] / "remote.git"
    for path in git(remote, "ls-tree", "-r", "--name-only", DEFAULT_BRANCH).split():
        threads = json.loads(git(remote, "show", f"{DEFAULT_BRANCH}:{path}"))["environment"]["threads"]
        assert threads["variables"]["OMP_NUM_THREADS"] == threads["variables"]["OPENBLAS_NUM_THREADS"] == "1"
        assert {pool["num_threads"] for pool in threads["pools"]} == {1}


def test_the_thread_settings_are_put_back_afterwards(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with _environment({"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}):
        assert os.environ["OMP_NUM_THREADS"] == os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "2" and "OPENBLAS_NUM_THREADS" not in os.environ


def test_the_note_names_the_slowed_benchmark_a_regression(built: DemoOutcome) -> None:
    comparison = load_comparison(built.comparison)
    slowed = {row.metric: row.verdict for row in comparison.rows if row.label == SLOWED}
    assert slowed["latency_ms"] == "regression"
    assert built.verdict == "regression"
    assert comparison.source.mr_iid == "1"
    note = built.note.read_text(encoding="utf-8")
    assert any(f"`{SLOWED}`" in line and "`latency_ms`" in line and "regression" in line
               for line in note.splitlines())


def _files_under(folder: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under ``folder``, Python's caches left out."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_the_packaged_example_is_the_repositorys_bench_folder() -> None:
    # src/benchtrail/example links to bench/; an installed wheel holds copies, which must
    # be all of bench/ (the package-data patterns in pyproject.toml).
    example = Path(str(files("benchtrail") / "example"))
    assert _files_under(example) == _files_under(REPO / "bench")
    assert {"suite.toml", "workload.py", "make_dataset.py", "data/inputs.npy"} <= set(_files_under(example))


def test_the_project_gets_the_example_and_the_merge_request_appends_its_slowdown(built: DemoOutcome) -> None:
    project = built.index.parents[1] / "project"
    example = _files_under(Path(str(files("benchtrail") / "example")))
    assert sorted(git(project, "ls-tree", "-r", "--name-only", "main", "bench").split()) == sorted(
        f"bench/{name}" for name in example)
    for name, content in example.items():
        shown = subprocess.run(["git", "show", f"main:bench/{name}"], cwd=project, capture_output=True, check=True)
        assert shown.stdout == content, name
    changed = git(project, "diff", "--numstat", "main", "slower-predict").split()
    assert changed[1:] == ["0", "bench/workload.py"]  # lines added, none removed, one file
    assert "time.sleep(0.002)" in (project / "bench" / "workload.py").read_text(encoding="utf-8")


def test_the_site_and_the_merge_request_page_are_written(built: DemoOutcome) -> None:
    assert built.index.name == "index.html" and built.index.is_file()
    assert (built.index.parent / "suites" / "default.html").is_file()
    assert (built.index.parents[1] / "mr" / "index.html").is_file()
    assert "benchtrail demo" in built.index.read_text(encoding="utf-8")


def test_the_demo_commits_as_itself_without_the_users_git_configuration(built: DemoOutcome) -> None:
    project = built.index.parents[1] / "project"
    authors = set(git(project, "log", "main", "slower-predict", "--format=%an <%ae>|%cn").splitlines())
    assert authors == {"benchtrail demo <demo@benchtrail.invalid>|benchtrail demo"}
    branches = git(project, "branch", "--list", "--format=%(refname:short)").split()
    assert {"main", "slower-predict"} <= set(branches) and "trunk" not in branches
    dates = [int(t) for t in git(project, "log", "--format=%ct", "main").split()]
    assert dates == sorted(dates, reverse=True) and len(set(dates)) == len(dates)


def test_a_folder_that_holds_anything_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BenchtrailError, match="not empty: give the demo a new or empty folder"):
        demo(DemoOptions(folder=tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_file_is_refused_as_the_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("", encoding="utf-8")
    with pytest.raises(BenchtrailError, match="not a folder"):
        demo(DemoOptions(folder=tmp_path / "f"))


@pytest.mark.parametrize("commits", [1, 99])
def test_the_number_of_commits_is_checked(tmp_path: Path, commits: int) -> None:
    with pytest.raises(BenchtrailError, match="commits: expected 2 to"):
        demo(DemoOptions(folder=tmp_path / "d", commits=commits))
    assert not (tmp_path / "d").exists()
