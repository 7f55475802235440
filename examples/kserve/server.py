"""A small KServe v2 / Open Inference Protocol server running one ONNX model with ONNX Runtime.

    python server.py [--model model.onnx] [--name iris] [--host 127.0.0.1] [--port 8080]

It stands in for Triton, KServe or MLServer: the same REST paths and JSON
(kserve/open-inference-protocol, specification/protocol/inference_rest.md), so the suite
next to it benchmarks any of them by changing ``url`` and ``model``:

    GET  /v2/health/live                 200 once the process listens
    GET  /v2/health/ready                200 once the model is loaded, 503 before
    GET  /v2                             server metadata
    GET  /v2/models/<name>[/versions/1]  model metadata: inputs and outputs, datatypes, shapes
    GET  /v2/models/<name>[/versions/1]/ready
    POST /v2/models/<name>[/versions/1]/infer

It listens first and loads the model after, answering "not ready" (503) meanwhile, as a
real server does while it loads: a benchmark must wait for ready, not for the port.
Its first line on stdout is ``listening on http://HOST:PORT`` (``--port 0`` picks a free
port). Inference runs on the event loop itself: for a model this small a thread hand-off
costs more than the model. Only aiohttp, numpy and onnxruntime are needed (benchtrail's
image has the first two; the onnx example's Dockerfile adds the third).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

#: protocol datatype -> numpy dtype, and ONNX tensor type -> protocol datatype
DTYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
          "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
          "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}
ONNX_TYPES = {"tensor(bool)": "BOOL", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16",
              "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64", "tensor(int8)": "INT8",
              "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
              "tensor(float16)": "FP16", "tensor(float)": "FP32", "tensor(double)": "FP64",
              "tensor(string)": "BYTES"}
VERSION = "1"


class BadRequest(Exception):
    """What is wrong with a request: answered 400 with ``{"error": message}``."""


class Model:
    """An ONNX Runtime session and its tensors as the protocol describes them."""

    def __init__(self, name: str, path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.name = name
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {t.name: _metadata(t) for t in self.session.get_inputs()}
        self.outputs = {t.name: _metadata(t) for t in self.session.get_outputs()}

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "versions": [VERSION], "platform": "onnxruntime_onnx",
                "inputs": list(self.inputs.values()), "outputs": list(self.outputs.values())}

    def infer(self, request: Any) -> dict[str, Any]:
        """The inference response object of one inference request object."""
        if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
            raise BadRequest("expected an inference request object with a list of 'inputs'")
        feed = {}
        for tensor in request["inputs"]:
            name = tensor.get("name") if isinstance(tensor, dict) else None
            if name not in self.inputs:
                raise BadRequest(f"unexpected input {name!r}: the model takes {sorted(self.inputs)}")
            feed[name] = _array(tensor, self.inputs[name])
        missing = sorted(set(self.inputs) - set(feed))
        if missing:
            raise BadRequest(f"missing inputs {missing}")
        wanted = [o.get("name") for o in request.get("outputs") or [] if isinstance(o, dict)] or list(self.outputs)
        unknown = [name for name in wanted if name not in self.outputs]
        if unknown:
            raise BadRequest(f"unknown outputs {unknown}: the model has {sorted(self.outputs)}")
        try:
            results = self.session.run(wanted, feed)
        except Exception as exc:  # ONNX Runtime's refusal of a shape or type: the caller's to fix
            raise BadRequest(f"the model refused the inputs: {exc}") from None
        response: dict[str, Any] = {"model_name": self.name, "model_version": VERSION, "outputs": [
            {"name": name, "shape": list(value.shape), "datatype": self.outputs[name]["datatype"],
             "data": value.reshape(-1).tolist()} for name, value in zip(wanted, results)]}
        if "id" in request:
            response["id"] = request["id"]
        return response


def _metadata(tensor: Any) -> dict[str, Any]:
    shape = [dim if isinstance(dim, int) else -1 for dim in tensor.shape]
    return {"name": tensor.name, "datatype": ONNX_TYPES.get(tensor.type, tensor.type), "shape": shape}


def _array(tensor: dict[str, Any], expected: dict[str, Any]) -> Any:
    """One request input as the numpy array the model takes."""
    name, datatype, shape = tensor["name"], tensor.get("datatype"), tensor.get("shape")
    if datatype != expected["datatype"]:
        raise BadRequest(f"input {name!r}: datatype {datatype!r}, the model takes {expected['datatype']}")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise BadRequest(f"input {name!r}: 'shape' is not a list of whole numbers >= 0")
    try:
        array = np.array(tensor.get("data"), dtype=DTYPES[datatype])
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRequest(f"input {name!r}: data is not {datatype}: {exc}") from None
    if array.size != int(np.prod(shape)):
        raise BadRequest(f"input {name!r}: shape {shape} holds {int(np.prod(shape))} elements, "
                         f"data has {array.size}")
    return array.reshape(shape)


def make_app(model_path: Path, name: str) -> web.Application:
    """The server; it loads the model in the background once it is started."""
    state: dict[str, Model] = {}
    routes = web.RouteTableDef()

    def model_of(request: web.Request) -> Model:
        if request.match_info["name"] != name or request.match_info.get("version", VERSION) != VERSION:
            raise web.HTTPNotFound(text=json.dumps({"error": f"unknown model {request.match_info['name']!r}"}),
                                   content_type="application/json")
        if name not in state:
            raise web.HTTPServiceUnavailable(text=json.dumps({"error": "the model is loading"}),
                                             content_type="application/json")
        return state[name]

    @routes.get("/v2/health/live")
    async def live(request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    @routes.get("/v2/health/ready")
    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"ready": name in state}, status=200 if name in state else 503)

    @routes.get("/v2")
    async def server_metadata(request: web.Request) -> web.Response:
        return web.json_response({"name": "benchtrail-example-kserve", "version": "1", "extensions": []})

    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        @routes.get(prefix)
        async def model_metadata(request: web.Request) -> web.Response:
            return web.json_response(model_of(request).metadata())

        @routes.get(prefix + "/ready")
        async def model_ready(request: web.Request) -> web.Response:
            return web.json_response({"name": model_of(request).name, "ready": True})

        @routes.post(prefix + "/infer")
        async def infer(request: web.Request) -> web.Response:
            model = model_of(request)
            try:
                body = json.loads(await request.read())
                return web.json_response(model.infer(body))
            except (ValueError, BadRequest) as exc:
                return web.json_response({"error": str(exc)}, status=400)

    async def load(app: web.Application) -> None:
        loop = asyncio.get_running_loop()

        async def background() -> None:
            state[name] = await loop.run_in_executor(None, Model, name, model_path)

        app["loader"] = asyncio.ensure_future(background())

    app = web.Application()
    app.add_routes(routes)
    app.on_startup.append(load)
    return app


async def serve(model_path: Path, name: str, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(model_path, name), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await runner.app["loader"]  # a model that does not load ends the server, with its error
        print(f"model {name!r} loaded from {model_path}: ready", file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description="Serve an ONNX model over the KServe v2 REST protocol.")
    parser.add_argument("--model", type=Path, default=here / "model.onnx", help="the ONNX file (default: %(default)s)")
    parser.add_argument("--name", default="iris", help="the model's name in the URLs (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        sys.exit(f"server.py: {args.model} not found: run python ../onnx/make_model.py --out . first")
    try:
        asyncio.run(serve(args.model, args.name, args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
