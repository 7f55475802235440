"""What an OpenAI-compatible engine is sent: one streaming request body per dataset row,
and the check that the engine is up and serves the model, before anything is measured.

A row is a prompt string, ``{"prompt": ...}`` or ``{"messages": [...]}`` (chat), with an
optional ``max_tokens`` of its own. Every request streams (``"stream": true``) and asks for
the token counts in its last chunk (``stream_options.include_usage``), so no tokenizer is
needed; ``sampling`` adds fields as given (``temperature``, ``seed``, ``ignore_eos``...),
but never one of ``OWN_FIELDS``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchtrail.bench.readiness import fetch_ready
from benchtrail.errors import DatasetError, SuiteError

__all__ = ["OWN_FIELDS", "check_model_served", "is_chat", "models_url", "request_bodies"]

#: request fields benchtrail sets itself (``max_tokens`` has a key of its own), which
#: ``sampling`` may not override
OWN_FIELDS = ("model", "messages", "prompt", "stream", "stream_options", "max_tokens")
_MAX_ROW_PROBLEMS = 10
_SERVED_SHOWN = 10


def is_chat(url: str) -> bool:
    """Whether ``url`` is a chat endpoint (its path ends with ``/chat/completions``)."""
    return urlsplit(url).path.rstrip("/").endswith("/chat/completions")


def models_url(url: str) -> str:
    """The ``/v1/models`` beside a ``.../v1/(chat/)completions`` URL (the server root's
    ``/v1/models`` for any other path)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    for suffix in ("/chat/completions", "/completions"):
        if path.endswith(suffix):
            return urlunsplit((parts.scheme, parts.netloc, path[: -len(suffix)] + "/models", "", ""))
    return urlunsplit((parts.scheme, parts.netloc, "/v1/models", "", ""))


def check_model_served(url: str, model: str, *, timeout_s: float, where: str, headers: Mapping[str, str]) -> None:
    """Wait until the server answers its model list, then check that it serves ``model``.

    A body that is not an OpenAI model list (``{"data": [{"id": ...}]}``) is taken as ready.
    """
    listing = models_url(url)
    body = fetch_ready(listing, deadline=time.monotonic() + timeout_s, where=where, headers=headers)
    try:
        served = [entry["id"] for entry in json.loads(body)["data"]]
    except (ValueError, TypeError, KeyError):
        return
    if model not in served:
        shown = ", ".join(str(name) for name in served[:_SERVED_SHOWN])
        more = f" and {len(served) - _SERVED_SHOWN} more" if len(served) > _SERVED_SHOWN else ""
        raise SuiteError(f"{where}.model: {model!r} is not served at {listing}; it serves: {shown or 'nothing'}{more}")


def request_bodies(rows: Sequence[Any], *, model: str, chat: bool, max_tokens: int | None,
                   sampling: Mapping[str, Any], where: str) -> list[bytes]:
    """One streaming request body per dataset row (``where``: the dataset, for errors).

    A row is a prompt string, ``{"prompt": str}`` or ``{"messages": [...]}`` (chat only),
    either with an optional ``"max_tokens"``, which wins over ``max_tokens``. Every bad
    row is named (rows count from 1) in one ``DatasetError``; a ``sampling`` key that
    benchtrail sets itself is a ``SuiteError``.
    """
    taken = [key for key in OWN_FIELDS if key in sampling]
    if taken:
        raise SuiteError(*(f"sampling.{key}: benchtrail sets this request field itself" for key in taken))
    bodies: list[bytes] = []
    problems: list[str] = []
    for number, row in enumerate(rows, 1):
        fields, problem = _request_fields(row, chat)
        if problem:
            problems.append(f"{where}: row {number}: {problem}")
            continue
        limit = fields.pop("max_tokens", max_tokens)
        body = {"model": model, **fields, "stream": True, "stream_options": {"include_usage": True}}
        if limit is not None:
            body["max_tokens"] = limit
        bodies.append(json.dumps({**body, **sampling}).encode())
    if len(problems) > _MAX_ROW_PROBLEMS:
        problems[_MAX_ROW_PROBLEMS:] = [f"{where}: and {len(problems) - _MAX_ROW_PROBLEMS} more rows with problems"]
    if problems:
        raise DatasetError(*problems)
    if not bodies:
        raise DatasetError(f"{where}: no prompts")
    return bodies


def _request_fields(row: Any, chat: bool) -> tuple[dict[str, Any], str | None]:
    """A row's request fields (``messages`` or ``prompt``, and ``max_tokens``), or what is wrong."""
    if isinstance(row, str):
        row = {"prompt": row}
    if not isinstance(row, dict):
        return {}, f"expected a prompt string or an object with 'prompt' or 'messages', found {type(row).__name__}"
    unknown = sorted(set(row) - {"prompt", "messages", "max_tokens"})
    if unknown:
        return {}, f"unknown field {unknown[0]!r} (expected 'prompt' or 'messages', and 'max_tokens')"
    fields: dict[str, Any] = {}
    if "max_tokens" in row:
        limit = row["max_tokens"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return {}, f"max_tokens: expected a positive integer, found {limit!r}"
        fields["max_tokens"] = limit
    if ("prompt" in row) == ("messages" in row):
        return {}, "expected exactly one of 'prompt' or 'messages'"
    if "prompt" in row:
        prompt = row["prompt"]
        if not isinstance(prompt, str) or not prompt:
            found = "it empty" if prompt == "" else type(prompt).__name__
            return {}, f"prompt: expected a non-empty string, found {found}"
        if chat:
            fields["messages"] = [{"role": "user", "content": prompt}]
        else:
            fields["prompt"] = prompt
        return fields, None
    if not chat:
        return {}, "a 'messages' row needs a .../v1/chat/completions url, not .../v1/completions"
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        return {}, "messages: expected a non-empty list"
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) or "content" not in message:
            return {}, f"messages[{index}]: expected an object with a 'role' string and a 'content'"
    fields["messages"] = messages
    return fields, None
