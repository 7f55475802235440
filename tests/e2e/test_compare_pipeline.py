"""Real merge request and default-branch pipelines of the compare side of the template.

The default branch first records a baseline; merge request pipelines then compare with
it at the merge base, post the note to a stand-in GitLab API on loopback
(``tests/gitlabapi.py``), and fail on an injected slowdown; a default-branch regression
reaches a webhook receiver on loopback. The jobs run in Docker containers on the host
network, so they reach both servers and the bare remote mounted at the same path.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlabapi import MR_IID, PROJECT_ID, TOKEN, GitLabApi, serve_gitlab
from gitremotes import git
from pipelines import (
    CI_YML,
    WORKLOAD,
    bare,
    commit_change,
    make_project,
    passed,
    run_pipeline,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env", "gitlab_ci_local")]
pytest_plugins = ("gitfixtures",)

# Three processes per benchmark, and a minimum effect far below the injected slowdown (some
# 100 times). A harmless change once read +37 % here, from one baseline job: a microsecond-
# scale workload wobbles that much between two containers on a busy 2-core machine, and
# with fewer than five baseline jobs the rule now allows for such job noise.
COMPARE_YML = CI_YML + '      runs: "3"\n      min-effect: 30\n'
# The same workload, some 100 times slower per call.
SLOW_WORKLOAD = "import time\n\n" + WORKLOAD.replace(
    "    return [row * scale for row in batch]", "    time.sleep(0.002)\n    return [row * scale for row in batch]")


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def baseline_project(tmp_path: Path, image: str) -> tuple[Path, Path]:
    """The example project with one default-branch pipeline recorded: (project, remote)."""
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), COMPARE_YML.format(image=image))
    passed(run_pipeline(project, volumes=(remote,)))
    return project, remote


def merge_request(project: Path, api: GitLabApi, *, token: bool = True) -> dict[str, str]:
    """The variables of a merge request pipeline of the checked-out branch into main."""
    variables = {
        "CI_PIPELINE_SOURCE": "merge_request_event",
        "CI_MERGE_REQUEST_IID": str(MR_IID),
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(project, "merge-base", "HEAD", "main").strip(),
        "CI_API_V4_URL": f"{api.url}/api/v4",
        "CI_PROJECT_ID": str(PROJECT_ID),
    }
    if token:
        variables["BENCHTRAIL_GITLAB_TOKEN"] = TOKEN
    return variables


def slow_down(project: Path) -> None:
    (project / "bench" / "workload.py").write_text(SLOW_WORKLOAD)
    git(project, "commit", "-q", "-am", "a slower double")


def junit(project: Path) -> ET.Element:
    path = project / ".gitlab-ci-local" / "artifacts" / "benchmark-compare" / "benchtrail-report" / "junit.xml"
    return ET.parse(path).getroot()


def test_merge_request_note_is_written_then_updated_and_names_the_regression(
        image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = baseline_project(tmp_path, image)
    git(project, "checkout", "-q", "-b", "feature")
    commit_change(project, "a harmless change")
    variables = merge_request(project, api)
    out = passed(run_pipeline(project, volumes=(remote,), variables=variables,
                              jobs=("benchmark", "benchmark-compare")))
    assert "PASS  benchmark-compare" in out
    [note] = api.notes()
    assert "<!-- benchtrail:note suite=e2e -->" in note["body"]
    assert "verdict=regression" not in note["body"]
    assert TOKEN not in out

    slow_down(project)
    done = run_pipeline(project, volumes=(remote,), variables=variables, jobs=("benchmark", "benchmark-compare"))
    assert done.returncode != 0 and "FAIL  benchmark-compare" in done.stdout, done.stdout[-6000:]
    assert "Confirming 2 benchmark(s) of e2e" in done.stderr  # the suspects ran again before the job failed
    [updated] = api.notes()  # the same note, edited in place
    assert updated["id"] == note["id"] and updated["body"] != note["body"]
    regressed = [line for line in updated["body"].splitlines() if line.startswith("| 🔴")]
    assert any("`double[batch_size=1]`" in line and "regression" in line for line in regressed)
    failures = [case.get("name") for case in junit(project).iter("testcase") if case.find("failure") is not None]
    assert "double[batch_size=1] latency_ms" in failures


def test_without_a_note_token_the_verdict_still_fails_the_job(image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = baseline_project(tmp_path, image)
    git(project, "checkout", "-q", "-b", "feature")
    slow_down(project)
    done = run_pipeline(project, volumes=(remote,), variables=merge_request(project, api, token=False),
                        jobs=("benchmark", "benchmark-compare"))
    assert done.returncode != 0 and "FAIL  benchmark-compare" in done.stdout, done.stdout[-6000:]
    skipped = [line for line in done.stdout.splitlines()  # the job's log (the summary repeats a failed job's end)
               if line.startswith("benchmark-compare >") and "merge request note for e2e skipped" in line]
    assert len(skipped) == 1 and "BENCHTRAIL_GITLAB_TOKEN" in skipped[0]
    assert api.notes() == [] and not api.writes()
    suite = junit(project).find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) >= 1


def test_a_default_branch_regression_reaches_the_webhook(image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = baseline_project(tmp_path, image)
    slow_down(project)
    hook = f"{api.url}/hooks/benchtrail-secret-path"
    done = run_pipeline(project, volumes=(remote,), variables={"BENCHTRAIL_WEBHOOK_URL": hook})
    out = passed(done) + done.stderr
    assert "Posted the regression alert to the webhook" in out
    [alert] = [r for r in api.requests if r["path"].startswith("/hooks/")]
    body = json.loads(alert["body"])
    assert body["verdict"] == "regression" and "double[batch_size=1]" in body["text"]
    assert {r["benchmark"] for r in body["results"]} == {"double"}
    assert "benchtrail-secret-path" not in out
