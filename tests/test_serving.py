"""An LLM server's figures from per-request token timings: the definitions, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from benchtrail.bench.serving import load_streams, save_streams, serving_figures

MS = 1_000_000


def streams(ttft_ms: list[float], e2e_ms: list[float], tokens: list[int], *, chunks: list[int] | None = None,
            wall_s: float = 1.0, usage: int | None = None, open_loop: bool = False,
            sched_ms: list[float] | None = None, lag_ms: list[float] = (0.1,)) -> dict[str, np.ndarray]:
    """One run's arrays, as a worker writes them."""
    n = len(tokens)
    as_ns = lambda values: np.array([round(v * MS) for v in values], dtype=np.int64)  # noqa: E731
    return {
        "sent_ns": np.zeros(n, dtype=np.int64), "ttft_ns": as_ns(ttft_ms), "e2e_ns": as_ns(e2e_ms),
        "ttft_sched_ns": as_ns(sched_ms if sched_ms is not None else ttft_ms),
        "output_tokens": np.array(tokens, dtype=np.int64),
        "chunks": np.array(chunks if chunks is not None else tokens, dtype=np.int64),
        "done_ns": as_ns(e2e_ms), "itl_ns": as_ns([10.0] * max(0, sum(tokens) - n)), "lag_ns": as_ns(lag_ms),
        "usage_counted": np.int64(n if usage is None else usage), "open_loop": np.int64(open_loop),
        "wall_ns": np.int64(round(wall_s * 1e9)),
    }


def test_token_latencies_follow_vllm_definitions() -> None:
    run = streams(ttft_ms=[100, 200], e2e_ms=[1090, 300], tokens=[100, 1])
    figures = serving_figures([(run, 2)], {})
    tpot = figures.metrics["tpot_ms"]
    assert tpot.distribution.n == 1  # a one-token answer has no time per output token
    assert tpot.distribution.p50 == pytest.approx(10.0)  # (1090 - 100) / (100 - 1)
    assert figures.metrics["ttft_ms"].distribution.p50 == pytest.approx(150.0)
    assert figures.metrics["request_latency_ms"].distribution.max == pytest.approx(1090.0)
    assert figures.metrics["itl_ms"].distribution.n == 99
    assert figures.metrics["output_throughput"].value == pytest.approx(101.0)
    assert figures.metrics["request_throughput"].value == pytest.approx(2.0)
    assert "ttft_sched_ms" not in figures.metrics and "goodput" not in figures.metrics
    assert figures.tokens == {"counted_from": "usage", "per_chunk": 1.0}


def test_goodput_counts_requests_meeting_every_objective() -> None:
    # three answers: fast; slow first token; slow decoding. One failed request besides.
    run = streams(ttft_ms=[50, 300, 50], e2e_ms=[150, 400, 1050], tokens=[11, 11, 11], wall_s=2.0)
    figures = serving_figures([(run, 4)], {"ttft_ms": 200, "tpot_ms": 50})
    assert figures.metrics["goodput"].value == pytest.approx(0.5)  # 1 request in 2 s
    assert figures.metrics["slo_ttft_ms_pct"].value == pytest.approx(50.0)  # 2 of 4 measured requests
    assert figures.metrics["slo_tpot_ms_pct"].value == pytest.approx(50.0)  # tpot 10, 10, 100 ms
    assert figures.metrics["goodput"].unit == "requests/s" and figures.metrics["goodput"].direction == "higher"


def test_open_loop_adds_the_time_from_the_scheduled_start() -> None:
    run = streams(ttft_ms=[50, 50], e2e_ms=[100, 100], tokens=[5, 5], open_loop=True, sched_ms=[50, 2050])
    figures = serving_figures([(run, 2)], {})
    assert figures.metrics["ttft_sched_ms"].distribution.max == pytest.approx(2050.0)
    assert figures.metrics["ttft_ms"].distribution.max == pytest.approx(50.0)


def test_runs_keep_one_value_each_and_chunks_without_usage_are_said() -> None:
    first = streams([100, 100], [200, 200], [3, 3], chunks=[1, 1], usage=0)
    second = streams([120, 120], [220, 220], [3, 3], chunks=[1, 1], usage=2)
    figures = serving_figures([(first, 2), (second, 2)], {})
    assert figures.metrics["ttft_ms"].runs == (100.0, 120.0)
    assert figures.tokens == {"counted_from": "mixed", "per_chunk": 3.0}


def test_a_client_that_fell_behind_says_so() -> None:
    late = streams([100], [200], [3], lag_ms=[0.1] * 90 + [5.0] * 10)
    figures = serving_figures([(late, 1)], {})
    assert figures.client["lag_p99_ms"] == pytest.approx(5.0)
    assert any("could not keep up" in warning for warning in figures.warnings)
    assert not serving_figures([(streams([100], [200], [3]), 1)], {}).warnings


def test_every_request_failed_leaves_no_latency_and_no_crash() -> None:
    empty = streams([], [], [], lag_ms=[0.1])
    figures = serving_figures([(empty, 5)], {"ttft_ms": 100})
    assert "ttft_ms" not in figures.metrics
    assert figures.metrics["slo_ttft_ms_pct"].value == 0.0
    assert figures.metrics["goodput"].value == 0.0


def test_streams_survive_the_file_between_worker_and_runner(tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = streams([100, 200], [300, 400], [4, 5])
    save_streams(tmp_path / "w.streams.npz", run)
    back = load_streams(tmp_path / "w.streams.npz")
    assert set(back) == set(run)
    assert all(np.array_equal(back[name], run[name]) for name in run)
