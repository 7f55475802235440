"""A KServe v2 / Open Inference Protocol server on 127.0.0.1 for tests, strict about requests.

It runs in its own Python process (aiohttp.web), binds a free port and exits with its
parent (it watches its stdin), like ``loopback.py``. It serves one model and checks every
inference request against the protocol's REST spec (kserve/open-inference-protocol,
``specification/protocol/inference_rest.md``) as a strict server would: a JSON body
sent as ``Content-Type: application/json`` (FastAPI-based servers such as KServe's and
MLServer refuse any other), ``inputs`` of ``name``, ``shape``, ``datatype`` and ``data``,
as many elements as the shape says (nested or flat), each of the datatype's kind and range.

Usage::

    from kserveserver import serve

    with serve(model="iris", unready=2) as server:   # server is the base URL, a str
        server + "/v2/models/iris/infer"
        server.received()   # the inference requests, oldest first
        server.stats()      # answers by status, and ready calls by path

``serve(model="model", *, version=None, unready=0, inputs=None)``
    ``model``, ``version``: the model it serves (``/v2/models/<model>`` and, with a
    version, also ``/v2/models/<model>/versions/<version>``).
    ``unready``: how many calls to each readiness URL answer 503 before they answer 200.
    ``inputs``: the model's inputs, ``[{"name", "datatype", "shape"}]`` (``-1`` for any
    size); when given, a request must send exactly these names with these datatypes.

Paths: ``GET /v2/health/live``, ``/v2/health/ready``, ``/v2``,
``/v2/models/<m>[/versions/<v>]``, ``.../ready``; ``POST .../infer``, which answers 200
with one FP64 output per requested name (default ``output0``) of shape ``[batch]``
holding each row's sum (strings: their lengths), or 400 ``{"error": ...}`` saying what
is wrong; an unknown model 404; a body that is not declared JSON 415.

Methods of the object ``serve`` yields (a ``str``: the base URL, no trailing /):
``.url``, ``.port``; ``.received()``: dicts ``path``, ``headers``, ``json`` (the parsed
body or None), ``status``, ``error`` (the 400's message or None), oldest first;
``.stats()``: ``{"by_status": {"200": n}, "ready_calls": {path: n}}``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import sys
from collections.abc import Iterator
from typing import Any

from childserver import ChildServer, child_port

__all__ = ["KServe", "serve"]

_CONTROL = "/_kserve/"

_INTEGERS = {"UINT8": (0, 2**8 - 1), "UINT16": (0, 2**16 - 1), "UINT32": (0, 2**32 - 1), "UINT64": (0, 2**64 - 1),
             "INT8": (-(2**7), 2**7 - 1), "INT16": (-(2**15), 2**15 - 1), "INT32": (-(2**31), 2**31 - 1),
             "INT64": (-(2**63), 2**63 - 1)}
_FLOATS = {"FP16": "<e", "FP32": "<f", "FP64": "<d"}  # struct formats: packing refuses what overflows


class KServe(ChildServer):
    """The server's base URL (``http://127.0.0.1:PORT``), with its control calls."""

    CONTROL = _CONTROL

    def received(self) -> list[dict[str, Any]]:
        return self._control("received")  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._control("stats")  # type: ignore[no-any-return]


@contextlib.contextmanager
def serve(model: str = "model", *, version: str | None = None, unready: int = 0,
          inputs: list[dict[str, Any]] | None = None) -> Iterator[KServe]:
    """Start the server in a child process; yield its base URL; stop it on exit."""
    config = {"model": model, "version": version, "unready": unready, "inputs": inputs}
    with child_port(os.path.abspath(__file__), json.dumps(config), what="kserve test server") as port:
        yield KServe(port)


# --------------------------------------------------------------------------- the checks


class Refused(Exception):
    """An inference request the spec does not allow; the message says why."""


def _flatten(data: Any, out: list[Any]) -> None:
    for item in data:
        if isinstance(item, list):
            _flatten(item, out)
        else:
            out.append(item)


def _check_element(value: Any, datatype: str) -> bool:
    if datatype == "BOOL":
        return type(value) is bool
    if datatype == "BYTES":
        return type(value) is str
    if datatype in _INTEGERS:
        low, high = _INTEGERS[datatype]
        return type(value) is int and low <= value <= high
    if type(value) not in (int, float) or not math.isfinite(value):
        return False
    try:
        return math.isfinite(struct.unpack(_FLOATS[datatype], struct.pack(_FLOATS[datatype], value))[0])
    except (OverflowError, struct.error):
        return False


def check_request(body: Any, model_inputs: list[dict[str, Any]] | None = None) -> list[list[Any]]:
    """The flat data of each input of a valid inference request object; ``Refused`` else."""
    if not isinstance(body, dict):
        raise Refused("the request is not a JSON object")
    unknown = set(body) - {"id", "parameters", "inputs", "outputs"}
    if unknown:
        raise Refused(f"unknown request fields {sorted(unknown)}")
    if "id" in body and not isinstance(body["id"], str):
        raise Refused("'id' is not a string")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise Refused("'inputs' is not a non-empty list")
    flats = []
    for index, tensor in enumerate(inputs):
        at = f"inputs[{index}]"
        if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(tensor):
            raise Refused(f"{at} lacks one of name, shape, datatype, data")
        extra = set(tensor) - {"name", "shape", "datatype", "data", "parameters"}
        if extra:
            raise Refused(f"{at} has unknown fields {sorted(extra)}")
        shape, datatype, data = tensor["shape"], tensor["datatype"], tensor["data"]
        if not isinstance(tensor["name"], str):
            raise Refused(f"{at}.name is not a string")
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise Refused(f"{at}.shape is not a list of whole numbers >= 0")
        if datatype not in _INTEGERS and datatype not in _FLOATS and datatype not in ("BOOL", "BYTES"):
            raise Refused(f"{at}.datatype {datatype!r} is not a datatype of the protocol")
        if not isinstance(data, list):
            raise Refused(f"{at}.data is not a list")
        flat: list[Any] = []
        _flatten(data, flat)
        if len(flat) != math.prod(shape):
            raise Refused(f"{at}: shape {shape} holds {math.prod(shape)} elements, data has {len(flat)}")
        for value in flat:
            if not _check_element(value, datatype):
                raise Refused(f"{at}: {json.dumps(value)} is not a {datatype} value")
        flats.append(flat)
    if model_inputs is not None:
        sent = {tensor["name"]: tensor for tensor in inputs}
        wanted = {tensor["name"]: tensor for tensor in model_inputs}
        if set(sent) != set(wanted):
            raise Refused(f"the model takes inputs {sorted(wanted)}, the request sends {sorted(sent)}")
        for name, tensor in wanted.items():
            if sent[name]["datatype"] != tensor["datatype"]:
                raise Refused(f"input {name!r} is {tensor['datatype']}, the request sends {sent[name]['datatype']}")
            rank = tensor["shape"]
            if len(sent[name]["shape"]) != len(rank) or any(
                    want not in (-1, got) for want, got in zip(rank, sent[name]["shape"])):
                raise Refused(f"input {name!r} has shape {rank}, the request sends {sent[name]['shape']}")
    outputs = body.get("outputs", [])
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str)
                                                for o in outputs):
        raise Refused("'outputs' is not a list of {\"name\": ...} objects")
    return flats


# --------------------------------------------------------------------------- the child


async def _main(config: dict[str, Any]) -> None:
    import asyncio

    from aiohttp import web

    model, version = config["model"], config["version"]
    models = {f"/v2/models/{model}"} | ({f"/v2/models/{model}/versions/{version}"} if version else set())
    received: list[dict[str, Any]] = []
    by_status: dict[str, int] = {}
    ready_calls: dict[str, int] = {}
    done = asyncio.Event()

    def answer(payload: Any, status: int = 200) -> web.Response:
        by_status[str(status)] = by_status.get(str(status), 0) + 1
        return web.Response(body=json.dumps(payload).encode(), status=status, content_type="application/json")

    def ready(path: str) -> web.Response:
        ready_calls[path] = ready_calls.get(path, 0) + 1
        if ready_calls[path] <= config["unready"]:
            return answer({"ready": False}, 503)
        return answer({"name": model, "ready": True} if path != "/v2/health/ready" else {"ready": True})

    async def infer(request: web.BaseRequest, path: str) -> web.Response:
        raw = await request.read()
        entry: dict[str, Any] = {"path": path, "headers": dict(request.headers), "json": None, "status": None,
                                 "error": None}
        received.append(entry)
        try:
            entry["json"] = body = json.loads(raw)
        except ValueError:
            body = None
        if request.content_type != "application/json":
            entry["status"], entry["error"] = 415, f"Content-Type {request.content_type!r}, not application/json"
            return answer({"error": entry["error"]}, 415)
        try:
            flats = check_request(body, config["inputs"])
        except Refused as exc:
            entry["status"], entry["error"] = 400, str(exc)
            return answer({"error": str(exc)}, 400)
        first, flat = body["inputs"][0], flats[0]
        batch = first["shape"][0] if first["shape"] else 1
        size = len(flat) // batch if batch else 0
        values = [len(v) if isinstance(v, str) else float(v) for v in flat]
        sums = [sum(values[i * size:(i + 1) * size]) for i in range(batch)]
        names = [o["name"] for o in body.get("outputs", [])] or ["output0"]
        result: dict[str, Any] = {"model_name": model,
                                  "outputs": [{"name": n, "shape": [batch], "datatype": "FP64", "data": sums}
                                              for n in names]}
        if "id" in body:
            result["id"] = body["id"]
        entry["status"] = 200
        return answer(result)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == _CONTROL + "received":
            return web.json_response(received)
        if path == _CONTROL + "stats":
            return web.json_response({"by_status": by_status, "ready_calls": ready_calls})
        if request.method == "GET" and path == "/v2/health/live":
            return answer({"live": True})
        if request.method == "GET" and path == "/v2/health/ready":
            return ready(path)
        if request.method == "GET" and path == "/v2":
            return answer({"name": "kserveserver", "version": "1", "extensions": []})
        base, _, last = path.rpartition("/")
        if request.method == "GET" and last == "ready" and base in models:
            return ready(path)
        if request.method == "POST" and last == "infer" and base in models:
            return await infer(request, path)
        if request.method == "GET" and path in models:
            return answer({"name": model, "versions": [version] if version else [], "platform": "test",
                           "inputs": config["inputs"] or [], "outputs": []})
        return answer({"error": f"no such model or path: {request.method} {path}"}, 404)

    server = web.Server(handler, access_log=None)
    runner = web.ServerRunner(server, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024, reuse_address=True)
    await site.start()
    sys.stdout.write(f"{runner.addresses[0][1]}\n")
    sys.stdout.flush()

    stdin = sys.stdin.buffer.fileno()
    os.set_blocking(stdin, False)

    def on_stdin() -> None:
        try:
            if os.read(stdin, 4096):
                return
        except BlockingIOError:
            return
        done.set()

    loop = asyncio.get_running_loop()
    loop.add_reader(stdin, on_stdin)
    await done.wait()
    loop.remove_reader(stdin)
    await runner.cleanup()


if __name__ == "__main__":
    import asyncio

    asyncio.run(_main(json.loads(sys.argv[1])))
