"""The examples in examples/, each made and run for real, as their READMEs say.

Every example is copied into tmp_path (the checkout stays clean), its model and data are
made by its own make_model.py, its server runs as a real process (``--port 0``: the
suite's URL is rewritten to the port it picked) and ``python -m benchtrail run`` measures
its suite. The onnx example's image is built FROM the benchmark image (``image`` in
conftest.py) from a wheelhouse, with no network inside the build, and run with
``benchtrail run --image``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kserveserver import check_request

from benchtrail.bench.dataset import load_dataset
from benchtrail.bench.kserve import TensorSpec, infer_bodies, infer_url, ready_urls
from benchtrail.bench.readiness import wait_ready
from benchtrail.results import load_record

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
RUN_TIMEOUT_S = 300
START_TIMEOUT_S = 30
BUILD_TIMEOUT_S = 600
EXAMPLE_IMAGE = "benchtrail-example-onnx:e2e"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PR_SET_PDEATHSIG = 1


def example(name: str, tmp_path: Path) -> Path:
    """A copy of ``examples/<name>`` without anything made in the checkout."""
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns(
        "model.onnx", "data", "wheels", "out", "__pycache__")))


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=timeout, check=False)


def make_model(out: Path) -> None:
    done = run(sys.executable, EXAMPLES / "onnx" / "make_model.py", "--out", out, cwd=out)
    assert done.returncode == 0, done.stderr
    assert (out / "model.onnx").is_file() and (out / "data" / "iris.npy").is_file()


def benchtrail(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "benchtrail", *args, cwd=cwd, env=env)


def only_record(folder: Path) -> dict[str, Any]:
    (path,) = folder.glob("*.json")
    return load_record(path).to_json()  # type: ignore[no-any-return]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def server(script: Path, *args: str, log: Path) -> Iterator[str]:
    """Run an example's server on a free port; yield its base URL (``http://127.0.0.1:PORT``)."""
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, str(script), "--port", "0", *args], stdout=subprocess.PIPE,
                                   stderr=stderr, stdin=subprocess.DEVNULL,
                                   preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        try:
            assert process.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(process.stdout, selectors.EVENT_READ)
                ready = selector.select(START_TIMEOUT_S)
            line = process.stdout.readline().decode().strip() if ready else ""
            if not line.startswith("listening on http://"):
                process.kill()
                process.wait(timeout=10)
                pytest.fail(f"{script} did not start (rc {process.returncode}, said {line!r}): "
                            f"{log.read_text()[-2000:]}", pytrace=False)
            yield line.removeprefix("listening on ")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


def point_at(suite: Path, old: str, new: str) -> None:
    """Rewrite the suite's server address (the example's port) to the one in use."""
    text = suite.read_text(encoding="utf-8")
    assert old in text
    suite.write_text(text.replace(old, new), encoding="utf-8")


def request(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    sent = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with _OPENER.open(sent, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


# --------------------------------------------------------------------------- onnx, in-process


def test_onnx_model_predicts_iris_in_the_workload(tmp_path: Path) -> None:
    folder = example("onnx", tmp_path)
    make_model(folder)
    features = np.load(folder / "data" / "iris.npy")
    assert features.shape == (150, 4) and features.dtype == np.float32
    spec = importlib.util.spec_from_file_location("iris_onnx_workload", folder / "workload.py")
    assert spec is not None and spec.loader is not None
    workload = importlib.util.module_from_spec(spec)  # by path: another test's `workload` may be imported
    spec.loader.exec_module(workload)
    session = workload.load()
    labels, probabilities = workload.predict(session, features[:16])
    assert labels.tolist() == [0] * 16  # the first 50 rows are setosa
    assert probabilities.shape == (16, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_onnx_example_suite_runs(tmp_path: Path) -> None:
    folder = example("onnx", tmp_path)
    make_model(folder)
    done = benchtrail("run", "suite.toml", "--runs", "1", "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    record = only_record(folder / "out")
    assert record["suite"] == "iris-onnx"
    assert [b["params"] for b in record["benchmarks"]] == [{"batch_size": 1}, {"batch_size": 16}, {"batch_size": 150}]
    for entry in record["benchmarks"]:
        assert (entry["calls"], entry["errors"], entry["timeouts"]) == (300, 0, 0)
        assert entry["metrics"]["latency_ms"]["n"] == 300
        assert entry["metrics"]["throughput"]["value"] > 0
        assert entry["dataset"]["rows"] == 150


# --------------------------------------------------------------------------- kserve


def test_kserve_server_answers_the_protocol(tmp_path: Path) -> None:
    folder = example("kserve", tmp_path)
    make_model(folder)
    with server(folder / "server.py", log=tmp_path / "server.log") as base:
        wait_ready(ready_urls(base, "iris"), timeout_s=START_TIMEOUT_S, where="kserve example")
        assert request(f"{base}/v2/models/iris") == (200, {
            "name": "iris", "versions": ["1"], "platform": "onnxruntime_onnx",
            "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}],
            "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]},
                        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}]})

        dataset = load_dataset(folder / "data" / "iris.npy")
        bodies = infer_bodies(dataset, 50, [TensorSpec("float_input", "FP32")], [], "kserve example")
        labels = []
        for body in bodies:
            check_request(json.loads(body))
            status, answer = request(infer_url(base, "iris", "1"), body)
            assert status == 200, answer
            (label, probabilities) = answer["outputs"]
            assert (label["name"], label["datatype"], label["shape"]) == ("label", "INT64", [50])
            assert (probabilities["datatype"], probabilities["shape"]) == ("FP32", [50, 3])
            labels += label["data"]
        assert labels == [0] * 50 + [1] * 50 + [2] * 50  # iris is sorted by class; the forest fits it

        status, answer = request(infer_url(base, "iris"), json.loads(bodies[0]) | {
            "id": "42", "outputs": [{"name": "probabilities"}]})
        assert status == 200 and answer["id"] == "42" and [o["name"] for o in answer["outputs"]] == ["probabilities"]
        status, answer = request(infer_url(base, "iris"), {"inputs": [
            {"name": "float_input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
        assert status == 400 and "float_input" in answer["error"]
        assert request(infer_url(base, "nope"), bodies[0])[0] == 404
        assert request(f"{base}/v2/models/iris/versions/2/ready")[0] == 404


def test_kserve_example_suite_runs(tmp_path: Path) -> None:
    folder = example("kserve", tmp_path)
    make_model(folder)
    with server(folder / "server.py", log=tmp_path / "server.log") as base:
        point_at(folder / "suite.toml", "http://127.0.0.1:8080", base)
        done = benchtrail("run", "suite.toml", "--runs", "1", "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    record = only_record(folder / "out")
    assert record["suite"] == "iris-kserve"
    assert [b["params"] for b in record["benchmarks"]] == [{"batch_size": 1, "concurrency": 4},
                                                           {"batch_size": 16, "concurrency": 4}]
    for entry in record["benchmarks"]:
        assert (entry["calls"], entry["errors"], entry["timeouts"]) == (500, 0, 0)
        assert entry["metrics"]["latency_ms"]["n"] == 500
        assert entry["metrics"]["throughput"]["value"] > 0


# --------------------------------------------------------------------------- openai


def stream(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[tuple[float, Any]]:
    """The events of one streamed completion, each with its arrival in seconds from the send."""
    sent = urllib.request.Request(url, data=json.dumps(body).encode(),
                                  headers={"Content-Type": "application/json", **(headers or {})})
    events = []
    start = time.monotonic()
    with _OPENER.open(sent, timeout=30) as answer:
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        for line in answer:
            if line.startswith(b"data: "):
                payload = line[6:].strip()
                events.append((time.monotonic() - start, payload.decode() if payload == b"[DONE]"
                               else json.loads(payload)))
    return events


def test_openai_toy_server_streams_at_its_pace(tmp_path: Path) -> None:
    folder = example("openai", tmp_path)
    with server(folder / "server.py", "--ttft-ms", "40", "--tpot-ms", "10", "--api-key", "sk-toy",
                log=tmp_path / "server.log") as base:
        key = {"Authorization": "Bearer sk-toy"}
        assert request(f"{base}/v1/models")[0] == 401
        status, models = request(f"{base}/v1/models", headers=key)
        assert status == 200 and [m["id"] for m in models["data"]] == ["toy"]

        events = stream(f"{base}/v1/chat/completions", {
            "model": "toy", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 12,
            "stream": True, "stream_options": {"include_usage": True}}, key)
        chunks = [e for _, e in events[:-1]]
        assert events[-1][1] == "[DONE]"
        assert chunks[0]["choices"][0]["delta"] == {"content": "", "role": "assistant"}
        content = [(t, e["choices"][0]["delta"]["content"]) for t, e in events[1:-3]]
        assert len(content) == 12 and all(text.strip() for _, text in content)
        assert chunks[-2]["choices"][0]["finish_reason"] == "length"
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == {
            "prompt_tokens": 2, "completion_tokens": 12, "total_tokens": 14}
        first, last = content[0][0], content[-1][0]
        assert 0.039 <= first < 1.0  # the time to first token, with room for a busy machine
        assert 0.100 <= last - first < 11 * 0.010 + 1.0  # 11 gaps of 10 ms or more (a late read: less)

        status, answer = request(f"{base}/v1/completions", {"model": "toy", "prompt": "a b c", "max_tokens": 3},
                                 key)
        assert status == 200 and answer["choices"][0]["text"] == "the quick brown"
        assert request(f"{base}/v1/chat/completions", {"model": "gpt", "messages": [{"role": "user",
                                                                                    "content": "x"}]}, key)[0] == 404


def test_openai_example_suite_runs(tmp_path: Path) -> None:
    folder = example("openai", tmp_path)
    with server(folder / "server.py", log=tmp_path / "server.log") as base:
        point_at(folder / "suite.toml", "http://127.0.0.1:8000", base)
        done = benchtrail("run", "suite.toml", "--runs", "1", "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    record = only_record(folder / "out")
    assert record["suite"] == "chat"
    assert [b["params"] for b in record["benchmarks"]] == [{"concurrency": 1}, {"concurrency": 8}]
    for entry in record["benchmarks"]:
        assert (entry["errors"], entry["timeouts"]) == (0, 0)
        metrics = entry["metrics"]
        assert {"ttft_ms", "tpot_ms", "itl_ms"} <= set(metrics)
        assert metrics["ttft_ms"]["n"] == 50
        assert 20 <= metrics["ttft_ms"]["p50"] < 200  # the toy's 20 ms, under the suite's objective
        assert 4.5 <= metrics["tpot_ms"]["p50"] < 50  # its 5 ms a token, or more on a busy machine


def test_openai_example_sends_the_key_named_by_api_key_env(tmp_path: Path) -> None:
    folder = example("openai", tmp_path)
    suite = folder / "suite.toml"
    point_at(suite, 'model = "toy"\n', 'model = "toy"\napi_key_env = "OPENAI_API_KEY"\n')
    point_at(suite, "requests = 50", "requests = 10")
    with server(folder / "server.py", "--api-key", "sk-never-shown", log=tmp_path / "server.log") as base:
        point_at(suite, "http://127.0.0.1:8000", base)
        env = {**os.environ, "OPENAI_API_KEY": "sk-never-shown"}
        done = benchtrail("run", "suite.toml", "--runs", "1", "--out", "out", cwd=folder, env=env)
    assert done.returncode == 0, done.stderr
    (path,) = (folder / "out").glob("*.json")
    assert "sk-never-shown" not in done.stdout + done.stderr + path.read_text()
    assert [b["errors"] for b in only_record(folder / "out")["benchmarks"]] == [0, 0]


# --------------------------------------------------------------------------- the onnx image


def test_onnx_example_image_builds_without_network_and_runs(image: str, tmp_path: Path) -> None:
    folder = example("onnx", tmp_path)
    # The wheelhouse for the image's Python: build-image.sh made benchtrail's wheels with this
    # same Python, so the versions agree.
    wheels = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--wheel-dir",
                 folder / "wheels", "onnxruntime", "scikit-learn", "skl2onnx", cwd=folder, timeout=BUILD_TIMEOUT_S)
    assert wheels.returncode == 0, f"pip wheel could not make the example's wheelhouse: {wheels.stderr[-2000:]}"
    built = run("docker", "build", "--network", "none", "--build-arg", f"BASE_IMAGE={image}", "--tag",
                EXAMPLE_IMAGE, ".", cwd=folder, env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    assert "wrote /opt/iris-onnx/model.onnx" in built.stdout + built.stderr  # made in the build

    done = benchtrail("run", "--image", EXAMPLE_IMAGE, "--pull", "never", "--runs", "1", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"running the suite baked into {EXAMPLE_IMAGE}" in done.stderr
    record = only_record(tmp_path / "out")
    assert record["suite"] == "iris-onnx"
    assert record["environment"]["image"]["reference"] == EXAMPLE_IMAGE
    assert [b["errors"] for b in record["benchmarks"]] == [0, 0, 0]
    assert [b["calls"] for b in record["benchmarks"]] == [300, 300, 300]
