"""Real pipelines of the CI template, run by gitlab-ci-local in Docker containers.

An example project includes ``templates/benchmark.yml`` with inputs; its origin is a bare
repository on this machine, mounted into the job containers at the same path, or a loopback
``git http-backend`` that checks the job token as GitLab does. Each test runs whole
pipelines and then reads the results branch of that remote.

Skipped with the reason when gitlab-ci-local, the Docker engine or the base image is
missing; with ``BENCHTRAIL_E2E=required`` they fail instead (``tools/e2e/provision.sh``
installs and starts all three).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from gitremotes import BRANCH, TOKEN, GitHttpServer, files_on, git
from pipelines import (
    CI_YML,
    MATRIX,
    ROOT,
    bare,
    commit_change,
    gcl,
    make_project,
    passed,
    records_on,
    run_pipeline,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env", "gitlab_ci_local")]
pytest_plugins = ("gitfixtures",)

# --- the pipelines ----------------------------------------------------------------------------

def test_default_branch_pipeline_benchmarks_and_records(image: str, tmp_path: Path) -> None:
    # Named by its ID, the job image is pinned, and its digest lands in the record.
    image_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image],
                              capture_output=True, text=True, check=True).stdout.strip()
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_YML.format(image=image_id))
    # GitLab sets CI_JOB_IMAGE to the job's image; gitlab-ci-local does not, so we do.
    out = passed(run_pipeline(project, volumes=(remote,), variables={"CI_JOB_IMAGE": image_id}))
    assert re.search(rf"^benchmark +starting {image_id} \(test\)$", out, re.MULTILINE)  # in the container
    assert "PASS  benchmark" in out and "PASS  benchmark-record" in out
    assert "the remote's own credentials can push to" in out  # check-push ran first
    [record] = records_on(remote)
    head = git(project, "rev-parse", "HEAD").strip()
    assert record["suite"] == "e2e" and record["source"]["commit"] == head
    assert record["source"]["ref"] == "main"
    assert [b["name"] for b in record["benchmarks"]] == ["double", "double"]
    assert record["environment"]["image"] == {"reference": image_id, "digest": image_id}


def test_a_second_pipeline_adds_a_second_record(image: str, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_YML.format(image=image))
    passed(run_pipeline(project, volumes=(remote,)))
    first = files_on(remote)
    commit_change(project, "second commit")
    passed(run_pipeline(project, volumes=(remote,)))
    both = files_on(remote)
    assert len(both) == 2 and set(first) < set(both)
    commits = {record["source"]["commit"] for record in records_on(remote)}
    assert commits == {git(project, "rev-parse", ref).strip() for ref in ("HEAD", "HEAD~1")}


def test_a_matrix_of_machine_classes_records_two_environments(image: str, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_YML.format(image=image) + MATRIX)
    out = passed(run_pipeline(project, volumes=(remote,)))
    assert "PASS  benchmark: [cpu-small]" in out and "PASS  benchmark: [cpu-large]" in out
    records = records_on(remote)
    labels = sorted(r["environment"]["hardware"]["runner_label"] for r in records)
    assert labels == ["cpu-large", "cpu-small"]
    assert len({r["environment"]["fingerprint"] for r in records}) == 2
    assert len(git(remote, "rev-list", BRANCH).split()) == 1  # one record job, one commit


def test_a_refused_push_fails_the_record_job_with_its_reason(image: str, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_YML.format(image=image))
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'results are frozen during the audit' >&2\nexit 1\n")
    hook.chmod(0o755)
    done = run_pipeline(project, volumes=(remote,))
    assert done.returncode != 0
    errors = [line for line in done.stdout.splitlines() if "Error: " in line]
    assert len(errors) == 1, done.stdout[-4000:]
    assert errors[0].split("Error: ", 1)[1] == (
        f"cannot push {BRANCH} to origin: pre-receive hook declined: results are frozen during the audit")
    assert "PASS  benchmark" in done.stdout and "FAIL  benchmark-record" in done.stdout
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == ["refs/heads/main"]
    # and the job's own checkout kept no half-written branch either
    assert git(project, "for-each-ref", "--format=%(refname)", "refs/heads").split() == ["refs/heads/main"]


@pytest.fixture
def job_token_gitlab(git_env: None, tmp_path: Path) -> Iterator[GitHttpServer]:
    """A loopback GitLab holding group/proj, whose job tokens may read but not push."""
    root = tmp_path / "gitlab"
    (root / "group").mkdir(parents=True)
    bare(root / "group" / "proj.git")
    server = GitHttpServer(root, {TOKEN: "gitlab-ci-token"}, frozenset({"gitlab-ci-token"}))
    yield server
    server.close()


def _gitlab_variables(server: GitHttpServer) -> dict[str, str]:
    return {"CI_SERVER_URL": server.url, "CI_PROJECT_PATH": "group/proj", "CI_JOB_TOKEN": TOKEN}


def _clone_url(server: GitHttpServer) -> str:
    """The origin a GitLab runner gives a job: the project with the job token in it."""
    return f"http://gitlab-ci-token:{TOKEN}@{server.url.removeprefix('http://')}/group/proj.git"


def test_a_job_token_without_push_permission_is_named_in_one_line(image: str, tmp_path: Path,
                                                                  job_token_gitlab: GitHttpServer) -> None:
    project = make_project(tmp_path, _clone_url(job_token_gitlab), CI_YML.format(image=image))
    git(project, "push", "-q", str(job_token_gitlab.root / "group" / "proj.git"), "main")
    done = run_pipeline(project, variables=_gitlab_variables(job_token_gitlab))
    assert done.returncode != 0
    errors = [line.split("Error: ", 1)[1] for line in done.stdout.splitlines() if "Error: " in line]
    assert errors == [("CI_JOB_TOKEN cannot push to group/proj (GitLab said: You are not allowed to upload "
                       "code.): a maintainer must allow Git push requests from job tokens (Settings > CI/CD > "
                       "Job token permissions, GitLab 18.4+), or set BENCHTRAIL_PUSH_TOKEN to a project access "
                       "token with write_repository")]
    assert TOKEN not in done.stdout + done.stderr
    assert files_on(job_token_gitlab.root / "group" / "proj.git", "main") == [
        ".gitignore", ".gitlab-ci.yml", "bench/data/rows.jsonl", "bench/suite.toml", "bench/workload.py",
        "templates/benchmark.yml"]  # and no results branch
    assert "benchtrail-results" not in git(job_token_gitlab.root / "group" / "proj.git", "branch")


def test_a_job_token_allowed_to_push_records_over_http(image: str, tmp_path: Path, git_env: None) -> None:
    root = tmp_path / "gitlab"
    (root / "group").mkdir(parents=True)
    origin = bare(root / "group" / "proj.git")
    server = GitHttpServer(root, {TOKEN: "gitlab-ci-token"})
    try:
        project = make_project(tmp_path, _clone_url(server), CI_YML.format(image=image))
        git(project, "push", "-q", str(origin), "main")
        out = passed(run_pipeline(project, variables=_gitlab_variables(server)))
    finally:
        server.close()
    assert "CI_JOB_TOKEN can push to group/proj: benchtrail-results does not exist yet" in out
    assert TOKEN not in out
    assert len(files_on(origin)) == 1


# --- the ways to include it -------------------------------------------------------------------

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _jobs(project: Path, *extra: str) -> dict[str, dict]:  # type: ignore[type-arg]
    done = gcl(project, "--list-json", *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return {job["name"]: job for job in json.loads(done.stdout[done.stdout.index("["):])}


def test_jobs_follow_the_branch(tmp_path: Path) -> None:
    project = make_project(tmp_path, str(bare(tmp_path / "remote.git")), CI_YML.format(image="benchtrail:e2e"))
    on_main = {name for name, job in _jobs(project).items() if job["when"] != "never"}
    assert on_main == {"benchmark", "benchmark-record"}
    git(project, "checkout", "-q", "-b", "feature")
    on_feature = {name for name, job in _jobs(project).items() if job["when"] != "never"}
    assert on_feature == {"benchmark"}
    git(project, "checkout", "-q", "-b", BRANCH)
    assert {name for name, job in _jobs(project).items() if job["when"] != "never"} == set()


@pytest.mark.parametrize("how", ["component", "remote"])
def test_include_as_component_or_remote_with_inputs(how: str, tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(ROOT / "ci-templates" / "benchmark.yml", served / "benchmark.yml")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        where = ("component: $CI_SERVER_FQDN/group/proj/benchmark@$CI_COMMIT_SHA" if how == "component"
                 else f"remote: http://127.0.0.1:{httpd.server_address[1]}/benchmark.yml")
        ci_yml = (f"include:\n  - {where}\n    inputs:\n      name: perf\n      suite: bench/other.toml\n"
                  "      results-branch: perf-results\n      tags: [gpu-a100]\n      runs: '3'\n")
        project = make_project(tmp_path, "https://gitlab.example.com/group/proj.git", ci_yml)
        jobs = _jobs(project)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert {"perf", "perf-record"} <= set(jobs)
    preview = gcl(project, "--preview").stdout
    assert 'benchtrail run "bench/other.toml"' in preview
    assert "resource_group: benchtrail-perf-results" in preview and "- gpu-a100" in preview
    assert "BENCHTRAIL_RUNS: '3'" in preview


def test_the_example_a_user_copies(tmp_path: Path) -> None:
    """examples/gitlab-ci.yml, with its component include made local (the component's
    release is not reachable here) and its matrix block uncommented."""
    lines = (ROOT / "examples" / "gitlab-ci.yml").read_text(encoding="utf-8").splitlines()
    matrix = lines.index("# benchmark:")
    lines = [("  - local: templates/benchmark.yml" if line.lstrip().startswith("- component:")
              else line[2:] if number >= matrix else line) for number, line in enumerate(lines)]
    project = make_project(tmp_path, "https://gitlab.example.com/group/proj.git", "\n".join(lines) + "\n")
    jobs = _jobs(project)
    classes = sorted(name.split(",")[0] for name in jobs if name.startswith("benchmark: ["))
    assert classes == ["benchmark: [a100", "benchmark: [cpu", "benchmark: [h100"]
    assert [need["job"] for need in jobs["benchmark-record"]["needs"]] == ["benchmark"]
    preview = gcl(project, "--preview").stdout
    assert "- benchmark-$BENCHTRAIL_MACHINE" in preview and "name: $BENCHMARK_IMAGE" in preview


def test_the_project_pipeline(tmp_path: Path) -> None:
    """benchtrail's own .gitlab-ci.yml: it includes the component at its own commit, benchmarks
    and records on the default branch, and releases on a version tag."""
    project = make_project(tmp_path, "https://gitlab.com/benchtrail/benchtrail.git",
                           (ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))

    def running(*extra: str) -> set[str]:
        return {name for name, job in _jobs(project, *extra).items() if job["when"] != "never"}

    assert running() == {"tests", "wheels", "build-image", "benchmark", "benchmark-record"}
    git(project, "checkout", "-q", "-b", "feature")
    assert running() == {"tests", "wheels", "build-image", "benchmark"}
    git(project, "tag", "0.2.0")
    assert running("--variable", "CI_COMMIT_TAG=0.2.0", "--unset-variable", "CI_COMMIT_BRANCH") == {
        "tests", "wheels", "build-image", "release"}
