"""benchtrail.bench.source: the source block, from real git checkouts and GitLab CI variables."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from benchtrail.bench import source
from benchtrail.bench.source import describe_source as describe_typed
from benchtrail.gitlab.ci import read_ci

FIELDS = {"commit", "ref", "commit_time", "commit_title", "pipeline_id", "job_id",
          "pipeline_url", "project_url", "mr_iid"}
CI = {
    "CI_COMMIT_SHA": "3f2b9c0d4e5f60718293a4b5c6d7e8f901234567",
    "CI_COMMIT_REF_NAME": "feature/faster-tokenizer",
    "CI_COMMIT_TIMESTAMP": "2024-05-06T07:08:09+00:00",
    "CI_COMMIT_TITLE": "Batch the tokenizer",
    "CI_PIPELINE_ID": "1234567",
    "CI_JOB_ID": "7654321",
    "CI_PIPELINE_URL": "https://gitlab.example.com/ml/model/-/pipelines/1234567",
    "CI_PROJECT_URL": "https://gitlab.example.com/ml/model",
    "CI_MERGE_REQUEST_IID": "42",
}


def describe_source(folder: Path) -> dict[str, str | None]:
    """The source as ``benchtrail run`` makes it: this process's CI variables, then git."""
    return describe_typed(folder, read_ci().source).to_json()


TRICKY_TITLE = """Fix <script>alert("x")</script> & 'quotes' in the "fast" path ✓"""


class Git:
    """A git repository in ``path`` with fixed identities and dates (asv ``test/tools.py``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.commits = 0
        path.mkdir(parents=True, exist_ok=True)
        self("init", "-q", "-b", "main")

    def __call__(self, *args: str, date: str = "2024-01-02T03:04:05+00:00") -> str:
        env = {**os.environ, "GIT_AUTHOR_NAME": "A U Thor", "GIT_AUTHOR_EMAIL": "author@example.com",
               "GIT_COMMITTER_NAME": "C O Mitter", "GIT_COMMITTER_EMAIL": "committer@example.com",
               "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, check=True,
                              encoding="utf-8")
        return done.stdout.strip()

    def commit(self, message: str, date: str = "2024-01-02T03:04:05+00:00") -> str:
        self.commits += 1
        (self.path / "file.txt").write_text(f"{self.commits}\n", encoding="utf-8")
        self("add", "file.txt")
        self("commit", "-q", "-m", message, date=date)
        return self("rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the machine's git configuration nor a repository above tmp_path counts."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Git:
    return Git(tmp_path / "repo")


def test_from_the_checkout(repo: Git) -> None:
    repo.commit("First")
    sha = repo.commit("Make inference faster", date="2024-03-04T05:06:07+02:00")
    assert describe_source(repo.path) == {
        "commit": sha,
        "ref": "main",
        "commit_time": "2024-03-04T05:06:07+02:00",
        "commit_title": "Make inference faster",
        "pipeline_id": None,
        "job_id": None,
        "pipeline_url": None,
        "project_url": None,
        "mr_iid": None,
    }
    assert len(sha) == 40


def test_from_a_subfolder_of_the_checkout_on_a_branch(repo: Git) -> None:
    sha = repo.commit("Add the suite")
    repo("switch", "-q", "-c", "feature/batching")
    (repo.path / "bench").mkdir()
    source = describe_source(repo.path / "bench")
    assert (source["commit"], source["ref"]) == (sha, "feature/batching")


def test_title_is_the_subject_line_only(repo: Git) -> None:
    repo.commit("Speed up the decoder\n\nA body that explains\nover several lines.")
    assert describe_source(repo.path)["commit_title"] == "Speed up the decoder"


def test_title_with_html_quotes_and_unicode_kept_as_written(repo: Git) -> None:
    repo.commit(TRICKY_TITLE)
    assert describe_source(repo.path)["commit_title"] == TRICKY_TITLE


def test_detached_head_has_no_ref(repo: Git) -> None:
    first = repo.commit("First")
    repo.commit("Second")
    repo("checkout", "-q", "--detach", first)
    source = describe_source(repo.path)
    assert source["commit"] == first
    assert source["ref"] is None
    assert source["commit_title"] == "First"


def test_not_a_repository_gives_nulls(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    assert describe_source(folder) == dict.fromkeys(FIELDS)


def test_missing_folder_gives_nulls(tmp_path: Path) -> None:
    assert describe_source(tmp_path / "does-not-exist") == dict.fromkeys(FIELDS)


def test_repository_without_commits_gives_nulls(repo: Git) -> None:
    assert describe_source(repo.path) == dict.fromkeys(FIELDS)


def test_git_past_its_deadline_gives_nulls(monkeypatch: pytest.MonkeyPatch, repo: Git) -> None:
    """A git that does not answer in time is dropped quietly: the run goes on without it."""
    repo.commit("First")
    monkeypatch.setattr(source, "LOOKUP_TIMEOUT_S", 1e-6)
    assert describe_source(repo.path) == dict.fromkeys(FIELDS)


def test_gitlab_ci_variables_take_precedence(monkeypatch: pytest.MonkeyPatch, repo: Git) -> None:
    repo.commit("Local commit")
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    assert describe_source(repo.path) == {
        "commit": CI["CI_COMMIT_SHA"],
        "ref": "feature/faster-tokenizer",
        "commit_time": "2024-05-06T07:08:09+00:00",
        "commit_title": "Batch the tokenizer",
        "pipeline_id": "1234567",
        "job_id": "7654321",
        "pipeline_url": "https://gitlab.example.com/ml/model/-/pipelines/1234567",
        "project_url": "https://gitlab.example.com/ml/model",
        "mr_iid": "42",
    }


def test_gitlab_ci_variables_without_a_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI_MERGE_REQUEST_IID")  # a branch pipeline
    source = describe_source(tmp_path)
    assert source["commit"] == CI["CI_COMMIT_SHA"]
    assert source["mr_iid"] is None


def test_ci_title_with_html_and_quotes_kept_as_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CI_COMMIT_SHA", CI["CI_COMMIT_SHA"])
    monkeypatch.setenv("CI_COMMIT_TITLE", TRICKY_TITLE)
    assert describe_source(tmp_path)["commit_title"] == TRICKY_TITLE


def test_pipeline_variables_complete_the_checkout(monkeypatch: pytest.MonkeyPatch, repo: Git) -> None:
    """Without CI_COMMIT_SHA the commit comes from git, the pipeline fields from CI."""
    sha = repo.commit("Local commit")
    monkeypatch.setenv("CI_PIPELINE_ID", "99")
    monkeypatch.setenv("CI_JOB_ID", "")  # set but empty: null, not ""
    source = describe_source(repo.path)
    assert (source["commit"], source["ref"], source["commit_title"]) == (sha, "main", "Local commit")
    assert (source["pipeline_id"], source["job_id"]) == ("99", None)


def test_source_validates_in_the_schema(monkeypatch: pytest.MonkeyPatch, repo: Git, tmp_path: Path) -> None:
    from benchtrail.results.schema import schema_document

    jsonschema = pytest.importorskip("jsonschema")
    document = schema_document()
    block_schema = {**document["$defs"]["source"], "$defs": document["$defs"]}
    repo.commit(TRICKY_TITLE)
    jsonschema.validate(describe_source(repo.path), block_schema)
    jsonschema.validate(describe_source(tmp_path / "nothing"), block_schema)
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    jsonschema.validate(describe_source(repo.path), block_schema)


def test_non_ascii_title_read_whatever_the_locale(repo: Git) -> None:
    """git writes UTF-8; a process in the C locale without UTF-8 mode still reads it."""
    import json
    import sys

    repo.commit(TRICKY_TITLE)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    code = ("import json, sys\n"
            "from benchtrail.bench.source import describe_source\n"
            "print(json.dumps(describe_source(sys.argv[1]).to_json()))")
    done = subprocess.run([sys.executable, "-c", code, str(repo.path)], env=env, capture_output=True,
                          check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout)["commit_title"] == TRICKY_TITLE


def test_a_commit_variable_that_is_no_commit_is_refused_before_the_run(tmp_path: Path) -> None:
    from benchtrail.errors import GitLabError

    with pytest.raises(GitLabError, match=r"^CI_COMMIT_SHA: expected a commit's 40 \(or 64\) lower-case hex digits, "
                                          r"found 'not-a-sha'$"):
        describe_typed(tmp_path, read_ci({**CI, "CI_COMMIT_SHA": "not-a-sha"}).source)
