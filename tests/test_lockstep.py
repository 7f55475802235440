"""``bench.lockstep`` and ``bench.baton``: two real worker processes taking turns, never
running at once, with the waiting left out of what they measure."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchtrail.bench import load_suite
from benchtrail.bench.baton import Baton
from benchtrail.bench.lockstep import Side, SideFailed, run_pair

# Each call notes when it ran (CLOCK_MONOTONIC is one clock for every process) in a file
# named by the folder the worker runs in.
SPANS = """
import os, time

out = open(os.path.join(os.getcwd(), "spans.txt"), "a")

def busy():
    start = time.monotonic_ns()
    while time.monotonic_ns() - start < 2_000_000:
        pass
    out.write(f"{start} {time.monotonic_ns()}\\n")
    out.flush()

def broken():
    raise SystemExit(5)

def hangs():
    with open(os.path.join(os.getcwd(), "pid.txt"), "w") as pid:
        pid.write(str(os.getpid()))
    time.sleep(600)
"""

SUITE = """
[suite]
name = "turns"
[[benchmark]]
name = "busy"
target = "spans:busy"
iterations = {iterations}
warmup = 5
concurrency = {concurrency}
"""


def side(folder: Path, iterations: int = 60, concurrency: int = 1, target: str = "busy") -> Side:
    folder.mkdir()
    (folder / "spans.py").write_text(SPANS, encoding="utf-8")
    text = SUITE.format(iterations=iterations, concurrency=concurrency).replace("spans:busy", f"spans:{target}")
    (folder / "suite.toml").write_text(text, encoding="utf-8")
    return Side(load_suite(folder / "suite.toml"), cwd=folder)


def spans(folder: Path) -> list[tuple[int, int]]:
    return [tuple(int(n) for n in line.split()) for line in (folder / "spans.txt").read_text().splitlines()]


def test_the_two_sides_take_turns_and_never_run_at_once(tmp_path: Path) -> None:
    sides = (side(tmp_path / "base"), side(tmp_path / "head"))
    base, head = run_pair(sides, (tmp_path / "out-base", tmp_path / "out-head"), first=1)
    calls = sorted([(*span, "base") for span in spans(tmp_path / "base")] +
                   [(*span, "head") for span in spans(tmp_path / "head")])
    assert len(calls) == 2 * 65  # warm-up and measured calls of both
    assert all(left[1] <= right[0] for left, right in zip(calls, calls[1:]))  # one at a time
    turns = sum(left[2] != right[2] for left, right in zip(calls, calls[1:]))
    assert turns >= 6  # 130 ms of calls in blocks of about 20 ms
    assert calls[0][2] == "head"  # side 1 first
    for record in (base, head):
        (entry,) = record.benchmarks
        assert entry.calls == 60 and entry.errors == 0
        # the waiting is not measured: items over wall time is one over the mean call, not half that
        assert entry.metrics["throughput"].value > 0.8 * 1000 / entry.metrics["latency_ms"].distribution.mean
    assert sorted(p.name for p in (tmp_path / "out-base").iterdir()) == [base.filename()]
    assert (tmp_path / "out-head" / head.filename()).is_file()


@pytest.mark.parametrize(("concurrency", "lockstep"), [(2, True), (1, False)])
def test_threads_or_no_lockstep_run_the_sides_one_after_the_other(tmp_path: Path, concurrency: int,
                                                                   lockstep: bool) -> None:
    sides = (side(tmp_path / "base", concurrency=concurrency), side(tmp_path / "head", concurrency=concurrency))
    run_pair(sides, (tmp_path / "o1", tmp_path / "o2"), first=0, lockstep=lockstep)
    base, head = spans(tmp_path / "base"), spans(tmp_path / "head")
    assert max(end for _, end in base) <= min(start for start, _ in head)


@pytest.mark.parametrize("broken_side", [0, 1])
def test_a_failing_side_is_named_and_the_other_is_not_left_running(tmp_path: Path, broken_side: int) -> None:
    sides = [side(tmp_path / "base"), side(tmp_path / "head")]
    sides[broken_side] = side(tmp_path / "broken", target="broken")
    started = time.monotonic()
    with pytest.raises(SideFailed) as failed:
        run_pair((sides[0], sides[1]), (tmp_path / "o1", tmp_path / "o2"))
    assert failed.value.side == broken_side and "spans:broken raised SystemExit: 5" in str(failed.value)
    assert time.monotonic() - started < 30
    assert not list(tmp_path.glob("o*/*.json"))


@pytest.mark.parametrize("hung_side", [0, 1])
def test_a_side_that_never_returns_is_stopped_in_its_time_and_named(tmp_path: Path, hung_side: int,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The hung worker holds the turn: only its own turns count against its time (the
    floor of ``BENCHTRAIL_WORKER_TIMEOUT_S``), and neither worker is left running."""
    monkeypatch.setenv("BENCHTRAIL_WORKER_TIMEOUT_S", "2")
    sides = [side(tmp_path / "base"), side(tmp_path / "head")]
    sides[hung_side] = side(tmp_path / "hung", target="hangs")
    started = time.monotonic()
    with pytest.raises(SideFailed) as failed:
        run_pair((sides[0], sides[1]), (tmp_path / "o1", tmp_path / "o2"), first=1 - hung_side)
    assert failed.value.side == hung_side
    assert "the worker process for busy[concurrency=1] gave no result within 2 s" in str(failed.value)
    assert time.monotonic() - started < 20
    assert not Path(f"/proc/{(tmp_path / 'hung' / 'pid.txt').read_text()}").exists()


def test_a_baton_whose_relay_is_gone_runs_free() -> None:
    to_worker, from_worker = os.pipe(), os.pipe()
    os.close(to_worker[1])  # the relay hangs up
    baton = Baton(to_worker[0], from_worker[1])
    assert baton.take() >= 0 and baton.take() == 0  # the second take does not wait at all
    baton.close()
    assert os.read(from_worker[0], 8) == b"?"
    os.close(from_worker[0])


def test_the_baton_is_taken_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHTRAIL_BATON", "7,8")
    baton = Baton.from_env()
    assert baton is not None and "BENCHTRAIL_BATON" not in os.environ
    assert Baton.from_env() is None
