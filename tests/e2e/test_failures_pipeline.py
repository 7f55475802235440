"""Real merge request pipelines of the failure verdicts (issue 11): a benchmark whose
every call fails, one the merge request removes, and one that starts failing some calls.

Each test records a baseline on the default branch, then runs the merge request's
``benchmark`` and ``benchmark-compare`` jobs with the note posted to the stand-in GitLab
API on loopback (``tests/gitlabapi.py``), as ``test_compare_pipeline`` does; the compare
job keeps its comparison document, note and JUnit report as artifacts even when it fails.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitlabapi import GitLabApi, serve_gitlab
from gitremotes import git
from pipelines import SUITE, WORKLOAD, bare, make_project, passed, run_pipeline
from test_compare_pipeline import COMPARE_YML, junit, merge_request

from benchtrail.compare.document import load_comparison

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env", "gitlab_ci_local")]
pytest_plugins = ("gitfixtures",)

JOBS = ("benchmark", "benchmark-compare")
REPORT = Path(".gitlab-ci-local") / "artifacts" / "benchmark-compare" / "benchtrail-report"
DOUBLE = "    return [row * scale for row in batch]"
# HTML and a cell break in the message: the note must show both as text
MESSAGE = "<b>bad</b> | row"
BROKEN_WORKLOAD = WORKLOAD.replace(DOUBLE, f"    raise ValueError({MESSAGE!r})")
# Every third call of each process fails, warm-ups included: 30 of 90 measured calls.
ERRING_WORKLOAD = "import itertools\n\n_calls = itertools.count(1)\n\n" + WORKLOAD.replace(
    DOUBLE, '    if next(_calls) % 3 == 0:\n        raise ValueError("every third call")\n' + DOUBLE)
TRIPLE = """
[[benchmark]]
name = "triple"
setup = "workload:load"
target = "workload:triple"
dataset = "data/rows.jsonl"
warmup = 2
iterations = 30
"""
TWO_WORKLOADS = WORKLOAD + "\n\ndef triple(scale, batch):\n    return [row * (scale + 1) for row in batch]\n"


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def recorded_project(tmp_path: Path, image: str, *, suite: str = SUITE,
                     workload: str = WORKLOAD) -> tuple[Path, Path]:
    """The example project with ``suite`` and ``workload``, one default-branch pipeline
    recorded, and a ``feature`` branch checked out: (project, remote)."""
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), COMPARE_YML.format(image=image), workload)
    if suite != SUITE:
        (project / "bench" / "suite.toml").write_text(suite)
        git(project, "commit", "-q", "-am", "the suite")
        git(project, "push", "-q", "origin", "main")
    passed(run_pipeline(project, volumes=(remote,)))
    git(project, "checkout", "-q", "-b", "feature")
    return project, remote


def commit_file(project: Path, path: str, text: str, message: str) -> None:
    (project / path).write_text(text)
    git(project, "commit", "-q", "-am", message)


def failed_compare(done: subprocess.CompletedProcess[str]) -> str:
    """The output of a pipeline whose compare job failed (and only that job)."""
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "FAIL  benchmark-compare" in done.stdout, out[-8000:]
    # exit 1, the gate: not 3, a crash after the note was posted
    ends = [line.split() for line in out.splitlines() if re.match(r"benchmark-compare\s+finished in", line)]
    assert ends and ends[-1][-2:] == ["FAIL", "1"], out[-8000:]
    assert "internal error" not in out, out[-8000:]
    summary = [line.split() for line in done.stdout.splitlines()]
    assert ["PASS", "benchmark"] in summary, out[-8000:]  # run exits 0, so the compare job ran
    return out


def table_rows(body: str) -> list[list[str]]:
    """The cells of the note's table rows, in order, headers and rules left out (a cell
    keeps its escaped ``\\|``)."""
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            for line in body.splitlines() if line.startswith("|") and not line.startswith("|-")]
    return [cells for cells in rows if cells[1:2] != ["Benchmark"]]


def failures(project: Path) -> dict[str, str]:
    """JUnit test case name -> failure type, of the failed cases."""
    found = {}
    for case in junit(project).iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            found[case.get("name", "")] = failure.get("type", "")
    return found


def test_a_broken_benchmark_fails_the_compare_job_and_leads_the_note(
        image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = recorded_project(tmp_path, image)
    commit_file(project, "bench/workload.py", BROKEN_WORKLOAD, "a double that always raises")
    out = failed_compare(run_pipeline(project, volumes=(remote,), variables=merge_request(project, api), jobs=JOBS))
    warned = [line for line in out.splitlines() if "Warning: double[batch_size=1]: every call failed" in line]
    assert warned and f"the first: ValueError: {MESSAGE}" in warned[0], out[-8000:]

    [note] = api.notes()
    assert note["body"].startswith("### ❌ benchtrail · `e2e`: 2 broken"), note["body"]
    icon, label, metric, *_, verdict = table_rows(note["body"])[0]
    assert (icon, metric) == ("⛔", "`errors`") and label in ("`double[batch_size=1]`", "`double[batch_size=4]`")
    assert verdict == "broken: every call failed `ValueError: ‹b›bad‹/b› \\| row`", note["body"]
    assert failures(project) == {"double[batch_size=1] errors": "broken", "double[batch_size=4] errors": "broken"}


def test_a_removed_benchmark_fails_unless_the_pipeline_allows_it(
        image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = recorded_project(tmp_path, image, suite=SUITE + TRIPLE, workload=TWO_WORKLOADS)
    commit_file(project, "bench/suite.toml", SUITE, "triple goes")
    variables = merge_request(project, api)
    failed_compare(run_pipeline(project, volumes=(remote,), variables=variables, jobs=JOBS))
    [note] = api.notes()
    assert table_rows(note["body"])[0] == ["❓", "`triple`", "`presence`", "-", "-", "-",
                                           "missing: the baseline has it, this run has not"], note["body"]
    hint = [line for line in note["body"].splitlines() if "BENCHTRAIL_FAIL_ON_MISSING=false" in line]
    assert len(hint) == 1 and hint[0].startswith("A missing benchmark was removed or renamed.")
    assert failures(project) == {"triple presence": "missing"}

    # A pipeline variable overrides the template's job variable, in gitlab-ci-local as in GitLab.
    allowed = {**variables, "BENCHTRAIL_FAIL_ON_MISSING": "false"}
    assert "PASS  benchmark-compare" in passed(run_pipeline(project, volumes=(remote,), variables=allowed, jobs=JOBS))
    [updated] = api.notes()
    assert updated["id"] == note["id"] and table_rows(updated["body"])[0][:2] == ["❓", "`triple`"]
    assert "missing benchmarks do not fail this pipeline" in updated["body"]
    assert "BENCHTRAIL_FAIL_ON_MISSING=false" not in updated["body"]
    assert failures(project) == {}
    document = load_comparison(project / REPORT / "comparison.json")
    assert document.gate == ("broken", "errors", "regression")
    assert [row.verdict for row in document.rows if row.benchmark == "triple"] == ["missing"]


def test_the_compare_job_keeps_the_comparison_document(image: str, tmp_path: Path, api: GitLabApi) -> None:
    project, remote = recorded_project(tmp_path, image)
    commit_file(project, "bench/workload.py", ERRING_WORKLOAD, "a double that fails every third call")
    failed_compare(run_pipeline(project, volumes=(remote,), variables=merge_request(project, api), jobs=JOBS))

    path = project / REPORT / "comparison.json"
    document = load_comparison(path)  # validated against benchtrail.comparison/1
    assert document.verdict == "errors" and document.failed
    assert document.gate == ("broken", "missing", "errors", "regression")
    erring = {row.label: row for row in document.rows if row.metric == "errors"}
    assert sorted(erring) == ["double[batch_size=1]", "double[batch_size=4]"]
    for row in erring.values():
        assert (row.verdict, row.detail) == ("errors", "ValueError: every third call")
        assert row.decision.baseline == 0 and row.decision.current == pytest.approx(100 / 3)
    assert not [row for row in document.rows if row.verdict in ("broken", "missing")]
    # the note and the JUnit report the job kept beside it say the same
    [note] = api.notes()
    assert (project / REPORT / "note.md").is_file()
    icon, label, metric, *_, verdict = table_rows(note["body"])[0]
    assert (icon, metric) == ("🔴", "`errors`") and label.startswith("`double[batch_size=")
    assert verdict.endswith("calls fail `ValueError: every third call`"), note["body"]
    assert set(failures(project).values()) >= {"errors"}
    assert ET.parse(project / REPORT / "junit.xml").getroot().tag == "testsuites"
