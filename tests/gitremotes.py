"""Real git for the results-branch tests: records cut from the golden one, bare remotes,
clones (plain and GitLab-CI-like), and a smart-HTTP server that asks for a token.

The fixtures (in ``gitfixtures``) run everything with a fixed identity and fixed
``GIT_*_DATE``, and without the global or system git configuration of the machine.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchtrail.gitlab.ci import read_ci
from benchtrail.results import dump_record
from benchtrail.results import record_bytes as typed_bytes
from benchtrail.results.gitrepo import RemoteAccess, remote_access
from benchtrail.results.model import Record

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"
BRANCH = "benchtrail-results"
DATE = "1767225600 +0000"  # 2026-01-01T00:00:00Z


def golden() -> dict[str, Any]:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


def make_record(n: int = 0, *, suite: str = "mlp-cpu", month: int = 3, day: int = 2,
                job_id: str | None = None, commit: str | None = None,
                started_at: str | None = None) -> dict[str, Any]:
    """The golden record as run ``n``: its own start second, commit and job id."""
    record = copy.deepcopy(golden())
    record["suite"] = suite
    record["run"]["started_at"] = started_at or (
        f"2026-{month:02d}-{day:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z")
    record["source"]["commit"] = commit or f"{n + 1:012x}" + "ab" * 14
    record["source"]["job_id"] = job_id if job_id is not None else str(100000 + n)
    return record


def write_records(folder: Path, records: list[dict[str, Any]], prefix: str = "r") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [dump_record(Record.from_json(record), folder / f"{prefix}{i}.json") for i, record in enumerate(records)]


def ci_access(remote: str = "origin") -> RemoteAccess:
    """How the commands reach ``remote`` with the CI variables a test has set."""
    ci = read_ci()
    return remote_access(remote, ci.push_url(), ci.secrets)


def record_path(record: dict[str, Any]) -> str:
    """Where a record built as JSON lands on the results branch."""
    return Record.from_json(record).branch_path()


def record_bytes(record: dict[str, Any]) -> bytes:
    """The canonical bytes of a record built as JSON."""
    return typed_bytes(Record.from_json(record))


def git(cwd: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {done.stderr}")
    return done.stdout


def rev(repo: Path, ref: str) -> str | None:
    out = git(repo, "rev-parse", "--verify", "-q", ref, check=False).strip()
    return out or None


def files_on(repo: Path, ref: str = BRANCH) -> list[str]:
    """Every path of ``ref`` (``ls-tree -r``)."""
    return git(repo, "ls-tree", "-r", "--name-only", ref).split()


def missing_blobs(repo: Path, ref: str) -> tuple[set[str], set[str]]:
    """(paths whose blobs are here, oids that are missing) under ``ref``."""
    present, missing = set(), set()
    for line in git(repo, "rev-list", "--objects", "--missing=print", ref).splitlines():
        if line.startswith("?"):
            missing.add(line[1:])
        elif " " in line and line.split(" ", 1)[1].endswith(".json"):
            present.add(line.split(" ", 1)[1])
    return present, missing


def blob_oids(repo: Path, ref: str) -> dict[str, str]:
    out = git(repo, "ls-tree", "-r", ref)
    return {line.split("\t")[1]: line.split()[2] for line in out.splitlines()}


def tree_oid(repo: Path, ref: str, path: str) -> str:
    return git(repo, "rev-parse", f"{ref}:{path}").strip()


def new_remote(path: Path, *, filters: bool = True) -> Path:
    """A bare repository with a ``main`` branch of one commit, as a project would have."""
    git(path.parent, "init", "-q", "--bare", "-b", "main", str(path))
    if filters:
        git(path, "config", "uploadpack.allowFilter", "true")
    seed = path.parent / f"{path.name}-seed"
    git(path.parent, "init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("project\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "project")
    git(seed, "push", "-q", str(path), "main")
    return path


def clone(remote: Path | str, path: Path) -> Path:
    git(path.parent, "clone", "-q", str(remote), str(path))
    return path


def ci_clone(remote: Path, path: Path) -> Path:
    """What a GitLab CI job sees: a shallow clone, detached HEAD, no results branch."""
    git(path.parent, "clone", "-q", "--depth", "1", f"file://{remote}", str(path))
    git(path, "checkout", "-q", "--detach")
    return path


class GitHttpServer:
    """``git http-backend`` behind Basic auth, like GitLab: ``/group/proj.git``; every
    request path is kept in ``requests``."""

    def __init__(self, root: Path, credentials: dict[str, str], no_push: frozenset[str] = frozenset()) -> None:
        """``credentials``: token -> user name it must come with; ``no_push``: users that may
        read but not push, refused as GitLab refuses them (403 on receive-pack)."""
        self.root = root
        expected = {"Basic " + base64.b64encode(f"{user}:{token}".encode()).decode(): user
                     for token, user in credentials.items()}
        self.requests: list[str] = []
        #: set ``stall_pushes`` and pushes hang (until ``close``) once they have begun: ``pushing`` says when
        self.stall_pushes = False
        self.pushing = threading.Event()
        self._closing = threading.Event()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.cgi()

            def do_POST(self) -> None:
                self.cgi()

            def body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def cgi(self) -> None:
                server_self.requests.append(self.path)
                data = self.body()
                user = expected.get(self.headers.get("Authorization", ""))
                if user is None:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="GitLab"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if user in no_push and "git-receive-pack" in self.path:
                    said = b"You are not allowed to upload code."
                    self.send_response(403)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(said)))
                    self.end_headers()
                    self.wfile.write(said)
                    return
                path, _, query = self.path.partition("?")
                if server_self.stall_pushes and self.command == "POST" and path.endswith("/git-receive-pack"):
                    server_self.pushing.set()
                    server_self._closing.wait(60)
                    return
                env = {**os.environ, "GIT_PROJECT_ROOT": str(server_self.root), "GIT_HTTP_EXPORT_ALL": "1",
                       "PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": self.command,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                       "CONTENT_LENGTH": str(len(data)), "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1"}
                for header in ("Git-Protocol", "Content-Encoding"):
                    if self.headers.get(header):
                        env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
                        if header == "Git-Protocol":
                            env["GIT_PROTOCOL"] = self.headers[header]
                out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True,
                                     check=False).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                if not payload and b"\n\n" in out:
                    head, _, payload = out.partition(b"\n\n")
                status = 200
                headers = []
                for line in head.decode().splitlines():
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


TOKEN = "glcbt-SECRET-job-token-0123456789"
PUSH_TOKEN = "glpat-SECRET-push-token-9876543210"


def gitlab_job(server: GitHttpServer, path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CI job's checkout of ``server``'s project: GitLab clones with the job token in the
    URL (shallow, detached) and sets the CI variables."""
    host = server.url.removeprefix("http://")
    git(path.parent, "clone", "-q", "--depth", "1",
        f"http://gitlab-ci-token:{TOKEN}@{host}/group/proj.git", str(path))
    git(path, "checkout", "-q", "--detach")
    monkeypatch.setenv("CI_JOB_TOKEN", TOKEN)
    monkeypatch.setenv("CI_SERVER_URL", server.url)
    monkeypatch.setenv("CI_PROJECT_PATH", "group/proj")
    return path
