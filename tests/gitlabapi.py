"""A stand-in GitLab API on 127.0.0.1 for the note tests and end-to-end pipelines.

A real HTTP server (``ThreadingHTTPServer`` in a daemon thread) answering the documented
endpoints python-gitlab calls for merge request notes, the way GitLab answers them:

    GET  /api/v4/user
    GET  /api/v4/projects/:id                                (numeric ID or URL-encoded path)
    GET  /api/v4/projects/:id/merge_requests/:iid
    GET  /api/v4/projects/:id/merge_requests/:iid/notes      (sort, order_by, page, per_page;
                                                              X-Total, X-Next-Page, Link, ...)
    POST /api/v4/projects/:id/merge_requests/:iid/notes
    PUT  /api/v4/projects/:id/merge_requests/:iid/notes/:note_id
    POST /hooks/<anything>                                   (not GitLab: a chat's incoming
                                                              webhook, for ``post_webhook``)

Authentication: ``PRIVATE-TOKEN`` or ``Authorization: Bearer`` against ``accounts``
(token -> ``Account``): an unknown token gets 401; a token without the ``api`` scope
gets 403 ``insufficient_scope`` on writes (and on reads without ``read_api`` either); a
role below Reporter, or editing another user's note, gets 403; a non-member gets 404 for
the project. A ``JOB-TOKEN`` in ``job_tokens`` may read notes but gets 403 on writes, as
``CI_JOB_TOKEN`` does.

Usage::

    with serve_gitlab() as gitlab:              # TOKEN is user 1, "benchtrail-bot"
        gitlab.url                              # http://127.0.0.1:PORT
        gitlab.add_note("hi", user_id=2)        # seed a note by someone else
        gitlab.fail_next(429, retry_after=1)    # the next request gets 429
        gitlab.notes()                          # the notes of group/proj!7, oldest first
        gitlab.requests                         # every request: method, path, headers, body, status

Run ``python tests/gitlabapi.py --port 8081 --token T`` to serve one by hand or for
gitlab-ci-local: it prints the URL and serves until killed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

__all__ = ["MR_IID", "PROJECT_ID", "PROJECT_PATH", "TOKEN", "Account", "GitLabApi", "serve_gitlab", "watch_logs"]

TOKEN = "glpat-benchtrail-test-0123456789"
PROJECT_ID = 42
PROJECT_PATH = "group/proj"
MR_IID = 7

_ROLES = ("guest", "reporter", "developer", "maintainer", "owner")
_SECRET_HEADERS = ("private-token", "authorization", "job-token")
_INSUFFICIENT_SCOPE = {"error": "insufficient_scope", "scope": "api",
                       "error_description": "The request requires higher privileges than provided by the access token."}


@dataclass(frozen=True)
class Account:
    """The user a token stands for, its scopes and its role in the project."""

    user_id: int
    username: str
    scopes: tuple[str, ...] = ("api",)
    role: str = "reporter"
    member: bool = True


class GitLabApi:
    """The server's state and control; ``serve_gitlab`` yields one."""

    def __init__(self, accounts: Mapping[str, Account], job_tokens: frozenset[str], project_id: int,
                 project_path: str, mr_iids: tuple[int, ...]) -> None:
        self.accounts = dict(accounts)
        self.job_tokens = job_tokens
        self.project_id, self.project_path, self.mr_iids = project_id, project_path, mr_iids
        self.users = {a.user_id: a.username for a in self.accounts.values()}
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._notes: dict[int, list[dict[str, Any]]] = {iid: [] for iid in mr_iids}
        self._failures: deque[tuple[int, str | None, str | None]] = deque()
        self._next_id = 1001
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ control

    def notes(self, project: int | str | None = None, iid: int = MR_IID) -> list[dict[str, Any]]:
        """The notes of merge request ``iid``, oldest first (copies)."""
        if project is not None:
            assert str(project) in (str(self.project_id), self.project_path), f"no project {project}"
        with self._lock:
            return [dict(note) for note in self._notes[iid]]

    def add_note(self, body: str, *, user_id: int = 2, username: str | None = None, iid: int = MR_IID,
                 system: bool = False) -> dict[str, Any]:
        """Seed a note as ``user_id`` (default: someone without a token here)."""
        with self._lock:
            self.users.setdefault(user_id, username or f"user{user_id}")
            return dict(self._create(iid, body, user_id, system))

    def fail_next(self, status: int, times: int = 1, *, retry_after: int | str | None = None,
                  method: str | None = None) -> None:
        """Answer the next ``times`` requests (of ``method``, when given) with ``status``."""
        with self._lock:
            for _ in range(times):
                self._failures.append((status, None if retry_after is None else str(retry_after), method))

    def writes(self) -> list[dict[str, Any]]:
        """The POST and PUT requests received, oldest first."""
        return [r for r in self.requests if r["method"] in ("POST", "PUT")]

    # ------------------------------------------------------------------ serving

    def _create(self, iid: int, body: str, user_id: int, system: bool = False) -> dict[str, Any]:
        stamp = f"2026-01-01T00:{self._next_id // 60 % 60:02d}:{self._next_id % 60:02d}.000Z"
        note = {"id": self._next_id, "type": None, "body": body, "system": system, "noteable_type": "MergeRequest",
                "noteable_iid": iid, "project_id": self.project_id, "created_at": stamp, "updated_at": stamp,
                "author": {"id": user_id, "username": self.users[user_id], "name": self.users[user_id]}}
        self._next_id += 1
        self._notes[iid].append(note)
        return note

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes,
               host: str) -> tuple[int, dict[str, str], Any]:
        """(status, extra headers, JSON payload) for one request; a queued failure first."""
        with self._lock:
            failure = next((f for f in self._failures if f[2] in (None, method)), None)
            if failure is not None:
                self._failures.remove(failure)
                extra = {} if failure[1] is None else {"Retry-After": failure[1]}
                return failure[0], extra, {"message": f"{failure[0]} on purpose"}
            return self._route(method, raw_path, headers, body, host)

    def _route(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes,
               host: str) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        parts = [unquote(p) for p in split.path.split("/")]  # split first: a path ID is %2F-encoded
        if method == "POST" and parts[:2] == ["", "hooks"]:
            return 200, {}, {"ok": True}
        if parts[:3] != ["", "api", "v4"]:
            return 404, {}, {"error": "404 Not Found"}
        parts = parts[3:]
        account, job = self._who(headers)
        if account is None and not job:
            return 401, {}, {"message": "401 Unauthorized"}
        if parts == ["user"] and method == "GET":
            if job or account is None:
                return 401, {}, {"message": "401 Unauthorized"}
            if not set(account.scopes) & {"api", "read_api", "read_user"}:
                return 403, {}, _INSUFFICIENT_SCOPE
            return 200, {}, {"id": account.user_id, "username": account.username, "name": account.username}
        if len(parts) < 2 or parts[0] != "projects" or parts[1] not in (str(self.project_id), self.project_path):
            return 404, {}, {"message": "404 Project Not Found"}
        if account is not None and not account.member:
            return 404, {}, {"message": "404 Project Not Found"}
        write = method in ("POST", "PUT")
        if account is not None and not set(account.scopes) & ({"api"} if write else {"api", "read_api"}):
            return 403, {}, _INSUFFICIENT_SCOPE
        if write and (job or account is None or _ROLES.index(account.role) < _ROLES.index("reporter")):
            return 403, {}, {"message": "403 Forbidden"}
        base = f"http://{host}/{self.project_path}"
        if len(parts) == 2 and method == "GET":
            return 200, {}, {"id": self.project_id, "path_with_namespace": self.project_path, "web_url": base}
        if len(parts) < 4 or parts[2] != "merge_requests" or not parts[3].isdigit() \
                or int(parts[3]) not in self.mr_iids:
            return 404, {}, {"message": "404 Not found"}
        iid = int(parts[3])
        if len(parts) == 4 and method == "GET":
            return 200, {}, {"id": 9000 + iid, "iid": iid, "project_id": self.project_id, "title": f"MR {iid}",
                             "web_url": f"{base}/-/merge_requests/{iid}"}
        if parts[4:] == ["notes"] and method == "GET":
            return self._list(iid, query, f"http://{host}{split.path}")
        if parts[4:] == ["notes"] and method == "POST":
            text = _field(body, headers, "body")
            if not text:
                return 400, {}, {"message": {"note": ["can't be blank"]}}
            return 201, {}, self._create(iid, text, account.user_id)  # type: ignore[union-attr]
        if len(parts) == 6 and parts[4] == "notes" and method == "PUT":
            note = next((n for n in self._notes[iid] if str(n["id"]) == parts[5]), None)
            if note is None:
                return 404, {}, {"message": "404 Not found"}
            if note["author"]["id"] != account.user_id:  # type: ignore[union-attr]
                return 403, {}, {"message": "403 Forbidden"}
            note["body"] = _field(body, headers, "body") or note["body"]
            note["updated_at"] = note["updated_at"].replace(".000Z", ".500Z")
            return 200, {}, note
        return 404, {}, {"error": "404 Not Found"}

    def _who(self, headers: Mapping[str, str]) -> tuple[Account | None, bool]:
        token = headers.get("private-token") or headers.get("authorization", "").removeprefix("Bearer ")
        if token:
            return self.accounts.get(token), False
        return None, headers.get("job-token", "") in self.job_tokens

    def _list(self, iid: int, query: dict[str, str], url: str) -> tuple[int, dict[str, str], Any]:
        """One page of notes, with GitLab's pagination headers (default: newest first, 20 a page)."""
        key = "updated_at" if query.get("order_by") == "updated_at" else "created_at"
        notes = sorted(self._notes[iid], key=lambda n: (n[key], n["id"]), reverse=query.get("sort") != "asc")
        per_page = min(max(int(query.get("per_page", 20)), 1), 100)
        page = max(int(query.get("page", 1)), 1)
        total_pages = max(1, -(-len(notes) // per_page))
        shown = notes[(page - 1) * per_page: page * per_page]

        def link(number: int) -> str:
            return f"{url}?{urlencode({**query, 'page': number, 'per_page': per_page})}"

        rels = {"prev": page - 1 if page > 1 else None, "next": page + 1 if page < total_pages else None,
                "first": 1, "last": total_pages}
        headers = {"X-Total": str(len(notes)), "X-Total-Pages": str(total_pages), "X-Per-Page": str(per_page),
                   "X-Page": str(page), "X-Next-Page": str(rels["next"] or ""),
                   "X-Prev-Page": str(rels["prev"] or ""),
                   "Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels.items() if n)}
        return 200, headers, shown


def _field(body: bytes, headers: Mapping[str, str], name: str) -> str:
    """A field of a JSON or form-encoded request body."""
    text = body.decode("utf-8", "replace")
    if "json" in headers.get("content-type", ""):
        value = json.loads(text or "{}").get(name)
        return "" if value is None else str(value)
    return parse_qs(text).get(name, [""])[-1]


def _handler(api: GitLabApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet: tests read api.requests
            pass

        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = api.answer(self.command, self.path, headers, body,
                                                self.headers.get("Host", api.url.removeprefix("http://")))
            api.requests.append({"method": self.command, "path": self.path, "status": status,
                                 "headers": {k: v for k, v in headers.items() if k not in _SECRET_HEADERS},
                                 "body": body.decode("utf-8", "replace")})
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                **extra}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_one

    return Handler


@contextlib.contextmanager
def serve_gitlab(accounts: Mapping[str, Account] | None = None, *, job_tokens: frozenset[str] = frozenset(),
                 project_id: int = PROJECT_ID, project_path: str = PROJECT_PATH,
                 mr_iids: tuple[int, ...] = (MR_IID,), host: str = "127.0.0.1", port: int = 0) -> Iterator[GitLabApi]:
    """Serve a stand-in GitLab API on ``host`` (a free port unless ``port``); yield its
    ``GitLabApi``; stop it on exit. ``accounts`` defaults to ``TOKEN`` as user 1."""
    api = GitLabApi(accounts if accounts is not None else {TOKEN: Account(1, "benchtrail-bot")}, job_tokens,
                    project_id, project_path, mr_iids)
    server = ThreadingHTTPServer((host, port), _handler(api))
    server.daemon_threads = True
    api.url = f"http://{host}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="gitlabapi", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def watch_logs(caplog: Any, monkeypatch: Any, secrets: Iterable[str]) -> Iterator[None]:
    """For an autouse fixture (``yield from watch_logs(...)``): loopback bypasses any
    proxy, everything logs at DEBUG (python-gitlab, requests, urllib3 too), and at the end
    no secret may have been logged."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    caplog.set_level(logging.DEBUG)
    yield
    for secret in secrets:
        assert secret not in caplog.text, "a secret was logged"


def _main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Serve a stand-in GitLab API for merge request notes.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--token", default=TOKEN, help="the token of user 1, with the api scope")
    parser.add_argument("--project-id", type=int, default=PROJECT_ID)
    parser.add_argument("--project-path", default=PROJECT_PATH)
    parser.add_argument("--mr-iid", type=int, action="append", help=f"a merge request (default: {MR_IID})")
    args = parser.parse_args(argv)
    with serve_gitlab({args.token: Account(1, "benchtrail-bot")}, project_id=args.project_id,
                      project_path=args.project_path, mr_iids=tuple(args.mr_iid or (MR_IID,)), host=args.host,
                      port=args.port) as api:
        print(api.url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    _main()
