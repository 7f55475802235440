"""What the pipeline tests share: an example project using the template, and running
gitlab-ci-local pipelines over it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from gitremotes import BRANCH, files_on, git

from benchtrail.results import parse_record

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "benchmark.yml"
PIPELINE_TIMEOUT_S = 600

SUITE = """\
[suite]
name = "e2e"
description = "A pure-Python workload: fast, and the same on every machine class."

[[benchmark]]
name = "double"
setup = "workload:load"
target = "workload:double"
dataset = "data/rows.jsonl"
batch_size = [1, 4]
warmup = 2
iterations = 30
"""
WORKLOAD = """\
def load():
    return 2


def double(scale, batch):
    return [row * scale for row in batch]
"""

CI_YML = """\
include:
  - local: templates/benchmark.yml
    inputs:
      image: {image}
      suite: bench/suite.toml
      tags: [e2e]  # gitlab-ci-local's schema, like GitLab's editor, wants at least one tag
"""
MATRIX = """
benchmark:
  parallel:
    matrix:
      - BENCHTRAIL_MACHINE: [cpu-small, cpu-large]
"""


def make_project(where: Path, origin: str, ci_yml: str, workload: str = WORKLOAD) -> Path:
    """The example project: a suite, the template, a .gitlab-ci.yml; pushed to ``origin``
    when that is a bare repository here."""
    project = where / "project"
    (project / "bench" / "data").mkdir(parents=True)
    (project / "bench" / "suite.toml").write_text(SUITE)
    (project / "bench" / "workload.py").write_text(workload)
    (project / "bench" / "data" / "rows.jsonl").write_text("".join(f"{i}\n" for i in range(8)))
    (project / "templates").mkdir()
    shutil.copy(TEMPLATE, project / "templates" / "benchmark.yml")
    (project / ".gitlab-ci.yml").write_text(ci_yml)
    (project / ".gitignore").write_text(".gitlab-ci-local/\n")
    git(where, "init", "-q", "-b", "main", str(project))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "example project")
    git(project, "remote", "add", "origin", origin)
    if not origin.startswith("http"):
        git(project, "push", "-q", "origin", "main")
    return project


def bare(path: Path) -> Path:
    git(path.parent, "init", "-q", "--bare", "-b", "main", str(path))
    return path


def gcl(project: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """``gitlab-ci-local ARGS`` in ``project``, with a home of its own (no user variables)."""
    return subprocess.run(["gitlab-ci-local", "--home", str(project.parent / "gcl-home"), "--no-color", *args],
                          cwd=project, capture_output=True, text=True, check=False, timeout=timeout_s)


def run_pipeline(project: Path, *, volumes: tuple[Path, ...] = (), variables: dict[str, str] | None = None,
                 jobs: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """One gitlab-ci-local pipeline (or ``jobs`` of it) in Docker, on the host network.
    gitlab-ci-local keeps a job's artifacts from one run to the next, GitLab does not:
    they are cleared first, so a job sees only its own pipeline's."""
    shutil.rmtree(project / ".gitlab-ci-local" / "artifacts", ignore_errors=True)
    args = ["--no-artifacts-to-source", "--pull-policy", "if-not-present", "--network", "host", *jobs]
    for volume in volumes:
        args += ["--volume", f"{volume}:{volume}"]
    for name, value in (variables or {}).items():
        args += ["--variable", f"{name}={value}"]
    return gcl(project, *args, timeout_s=PIPELINE_TIMEOUT_S)


def records_on(remote: Path) -> list[dict]:  # type: ignore[type-arg]
    return [parse_record(git(remote, "show", f"{BRANCH}:{path}"), path).to_json() for path in files_on(remote)]


def commit_change(project: Path, message: str) -> None:
    (project / "CHANGES").write_text(message + "\n")
    git(project, "add", "CHANGES")
    git(project, "commit", "-q", "-m", message)


def passed(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout
