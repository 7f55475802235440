"""``commands.check_push``: the check with the CI context handed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gitremotes import PUSH_TOKEN, TOKEN, git

from benchtrail.commands.check_push import check_push
from benchtrail.errors import GitLabError
from benchtrail.gitlab.ci import read_ci

pytest_plugins = ("gitfixtures",)


def job_checkout(server: Any, path: Path) -> Path:
    host = server.url.removeprefix("http://")
    git(path.parent, "clone", "-q", f"http://gitlab-ci-token:{TOKEN}@{host}/group/proj.git", str(path))
    return path


def test_the_token_of_the_context_is_the_one_checked(gitlab: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    job = job_checkout(gitlab, tmp_path / "job")
    monkeypatch.setenv("BENCHTRAIL_PUSH_TOKEN", "glpat-SECRET-not-this-one")
    ci = {"CI_SERVER_URL": gitlab.url, "CI_PROJECT_PATH": "group/proj"}
    line = check_push(job, ci=read_ci({**ci, "BENCHTRAIL_PUSH_TOKEN": PUSH_TOKEN}))
    assert line == "BENCHTRAIL_PUSH_TOKEN can push to group/proj: benchtrail-results does not exist yet " \
                   "(the first record creates it)"
    with pytest.raises(GitLabError) as caught:
        check_push(job, ci=read_ci({**ci, "BENCHTRAIL_PUSH_TOKEN": "glpat-SECRET-wrong"}))
    assert str(caught.value).startswith("BENCHTRAIL_PUSH_TOKEN was refused by ")
    assert "glpat-SECRET" not in str(caught.value)
