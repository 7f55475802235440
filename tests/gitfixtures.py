"""Fixtures for the results-branch tests (helpers in ``gitremotes``); test modules load
them with ``pytest_plugins = ("gitfixtures",)``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitremotes import DATE, PUSH_TOKEN, TOKEN, GitHttpServer, clone, new_remote


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A fixed identity and dates; no global or system git configuration (modules use it
    with ``pytestmark = pytest.mark.usefixtures("git_env")``)."""
    config = tmp_path_factory.mktemp("gitconfig") / "config"
    config.write_text("[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n")
    for name, value in {
        "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_TRACE", "GIT_ASKPASS", "SSH_ASKPASS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def remote(git_env: None, tmp_path: Path) -> Path:
    return new_remote(tmp_path / "remote.git")


@pytest.fixture
def work(remote: Path, tmp_path: Path) -> Path:
    return clone(remote, tmp_path / "work")


@pytest.fixture
def gitlab(git_env: None, tmp_path: Path) -> Iterator[GitHttpServer]:
    """A GitLab-like HTTP server holding ``group/proj.git``, which takes ``TOKEN`` as
    ``gitlab-ci-token`` and ``PUSH_TOKEN`` as ``oauth2``."""
    root = tmp_path / "gitlab"
    (root / "group").mkdir(parents=True)
    new_remote(root / "group" / "proj.git")
    server = GitHttpServer(root, {TOKEN: "gitlab-ci-token", PUSH_TOKEN: "oauth2"})
    yield server
    server.close()
