"""The template's Pages job in real pipelines: gitlab-ci-local in Docker, a bare remote here.

With ``pages: true``, every default-branch pipeline ends with the job ``pages``, which builds
the report site from the results branch (fetched, so it shows every pipeline's record,
not only its own) into ``public/``, the artifact GitLab Pages publishes. Without it, and in
merge request pipelines, there is no such job.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitremotes import git
from pipelines import CI_YML, bare, commit_change, gcl, make_project, passed, records_on, run_pipeline

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("git_env", "gitlab_ci_local")]
pytest_plugins = ("gitfixtures",)

CI_PAGES = CI_YML + "      pages: true\n"


def listed_jobs(project: Path, *variables: str) -> list[str]:
    """The jobs gitlab-ci-local would run in this pipeline, by name (``--list-json`` lists
    the others too, as ``when: never``, after its warnings)."""
    args = [arg for name in variables for arg in ("--variable", name)]
    done = gcl(project, "--list-json", *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = "\n" + done.stdout
    jobs = json.loads(text[text.index("\n[") + 1:])
    return sorted(job["name"] for job in jobs if job["when"] != "never")


def test_two_default_branch_pipelines_publish_a_site_with_both_runs(image: str, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_PAGES.format(image=image))
    passed(run_pipeline(project, volumes=(remote,)))
    commit_change(project, "second commit")
    out = passed(run_pipeline(project, volumes=(remote,)))
    assert "PASS  benchmark-record" in out and "PASS  pages" in out
    # the site's job came after the record job: both records are on the branch and in the site
    commits = [git(project, "rev-parse", ref).strip() for ref in ("HEAD~1", "HEAD")]
    assert sorted(r["source"]["commit"] for r in records_on(remote)) == sorted(commits)
    public = project / ".gitlab-ci-local" / "artifacts" / "pages" / "public"
    index = (public / "index.html").read_text(encoding="utf-8")
    assert 'href="suites/e2e.html"' in index
    suite_page = (public / "suites" / "e2e.html").read_text(encoding="utf-8")
    for commit in commits:
        assert f"<code>{commit[:8]}</code>" in suite_page, commit
    assert "2 commits" in suite_page
    data = json.loads((public / "data" / "e2e.json").read_text(encoding="utf-8"))
    assert [c["commit"] for c in data["commits"]] == commits
    # the chart cache stays out of the published site
    assert not any(p.name.startswith(".benchtrail") for p in public.rglob("*"))


def test_no_pages_job_unless_asked_nor_outside_the_default_branch(image: str, tmp_path: Path) -> None:
    remote = bare(tmp_path / "remote.git")
    project = make_project(tmp_path, str(remote), CI_YML.format(image=image))
    assert listed_jobs(project) == ["benchmark", "benchmark-record"]
    (project / ".gitlab-ci.yml").write_text(CI_PAGES.format(image=image))
    git(project, "commit", "-q", "-am", "publish the report site")
    assert listed_jobs(project) == ["benchmark", "benchmark-record", "pages"]
    git(project, "checkout", "-q", "-b", "feature")
    assert listed_jobs(project) == ["benchmark"]
    assert listed_jobs(project, "CI_PIPELINE_SOURCE=merge_request_event") == ["benchmark", "benchmark-compare"]
