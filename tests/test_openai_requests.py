"""``bench.openai_requests``: the bodies sent to an OpenAI-compatible engine, and the check
that it is up and serves the model (against the real loopback server, ``llmserver``)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from llmserver import MODEL, LLMServer, serve

from benchtrail.bench.openai_requests import check_model_served, is_chat, models_url, request_bodies
from benchtrail.errors import DatasetError, SuiteError

CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"


@pytest.fixture
def server() -> Iterator[LLMServer]:
    with serve() as server:
        yield server


# --------------------------------------------------------------------------- request bodies


def test_request_bodies_for_chat_and_completions() -> None:
    rows = ["a bare prompt", {"prompt": "with a limit", "max_tokens": 7},
            {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}]
    chat = [json.loads(b) for b in request_bodies(rows, model="m", chat=True, max_tokens=32,
                                                  sampling={"temperature": 0.0, "seed": 1}, where="p.jsonl")]
    assert chat[0] == {"model": "m", "messages": [{"role": "user", "content": "a bare prompt"}], "max_tokens": 32,
                       "stream": True, "stream_options": {"include_usage": True}, "temperature": 0.0, "seed": 1}
    assert chat[1]["max_tokens"] == 7  # the row's own limit wins
    assert chat[2]["messages"][0] == {"role": "system", "content": "be brief"}
    plain = [json.loads(b) for b in request_bodies(rows[:2], model="m", chat=False, max_tokens=None, sampling={},
                                                   where="p.jsonl")]
    assert plain[0] == {"model": "m", "prompt": "a bare prompt", "stream": True,
                        "stream_options": {"include_usage": True}}  # no limit given: none sent
    assert plain[1]["prompt"] == "with a limit" and plain[1]["max_tokens"] == 7


def test_request_bodies_name_every_bad_row() -> None:
    rows = ["fine", 42, {"prompt": "x", "max_tokens": 0}, {"prompt": "x", "messages": []},
            {"messages": [{"content": "no role"}]}, {"prompt": "x", "max_token": 5}, {"prompt": ""}]
    with pytest.raises(DatasetError) as caught:
        request_bodies(rows, model="m", chat=True, max_tokens=None, sampling={}, where="prompts.jsonl")
    assert caught.value.problems == (
        "prompts.jsonl: row 2: expected a prompt string or an object with 'prompt' or 'messages', found int",
        "prompts.jsonl: row 3: max_tokens: expected a positive integer, found 0",
        "prompts.jsonl: row 4: expected exactly one of 'prompt' or 'messages'",
        "prompts.jsonl: row 5: messages[0]: expected an object with a 'role' string and a 'content'",
        "prompts.jsonl: row 6: unknown field 'max_token' (expected 'prompt' or 'messages', and 'max_tokens')",
        "prompts.jsonl: row 7: prompt: expected a non-empty string, found it empty",
    )
    with pytest.raises(DatasetError, match=r"^prompts.jsonl: row 1: a 'messages' row needs a .*/chat/completions"):
        request_bodies([{"messages": [{"role": "user", "content": "hi"}]}], model="m", chat=False,
                       max_tokens=None, sampling={}, where="prompts.jsonl")


def test_sampling_cannot_set_what_benchtrail_sets() -> None:
    with pytest.raises(SuiteError) as caught:
        request_bodies(["x"], model="m", chat=True, max_tokens=None, sampling={"stream": False, "model": "other"},
                       where="p.jsonl")
    assert caught.value.problems == ("sampling.model: benchtrail sets this request field itself",
                                     "sampling.stream: benchtrail sets this request field itself")
    with pytest.raises(SuiteError, match="^sampling.max_tokens: benchtrail sets"):  # the max_tokens key sets it
        request_bodies(["x"], model="m", chat=True, max_tokens=None, sampling={"max_tokens": 5}, where="p.jsonl")


def test_urls() -> None:
    assert is_chat("http://h:8000/v1/chat/completions") and is_chat("http://h/v1/chat/completions/")
    assert not is_chat("http://h:8000/v1/completions")
    assert models_url("http://h:8000/v1/chat/completions") == "http://h:8000/v1/models"
    assert models_url("https://h/proxy/v1/completions?x=1") == "https://h/proxy/v1/models"
    assert models_url("http://h:8000/generate") == "http://h:8000/v1/models"


# --------------------------------------------------------------------------- readiness


def test_check_model_served_waits_until_ready(server: LLMServer) -> None:
    server.reset(ready_after_s=0.8)
    started = time.monotonic()
    check_model_served(server + CHAT, MODEL, timeout_s=10, where="suite.toml: benchmark[0]", headers={})
    assert 0.7 <= time.monotonic() - started < 5


def test_check_model_served_names_what_is_served(server: LLMServer) -> None:
    with pytest.raises(SuiteError) as caught:
        check_model_served(server + COMPLETIONS, "llama-7b", timeout_s=5, where="suite.toml: benchmark[0]",
                           headers={})
    assert str(caught.value) == (f"suite.toml: benchmark[0].model: 'llama-7b' is not served at {server}/v1/models; "
                                 f"it serves: {MODEL}")


def test_check_model_served_unreachable_fails_quickly() -> None:
    with socket.socket() as sock:  # bound, not listening: refused, and no one else gets the port
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/chat/completions"
        started = time.monotonic()
        with pytest.raises(SuiteError) as caught:
            check_model_served(url, MODEL, timeout_s=1.0, where="suite.toml: benchmark[0]",
                               headers={"Authorization": "Bearer sk-do-not-show"})
    assert time.monotonic() - started < 4
    assert len(caught.value.problems) == 1 and "/v1/models" in str(caught.value)
    assert "sk-do-not-show" not in str(caught.value)
