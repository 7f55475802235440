"""The merge request note, through python-gitlab and real HTTP to the stand-in GitLab API
(``gitlabapi``): one note per suite, updated in place, and one line for every refusal."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from comparefixtures import row
from gitlabapi import (
    MR_IID,
    PROJECT_ID,
    PROJECT_PATH,
    TOKEN,
    Account,
    GitLabApi,
    serve_gitlab,
    watch_logs,
)

from benchtrail.compare.comparison import Comparison
from benchtrail.compare.document import dump_comparison
from benchtrail.errors import GitLabError
from benchtrail.gitlab.ci import read_ci
from benchtrail.gitlab.notes import (
    NoteOutcome,
    NoteTarget,
    note_marker,
    note_target,
    note_text,
    should_post,
    upsert_note,
)

WRONG = "glpat-SECRET-wrong-token-555"
READER = "glpat-SECRET-read-only-666"
GUEST = "glpat-SECRET-guest-777"
OUTSIDER = "glpat-SECRET-outsider-888"
SECRETS = (TOKEN, WRONG, READER, GUEST, OUTSIDER)
WRITE_GRANT = "it needs the api scope and at least the Reporter role on the project to write merge request notes"


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from watch_logs(caplog, monkeypatch, SECRETS)


@pytest.fixture
def api() -> Iterator[GitLabApi]:
    accounts = {TOKEN: Account(1, "benchtrail-bot"), READER: Account(3, "reader", scopes=("read_api",)),
                GUEST: Account(4, "guest", role="guest"), OUTSIDER: Account(5, "outsider", member=False)}
    with serve_gitlab(accounts) as server:
        yield server


def target(api: GitLabApi, project: str = PROJECT_PATH, iid: int = MR_IID) -> NoteTarget:
    return NoteTarget(api.url, project, iid)


def host(api: GitLabApi) -> str:
    return api.url.removeprefix("http://")


def ci_env(api: GitLabApi, **extra: str) -> dict[str, str]:
    return {"CI_SERVER_URL": api.url, "CI_PROJECT_ID": str(PROJECT_ID), "CI_PROJECT_PATH": PROJECT_PATH,
            "CI_MERGE_REQUEST_IID": str(MR_IID), "CI_JOB_TOKEN": "job-token", "BENCHTRAIL_GITLAB_TOKEN": TOKEN,
            **extra}


@contextlib.contextmanager
def raw_server(answer: bytes, *, drip_from: int | None = None) -> Iterator[str]:
    """A loopback HTTP server that answers every request with ``answer``: at once, or
    from its byte ``drip_from`` on one byte a second, the way a server that drips does.
    Yields its URL."""
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            asked = b""
            while b"\r\n\r\n" not in asked:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                asked += chunk
            cut = len(answer) if drip_from is None else drip_from
            try:
                self.request.sendall(answer[:cut])
                for byte in answer[cut:]:
                    if stop.wait(1.0):
                        return
                    self.request.sendall(bytes([byte]))
            except OSError:  # the client hung up
                return

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            stop.set()
            server.shutdown()


def http_answer(status: str, content_type: str, body: bytes) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode() + body


USER = http_answer("200 OK", "application/json", b'{"id": 1, "username": "benchtrail-bot"}' + b" " * 100)
LOGIN_PAGE = http_answer("200 OK", "text/html; charset=utf-8", b"<!DOCTYPE html><html><title>Sign in</title></html>")
DRIPS = {"the body": USER.index(b"\r\n\r\n") + 4, "the headers": USER.index(b"\r\n") + 2}


def refused(body: str, *, api: GitLabApi, token: str = TOKEN, **kwargs: object) -> str:
    """The one line of the GitLabError that ``upsert_note`` raises."""
    with pytest.raises(GitLabError) as caught:
        upsert_note(body, suite="mlp", target=kwargs.pop("to", None) or target(api),  # type: ignore[arg-type]
                    token=token, **kwargs)  # type: ignore[arg-type]
    line = str(caught.value)
    assert "\n" not in line
    for secret in SECRETS:
        assert secret not in line
    return line


# ---------------------------------------------------------------------- pure parts


def test_marker_is_a_comment_no_suite_name_can_close() -> None:
    assert note_marker("mlp-cpu") == "<!-- benchtrail:note suite=mlp-cpu -->"
    evil = note_marker("a --> <b>x</b> --!> c")
    assert evil.count("-->") == 1 and evil.endswith(" -->") and "--!>" not in evil and "<b>" not in evil
    assert note_marker("a") not in note_marker("a b")
    assert note_text("Results\n\n", "mlp") == "Results\n\n<!-- benchtrail:note suite=mlp -->"


@pytest.mark.parametrize(("when", "verdict", "wanted"), [
    ("always", "unchanged", True), ("always", "no_baseline", True),
    ("changed", "unchanged", False), ("changed", "no_baseline", False), ("changed", "improvement", True),
    ("changed", "inconclusive", True), ("changed", "environment_changed", True), ("changed", "regression", True),
    ("regressed", "regression", True), ("regressed", "improvement", False), ("regressed", "inconclusive", False),
])
def test_should_post(when: str, verdict: str, wanted: bool) -> None:
    assert should_post(when, verdict) is wanted


def test_should_post_refuses_an_unknown_when() -> None:
    with pytest.raises(ValueError, match="when must be one of always, changed, regressed, not 'never'"):
        should_post("never", "regression")


def test_target_from_ci_variables_and_overrides() -> None:
    env = {"CI_SERVER_URL": "https://gitlab.example.com/", "CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "g/p",
           "CI_MERGE_REQUEST_IID": "7"}
    assert note_target(read_ci(env)) == NoteTarget("https://gitlab.example.com", "42", 7)
    assert note_target(read_ci(env), project="other/proj", mr_iid=9, server_url="http://localhost:8080") == \
        NoteTarget("http://localhost:8080", "other/proj", 9)
    fallback = {"CI_API_V4_URL": "https://gl.example.org/api/v4", "CI_PROJECT_PATH": "g/p", "CI_MERGE_REQUEST_IID": "3"}
    target = note_target(read_ci(fallback))
    assert target == NoteTarget("https://gl.example.org", "g/p", 3)
    assert (target.host, target.shown) == ("gl.example.org", "g/p!3")


@pytest.mark.parametrize(("env", "kwargs", "line"), [
    ({}, {}, ("no merge request to post the note on: pass --gitlab-url or set CI_SERVER_URL; pass --project or "
              "set CI_PROJECT_ID or CI_PROJECT_PATH; pass --mr-iid or set CI_MERGE_REQUEST_IID (set only in merge "
              "request pipelines)")),
    ({"CI_SERVER_URL": "https://gl.example.com", "CI_PROJECT_ID": "1"}, {},
     ("no merge request to post the note on: pass --mr-iid or set CI_MERGE_REQUEST_IID (set only in merge "
      "request pipelines)")),
    ({"CI_SERVER_URL": "gl.example.com", "CI_PROJECT_ID": "1", "CI_MERGE_REQUEST_IID": "2"}, {},
     "CI_SERVER_URL: expected the GitLab server's URL, like https://gitlab.example.com, found 'gl.example.com'"),
    ({"CI_SERVER_URL": "https://gl.example.com", "CI_PROJECT_ID": "1"}, {"mr_iid": "!5"},
     "--mr-iid: expected a merge request number (the N of !N), found '!5'"),
    ({"CI_SERVER_URL": "https://gl.example.com", "CI_MERGE_REQUEST_IID": "2"}, {"project": "/"},
     "--project: expected a project ID or a group/name path, found '/'"),
])
def test_target_names_what_is_missing(env: dict[str, str], kwargs: dict[str, str], line: str) -> None:
    with pytest.raises(GitLabError) as caught:
        note_target(read_ci(env), **kwargs)  # type: ignore[arg-type]
    assert str(caught.value) == line


# ---------------------------------------------------------------------- one note, in place


def test_create_then_update_in_place_then_nothing_to_do(api: GitLabApi) -> None:
    first = upsert_note("mlp: 12.0 ms", suite="mlp", target=target(api), token=TOKEN)
    [note] = api.notes()
    mr_url = f"{api.url}/{PROJECT_PATH}/-/merge_requests/{MR_IID}"
    assert first == NoteOutcome("created", note["id"], f"{mr_url}#note_{note['id']}")
    assert note["body"] == "mlp: 12.0 ms\n\n<!-- benchtrail:note suite=mlp -->"

    second = upsert_note("mlp: 14.0 ms", suite="mlp", target=target(api, project=str(PROJECT_ID)), token=TOKEN)
    assert second == NoteOutcome("updated", note["id"], f"{mr_url}#note_{note['id']}")
    assert [n["body"] for n in api.notes()] == ["mlp: 14.0 ms\n\n<!-- benchtrail:note suite=mlp -->"]

    writes = len(api.writes())
    third = upsert_note("mlp: 14.0 ms\n", suite="mlp", target=target(api), token=TOKEN)
    assert third.action == "unchanged" and third.note_id == note["id"]
    assert len(api.writes()) == writes, "an identical body was sent again"


def test_each_suite_has_its_own_note(api: GitLabApi) -> None:
    upsert_note("a", suite="mlp", target=target(api), token=TOKEN)
    upsert_note("b", suite="mlp-gpu", target=target(api), token=TOKEN)
    upsert_note("c", suite="mlp", target=target(api), token=TOKEN)
    assert [n["body"].split("\n")[0] for n in api.notes()] == ["c", "b"]


def test_another_users_note_with_the_marker_is_left_alone(api: GitLabApi) -> None:
    theirs = api.add_note(note_text("copied by hand", "mlp"), user_id=2)
    outcome = upsert_note("mine", suite="mlp", target=target(api), token=TOKEN)
    assert outcome.action == "created" and outcome.note_id != theirs["id"]
    assert [(n["author"]["id"], n["body"].split("\n")[0]) for n in api.notes()] == [(2, "copied by hand"), (1, "mine")]
    assert not [r for r in api.requests if r["method"] == "PUT"]


def test_a_system_note_or_another_marker_is_not_ours(api: GitLabApi) -> None:
    api.add_note(note_text("added 1 commit", "mlp"), user_id=1, system=True)
    api.add_note(note_text("other suite", "mlp-gpu"), user_id=1)
    assert upsert_note("mine", suite="mlp", target=target(api), token=TOKEN).action == "created"
    assert len(api.notes()) == 3


def test_the_note_is_found_on_a_later_page(api: GitLabApi) -> None:
    for n in range(130):  # older than ours: GitLab lists 100 a page at most
        api.add_note(f"review comment {n}", user_id=2 + n % 3)
    ours = api.add_note(note_text("old numbers", "mlp"), user_id=1)
    outcome = upsert_note("new numbers", suite="mlp", target=target(api), token=TOKEN)
    assert outcome == NoteOutcome("updated", ours["id"], outcome.web_url)
    assert len(api.notes()) == 131
    pages = [r["path"] for r in api.requests if r["method"] == "GET" and r["path"].split("?")[0].endswith("/notes")]
    assert len(pages) == 2 and "page=2" in pages[1]


def test_create_false_updates_but_never_creates(api: GitLabApi) -> None:
    assert upsert_note("x", suite="mlp", target=target(api), token=TOKEN, create=False) == NoteOutcome("skipped")
    assert api.notes() == []
    upsert_note("x", suite="mlp", target=target(api), token=TOKEN)
    assert upsert_note("y", suite="mlp", target=target(api), token=TOKEN, create=False).action == "updated"


# ---------------------------------------------------------------------- retries


def test_429_waits_for_retry_after_then_succeeds(api: GitLabApi) -> None:
    api.fail_next(429, retry_after=1, method="POST")
    start = time.monotonic()
    assert upsert_note("x", suite="mlp", target=target(api), token=TOKEN).action == "created"
    assert time.monotonic() - start >= 1.0
    assert [r["status"] for r in api.writes()] == [429, 201]


def test_a_long_retry_after_is_cut_to_the_budget(api: GitLabApi) -> None:
    api.fail_next(429, retry_after=3600)
    api.fail_next(503, retry_after="Wed, 21 Oct 2099 07:28:00 GMT")
    start = time.monotonic()
    assert upsert_note("x", suite="mlp", target=target(api), token=TOKEN, retry_budget_s=0).action == "created"
    assert time.monotonic() - start < 5


def test_502_is_retried(api: GitLabApi) -> None:
    api.fail_next(502, times=2)
    assert upsert_note("x", suite="mlp", target=target(api), token=TOKEN).action == "created"
    assert [r["status"] for r in api.requests[:3]] == [502, 502, 200]


def test_5xx_gives_up_after_the_retries(api: GitLabApi) -> None:
    api.fail_next(502, times=2)
    api.fail_next(500, times=3, method="POST")
    assert refused("x", api=api, max_retries=2) == (
        f"{host(api)} answered HTTP 500 while creating the note on group/proj!7, still after "
        f"2 retries")


# ---------------------------------------------------------------------- refusals, one line each


def test_401_wrong_token(api: GitLabApi) -> None:
    assert refused("x", api=api, token=WRONG) == (
        f"the token in BENCHTRAIL_GITLAB_TOKEN was refused by {host(api)} (401): expired, revoked or mistyped")
    assert refused("x", api=api, token=WRONG, token_variable="GITLAB_TOKEN").startswith("the token in GITLAB_TOKEN ")


def test_403_without_the_api_scope(api: GitLabApi) -> None:
    assert refused("x", api=api, token=READER) == (
        f"the token in BENCHTRAIL_GITLAB_TOKEN may not write notes on group/proj!7 (403: insufficient_scope): "
        f"{WRITE_GRANT}")


def test_403_below_reporter(api: GitLabApi) -> None:
    assert refused("x", api=api, token=GUEST) == (
        f"the token in BENCHTRAIL_GITLAB_TOKEN may not write notes on group/proj!7 (403): {WRITE_GRANT}")


def test_404_project_not_visible(api: GitLabApi) -> None:
    expected = (f"project group/proj not found on {host(api)}, or not visible to the token in "
                f"BENCHTRAIL_GITLAB_TOKEN (404): check CI_PROJECT_ID or --project, and that the token belongs to "
                f"the project")
    assert refused("x", api=api, token=OUTSIDER) == expected
    assert refused("x", api=api, to=target(api, project="group/gone")) == expected.replace("group/proj", "group/gone")


def test_404_merge_request(api: GitLabApi) -> None:
    assert refused("x", api=api, to=target(api, iid=99)) == (
        f"merge request !99 not found in group/proj on {host(api)} (404): check CI_MERGE_REQUEST_IID or --mr-iid")


def test_404_no_api_at_the_server_url(api: GitLabApi) -> None:
    assert refused("x", api=api, to=NoteTarget(api.url + "/gitlab", "group/proj", 7)) == (
        f"{host(api)} has no GitLab API at {api.url}/gitlab/api/v4 (404): check CI_SERVER_URL or --gitlab-url")


def test_unreachable_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GitLabError) as caught:
        upsert_note("x", suite="mlp", target=NoteTarget(f"http://127.0.0.1:{port}", "g/p", 1), token=TOKEN,
                    max_retries=1)
    assert str(caught.value) == (f"cannot reach the GitLab server 127.0.0.1:{port} (connection refused) while "
                                 f"reading the token's user: check CI_SERVER_URL or --gitlab-url")


@pytest.mark.parametrize("drip", DRIPS)
def test_a_dripping_server_ends_at_the_deadline(drip: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests' timeout is per read: a byte a second would keep it waiting for ever."""
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", "2")
    with raw_server(USER, drip_from=DRIPS[drip]) as url:
        start = time.monotonic()
        with pytest.raises(GitLabError) as caught:
            upsert_note("x", suite="mlp", target=NoteTarget(url, "g/p", 1), token=TOKEN)
        took = time.monotonic() - start
    assert str(caught.value) == (f"cannot reach the GitLab server {url.removeprefix('http://')}: no answer within "
                                 f"2 s while reading the token's user (set BENCHTRAIL_NETWORK_TIMEOUT to wait longer)")
    assert 1.9 < took < 2 + 5


def test_the_deadline_cuts_a_long_retry_after(api: GitLabApi) -> None:
    api.fail_next(429, retry_after=30)
    start = time.monotonic()
    assert upsert_note("x", suite="mlp", target=target(api), token=TOKEN, deadline_s=2).action == "created"
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_a_deadline_that_is_no_number_of_seconds_is_refused(value: str, api: GitLabApi,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_NETWORK_TIMEOUT", value)
    assert refused("x", api=api) == f"BENCHTRAIL_NETWORK_TIMEOUT: expected a number of seconds above 0, found {value!r}"
    assert api.requests == []


def test_a_login_page_is_not_a_gitlab_api() -> None:
    with raw_server(LOGIN_PAGE) as url, pytest.raises(GitLabError) as caught:
        upsert_note("x", suite="mlp", target=NoteTarget(url, "g/p", 1), token=TOKEN)
    assert str(caught.value) == (f"{url.removeprefix('http://')} did not answer like a GitLab API (an HTML page: "
                                 f"is CI_SERVER_URL or --gitlab-url right?)")


def test_json_without_a_user_is_not_a_gitlab_api() -> None:
    with raw_server(http_answer("200 OK", "application/json", b"[1, 2]")) as url, \
            pytest.raises(GitLabError) as caught:
        upsert_note("x", suite="mlp", target=NoteTarget(url, "g/p", 1), token=TOKEN)
    assert "did not answer like a GitLab API (no user ID in its answer about the token's user" in str(caught.value)


@pytest.mark.parametrize(("answer", "drip_from", "said"), [
    (USER, DRIPS["the body"], "no answer within 2 s while reading the token's user"),
    (LOGIN_PAGE, None, "did not answer like a GitLab API (an HTML page"),
], ids=["drip", "login-page"])
def test_the_note_command_says_one_line_and_exits_2(answer: bytes, drip_from: int | None, said: str,
                                                     tmp_path: Path) -> None:
    path = dump_comparison(Comparison((row("x", "regression", change=0.3),), "main", None, 0.05),
                           tmp_path / "comparison.json")
    with raw_server(answer, drip_from=drip_from) as url:
        env = {name: value for name, value in os.environ.items() if not name.startswith(("CI_", "BENCHTRAIL_"))}
        env.update(CI_SERVER_URL=url, CI_PROJECT_ID="42", CI_MERGE_REQUEST_IID="7", BENCHTRAIL_GITLAB_TOKEN=TOKEN,
                   BENCHTRAIL_NETWORK_TIMEOUT="2", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "benchtrail", "note", "--comparison", str(path)], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: ") and said in line and TOKEN not in done.stdout + done.stderr
    assert took < 2 + 5


def test_a_job_token_cannot_write_notes(api: GitLabApi) -> None:
    """What the stand-in says about CI_JOB_TOKEN, as GitLab does: read yes, write no."""
    import gitlab

    with serve_gitlab(job_tokens=frozenset({"job-token"})) as server:
        mr = gitlab.Gitlab(server.url, job_token="job-token").projects.get(PROJECT_PATH, lazy=True) \
            .mergerequests.get(MR_IID, lazy=True)
        assert mr.notes.list(get_all=True) == []
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as caught:
            mr.notes.create({"body": "x"})
        assert caught.value.response_code == 403
        assert all("job-token" not in str(r) for r in server.requests)


# ---------------------------------------------------------------------- import weight, stand-in CLI


def test_importing_notes_loads_no_python_gitlab() -> None:
    code = "import sys, benchtrail.gitlab.notes, benchtrail.gitlab.webhook; print('gitlab' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_stand_in_runs_as_a_script() -> None:
    import urllib.request

    script = Path(__file__).with_name("gitlabapi.py")
    process = subprocess.Popen([sys.executable, str(script), "--token", "T0K"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(url + "/api/v4/user", headers={"PRIVATE-TOKEN": "T0K"})
        with opener.open(request, timeout=10) as response:
            assert response.read() == b'{"id": 1, "username": "benchtrail-bot", "name": "benchtrail-bot"}'
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
