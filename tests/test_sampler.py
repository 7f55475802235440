"""benchtrail.bench.sampler: real memory of this process and of real child processes,
GPU figures from the fake ``pynvml`` of ``test_gpu.py``.

Memory checks that must not see what earlier tests did to this process's high-water
mark run in a fresh Python process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import psutil
import pytest
from test_gpu import MB, FakeDevice, install, uuid

from benchtrail.bench.gpu import open_gpus
from benchtrail.bench.sampler import Sampler, Samples

ALLOCATION_MB = 200
# A process that holds ALLOCATION_MB of touched memory until its stdin closes.
HOLDER = f"import sys; held = b'\\x01' * ({ALLOCATION_MB} << 20); print('ready', flush=True); sys.stdin.read()"


def run_fresh(code: str) -> dict[str, float]:
    """Run ``code`` in a new interpreter; it prints one JSON object as its last line."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


# --- peak RSS --------------------------------------------------------------------------


def test_peak_rss_includes_an_allocation_inside() -> None:
    before_mb = psutil.Process().memory_info().rss / MB
    with Sampler(interval_s=0.01) as sampler:
        block = np.ones(ALLOCATION_MB * MB // 8)  # touched: ones, not empty
        time.sleep(0.05)
        del block  # freed before the end: the high-water mark still holds it
    assert sampler.result is not None
    assert sampler.result.peak_rss_mb >= before_mb + ALLOCATION_MB * 0.95


def test_peak_rss_grows_by_what_the_code_inside_allocates() -> None:
    figures = run_fresh(f"""
        import json, numpy as np, time
        from benchtrail.bench.sampler import Sampler
        with Sampler(interval_s=0.01) as idle:
            time.sleep(0.05)
        with Sampler(interval_s=0.01) as busy:
            block = np.ones({ALLOCATION_MB} * 2**20 // 8)
            time.sleep(0.05)
        print(json.dumps({{"idle": idle.result.peak_rss_mb, "busy": busy.result.peak_rss_mb}}))
    """)
    assert figures["idle"] > 10  # an interpreter with numpy and psutil loaded
    assert figures["busy"] >= figures["idle"] + ALLOCATION_MB * 0.95
    assert figures["busy"] <= figures["idle"] + ALLOCATION_MB * 1.5


# The parent: a fresh interpreter that samples while a child holds memory. WHEN says
# whether the child starts before the sampler or inside the measured block (then after
# the first listing of children, and the block is shorter than ten samples).
CHILD_SCRIPT = """
    import json, subprocess, sys, time
    import psutil
    from benchtrail.bench.sampler import Sampler

    def start():
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\\n"
        return child

    child = start() if WHEN == "before" else None
    with Sampler(interval_s=0.05) as sampler:
        if child is None:
            time.sleep(0.02)
            child = start()
        time.sleep(0.1)
    own = psutil.Process().memory_info().rss / 2**20
    child.stdin.close()
    child.wait()
    print(json.dumps({"peak": sampler.result.peak_rss_mb, "own": own, "count": sampler.result.count}))
"""


@pytest.mark.parametrize("when", ["before", "inside"])
def test_peak_rss_counts_a_child_process(when: str) -> None:
    # "inside" needs the child to appear between two listings, within ten samples: on a
    # loaded machine its start can take longer, and the case is then tried again
    for _ in range(3):
        figures = run_fresh(f"WHEN = {when!r}\nCHILD = {HOLDER!r}\n" + textwrap.dedent(CHILD_SCRIPT))
        if figures["count"] < 10:
            break
    assert figures["count"] < 10
    assert figures["peak"] >= figures["own"] + ALLOCATION_MB * 0.95


def test_peak_rss_counts_a_grandchild_process() -> None:
    # The child allocates nothing itself; its own child holds the memory.
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLDER!r}])"
    figures = run_fresh(f"WHEN = 'before'\nCHILD = {child!r}\n" + textwrap.dedent(CHILD_SCRIPT))
    assert figures["peak"] >= figures["own"] + ALLOCATION_MB * 0.95


def test_peak_rss_is_not_the_parent_process_memory() -> None:
    """A worker started by a runner that holds a lot of memory reports its own peak.

    Linux copies the exec-ing address space's high-water mark into ``ru_maxrss``, so a
    child of a 300 MB parent starts with ``ru_maxrss`` of 300 MB.
    """
    idle_worker = (
        "import json, time\n"
        "from benchtrail.bench.sampler import Sampler\n"
        "with Sampler(interval_s=0.01) as idle:\n"
        "    time.sleep(0.02)\n"
        "print(json.dumps({'idle': idle.result.peak_rss_mb}))\n"
    )
    figures = run_fresh(f"""
        import numpy as np, subprocess, sys
        held = np.ones(300 * 2**20 // 8)
        print(subprocess.run([sys.executable, "-c", {idle_worker!r}], capture_output=True, text=True,
                             check=True).stdout.strip())
    """)
    assert figures["idle"] < 150


def test_peak_rss_is_of_the_measured_phase() -> None:
    # A peak before the sampler starts (a dataset loaded and dropped) is not counted.
    figures = run_fresh(f"""
        import json, numpy as np, time
        from benchtrail.bench.sampler import Sampler
        block = np.ones({ALLOCATION_MB} * 2**20 // 8)
        del block
        with Sampler(interval_s=0.01) as idle:
            time.sleep(0.02)
        print(json.dumps({{"idle": idle.result.peak_rss_mb}}))
    """)
    assert figures["idle"] < ALLOCATION_MB * 0.75


def test_a_child_that_has_exited_is_skipped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    with Sampler(interval_s=0.01) as sampler:  # lists the child at the first sample
        child.wait()
        time.sleep(0.05)  # later samples find it gone
    assert sampler.result is not None
    assert sampler.result.count >= 2


# --- samples over time ---------------------------------------------------------------------


def test_sample_count_grows_with_time_at_the_interval() -> None:
    counts = []
    for duration_s in (0.1, 0.4):
        with Sampler(interval_s=0.02) as sampler:
            time.sleep(duration_s)
        result = sampler.result
        assert result is not None
        assert result.duration_s >= duration_s
        # one sample on entry, one per interval, one on exit; a busy machine may miss some
        assert duration_s / 0.02 / 3 <= result.count <= result.duration_s / 0.02 + 2
        counts.append(result.count)
    assert counts[1] > counts[0]


def test_a_short_block_gives_two_samples_and_does_not_wait_an_interval() -> None:
    started = time.monotonic()
    with Sampler(interval_s=30) as sampler:
        pass
    assert time.monotonic() - started < 5
    assert sampler.result is not None
    assert sampler.result.count == 2  # on entry and on exit
    assert sampler.result.gpu_peak_memory_mb is None  # no GPUs given: no GPU figures
    assert sampler.result.gpu_energy_j is None


def test_result_is_kept_when_the_block_raises() -> None:
    sampler = Sampler(interval_s=0.01)
    with pytest.raises(RuntimeError, match="target failed"):
        with sampler:
            raise RuntimeError("target failed")
    assert isinstance(sampler.result, Samples)
    assert sampler.result.peak_rss_mb > 0


# --- GPU figures -------------------------------------------------------------------------


def two_gpus(monkeypatch: pytest.MonkeyPatch, **settings: object):  # type: ignore[no-untyped-def]
    nvml = install(
        monkeypatch,
        FakeDevice(uuid=uuid(1), memory_used=1024 * MB, utilization=30, power_mw=150_000, energy_mj=1_000_000),
        FakeDevice(uuid=uuid(2), memory_used=1024 * MB, utilization=90, power_mw=250_000, energy_mj=2_000_000),
    )
    for index, values in settings.items():
        for key, value in values.items():  # type: ignore[attr-defined]
            setattr(nvml.devices[int(index[-1])], key, value)
    gpus = open_gpus()
    assert gpus is not None
    return nvml, gpus


def test_gpu_peak_memory_mean_utilization_and_mean_power(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml, gpus = two_gpus(monkeypatch)
    with Sampler(gpus, interval_s=0.01) as sampler:
        nvml.devices[0].memory_used = 5 * 1024 * MB  # a peak the samples must see
        time.sleep(0.2)
        nvml.devices[0].memory_used = 2 * 1024 * MB
        time.sleep(0.05)
    result = sampler.result
    assert result is not None
    assert result.gpu_peak_memory_mb == 6 * 1024  # 5 GiB + 1 GiB on the other device
    assert result.gpu_utilization_pct == pytest.approx(60.0)  # mean of 30 % and 90 %
    assert result.gpu_power_w == pytest.approx(400.0)  # 150 W + 250 W


def test_gpu_energy_from_the_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml, gpus = two_gpus(monkeypatch)
    with Sampler(gpus, interval_s=0.01) as sampler:
        nvml.devices[0].energy_mj += 30_000
        nvml.devices[1].energy_mj += 12_500
    assert sampler.result is not None
    assert sampler.result.gpu_energy_j == pytest.approx(42.5)


def test_gpu_energy_falls_back_to_mean_power_times_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    _, gpus = two_gpus(monkeypatch, device0={"energy_mj": None})
    with Sampler(gpus, interval_s=0.01) as sampler:
        time.sleep(0.1)
    result = sampler.result
    assert result is not None
    assert result.gpu_energy_j == pytest.approx(400.0 * result.duration_s)
    assert result.gpu_energy_j >= 400.0 * 0.1


def test_gpu_figures_a_board_does_not_report_are_none(monkeypatch: pytest.MonkeyPatch) -> None:
    both = {"utilization": None, "power_mw": None, "energy_mj": None}
    _, gpus = two_gpus(monkeypatch, device0=both, device1=both)
    with Sampler(gpus, interval_s=0.01) as sampler:
        time.sleep(0.03)
    result = sampler.result
    assert result is not None
    assert result.gpu_peak_memory_mb == 2 * 1024
    assert result.gpu_utilization_pct is None  # not 0 %: nothing was measured
    assert result.gpu_power_w is None
    assert result.gpu_energy_j is None  # no counters and no power to estimate from
