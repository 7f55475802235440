"""benchtrail.bench.gpu: NVML read through a small fake ``pynvml`` module.

The fake is the one stand-in these tests use: a module object put into ``sys.modules``
with devices whose readings a test sets (and changes while a sampler runs).
``test_sampler.py`` imports it from here.
"""

from __future__ import annotations

import subprocess
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from benchtrail.bench.gpu import Gpus, GpuSample, open_gpus

MB = 1024 * 1024
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_LIBRARY_NOT_FOUND = 12


class FakeNVMLError(Exception):
    """Like pynvml's: carries the NVML return code."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {NVML_ERROR_NOT_SUPPORTED: "Not Supported",
                NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found"}.get(self.value, "Unknown Error")


@dataclass
class FakeDevice:
    """One GPU; ``None`` for utilization, power or energy means NVML says "not supported"."""

    name: str | bytes = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    memory_total: int = 80 * 1024 * MB  # bytes
    memory_used: int = 0  # bytes
    utilization: int | None = 0  # percent
    power_mw: int | None = 0  # milliwatts
    energy_mj: int | None = 0  # millijoules since the driver loaded


@dataclass
class FakeNvml:
    """The programmable state behind the fake module."""

    devices: list[FakeDevice] = field(default_factory=list)
    init_error: int | None = None
    count_error: int | None = None
    driver: str | bytes = "550.54.15"
    cuda: int | None = 12040
    inits: int = 0
    shutdowns: int = 0

    def module(self) -> types.ModuleType:
        fake = types.ModuleType("pynvml")
        fake.NVMLError = FakeNVMLError  # type: ignore[attr-defined]
        fake.NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED  # type: ignore[attr-defined]

        def supported(value: Any) -> Any:
            if value is None:
                raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
            return value

        def init() -> None:
            if self.init_error is not None:
                raise FakeNVMLError(self.init_error)
            self.inits += 1

        def shutdown() -> None:
            self.shutdowns += 1

        def count() -> int:
            if self.count_error is not None:
                raise FakeNVMLError(self.count_error)
            return len(self.devices)

        def cuda() -> int:
            return supported(self.cuda)  # type: ignore[no-any-return]

        functions = {
            "nvmlInit": init,
            "nvmlShutdown": shutdown,
            "nvmlDeviceGetCount": count,
            "nvmlDeviceGetHandleByIndex": lambda i: self.devices[i],
            "nvmlDeviceGetUUID": lambda h: h.uuid,
            "nvmlDeviceGetName": lambda h: h.name,
            "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(
                total=h.memory_total, used=h.memory_used, free=h.memory_total - h.memory_used),
            "nvmlDeviceGetUtilizationRates": lambda h: types.SimpleNamespace(
                gpu=supported(h.utilization), memory=0),
            "nvmlDeviceGetPowerUsage": lambda h: supported(h.power_mw),
            "nvmlDeviceGetTotalEnergyConsumption": lambda h: supported(h.energy_mj),
            "nvmlSystemGetDriverVersion": lambda: self.driver,
            "nvmlSystemGetCudaDriverVersion": cuda,
        }
        for name, function in functions.items():
            setattr(fake, name, function)
        return fake


def install(monkeypatch: pytest.MonkeyPatch, *devices: FakeDevice, **settings: Any) -> FakeNvml:
    """Put a fake ``pynvml`` with ``devices`` into ``sys.modules``; return its state."""
    nvml = FakeNvml(list(devices), **settings)
    monkeypatch.setitem(sys.modules, "pynvml", nvml.module())
    return nvml


def uuid(n: int) -> str:
    return f"GPU-{n:08x}-1111-2222-3333-444444444444"


def four_devices() -> list[FakeDevice]:
    return [FakeDevice(uuid=uuid(0xa0 + i), memory_used=(i + 1) * 1024 * MB) for i in range(4)]


def used_gb(gpus: Gpus) -> float:
    """Which devices were chosen, told by their memory in use (device i uses i+1 GiB)."""
    return gpus.sample().memory_used_mb / 1024


# --- open_gpus: when there is nothing to measure ---------------------------------------


def test_no_pynvml_module_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes "import pynvml" raise ImportError
    assert open_gpus() is None


def test_nvml_init_failing_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeDevice(), init_error=NVML_ERROR_LIBRARY_NOT_FOUND)
    assert open_gpus() is None
    assert nvml.inits == 0


def test_zero_devices_gives_none_and_shuts_nvml_down(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch)
    assert open_gpus() is None
    assert (nvml.inits, nvml.shutdowns) == (1, 1)


def test_device_count_failing_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeDevice(), count_error=999)
    assert open_gpus() is None
    assert nvml.shutdowns == 1


def test_real_pynvml_without_a_driver_gives_none() -> None:
    """nvidia-ml-py is installed here but there is no NVIDIA driver: the normal CPU runner."""
    pytest.importorskip("pynvml")
    code = (
        "import pynvml\n"
        "try:\n    pynvml.nvmlInit()\nexcept pynvml.NVMLError:\n    pass\n"
        "else:\n    print('DRIVER')\n"
        "from benchtrail.bench.gpu import open_gpus\n"
        "print(open_gpus())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    if "DRIVER" in out:
        pytest.skip("this machine has an NVIDIA driver")
    assert out.strip() == "None"


# --- CUDA_VISIBLE_DEVICES -----------------------------------------------------------------


def test_all_devices_without_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, *four_devices())
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.describe().count == 4
    assert used_gb(gpus) == 1 + 2 + 3 + 4


@pytest.mark.parametrize(
    ("visible", "chosen_gb"),
    [
        ("2", 3),  # device 2 uses 3 GiB
        ("0,3", 1 + 4),
        (" 3 , 1 ", 4 + 2),
        ("1,1", 2),  # named twice, counted once
        ("0,9", 1),  # no device 9: the list ends there
        ("0,2,-1,1", 1 + 3),  # CUDA's own example: 0 and 2 only
    ],
)
def test_cuda_visible_devices_by_index(monkeypatch: pytest.MonkeyPatch, visible: str, chosen_gb: int) -> None:
    install(monkeypatch, *four_devices())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    gpus = open_gpus()
    assert gpus is not None
    assert used_gb(gpus) == chosen_gb


@pytest.mark.parametrize(
    ("visible", "chosen_gb", "count"),
    [
        (uuid(0xa2), 3, 1),  # a full UUID
        ("GPU-000000a3", 4, 1),  # a prefix, as CUDA allows
        (f"GPU-000000a1,{uuid(0xa3)}", 2 + 4, 2),
        ("GPU-000000a0,0", 1, 1),  # the same device by UUID and by index
        ("1,GPU-ffffffff,2", 2, 1),  # an unknown UUID ends the list
    ],
)
def test_cuda_visible_devices_by_uuid(
    monkeypatch: pytest.MonkeyPatch, visible: str, chosen_gb: int, count: int
) -> None:
    install(monkeypatch, *four_devices())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    gpus = open_gpus()
    assert gpus is not None
    assert used_gb(gpus) == chosen_gb
    assert gpus.describe().count == count


@pytest.mark.parametrize("visible", ["", "-1", "7", "GPU-ffffffff", "MIG-ffffffff"])
def test_cuda_visible_devices_hiding_every_device_gives_none(monkeypatch: pytest.MonkeyPatch, visible: str) -> None:
    nvml = install(monkeypatch, *four_devices())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert open_gpus() is None
    assert nvml.shutdowns == 1


# --- describe, sample, energy ------------------------------------------------------------


def test_describe(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice(uuid=uuid(1)), FakeDevice(uuid=uuid(2)), driver="550.54.15", cuda=12040)
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.describe().to_json() == {
        "model": "NVIDIA H100 80GB HBM3",
        "count": 2,
        "driver_version": "550.54.15",
        "cuda_version": "12.4",
        "memory_total_mb": 2 * 80 * 1024,
    }


@pytest.mark.parametrize(("raw", "shown"), [(12040, "12.4"), (12000, "12.0"), (11080, "11.8"), (12090, "12.9")])
def test_describe_cuda_version(monkeypatch: pytest.MonkeyPatch, raw: int, shown: str) -> None:
    install(monkeypatch, FakeDevice(), cuda=raw)
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.describe().cuda_version == shown


def test_describe_without_cuda_version_and_with_bytes_from_old_pynvml(monkeypatch: pytest.MonkeyPatch) -> None:
    # Older nvidia-ml-py releases return bytes for names and versions.
    install(monkeypatch, FakeDevice(name=b"Tesla T4", memory_total=15360 * MB), cuda=None, driver=b"535.104.05")
    gpus = open_gpus()
    assert gpus is not None
    described = gpus.describe().to_json()
    assert described["model"] == "Tesla T4"
    assert described["driver_version"] == "535.104.05"
    assert described["cuda_version"] is None
    assert described["memory_total_mb"] == 15360


def test_describe_mixed_models(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice(name="Tesla T4", uuid=uuid(1)), FakeDevice(name="NVIDIA A10", uuid=uuid(2)),
            FakeDevice(name="Tesla T4", uuid=uuid(3)))
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.describe().model == "NVIDIA A10 + Tesla T4"
    assert gpus.describe().count == 3


def test_sample_sums_memory_and_power_and_averages_utilization(monkeypatch: pytest.MonkeyPatch) -> None:
    install(
        monkeypatch,
        FakeDevice(uuid=uuid(1), memory_used=1000 * MB, utilization=30, power_mw=150_000),
        FakeDevice(uuid=uuid(2), memory_used=3000 * MB, utilization=90, power_mw=250_500),
    )
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.sample() == GpuSample(memory_used_mb=4000.0, utilization_pct=60.0, power_w=400.5)


def test_sample_leaves_out_what_a_board_does_not_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """Utilization and power are "not supported" on some boards: no crash, no made-up zero."""
    install(
        monkeypatch,
        FakeDevice(uuid=uuid(1), memory_used=1000 * MB, utilization=40, power_mw=None),
        FakeDevice(uuid=uuid(2), memory_used=1000 * MB, utilization=None, power_mw=100_000),
    )
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.sample() == GpuSample(memory_used_mb=2000.0, utilization_pct=40.0, power_w=100.0)


def test_sample_with_nothing_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice(memory_used=512 * MB, utilization=None, power_mw=None))
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.sample() == GpuSample(memory_used_mb=512.0, utilization_pct=None, power_w=None)


def test_sample_follows_the_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeDevice(memory_used=0, utilization=0))
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.sample().memory_used_mb == 0
    nvml.devices[0].memory_used = 2048 * MB
    nvml.devices[0].utilization = 75
    assert gpus.sample() == GpuSample(memory_used_mb=2048.0, utilization_pct=75.0, power_w=0.0)


def test_energy_counters_summed_in_joules(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice(uuid=uuid(1), energy_mj=1_500_000), FakeDevice(uuid=uuid(2), energy_mj=250))
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.energy_j() == pytest.approx(1500.25)


@pytest.mark.parametrize("unsupported_on", [[0], [1], [0, 1]])
def test_energy_none_when_a_counter_is_not_supported(monkeypatch: pytest.MonkeyPatch, unsupported_on: list[int]) -> None:
    devices = [FakeDevice(uuid=uuid(i), energy_mj=None if i in unsupported_on else 10_000) for i in range(2)]
    install(monkeypatch, *devices)
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.energy_j() is None


def test_energy_only_of_the_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeDevice(uuid=uuid(1), energy_mj=None), FakeDevice(uuid=uuid(2), energy_mj=7000))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    gpus = open_gpus()
    assert gpus is not None
    assert gpus.energy_j() == pytest.approx(7.0)


def test_close_shuts_nvml_down(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeDevice())
    gpus = open_gpus()
    assert gpus is not None
    assert (nvml.inits, nvml.shutdowns) == (1, 0)
    gpus.close()
    assert nvml.shutdowns == 1
