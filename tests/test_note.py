"""``benchtrail note`` (``commands.note``): the note of one suite, rendered from a comparison
document and posted through real HTTP to the stand-in GitLab API (``gitlabapi``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from comparefixtures import row
from gitlabapi import MR_IID, PROJECT_ID, PROJECT_PATH, TOKEN, GitLabApi, serve_gitlab, watch_logs

from benchtrail.commands.note import NoteOptions, note
from benchtrail.compare.comparison import Comparison
from benchtrail.compare.document import dump_comparison
from benchtrail.errors import ComparisonError, GitLabError
from benchtrail.gitlab.ci import read_ci
from benchtrail.gitlab.markdown import render_note
from benchtrail.gitlab.notes import note_text

WRONG = "glpat-SECRET-wrong-token-555"


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from watch_logs(caplog, monkeypatch, (TOKEN, WRONG))


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    with serve_gitlab() as server:
        yield server


def ci_env(api: GitLabApi, **extra: str) -> dict[str, str]:
    return {"CI_SERVER_URL": api.url, "CI_PROJECT_ID": str(PROJECT_ID), "CI_PROJECT_PATH": PROJECT_PATH,
            "CI_MERGE_REQUEST_IID": str(MR_IID), "CI_JOB_TOKEN": "job-token", "BENCHTRAIL_GITLAB_TOKEN": TOKEN,
            **extra}


def compared(tmp_path: Path, verdict: str, *, label: str = "double", suites: tuple[str, ...] = ("mlp",)) -> Path:
    """A comparison document of ``suites`` whose one row each has ``verdict``."""
    change = {"regression": 0.3, "improvement": -0.3, "no_baseline": None}.get(verdict, 0.0)
    rows = tuple(row(label, verdict, change=change, suite=suite) for suite in suites)
    path = tmp_path / f"{verdict}-{label}-{'-'.join(suites)}.json"
    return dump_comparison(Comparison(rows, "main", None, 0.05), path)


def post(path: Path, env: dict[str, str], **options: object) -> str:
    return note(NoteOptions(comparison=path, **options), read_ci(env))  # type: ignore[arg-type]


def headlines(api: GitLabApi) -> list[str]:
    return [n["body"].split("\n")[0] for n in api.notes()]


def test_creates_and_updates(api: GitLabApi, tmp_path: Path) -> None:
    line = post(compared(tmp_path, "regression"), ci_env(api))
    [first] = api.notes()
    url = f"{api.url}/{PROJECT_PATH}/-/merge_requests/{MR_IID}#note_{first['id']}"
    assert line == f"merge request note for mlp created {url}"
    assert headlines(api) == ["### ❌ benchtrail · `mlp`: 1 regression"]
    fixed = compared(tmp_path, "unchanged")
    assert post(fixed, ci_env(api)) == f"merge request note for mlp updated {url}"
    assert post(fixed, ci_env(api)) == f"merge request note for mlp already up to date: {url}"
    assert headlines(api) == ["### ✅ benchtrail · `mlp`: 1 unchanged"]


def test_when_decides_new_notes_only(api: GitLabApi, tmp_path: Path) -> None:
    env = ci_env(api)
    assert post(compared(tmp_path, "unchanged"), env, when="regressed") == (
        "merge request note for mlp not posted on 42!7: the verdict is unchanged and notes are posted when=regressed")
    assert post(compared(tmp_path, "no_baseline"), env, when="changed").endswith("when=changed")
    assert api.notes() == [] and api.writes() == []
    assert " created " in post(compared(tmp_path, "regression"), env, when="regressed")
    # fixed: the note is updated even though a new one would not be posted
    assert " updated " in post(compared(tmp_path, "unchanged"), env, when="regressed")
    assert headlines(api) == ["### ✅ benchtrail · `mlp`: 1 unchanged"]


def test_overrides_win(api: GitLabApi, tmp_path: Path) -> None:
    env = {"CI_SERVER_URL": "http://127.0.0.1:9", "GITLAB_TOKEN": TOKEN}
    line = post(compared(tmp_path, "regression"), env, gitlab_url=api.url, project=PROJECT_PATH, mr_iid=str(MR_IID))
    assert " created " in line and len(api.notes()) == 1


def test_names_the_variable_the_token_came_from(api: GitLabApi, tmp_path: Path) -> None:
    env = ci_env(api, GITLAB_TOKEN=WRONG)
    del env["BENCHTRAIL_GITLAB_TOKEN"]
    with pytest.raises(GitLabError, match="^the token in GITLAB_TOKEN was refused by"):
        post(compared(tmp_path, "regression"), env)


def test_without_a_token_skips_with_advice(api: GitLabApi, tmp_path: Path) -> None:
    env = ci_env(api)
    del env["BENCHTRAIL_GITLAB_TOKEN"]
    assert post(compared(tmp_path, "regression"), env) == (
        "merge request note for mlp skipped: no token to write it with (CI_JOB_TOKEN cannot write merge request "
        "notes); set BENCHTRAIL_GITLAB_TOKEN to a project access token with the api scope and the Reporter role or "
        "higher (Settings > Access tokens, then Settings > CI/CD > Variables)")
    assert api.requests == []


def test_outside_a_merge_request_pipeline(api: GitLabApi, tmp_path: Path) -> None:
    env = ci_env(api)
    del env["CI_MERGE_REQUEST_IID"]
    assert post(compared(tmp_path, "regression"), env) == (
        "merge request note for mlp skipped: not a merge request pipeline (CI_MERGE_REQUEST_IID is not set)")
    assert api.requests == []


def test_dry_run_sends_nothing_and_renders_from_the_document(api: GitLabApi, tmp_path: Path) -> None:
    path = compared(tmp_path, "regression", suites=("mlp", "other"))
    from benchtrail.compare.document import load_comparison

    expected = note_text(render_note(load_comparison(path), "other", report_url="https://x.io/p"), "other")
    assert post(path, ci_env(api), suite="other", dry_run=True, report_url="https://x.io/p") == expected
    assert post(path, {}, suite="other", dry_run=True, report_url="https://x.io/p") == expected
    assert "https://x.io/p/suites/other.html" in expected and "`mlp`" not in expected
    assert api.requests == []


def test_the_suite_must_be_named_when_there_are_several(tmp_path: Path) -> None:
    path = compared(tmp_path, "regression", suites=("mlp", "other"))
    with pytest.raises(ComparisonError) as caught:
        post(path, {}, dry_run=True)
    assert str(caught.value) == f"{path} compares several suites: say which with --suite (mlp, other)"
    with pytest.raises(ComparisonError, match="--suite: no suite 'nosuch'"):
        post(path, {}, suite="nosuch", dry_run=True)


def test_a_file_that_is_not_a_comparison_is_refused_in_one_line(tmp_path: Path) -> None:
    other = tmp_path / "note.md"
    other.write_text("# hello\n")
    with pytest.raises(ComparisonError) as caught:
        post(other, {}, dry_run=True)
    assert str(caught.value).startswith(f"{other}: not valid JSON: ")
    wrong = tmp_path / "record.json"
    wrong.write_text('{"schema": "benchtrail.result/1"}')
    with pytest.raises(ComparisonError) as caught:
        post(wrong, {}, dry_run=True)
    assert str(caught.value) == (f"{wrong}: schema: expected 'benchtrail.comparison/1', found 'benchtrail.result/1': "
                                 "not a comparison written by `benchtrail compare --json`")


def test_the_note_links_to_this_jobs_merge_request_page(api: GitLabApi, tmp_path: Path) -> None:
    path = compared(tmp_path, "regression")
    env = {**ci_env(api), "CI_PROJECT_URL": "https://gitlab.example.com/g/p", "CI_JOB_ID": "42"}
    text = post(path, env, dry_run=True, mr_page="benchtrail-report/mr/index.html")
    assert ("[This merge request's charts](https://gitlab.example.com/g/p/-/jobs/42/artifacts/file/"
            "benchtrail-report/mr/index.html)") in text
    assert "This merge request's charts" not in post(path, {}, dry_run=True, mr_page="benchtrail-report/mr/index.html")
