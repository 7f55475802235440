"""The environment block: what machine class ran the suite, and what software.

The fingerprint hashes only the hardware class (CPU model and count, GPU model and
count, runner label): runs are compared only within one fingerprint. Software versions,
the driver and the image digest are recorded next to it, so a change there is reported
beside the numbers instead of silently splitting the history.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "describe_environment", "fingerprint_of", "job_image", "runner_label"]

#: Packages whose versions matter to inference speed, recorded when installed.
KEY_PACKAGES = (
    "benchtrail", "numpy", "scipy", "torch", "onnxruntime", "onnxruntime-gpu", "tensorflow",
    "jax", "jaxlib", "transformers", "vllm", "tensorrt", "triton", "scikit-learn", "aiohttp",
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


def runner_label(explicit: str | None = None) -> str:
    """The machine-class label: ``explicit``, else ``BENCHTRAIL_MACHINE``, else the
    runner's tags (``CI_RUNNER_TAGS``), else empty."""
    if explicit:
        return explicit
    label = os.environ.get("BENCHTRAIL_MACHINE")
    if label:
        return label
    # GitLab has written the tags as a JSON list ('["gpu", "linux"]') and, in older
    # releases, as a comma list ("gpu, linux"); order does not matter, so sort them.
    tags = os.environ.get("CI_RUNNER_TAGS", "").strip()
    try:
        parsed = json.loads(tags) if tags else []
    except ValueError:
        parsed = tags.split(",")
    if parsed is None:  # "null": no tags (str(None) would make a label "None")
        parsed = []
    elif not isinstance(parsed, list):  # one tag that parsed as a JSON scalar: "gpu", 42, true
        parsed = [parsed if isinstance(parsed, str) else tags]
    names = {str(t).strip() for t in parsed if t is not None}
    return ",".join(sorted(name for name in names if name))


def fingerprint_of(hardware: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of the hardware block."""
    canonical = json.dumps(hardware, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _packages() -> dict[str, str]:
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def job_image(reference: str) -> dict[str, str | None]:
    """The image a GitLab job runs in (``CI_JOB_IMAGE``): GitLab gives its name only, so
    the digest is known when the name pins one (``name@sha256:...``, or an image ID)."""
    if reference.startswith("sha256:"):  # an image named by its ID
        return {"reference": reference, "digest": reference}
    _, _, digest = reference.partition("@")
    return {"reference": reference, "digest": digest if digest.startswith("sha256:") else None}


def describe_environment(gpu: dict[str, Any] | None, *, label: str | None = None,
                         image: dict[str, str | None] | None = None) -> dict[str, Any]:
    """The record's ``environment`` block; ``gpu`` is ``Gpus.describe()`` or ``None``."""
    hardware = {
        "cpu_model": cpu_model(),
        "cpu_count": _cpu_count(),
        "gpu_model": gpu["model"] if gpu else None,
        "gpu_count": gpu["count"] if gpu else 0,
        "runner_label": runner_label(label),
    }
    environment: dict[str, Any] = {
        "fingerprint": fingerprint_of(hardware),
        "hardware": hardware,
        "gpu": gpu if gpu else "none",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": _packages(),
    }
    if image is None and os.environ.get("CI_JOB_IMAGE"):
        image = job_image(os.environ["CI_JOB_IMAGE"])
    if image is not None:
        environment["image"] = image
    return environment
