"""Paired confirmation in real merge request pipelines, with a CPU hog on every core.

The default branch records its baseline on a quiet machine. Then busy loops load every
core inside each job of the merge request pipeline, for the whole job: its first run reads
far slower than the history, and the compare job runs the suspects again beside the merge
base's code (a git worktree of ``CI_MERGE_REQUEST_DIFF_BASE_SHA``), in turn. The hog slows both sides of each
pair alike: a harmless change passes, a real slowdown still fails, and the comparison
document the job keeps says how each verdict was confirmed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlabapi import MR_IID, PROJECT_ID, TOKEN, GitLabApi, serve_gitlab
from gitremotes import git
from pipelines import CI_YML, bare, commit_change, make_project, passed, run_pipeline

from benchtrail.compare.document import load_comparison

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env", "gitlab_ci_local")]
pytest_plugins = ("gitfixtures",)

# CPU-bound: a busy neighbour takes most of its core from it
WORKLOAD = """\
def load():
    return 2


def double(scale, batch):
    total = 0
    for i in range({loop}):
        total += i
    return [row * scale for row in batch]
"""
COMPARE_YML = CI_YML + '      runs: "3"\n      min-effect: 20\n      confirm-runs: 3\n'
# The neighbour: two busy loops per core inside each job's container, for the whole job (a
# hog on the host would sit in another cgroup, which the kernel keeps apart from the job's)
HOG = """    - "for i in $(seq $((2 * $(nproc)))); do python -c 'while True: pass' >/dev/null 2>&1 & done"\n"""
HOG_YML = "".join(f"\n{job}:\n  before_script:\n{HOG}" for job in ("benchmark", "benchmark-compare"))
REPORT = Path(".gitlab-ci-local") / "artifacts" / "benchmark-compare" / "benchtrail-report"
JOBS = ("benchmark", "benchmark-compare")


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def merge_request_variables(project: Path, api: GitLabApi) -> dict[str, str]:
    return {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": str(MR_IID),
            "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
            "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(project, "merge-base", "HEAD", "main").strip(),
            "CI_API_V4_URL": f"{api.url}/api/v4", "CI_PROJECT_ID": str(PROJECT_ID), "BENCHTRAIL_GITLAB_TOKEN": TOKEN}


def test_under_a_cpu_hog_pairs_clear_a_harmless_change_and_confirm_a_slowdown(
        image: str, tmp_path: Path, api: GitLabApi) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), COMPARE_YML.format(image=image), WORKLOAD.format(loop=3000))
    passed(run_pipeline(project, volumes=(remote,)))  # the baseline, on a quiet machine
    merge_base = git(project, "rev-parse", "HEAD").strip()
    git(project, "checkout", "-q", "-b", "feature")

    with (project / ".gitlab-ci.yml").open("a") as ci_yml:  # a change that measures nothing
        ci_yml.write(HOG_YML)
    commit_change(project, "the jobs of this branch get a busy neighbour")
    out = passed(run_pipeline(project, volumes=(remote,), variables=merge_request_variables(project, api),
                              jobs=JOBS))
    assert "PASS  benchmark-compare" in out
    harmless = load_comparison(project / REPORT / "comparison.json")
    # whether the hog made a row suspect depends on the machine; any that was is cleared in pairs
    confirmed = [row for row in harmless.rows if row.confirmation is not None]
    assert {(row.confirmation.method, row.confirmation.against) for row in confirmed} <= {("paired", merge_base)}
    assert not [row for row in harmless.rows if row.verdict == "regression"]
    assert "double[batch_size=1]" in (project / REPORT / "mr" / "index.html").read_text()  # the MR's page, kept

    (project / "bench" / "workload.py").write_text(WORKLOAD.format(loop=9000))  # three times the work
    git(project, "commit", "-q", "-am", "a slower double")
    done = run_pipeline(project, volumes=(remote,), variables=merge_request_variables(project, api), jobs=JOBS)
    assert done.returncode != 0 and "FAIL  benchmark-compare" in done.stdout, done.stdout[-6000:]
    slower = load_comparison(project / REPORT / "comparison.json")
    regressed = [row for row in slower.rows if row.verdict == "regression"]
    assert {row.label for row in regressed} >= {"double[batch_size=1]", "double[batch_size=4]"}
    latency = [row for row in regressed if row.metric == "latency_ms"]
    assert latency and all(row.confirmation is not None and row.confirmation.method == "paired" for row in latency)
    assert all(row.decision.change > 1.0 for row in latency)  # the pairs' +200 %, not the hog's
    [note] = api.notes()
    assert "Confirmed in pairs:" in note["body"] and merge_base[:12] in note["body"]
