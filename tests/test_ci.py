"""The CI context: GitLab's variables read once, tokens kept out of every repr."""

from __future__ import annotations

import pytest

from benchtrail.gitlab.ci import read_ci, runner_tags_label


def test_machine_from_benchtrail_machine_over_runner_tags() -> None:
    assert read_ci({"BENCHTRAIL_MACHINE": "bench-box-1", "CI_RUNNER_TAGS": '["gpu"]'}).machine == "bench-box-1"
    assert read_ci({"BENCHTRAIL_MACHINE": "", "CI_RUNNER_TAGS": '["gpu"]'}).machine == "gpu"
    assert read_ci({}).machine is None


@pytest.mark.parametrize(
    ("tags", "label"),
    [
        ('["linux", "gpu", "a100"]', "a100,gpu,linux"),  # JSON list, sorted
        ('["gpu"]', "gpu"),
        ("[]", ""),
        ("linux, gpu ,a100", "a100,gpu,linux"),  # comma list
        ("gpu", "gpu"),
        ("gpu,", "gpu"),
        ('" gpu "', "gpu"),  # one JSON string
        ('[" gpu ", ""]', "gpu"),
        ("null", ""),
        ("42", "42"),
        ("true", "true"),
        ("  ", ""),
        ("", ""),
    ],
)
def test_label_from_ci_runner_tags(tags: str, label: str) -> None:
    assert runner_tags_label(tags) == label


def test_runner_tag_order_does_not_change_the_label() -> None:
    assert read_ci({"CI_RUNNER_TAGS": '["linux", "gpu"]'}).machine == read_ci({"CI_RUNNER_TAGS": "gpu, linux"}).machine


def test_the_source_block_from_gitlab_variables() -> None:
    ci = read_ci({"CI_COMMIT_SHA": "a" * 40, "CI_COMMIT_REF_NAME": "main", "CI_JOB_ID": "7",
                  "CI_MERGE_REQUEST_IID": "", "CI_PIPELINE_URL": "https://g/p/-/pipelines/1"})
    assert ci.source["commit"] == "a" * 40 and ci.source["ref"] == "main" and ci.source["job_id"] == "7"
    assert ci.source["mr_iid"] is None and ci.mr_iid is None  # empty is unset
    assert set(ci.source) == {"commit", "ref", "commit_time", "commit_title", "pipeline_id", "job_id",
                              "pipeline_url", "project_url", "mr_iid"}


def test_push_token_order_and_url() -> None:
    both = read_ci({"CI_SERVER_URL": "https://gitlab.example.com/", "CI_PROJECT_PATH": "g/p",
                    "BENCHTRAIL_PUSH_TOKEN": "push-secret", "CI_JOB_TOKEN": "job-secret"})
    assert both.in_ci and both.both_tokens and both.token_variable == "BENCHTRAIL_PUSH_TOKEN"
    assert both.push_url() == "https://oauth2:push-secret@gitlab.example.com/g/p.git"
    job = read_ci({"CI_SERVER_URL": "https://gitlab.example.com", "CI_PROJECT_PATH": "g/p", "CI_JOB_TOKEN": "j"})
    assert job.token_variable == "CI_JOB_TOKEN" and job.push_url() == "https://gitlab-ci-token:j@gitlab.example.com/g/p.git"
    assert read_ci({"CI_JOB_TOKEN": "j"}).push_url() is None  # not in CI: the remote as configured
    assert read_ci({}).token_variable is None


def test_note_token_order() -> None:
    ci = read_ci({"GITLAB_TOKEN": "b", "BENCHTRAIL_GITLAB_TOKEN": "a"})
    assert (ci.note_token, ci.note_token_variable) == ("a", "BENCHTRAIL_GITLAB_TOKEN")
    assert read_ci({"GITLAB_TOKEN": "b"}).note_token_variable == "GITLAB_TOKEN"


def test_no_token_in_a_repr() -> None:
    ci = read_ci({"BENCHTRAIL_PUSH_TOKEN": "push-secret", "CI_JOB_TOKEN": "job-secret",
                  "BENCHTRAIL_GITLAB_TOKEN": "note-secret"})
    shown = repr(ci)
    assert not any(secret in shown for secret in ("push-secret", "job-secret", "note-secret"))
    assert set(ci.secrets) == {"push-secret", "job-secret", "note-secret"}


def test_an_artifact_url_in_a_gitlab_job_and_none_outside_one() -> None:
    ci = read_ci({"CI_PROJECT_URL": "https://gitlab.example.com/g/p/", "CI_JOB_ID": "77"})
    assert ci.artifact_url("benchtrail-report/mr/index.html") == (
        "https://gitlab.example.com/g/p/-/jobs/77/artifacts/file/benchtrail-report/mr/index.html")
    assert ci.artifact_url("a b/c#d.html").endswith("/artifacts/file/a%20b/c%23d.html")
    assert read_ci({"CI_JOB_ID": "77"}).artifact_url("x.html") is None
    assert read_ci({"CI_PROJECT_URL": "file:///srv/p", "CI_JOB_ID": "77"}).artifact_url("x.html") is None
