"""``benchtrail run`` on model servers: the ``openai`` and ``kserve-v2`` kinds end to end,
through the real CLI, worker processes and loopback servers (``llmserver``, ``kserveserver``)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from kserveserver import serve as serve_kserve
from llmserver import MODEL
from llmserver import serve as serve_llm

from benchtrail.cli import cli

PROMPTS = [{"prompt": "hello there", "max_tokens": 20}, {"messages": [{"role": "user", "content": "hi"}]}]
SECRET = "sk-test-0123456789abcdef"


def openai_suite(folder: Path, url: str, **extra: str) -> Path:
    (folder / "prompts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in PROMPTS), encoding="utf-8")
    lines = ["[suite]", 'name = "llm"', "[[benchmark]]", 'name = "chat"', 'kind = "openai"', f'url = "{url}"',
             f'model = "{MODEL}"', 'dataset = "prompts.jsonl"', "max_tokens = 12", "requests = 24", "warmup = 2",
             "concurrency = 4", *(f"{key} = {value}" for key, value in extra.items())]
    (folder / "suite.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "suite.toml"


def run(suite: Path, out: Path, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["run", str(suite), "--out", str(out)], env=env, catch_exceptions=False)


def only_record(out: Path) -> dict[str, Any]:
    (path,) = out.glob("*.json")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_an_llm_server_gets_token_latencies_rates_and_goodput(tmp_path: Path) -> None:
    with serve_llm(ttft_ms=40, itl_ms=4) as server:
        suite = openai_suite(tmp_path, f"{server}/v1/chat/completions", slo="{ ttft_ms = 200, tpot_ms = 2 }")
        result = run(suite, tmp_path / "out")
    assert result.exit_code == 0, result.output
    (entry,) = only_record(tmp_path / "out")["benchmarks"]
    metrics = entry["metrics"]
    assert entry["kind"] == "openai" and entry["calls"] == 24 and entry["errors"] == 0
    assert metrics["ttft_ms"]["p50"] == pytest.approx(40, rel=0.25)
    assert metrics["tpot_ms"]["p50"] == pytest.approx(4, rel=0.25)
    assert metrics["itl_ms"]["unit"] == "ms" and metrics["request_latency_ms"]["p50"] > metrics["ttft_ms"]["p50"]
    assert metrics["output_throughput"]["unit"] == "tokens/s" and metrics["output_throughput"]["value"] > 0
    # every request met the TTFT objective and none the 2 ms TPOT one: no goodput
    assert metrics["slo_ttft_ms_pct"]["value"] == 100.0 and metrics["slo_tpot_ms_pct"]["value"] == 0.0
    assert metrics["goodput"]["value"] == 0.0
    assert entry["tokens"]["counted_from"] == "usage" and entry["client"]["lag_p99_ms"] >= 0
    assert "latency_ms" not in metrics and "TTFT p50" in result.output


def test_failed_streams_are_counted_by_kind_in_the_record(tmp_path: Path) -> None:
    with serve_llm(ttft_ms=5, itl_ms=1, faults={"status_503": 4, "drop": 6}) as server:
        result = run(openai_suite(tmp_path, f"{server}/v1/chat/completions"), tmp_path / "out")
    assert result.exit_code == 0, result.output
    (entry,) = only_record(tmp_path / "out")["benchmarks"]
    kinds = entry["error_kinds"]
    assert kinds.get("http_503", 0) >= 4 and kinds.get("cut_short", 0) >= 2
    assert entry["errors"] == sum(kinds.values()) and entry["metrics"]["ttft_ms"]["n"] == 24 - entry["errors"]
    assert any("errors" in warning for warning in entry["warnings"])


def test_a_server_that_never_answers_is_one_error_and_no_record(tmp_path: Path) -> None:
    with serve_llm() as server:
        port = server.port
    start = time.monotonic()
    suite = openai_suite(tmp_path, f"http://127.0.0.1:{port}/v1/chat/completions", ready_timeout_s="1.5")
    result = run(suite, tmp_path / "out")
    assert result.exit_code == 2 and time.monotonic() - start < 30
    assert "benchmark[0]: the server was not ready" in result.output and f"127.0.0.1:{port}/v1/models" in result.output
    assert "Traceback" not in result.output and not list((tmp_path / "out").glob("*.json"))


def test_a_model_the_server_does_not_serve_is_named(tmp_path: Path) -> None:
    with serve_llm() as server:
        suite = openai_suite(tmp_path, f"{server}/v1/chat/completions")
        suite.write_text(suite.read_text().replace(f'model = "{MODEL}"', 'model = "other"'))
        result = run(suite, tmp_path / "out")
    assert result.exit_code == 2 and "'other' is not served" in result.output and MODEL in result.output


def test_the_api_key_reaches_the_server_and_nothing_else(tmp_path: Path) -> None:
    with serve_llm(ttft_ms=2, itl_ms=1, api_key=SECRET) as server:
        suite = openai_suite(tmp_path, f"{server}/v1/chat/completions", api_key_env='"BENCH_KEY"')
        missing = run(suite, tmp_path / "none", env={"BENCH_KEY": None})  # type: ignore[dict-item]
        empty = run(suite, tmp_path / "none", env={"BENCH_KEY": " "})
        wrong = run(suite, tmp_path / "wrong", env={"BENCH_KEY": SECRET[::-1]})
        right = run(suite, tmp_path / "out", env={"BENCH_KEY": SECRET})
    assert right.exit_code == 0 and only_record(tmp_path / "out")["benchmarks"][0]["errors"] == 0
    assert wrong.exit_code == 0 and only_record(tmp_path / "wrong")["benchmarks"][0]["error_kinds"] == {"http_401": 24}
    written = "".join(path.read_text() for path in tmp_path.rglob("*.json"))
    for text in (right.output, wrong.output, missing.output, written):
        assert SECRET not in text and SECRET[::-1] not in text
    for refused in (missing, empty):
        assert refused.exit_code == 2 and "benchmark[0].api_key_env: environment variable BENCH_KEY is not set" \
            in refused.output
    assert not (tmp_path / "none").exists()


def test_a_server_that_dies_mid_run_leaves_a_record_that_says_so(tmp_path: Path) -> None:
    config = json.dumps({"ttft_ms": 20, "itl_ms": 10, "output_tokens": 20})
    server = subprocess.Popen([sys.executable, str(Path(__file__).parent / "llmserver.py"), "--config", config],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline().split()[-1])  # type: ignore[union-attr]
        suite = openai_suite(tmp_path, f"http://127.0.0.1:{port}/v1/chat/completions")
        suite.write_text(suite.read_text().replace("requests = 24", "requests = 200").replace(
            "concurrency = 4", "concurrency = 2"))
        killer = threading.Timer(4.0, server.kill)
        killer.start()
        result = run(suite, tmp_path / "out")
        killer.join()
    finally:
        server.kill()
        server.wait()
    assert result.exit_code == 0, result.output
    (entry,) = only_record(tmp_path / "out")["benchmarks"]
    assert 0 < entry["errors"] < entry["calls"] and set(entry["error_kinds"]) <= {"connection", "cut_short"}
    assert entry["error_kinds"].get("connection", 0) > 0


def test_a_kserve_model_is_measured_once_it_is_ready(tmp_path: Path) -> None:
    np.save(tmp_path / "rows.npy", np.arange(40, dtype=np.float32).reshape(10, 4))
    with serve_kserve(model="iris", unready=2, inputs=[{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]) as server:
        (tmp_path / "suite.toml").write_text(f"""
[suite]
name = "iris"
[[benchmark]]
name = "infer"
kind = "kserve-v2"
url = "{server}"
model = "iris"
dataset = "rows.npy"
batch_size = [1, 4]
iterations = 30
warmup = 2
inputs = [{{ name = "x", datatype = "FP32" }}]
""", encoding="utf-8")
        result = run(tmp_path / "suite.toml", tmp_path / "out")
        received, stats = server.received(), server.stats()
    assert result.exit_code == 0, result.output
    entries = only_record(tmp_path / "out")["benchmarks"]
    assert [(e["kind"], e["errors"], e["calls"]) for e in entries] == [("kserve-v2", 0, 30)] * 2
    assert entries[1]["metrics"]["throughput"]["unit"] == "items/s" and entries[0]["target"].endswith("/infer")
    assert stats["ready_calls"]  # asked before measuring
    shapes = {tuple(r["json"]["inputs"][0]["shape"]) for r in received}
    assert shapes == {(1, 4), (4, 4)} and all(r["status"] == 200 for r in received)
