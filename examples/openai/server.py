"""A toy OpenAI-compatible LLM server: streams chat completions at a fixed pace, no model.

    python server.py [--model toy] [--ttft-ms 20] [--tpot-ms 5] [--host 127.0.0.1] [--port 8000]
                     [--api-key KEY]

It stands in for vLLM, SGLang or llama.cpp's server so that the suite next to it runs
anywhere: the same paths and the same server-sent events as their OpenAI-compatible
APIs, with a time to first token of ``--ttft-ms`` and then one token every ``--tpot-ms``
after the one before (an engine's decode steps follow one another: a late one delays the
rest, and no gap is ever shorter than ``--tpot-ms``).
Every request is served at once, as if the engine batched without limit.

    GET  /v1/models             {"object": "list", "data": [{"id": MODEL, ...}]}
    POST /v1/chat/completions   {"model", "messages", "max_tokens" | "max_completion_tokens",
                                 "stream", "stream_options": {"include_usage"}}
    POST /v1/completions        the same with "prompt"

A request generates ``max_tokens`` tokens (default 16, at most 4096), one word each.
Streamed, each token is one ``data: {chunk}`` event (a chat stream starts, at the first
token's time, with a chunk of the role and empty content, as vLLM's does), then a last
chunk with ``finish_reason: "length"``, the usage chunk when
``stream_options.include_usage`` is true, and ``data: [DONE]``. With ``--api-key`` (or
the environment variable TOY_API_KEY) a request must send ``Authorization: Bearer KEY``,
as vLLM's ``--api-key`` asks; without it, 401. The first line on stdout is
``listening on http://HOST:PORT`` (``--port 0`` picks a free port). Only aiohttp is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from typing import Any

from aiohttp import web

WORDS = ("the quick brown fox jumps over a lazy dog while benchmarks measure every token that "
         "streams from the engine to the client").split()
DEFAULT_MAX_TOKENS = 16
MOST_TOKENS = 4096


def _error(status: int, message: str, kind: str = "invalid_request_error") -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)


def _prompt_tokens(body: dict[str, Any], chat: bool) -> int:
    """A word count standing in for the tokenizer's."""
    if chat:
        texts = [m.get("content") for m in body["messages"] if isinstance(m, dict)]
        return sum(len(t.split()) for t in texts if isinstance(t, str))
    prompt = body["prompt"]
    return sum(len(p.split()) for p in ([prompt] if isinstance(prompt, str) else prompt) if isinstance(p, str))


def make_app(model: str, ttft_ms: float, tpot_ms: float, api_key: str | None) -> web.Application:
    routes = web.RouteTableDef()

    def refused(request: web.Request) -> web.Response | None:
        if api_key is not None and request.headers.get("Authorization") != f"Bearer {api_key}":
            return _error(401, "Unauthorized: send Authorization: Bearer <the server's --api-key>",
                          "authentication_error")
        return None

    @routes.get("/v1/models")
    async def models(request: web.Request) -> web.Response:
        return refused(request) or web.json_response({"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "benchtrail-example", "max_model_len": 8192}]})

    async def complete(request: web.Request, chat: bool) -> web.StreamResponse:
        arrived = time.monotonic()
        if (answer := refused(request)) is not None:
            return answer
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "the body is not a JSON object")
        if body.get("model") != model:
            return _error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError")
        key = "messages" if chat else "prompt"
        if not body.get(key) or not isinstance(body[key], list if chat else (str, list)):
            return _error(400, f"'{key}' is missing, empty or not a {'list' if chat else 'string'}")
        tokens = body.get("max_completion_tokens", body.get("max_tokens", DEFAULT_MAX_TOKENS))
        if type(tokens) is not int or not 1 <= tokens <= MOST_TOKENS:
            return _error(400, f"max_tokens must be a whole number from 1 to {MOST_TOKENS}, found {tokens!r}")
        ident = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        created = int(time.time())
        usage = {"prompt_tokens": _prompt_tokens(body, chat), "completion_tokens": tokens,
                 "total_tokens": _prompt_tokens(body, chat) + tokens}
        words = [("" if i == 0 else " ") + WORDS[i % len(WORDS)] for i in range(tokens)]

        def choice(text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
            if chat:
                delta: dict[str, Any] = {} if text is None else {"content": text}
                if first:
                    delta["role"] = "assistant"
                return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}

        obj = "chat.completion.chunk" if chat else "text_completion"
        if not body.get("stream"):
            await asyncio.sleep(max(0.0, arrived + (ttft_ms + (tokens - 1) * tpot_ms) / 1000 - time.monotonic()))
            text = "".join(words)
            result = {"index": 0, "finish_reason": "length", "logprobs": None,
                      **({"message": {"role": "assistant", "content": text}} if chat else {"text": text})}
            return web.json_response({"id": ident, "object": "chat.completion" if chat else "text_completion",
                                      "created": created, "model": model, "choices": [result], "usage": usage})

        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            chunk = {"id": ident, "object": obj, "created": created, "model": model, "choices": choices, **extra}
            await response.write(f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n".encode())

        due = arrived + ttft_ms / 1000
        for index, word in enumerate(words):
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = time.monotonic() + tpot_ms / 1000  # the next step starts when this one ends
            if chat and index == 0:  # as vLLM does: the role first, in a chunk of empty content
                await send([choice("", None, first=True)])
            await send([choice(word, None)])
        await send([choice(None if chat else "", "length")])
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await send([], usage=usage)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    @routes.post("/v1/chat/completions")
    async def chat_completions(request: web.Request) -> web.StreamResponse:
        return await complete(request, chat=True)

    @routes.post("/v1/completions")
    async def completions(request: web.Request) -> web.StreamResponse:
        return await complete(request, chat=False)

    app = web.Application()
    app.add_routes(routes)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a toy OpenAI-compatible engine that streams at a fixed pace.")
    parser.add_argument("--model", default="toy", help="the model name it answers to (default: %(default)s)")
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="time to first token (default: %(default)s)")
    parser.add_argument("--tpot-ms", type=float, default=5.0, help="time per later token (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get("TOY_API_KEY"),
                        help="require Authorization: Bearer KEY (default: $TOY_API_KEY, else none)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(make_app(args.model, args.ttft_ms, args.tpot_ms, args.api_key), args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
