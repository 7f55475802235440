"""How exact are benchtrail's LLM streaming timings at load, and how do they compare with AIPerf's?

Against the loopback OpenAI-compatible server (``tests/llmserver.py``, own process) with a
programmed TTFT, inter-token gap, output length and tokens per chunk:

(a) accuracy at load: ``--streams`` (64) closed-loop streams of 100 tokens/s each (itl
    10 ms), TTFT 100 ms, 100 output tokens, ``--requests`` (640) after one warm-up request
    per stream. benchtrail's TTFT p50 against the programmed TTFT (goal: within 2 %), its
    TPOT p50 against the programmed gap (goal: within 5 %), its own event-loop lag p99
    (goal: under 1 ms), its output tokens/s against the truth (streams x tokens per cycle
    of ttft + (chunks - 1) x itl), and its CPU time per 1,000 tokens. The figures are the
    record's (``bench.serving.serving_figures``); the measurement runs in a subprocess of
    its own, as a benchmark's worker does. The server's own lateness (``stats()``) and its
    own TTFT (first chunk written - request read, ``timings()``) are printed beside them,
    so the client's error can be told from the server's; the same lag probe with a single
    stream gives, for scale, the lag of a near-idle client on the same (shared) machine.
(b) open loop with a stall: ``--rate`` (20 req/s) for ``--stall-duration`` (10 s) while the
    server stalls once for ``--stall`` (2 s): the stall must show in ``ttft_sched_ms`` p99
    (goal: p99 >= half the stall; the value expected for Poisson arrivals is printed);
    ``ttft_ms``, counted from the actual send, is printed beside it.
(c) NVIDIA AIPerf on the same server program, matched: the same streams (``--concurrency``),
    the same warm-up (one request per stream, drained before the measured phase, as
    benchtrail's), the same measured request count, token counts from the server's usage
    (``--use-server-token-count``), synthetic prompts of 100 tokens. Both tools' TTFT p50,
    TPOT p50 (AIPerf's ``inter_token_latency`` is benchtrail's TPOT), ITL p50 (AIPerf's
    ``inter_chunk_latency``), output tokens/s, and CPU time per 1,000 tokens: of the whole
    process tree (AIPerf runs several processes; ``RUSAGE_CHILDREN`` counts each once it is
    reaped), and in steady state (benchtrail: inside ``measure_openai``; AIPerf: the
    difference between a run of ``--requests`` and one of a single round, so its start-up
    cancels). AIPerf is found with ``--aiperf`` (``aiperf`` on PATH, else
    /tmp/aiperf-venv/bin/aiperf) and left out with a warning when missing. Its
    ``--tokenizer builtin`` downloads a tiktoken file on first use, so where that file is
    not cached a tiny word-level tokenizer is made for it locally (prompts only: the token
    counts come from the server).

Each repeat runs everything in turn; figures are medians over repeats with min..max.
Not part of the test suite. Example::

    python tools/perf/bench_llm.py            # 5 repeats: about 5 minutes
    python tools/perf/bench_llm.py --quick    # 3 repeats, shorter runs: about 2 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from llmserver import MODEL, LLMServer, serve

_SPREAD_WARNING = 0.10  # pyperf's rule: stdev at least 10 % of the mean
_DEFAULT_AIPERF_VENV = "/tmp/aiperf-venv/bin/aiperf"
_AIPERF_TIMEOUT_S = 600
_PROMPT = " ".join(f"w{i}" for i in range(100))  # 100 words: AIPerf's synthetic prompts are --isl 100


# --------------------------------------------------------------------------- the worker


def worker(config: dict[str, Any]) -> None:
    """Measure as ``config`` says, save the streams to ``config["out"]`` (``.npz``) and print
    one JSON line: the CPU and wall time inside ``measure_openai`` (warm-up included) and
    the tally."""
    from benchtrail.bench.openai import OpenAILoad, measure_openai
    from benchtrail.bench.openai_requests import request_bodies
    from benchtrail.bench.serving import as_measurement, save_streams

    bodies = request_bodies([_PROMPT], model=MODEL, chat=True, max_tokens=config["output_tokens"], sampling={},
                            where="bench_llm")
    load = OpenAILoad(config["url"], {}, bodies, 120.0)
    cpu, wall = time.process_time(), time.perf_counter()
    streamed = measure_openai(load, warmup=config["warmup"], iterations=config["iterations"],
                              duration_s=config["duration_s"], concurrency=config["concurrency"],
                              rate=config["rate"])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    _, streams = as_measurement(streamed)
    save_streams(config["out"], streams)
    tally = streamed.tally
    print(json.dumps({"cpu_s": cpu, "wall_s": wall, "start_ns": streamed.start_ns, "calls": tally.calls,
                      "failed": tally.errors + tally.timeouts, "kinds": tally.kinds,
                      "samples": tally.error_samples[:3]}))


def run_worker(config: dict[str, Any], scratch: Path) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Run ``worker`` in a subprocess: (its JSON line, its streams, the subprocess's CPU s)."""
    from benchtrail.bench.serving import load_streams

    out = scratch / "streams.npz"
    before = children_cpu_s()
    done = subprocess.run([sys.executable, __file__, "--worker", json.dumps({**config, "out": str(out)})],
                          capture_output=True, text=True, timeout=600, check=False)
    cpu = children_cpu_s() - before
    if done.returncode != 0:
        raise RuntimeError(f"the benchtrail worker failed (rc={done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report, load_streams(out), cpu


# --------------------------------------------------------------------------- helpers


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def become_subreaper() -> None:
    """Have orphaned descendants (an AIPerf service its parent did not wait for) reparented
    to this process, so that ``reap_orphans`` can count their CPU time (Linux only)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def child_pids() -> set[int]:
    pids: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as handle:
                pids.update(int(pid) for pid in handle.read().split())
    return pids


def reap_orphans(keep: set[int], timeout_s: float = 30.0) -> int:
    """Wait for children that are not in ``keep`` (AIPerf's orphans): their CPU time then
    counts in ``RUSAGE_CHILDREN``. Returns how many there were."""
    orphans = child_pids() - keep
    deadline = time.monotonic() + timeout_s
    for pid in orphans:
        with contextlib.suppress(ChildProcessError):
            while not os.waitpid(pid, os.WNOHANG)[0] and time.monotonic() < deadline:
                time.sleep(0.05)
    return len(orphans)


def process_cpu_s(pid: int) -> float | None:
    """CPU time (user + system) of a running process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def uptime() -> str:
    """``uptime``, and the kernel's CPU pressure (the share of time some task waited for a CPU)."""
    text = "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        text = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    with contextlib.suppress(OSError, IndexError), open("/proc/pressure/cpu", encoding="ascii") as handle:
        some = handle.readline().split()
        text += f"; CPU pressure (some) {some[1].split('=')[1]} % over 10 s, {some[2].split('=')[1]} % over 60 s"
    return text


def load_now() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine(aiperf: str | None) -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
        cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    import aiohttp
    import numpy

    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    peer = f"AIPerf {aiperf_version(aiperf)} ({aiperf})" if aiperf else "AIPerf not found"
    return (f"{platform.node()}: {platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs; "
            f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, numpy {numpy.__version__}, "
            f"event loop {loop}; {peer}")


def summary(values: list[float]) -> tuple[float, float, float, bool]:
    """Median, min, max, and whether the spread is large (stdev >= 10 % of the mean)."""
    mean = statistics.fmean(values)
    noisy = len(values) > 1 and mean != 0 and statistics.stdev(values) >= _SPREAD_WARNING * abs(mean)
    return statistics.median(values), min(values), max(values), noisy


def show(label: str, values: list[float], fmt: str = "{:.3f}", unit: str = "", spread: bool = True) -> float:
    """Print median [min .. max]; warn on a large spread unless ``spread`` is False (for
    signed errors near zero, where a relative spread means nothing)."""
    median, low, high, noisy = summary(values)
    warn = "   WARNING: large spread (stdev >= 10% of mean)" if noisy and spread else ""
    print(f"  {label:<52} {fmt.format(median):>10} {unit:<8} [{fmt.format(low)} .. {fmt.format(high)}]{warn}")
    return median


def error_pct(value: float, truth: float) -> float:
    return (value / truth - 1) * 100


def stall_p99_model_ms(stall_s: float, duration_s: float, ttft_ms: float) -> float:
    """TTFT p99 expected when one stall holds every first chunk due in it: a request whose
    first chunk falls due ``u`` into the stall waits ``stall - u`` more, so the requests of
    a ``stall``-long window (Poisson arrivals, a share stall/duration of all) see TTFTs
    spread evenly over (ttft, ttft + stall]; the slowest 1 % of all are the slowest
    (0.01 * duration / stall) of those."""
    share = 0.01 * duration_s / stall_s
    return ttft_ms + (1 - share) * stall_s * 1e3 if share < 1 else ttft_ms


# --------------------------------------------------------------------------- the server's view


def server_view(server: LLMServer, measured: int) -> dict[str, Any]:
    """The server's lateness and its own per-stream TTFT (first chunk written - request read)
    for the last ``measured`` streams (those after the warm-up), in ns."""
    import numpy as np

    stats = server.stats()
    timings = server.timings()
    arrival = np.asarray(timings["arrival_ns"][-measured:], dtype=np.int64)
    first = np.asarray(timings["first_chunk_ns"][-measured:], dtype=np.int64)
    sent = first > 0
    return {"stats": stats, "arrival_ns": arrival[sent], "first_ns": first[sent],
            "ttft_ms": (first[sent] - arrival[sent]) / 1e6}


# --------------------------------------------------------------------------- AIPerf


def find_aiperf(option: str | None) -> str | None:
    if option is not None:
        if option.lower() in ("", "none"):
            return None
        return option if Path(option).is_file() or shutil.which(option) else None
    return shutil.which("aiperf") or (_DEFAULT_AIPERF_VENV if Path(_DEFAULT_AIPERF_VENV).is_file() else None)


def aiperf_python(aiperf: str) -> str:
    """The interpreter AIPerf runs on: its script's shebang, else the python beside it."""
    path = shutil.which(aiperf) or aiperf
    with contextlib.suppress(OSError, UnicodeDecodeError):
        with open(path, encoding="utf-8") as handle:
            line = handle.readline()
        if line.startswith("#!") and "python" in line:
            return line[2:].strip().split()[0]
    return str(Path(path).parent / "python")


def aiperf_version(aiperf: str | None) -> str:
    if not aiperf:
        return "-"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([aiperf, "--version"], capture_output=True, text=True, timeout=60, check=True)
        return done.stdout.strip().splitlines()[-1]
    return "?"


_TOKENIZER_MAKER = """
import json, os, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
words = ["[UNK]"] + [f"w{i}" for i in range(1000)] + ["tok"]
tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
tokenizer.decoder = decoders.WordPiece()
tokenizer.save(os.path.join(sys.argv[1], "tokenizer.json"))
with open(os.path.join(sys.argv[1], "tokenizer_config.json"), "w") as handle:
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]", "model_max_length": 10**6}, handle)
"""

_TIKTOKEN_CHECK = """
try:
    from aiperf.common.tokenizer import _is_tiktoken_cached
    print(_is_tiktoken_cached("builtin"))
except Exception:
    print(False)
"""


def aiperf_tokenizer(aiperf: str, option: str | None, scratch: Path) -> tuple[str, str]:
    """(the ``--tokenizer`` value, why): ``builtin`` where its tiktoken file is cached (or
    asked for), else a word-level tokenizer made in ``scratch`` (no network needed)."""
    if option:
        return option, "as asked"
    python = aiperf_python(aiperf)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run([python, "-c", _TIKTOKEN_CHECK], capture_output=True, text=True, timeout=120,
                              check=False)
        if done.stdout.strip() == "True":
            return "builtin", "tiktoken o200k_base is cached"
    folder = scratch / "tokenizer"
    folder.mkdir(exist_ok=True)
    subprocess.run([python, "-c", _TOKENIZER_MAKER, str(folder)], capture_output=True, text=True, timeout=120,
                   check=True)
    return str(folder), ("'builtin' would download tiktoken's o200k_base file (not cached here, no network): "
                         "a 1,002-word word-level tokenizer made locally instead")


def aiperf_command(aiperf: str, url: str, *, tokenizer: str, streams: int, requests: int, output_tokens: int,
                   artifacts: Path) -> list[str]:
    return [aiperf, "profile", "--model", MODEL, "--url", url, "--endpoint-type", "chat", "--streaming",
            "--concurrency", str(streams), "--request-count", str(requests), "--warmup-request-count", str(streams),
            "--tokenizer", tokenizer, "--use-server-token-count", "--isl", "100", "--isl-stddev", "0",
            "--osl", str(output_tokens), "--random-seed", "1", "--ui", "none", "--no-server-metrics",
            "--no-gpu-telemetry", "--artifact-dir", str(artifacts)]


def run_aiperf(command: list[str], artifacts: Path, keep: set[int]) -> tuple[dict[str, Any], float, int]:
    """Run AIPerf: (its JSON export, the CPU s of its whole process tree, orphans reaped)."""
    before = children_cpu_s()
    with open(artifacts.parent / f"{artifacts.name}.log", "w", encoding="utf-8") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=_AIPERF_TIMEOUT_S, check=False)
    orphans = reap_orphans(keep)
    cpu = children_cpu_s() - before
    export = artifacts / "profile_export_aiperf.json"
    if done.returncode != 0 or not export.is_file():
        tail = (artifacts.parent / f"{artifacts.name}.log").read_text(encoding="utf-8", errors="replace")[-2500:]
        raise RuntimeError(f"AIPerf failed (rc={done.returncode}):\n{tail}")
    return json.loads(export.read_text(encoding="utf-8")), cpu, orphans


def aiperf_figure(export: dict[str, Any], name: str, stat: str = "p50") -> float:
    return float(export[name][stat])


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats of 192 requests; the stall run 5 s with a 1 s stall")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (5; 3 with --quick)")
    parser.add_argument("--streams", type=int, default=64, help="concurrent streams in (a) and (c) (64)")
    parser.add_argument("--requests", type=int, default=None,
                        help="measured requests in (a) and (c), after one warm-up request per stream "
                             "(640: 10 rounds; 192 with --quick)")
    parser.add_argument("--ttft-ms", type=float, default=100.0, help="programmed TTFT (100 ms)")
    parser.add_argument("--itl-ms", type=float, default=10.0, help="programmed gap between chunks (10 ms)")
    parser.add_argument("--output-tokens", type=int, default=100, help="programmed output tokens (100)")
    parser.add_argument("--tokens-per-chunk", type=int, default=1, help="programmed tokens per chunk (1)")
    parser.add_argument("--rate", type=float, default=20.0, help="open-loop rate of the stall run, req/s (20)")
    parser.add_argument("--stall-duration", type=float, default=None, help="stall run length, s (10; 5 with --quick)")
    parser.add_argument("--stall", type=float, default=None, help="stall length, s (2; 1 with --quick)")
    parser.add_argument("--stall-at", type=float, default=None,
                        help="stall start, s after the stall run's first request (4; 2 with --quick)")
    parser.add_argument("--aiperf", default=None,
                        help=f"AIPerf's executable ('aiperf' on PATH, else {_DEFAULT_AIPERF_VENV}; 'none': leave out)")
    parser.add_argument("--aiperf-tokenizer", default=None,
                        help="AIPerf's --tokenizer (builtin where its tiktoken file is cached, else a local one)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    repeats = args.repeats or (3 if args.quick else 5)
    requests = args.requests or (192 if args.quick else 640)
    stall_duration_s = args.stall_duration or (5.0 if args.quick else 10.0)
    stall_s = args.stall or (1.0 if args.quick else 2.0)
    stall_at_s = args.stall_at if args.stall_at is not None else (2.0 if args.quick else 4.0)
    if stall_at_s + stall_s > stall_duration_s:
        parser.error("the stall must end within the run: --stall-at + --stall > --stall-duration")
    if min(args.streams, requests, args.tokens_per_chunk, repeats) < 1 or args.output_tokens < 2:
        parser.error("--streams, --requests, --tokens-per-chunk and --repeats must be >= 1, --output-tokens >= 2")
    aiperf = find_aiperf(args.aiperf)
    chunks = -(-args.output_tokens // args.tokens_per_chunk)
    cycle_ms = args.ttft_ms + (chunks - 1) * args.itl_ms
    truth = {"ttft": args.ttft_ms, "itl": args.itl_ms,
             "tpot": (chunks - 1) * args.itl_ms / (args.output_tokens - 1),
             "tokens_s": args.streams * args.output_tokens / (cycle_ms / 1e3)}

    print(f"machine: {machine(aiperf)}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"uptime:  {uptime()}")
    print(f"program: TTFT {args.ttft_ms:g} ms, itl {args.itl_ms:g} ms, {args.output_tokens} output tokens, "
          f"{args.tokens_per_chunk} per chunk ({chunks} chunks); a stream's cycle {cycle_ms:g} ms")
    print(f"runs:    {repeats} repeats; (a)+(c) {args.streams} streams, {args.streams} warm-up + {requests} measured "
          f"requests each tool; (b) open loop {args.rate:g} req/s for {stall_duration_s:g} s, one {stall_s:g} s "
          f"stall at {stall_at_s:g} s")
    if aiperf is None and (args.aiperf or "").lower() == "none":
        print("AIPerf:  left out (--aiperf none)")
    elif aiperf is None:
        print(f"AIPerf:  not found ({args.aiperf or 'aiperf on PATH, nor ' + _DEFAULT_AIPERF_VENV}): "
              f"the AIPerf comparison is skipped")
        print("WARNING: AIPerf not found: (c) shows benchtrail alone", file=sys.stderr)
    results: dict[str, list[float]] = {}

    def keep(prefix: str, figures: dict[str, float]) -> None:
        for key, value in figures.items():
            results.setdefault(f"{prefix}_{key}", []).append(value)

    become_subreaper()
    program = {"ttft_ms": args.ttft_ms, "itl_ms": args.itl_ms, "output_tokens": args.output_tokens,
               "tokens_per_chunk": args.tokens_per_chunk}
    with tempfile.TemporaryDirectory(prefix="bench_llm-") as tmp, serve(**program) as server:
        scratch = Path(tmp)
        server_pids = child_pids()  # the server: the only child so far
        url = server + "/v1/chat/completions"
        aiperf_base: dict[str, float] = {}
        tokenizer = ""
        if aiperf:
            tokenizer, why = aiperf_tokenizer(aiperf, args.aiperf_tokenizer, scratch)
            print(f"AIPerf tokenizer: {tokenizer} ({why})")
            shown = aiperf_command(aiperf, server.url, tokenizer=tokenizer, streams=args.streams, requests=requests,
                                   output_tokens=args.output_tokens, artifacts=Path("ARTIFACTS"))
            print(f"AIPerf command: {shlex.join(shown)}")
            try:  # one round alone, once: its start-up cost, taken off in the steady-state figure
                server.reset()
                base = scratch / "aiperf-base"
                _, cpu, _ = run_aiperf(aiperf_command(aiperf, server.url, tokenizer=tokenizer, streams=args.streams,
                                                      requests=args.streams, output_tokens=args.output_tokens,
                                                      artifacts=base), base, server_pids)
                aiperf_base = {"cpu_s": cpu, "tokens": server.stats()["tokens"]}
                print(f"AIPerf start-up run ({args.streams} warm-up + {args.streams} requests): "
                      f"{cpu:.2f} s CPU for {aiperf_base['tokens']} tokens; load {load_now()}")
            except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
                print(f"WARNING: AIPerf left out: {exc}", file=sys.stderr)
                print("AIPerf:  failed to run (see stderr): the AIPerf comparison is skipped")
                aiperf = None

        for repeat in range(repeats):
            load_before = load_now()
            # (a) benchtrail at load, closed loop
            server.reset(stall_at_s=None, stall_s=0.0)
            server_cpu, started = [process_cpu_s(pid) for pid in server_pids], time.perf_counter()
            report, streams, cpu_all = run_worker(
                {"url": url, "output_tokens": args.output_tokens, "warmup": args.streams, "iterations": requests,
                 "duration_s": None, "concurrency": args.streams, "rate": None}, scratch)
            server_wall_s = time.perf_counter() - started
            figures = record_figures(streams, report["calls"])
            view = server_view(server, requests)
            stats = view["stats"]
            server_cpu_s = sum((process_cpu_s(pid) or 0.0) - (before or 0.0)
                               for pid, before in zip(server_pids, server_cpu))
            split = ttft_split(streams, report["start_ns"], view, args.ttft_ms)
            keep("a", {**figures, **split, **rounds(streams, args.streams), "failed": report["failed"],
                       "ttft_err": error_pct(figures["ttft_p50"], truth["ttft"]),
                       "tpot_err": error_pct(figures["tpot_p50"], truth["tpot"]),
                       "itl_err": error_pct(figures["itl_p50"], truth["itl"]),
                       "tokens_err": error_pct(figures["tokens_s"], truth["tokens_s"]),
                       "cpu_measure": report["cpu_s"] / stats["tokens"] * 1e6,
                       "cpu_process": cpu_all / stats["tokens"] * 1e6,
                       "server_ttft_p50": float(statistics.median(view["ttft_ms"])),
                       "late_p50": stats["lateness_ms"]["p50"], "late_p99": stats["lateness_ms"]["p99"],
                       "first_late_p50": stats["first_lateness_ms"]["p50"],
                       "first_late_p99": stats["first_lateness_ms"]["p99"],
                       "server_cpu_pct": server_cpu_s / server_wall_s * 100,
                       "client_cpu_pct": report["cpu_s"] / report["wall_s"] * 100})
            results.setdefault("a_own", []).append(figures["ttft_p50"] - results["a_server_ttft_p50"][-1])
            if report["failed"]:
                print(f"  benchtrail: {report['failed']} of {report['calls']} requests failed: {report['kinds']} "
                      f"{report['samples']}", file=sys.stderr)
            # the same probe with one stream: the lag of a near-idle client on this machine
            server.reset()
            report, streams, _ = run_worker(
                {"url": url, "output_tokens": args.output_tokens, "warmup": 0, "iterations": 3, "duration_s": None,
                 "concurrency": 1, "rate": None}, scratch)
            results.setdefault("a_lag_p99_one", []).append(record_figures(streams, report["calls"])["lag_p99"])
            line = (f"repeat {repeat + 1} (load {load_before}): (a) TTFT p50 {figures['ttft_p50']:.2f} ms "
                    f"({results['a_ttft_err'][-1]:+.2f} %), TPOT p50 {figures['tpot_p50']:.3f} ms, lag p99 "
                    f"{figures['lag_p99']:.2f} ms")
            # (c) AIPerf, the same program and counts
            if aiperf:
                server.reset()
                artifacts = scratch / f"aiperf-{repeat}"
                try:
                    export, cpu, orphans = run_aiperf(
                        aiperf_command(aiperf, server.url, tokenizer=tokenizer, streams=args.streams,
                                       requests=requests, output_tokens=args.output_tokens, artifacts=artifacts),
                        artifacts, server_pids)
                except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
                    print(f"WARNING: AIPerf left out from repeat {repeat + 1} on: {exc}", file=sys.stderr)
                    aiperf = None
                else:
                    tokens = server.stats()["tokens"]
                    view = server_view(server, requests)
                    ttft = aiperf_figure(export, "time_to_first_token")
                    keep("p", {"ttft_p50": ttft, "tpot_p50": aiperf_figure(export, "inter_token_latency"),
                               "itl_p50": aiperf_figure(export, "inter_chunk_latency"),
                               "tokens_s": aiperf_figure(export, "output_token_throughput", "avg"),
                               "requests": aiperf_figure(export, "request_count", "avg"),
                               "errors": aiperf_figure(export, "request_error_rate", "avg"),
                               "sending_p50": aiperf_figure(export, "http_req_sending"),
                               "orphans": orphans, "cpu_process": cpu / tokens * 1e6,
                               "own": ttft - float(statistics.median(view["ttft_ms"]))})
                    if aiperf_base and tokens > aiperf_base["tokens"]:
                        results.setdefault("p_cpu_steady", []).append(
                            (cpu - aiperf_base["cpu_s"]) / (tokens - aiperf_base["tokens"]) * 1e6)
                    for name in ("ttft", "tpot", "itl", "tokens"):
                        figure = results[f"p_{name}_p50" if name != "tokens" else "p_tokens_s"][-1]
                        results.setdefault(f"p_{name}_err", []).append(
                            error_pct(figure, truth[name if name != "tokens" else "tokens_s"]))
                    line += f"; (c) AIPerf TTFT p50 {ttft:.2f} ms, TPOT p50 {results['p_tpot_p50'][-1]:.3f} ms"
            # (b) open loop, one stall
            server.reset(stall_at_s=stall_at_s, stall_s=stall_s)
            report, streams, _ = run_worker(
                {"url": url, "output_tokens": args.output_tokens, "warmup": 0, "iterations": None,
                 "duration_s": stall_duration_s, "concurrency": 1, "rate": args.rate}, scratch)
            server.reset(stall_at_s=None, stall_s=0.0)
            keep("b", stall_figures(streams, report["calls"]))
            if report["failed"]:
                print(f"  benchtrail (stall run): {report['failed']} of {report['calls']} requests failed: "
                      f"{report['kinds']} {report['samples']}", file=sys.stderr)
            line += (f"; (b) ttft_sched p99 {results['b_sched_p99'][-1]:.0f} ms, ttft p99 "
                     f"{results['b_ttft_p99'][-1]:.0f} ms")
            print(line, flush=True)

    report_figures(results, truth, args, repeats=repeats, requests=requests, stall_s=stall_s,
                   stall_at_s=stall_at_s, stall_duration_s=stall_duration_s, aiperf_base=aiperf_base)
    return 0


def record_figures(streams: dict[str, Any], calls: int) -> dict[str, float]:
    """The record's serving figures of one run (``serving_figures``), as plain floats."""
    from benchtrail.bench.serving import serving_figures

    figures = serving_figures([(streams, calls)], {})
    metrics = figures.metrics
    return {"ttft_p50": metrics["ttft_ms"].headline, "ttft_p99": metrics["ttft_ms"].distribution.p99,  # type: ignore[union-attr]
            "tpot_p50": metrics["tpot_ms"].headline, "itl_p50": metrics["itl_ms"].headline,
            "tokens_s": metrics["output_throughput"].headline, "lag_p99": figures.client.get("lag_p99_ms", 0.0),
            "lag_max": figures.client.get("lag_max_ms", 0.0)}


def ttft_split(streams: dict[str, Any], start_ns: int, view: dict[str, Any], ttft_ms: float) -> dict[str, float]:
    """benchtrail's mean TTFT error in three parts, on one clock (perf_counter_ns, the
    client's and the server's): send -> the server reads the request, the server's own
    TTFT less the program, the first chunk written -> benchtrail reads it. Means over all
    requests need no pairing of requests with streams: sums of differences are differences
    of sums."""
    import numpy as np

    sent = streams["sent_ns"] + start_ns
    seen = sent + streams["ttft_ns"]
    if len(sent) != len(view["arrival_ns"]) or not len(sent):
        return {}
    return {"split_request": float(np.mean(view["arrival_ns"]) - np.mean(sent)) / 1e6,
            "split_server": float(np.mean(view["first_ns"]) - np.mean(view["arrival_ns"])) / 1e6 - ttft_ms,
            "split_response": float(np.mean(seen) - np.mean(view["first_ns"])) / 1e6,
            "ttft_mean_err": float(np.mean(streams["ttft_ns"])) / 1e6 - ttft_ms}


def rounds(streams: dict[str, Any], first: int) -> dict[str, float]:
    """TTFT p50 of the first ``first`` requests sent (the first round, all sent at once when
    the warm-up is over) and of the rest (sent one by one, as earlier answers end)."""
    import numpy as np

    ttft = streams["ttft_ns"][np.argsort(streams["sent_ns"], kind="stable")] / 1e6
    if len(ttft) <= first:
        return {}
    return {"ttft_first_round": float(np.median(ttft[:first])), "ttft_later_rounds": float(np.median(ttft[first:]))}


def stall_figures(streams: dict[str, Any], calls: int) -> dict[str, float]:
    import numpy as np

    from benchtrail.bench.serving import serving_figures

    metrics = serving_figures([(streams, calls)], {}).metrics
    sched, ttft = metrics["ttft_sched_ms"].distribution, metrics["ttft_ms"].distribution
    late = (streams["ttft_sched_ns"] - streams["ttft_ns"]) / 1e6  # scheduled start -> sent
    return {"sched_p50": sched.p50, "sched_p99": sched.p99, "sched_max": sched.max,  # type: ignore[union-attr]
            "ttft_p50": ttft.p50, "ttft_p99": ttft.p99, "ttft_max": ttft.max,  # type: ignore[union-attr]
            "late_p50": float(np.quantile(late, 0.5)), "late_p99": float(np.quantile(late, 0.99)),
            "late_max": float(late.max()), "requests": float(len(streams["ttft_ns"])),
            "over_1s": float(np.sum(streams["ttft_sched_ns"] >= 1e9))}


def report_figures(results: dict[str, list[float]], truth: dict[str, float], args: argparse.Namespace, *,
                   repeats: int, requests: int, stall_s: float, stall_at_s: float, stall_duration_s: float,
                   aiperf_base: dict[str, float]) -> None:
    r = results
    print(f"\n(a) benchtrail at load: {args.streams} closed-loop streams, {requests} requests after "
          f"{args.streams} warm-up (median of {repeats} [min .. max])")
    show("TTFT p50 (programmed {:g} ms)".format(truth["ttft"]), r["a_ttft_p50"], unit="ms")
    ttft_err = show("TTFT p50 error vs programmed", r["a_ttft_err"], "{:+.2f}", "%", spread=False)
    show("TTFT p99", r["a_ttft_p99"], unit="ms")
    if "a_ttft_first_round" in r:
        show(f"TTFT p50, first round ({args.streams} sent at once)", r["a_ttft_first_round"], unit="ms")
        show("TTFT p50, later rounds", r["a_ttft_later_rounds"], unit="ms")
    show("TPOT p50 (programmed {:.3f} ms)".format(truth["tpot"]), r["a_tpot_p50"], unit="ms")
    tpot_err = show("TPOT p50 error vs programmed", r["a_tpot_err"], "{:+.2f}", "%", spread=False)
    show("ITL p50 (programmed {:g} ms)".format(truth["itl"]), r["a_itl_p50"], unit="ms")
    show("output tokens/s (truth {:.1f})".format(truth["tokens_s"]), r["a_tokens_s"], "{:.1f}", "tok/s")
    tokens_err = show("output tokens/s error vs truth", r["a_tokens_err"], "{:+.2f}", "%", spread=False)
    lag_p99 = show("client lag p99 (its event loop, 5 ms probe)", r["a_lag_p99"], unit="ms")
    show("client lag max", r["a_lag_max"], unit="ms")
    show("client lag p99, 1 stream (a near-idle client)", r["a_lag_p99_one"], unit="ms")
    show("client CPU per 1,000 tokens, in measure_openai", r["a_cpu_measure"], "{:.1f}", "ms")
    show("client CPU per 1,000 tokens, whole process", r["a_cpu_process"], "{:.1f}", "ms")
    show("client CPU, in measure_openai (% of one core)", r["a_client_cpu_pct"], "{:.0f}", "%")
    show("server process CPU (% of one core, whole worker run)", r["a_server_cpu_pct"], "{:.0f}", "%")
    show("server emit lateness p50 (all chunks)", r["a_late_p50"], unit="ms")
    show("server emit lateness p99 (all chunks)", r["a_late_p99"], unit="ms")
    show("server first-chunk lateness p50", r["a_first_late_p50"], unit="ms")
    show("server first-chunk lateness p99", r["a_first_late_p99"], unit="ms")
    show("server's own TTFT p50 (first chunk written - read)", r["a_server_ttft_p50"], unit="ms")
    show("benchtrail TTFT p50 - server's own TTFT p50", r["a_own"], "{:+.3f}", "ms", spread=False)
    if "a_split_request" in r:
        print("  mean TTFT error, split on one clock:")
        show("  client send -> server reads the request", r["a_split_request"], "{:+.3f}", "ms", spread=False)
        show("  server read -> first chunk written, less TTFT", r["a_split_server"], "{:+.3f}", "ms", spread=False)
        show("  first chunk written -> benchtrail reads it", r["a_split_response"], "{:+.3f}", "ms", spread=False)
        show("  = mean TTFT error", r["a_ttft_mean_err"], "{:+.3f}", "ms", spread=False)
        print("  (aiohttp's send stamp is taken just before its socket write, which goes out at once: the first\n"
              "  part is the server reading the request late, its loop busy or off the CPU; the last part is\n"
              "  benchtrail's own read path)")
    show("failed requests", r["a_failed"], "{:.0f}", spread=False)

    model = stall_p99_model_ms(stall_s, stall_duration_s, truth["ttft"])
    print(f"\n(b) open loop {args.rate:g} req/s for {stall_duration_s:g} s, one {stall_s:g} s stall at {stall_at_s:g} s; "
          f"expected TTFT p99 for Poisson arrivals {model:.0f} ms")
    show("requests answered", r["b_requests"], "{:.0f}")
    show("ttft_sched_ms p50 (from the scheduled start)", r["b_sched_p50"], "{:.1f}", "ms")
    sched_p99 = show("ttft_sched_ms p99", r["b_sched_p99"], "{:.1f}", "ms")
    show("ttft_sched_ms max", r["b_sched_max"], "{:.1f}", "ms")
    show("ttft_ms p50 (from the actual send)", r["b_ttft_p50"], "{:.1f}", "ms")
    show("ttft_ms p99", r["b_ttft_p99"], "{:.1f}", "ms")
    show("ttft_ms max", r["b_ttft_max"], "{:.1f}", "ms")
    show("requests with ttft_sched >= 1 s", r["b_over_1s"], "{:.0f}")
    show("send lateness p50 (ttft_sched - ttft)", r["b_late_p50"], "{:.3f}", "ms")
    show("send lateness p99", r["b_late_p99"], "{:.3f}", "ms")
    show("send lateness max", r["b_late_max"], "{:.3f}", "ms")
    print("  ttft_sched_ms counts from each request's scheduled (Poisson) start: all a user waits, the client's\n"
          "  own delay in sending included (a busy event loop, a wait for a connection, a new connection's\n"
          "  handshake). ttft_ms counts from when the request went out: the server's and the network's share\n"
          "  alone. This stall is the server's (it reads each request on time and holds its first chunk), so\n"
          "  both show it, and they differ by the send lateness above. A client that fell behind would show\n"
          "  the wait in ttft_sched_ms only: ttft_ms would start the clock late and hide it.")

    print(f"\n(c) side by side: the same program, {args.streams} streams, {args.streams} warm-up requests (drained), "
          f"then {requests} measured requests each (median of {repeats} [min .. max])")
    print("  matched: AIPerf's --warmup-request-count and --request-count are benchtrail's warm-up and iterations;\n"
          "  neither ramps (no --concurrency-ramp-duration), so both start all streams at once after the warm-up;\n"
          "  AIPerf's own default would be no warm-up and max(10, 2 x concurrency) requests")
    have = "p_ttft_p50" in r
    if not have:
        print("  AIPerf: not run (not found, or failed: see stderr); benchtrail alone")
    print(f"  {'':<44} {'truth':>8}  {'benchtrail':>26} {'error':>8}  {'AIPerf':>26} {'error':>8}")
    rows = [("TTFT p50, ms", "ttft", "ttft_p50", "{:.2f}"), ("TPOT p50, ms (AIPerf inter_token_latency)", "tpot",
            "tpot_p50", "{:.3f}"), ("ITL p50, ms (AIPerf inter_chunk_latency)", "itl", "itl_p50", "{:.3f}"),
            ("output tokens/s", "tokens", "tokens_s", "{:.0f}")]
    for label, name, key, fmt in rows:
        true = truth[name if name != "tokens" else "tokens_s"]
        print(f"  {label:<44} {fmt.format(true):>8}  {spread(r['a_' + key], fmt):>26} "
              f"{statistics.median(r[f'a_{name}_err']):>+7.2f}%  "
              + (f"{spread(r['p_' + key], fmt):>26} {statistics.median(r[f'p_{name}_err']):>+7.2f}%" if have else ""))
    print(f"  {'TTFT p50 - server own TTFT p50, ms':<44} {'':>8}  {spread(r['a_own'], '{:+.2f}'):>26} {'':>8}  "
          + (f"{spread(r['p_own'], '{:+.2f}'):>26}" if have else ""))
    print(f"  {'CPU ms per 1,000 tokens, whole process tree':<44} {'':>8}  {spread(r['a_cpu_process'], '{:.1f}'):>26} "
          f"{'':>8}  " + (f"{spread(r['p_cpu_process'], '{:.1f}'):>26}" if have else ""))
    steady = f"{spread(r['p_cpu_steady'], '{:.1f}'):>26}" if have and "p_cpu_steady" in r else ""
    print(f"  {'CPU ms per 1,000 tokens, steady state':<44} {'':>8}  {spread(r['a_cpu_measure'], '{:.1f}'):>26} "
          f"{'':>8}  {steady}")
    if have:
        show("AIPerf requests measured", r["p_requests"], "{:.0f}")
        show("AIPerf request error rate", r["p_errors"], "{:.2f}", "%", spread=False)
        show("AIPerf http_req_sending p50 (its own send time)", r["p_sending_p50"], "{:.2f}", "ms")
        show("AIPerf orphaned processes reaped", r["p_orphans"], "{:.0f}", spread=False)
        for key in ("p_ttft_p50", "p_tpot_p50", "p_cpu_process"):
            summary_noisy = summary(r[key])[3]
            if summary_noisy:
                print(f"  WARNING: large spread in AIPerf's {key[2:]} (stdev >= 10% of mean): {r[key]}")
        print("  steady state: benchtrail's process time inside measure_openai (warm-up included); AIPerf's tree\n"
              f"  CPU of each run less that of one run of a single round ({aiperf_base.get('cpu_s', 0):.2f} s, "
              f"{aiperf_base.get('tokens', 0):.0f} tokens), over the tokens in between: its start-up cancels.")

    print(f"\nuptime after: {uptime()}")
    print("goals:")
    print(f"  benchtrail TTFT p50 within 2 % of programmed: {'MET' if abs(ttft_err) <= 2 else 'MISSED'} "
          f"({ttft_err:+.2f} %)")
    print(f"  benchtrail TPOT p50 within 5 % of programmed: {'MET' if abs(tpot_err) <= 5 else 'MISSED'} "
          f"({tpot_err:+.2f} %)")
    print(f"  benchtrail client lag p99 under 1 ms:         {'MET' if lag_p99 < 1 else 'MISSED'} ({lag_p99:.2f} ms)")
    print(f"  stall shows in ttft_sched_ms p99 (>= {stall_s * 500:.0f} ms): "
          f"{'MET' if sched_p99 >= 500 * stall_s else 'MISSED'} ({sched_p99:.0f} ms, expected {model:.0f})")
    print(f"  (no goal) benchtrail output tokens/s vs truth: {tokens_err:+.2f} %")


def spread(values: list[float], fmt: str) -> str:
    median, low, high, _ = summary(values)
    return f"{fmt.format(median)} [{fmt.format(low)}..{fmt.format(high)}]"


if __name__ == "__main__":
    sys.exit(main())
