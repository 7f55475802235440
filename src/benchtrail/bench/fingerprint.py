"""The environment block: what machine class ran the suite, and what software.

The fingerprint hashes only the hardware class (CPU model and count, GPU model and
count, runner label): runs are compared only within one fingerprint. Software versions,
the driver and the image digest are recorded next to it, so a change there is reported
beside the numbers instead of silently splitting the history.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from benchtrail.results.model import Environment, Gpu, Hardware, Image

__all__ = ["cpu_model", "describe_environment", "job_image"]

#: Packages whose versions matter to inference speed, recorded when installed.
KEY_PACKAGES = (
    "benchtrail", "numpy", "scipy", "torch", "onnxruntime", "onnxruntime-gpu", "tensorflow",
    "jax", "jaxlib", "transformers", "vllm", "tensorrt", "triton", "scikit-learn", "aiohttp",
    "httptools", "uvloop",
)


def cpu_model() -> str:
    """The CPU model name as the kernel reports it (``/proc/cpuinfo``), else the platform's."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _packages() -> dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def job_image(reference: str) -> Image:
    """The image a GitLab job runs in (``CI_JOB_IMAGE``): GitLab gives its name only, so
    the digest is known when the name pins one (``name@sha256:...``, or an image ID)."""
    if reference.startswith("sha256:"):  # an image named by its ID
        return Image(reference, reference)
    _, _, digest = reference.partition("@")
    return Image(reference, digest if digest.startswith("sha256:") else None)


def describe_environment(gpu: Gpu | None, *, label: str | None = None, image: Image | None = None) -> Environment:
    """The record's environment on this machine; ``gpu`` is what NVML saw, ``label`` the
    machine class (``--machine``, ``BENCHTRAIL_MACHINE`` or the runner's tags)."""
    hardware = Hardware(cpu_model=cpu_model(), cpu_count=_cpu_count(), gpu_model=gpu.model if gpu else None,
                        gpu_count=gpu.count if gpu else 0, runner_label=label or "")
    return Environment(fingerprint=hardware.fingerprint, hardware=hardware, gpu=gpu,
                       python=platform.python_version(), platform=platform.platform(), packages=_packages(),
                       image=image)
