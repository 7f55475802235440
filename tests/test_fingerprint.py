"""benchtrail.bench.fingerprint: the environment block and its hardware fingerprint."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from benchtrail.bench.fingerprint import describe_environment as describe_typed
from benchtrail.bench.fingerprint import job_image
from benchtrail.results.model import Gpu, Hardware, Image

GPU = {"model": "NVIDIA H100 80GB HBM3", "count": 2, "driver_version": "550.54.15",
       "cuda_version": "12.4", "memory_total_mb": 163840.0}


def fingerprint_of(hardware: dict[str, Any]) -> str:
    return Hardware(**hardware).fingerprint


def describe_environment(gpu: dict[str, Any] | None, *, label: str | None = None,
                         image: dict[str, Any] | None = None) -> dict[str, Any]:
    """The environment as the record writes it."""
    return describe_typed(Gpu(**gpu) if gpu else None, label=label,
                          image=Image(**image) if image else None).to_json()
HARDWARE = {"cpu_model": "AMD EPYC 7763 64-Core Processor", "cpu_count": 8,
            "gpu_model": None, "gpu_count": 0, "runner_label": "saas-linux-medium-amd64"}


# --- fingerprint_of ------------------------------------------------------------------------


def test_fingerprint_is_16_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint_of(HARDWARE))


def test_fingerprint_is_pinned() -> None:
    """Records of every earlier run carry this value: changing the hash splits every history."""
    assert fingerprint_of(HARDWARE) == "0f151f8a7d01e8e4"  # sha256 of the sorted, compact JSON


def test_fingerprint_ignores_key_order_and_follows_every_value() -> None:
    assert fingerprint_of(dict(reversed(list(HARDWARE.items())))) == fingerprint_of(HARDWARE)
    changed = {fingerprint_of({**HARDWARE, key: value}) for key, value in [
        ("cpu_model", "Intel(R) Xeon(R) Platinum 8375C"), ("cpu_count", 16),
        ("gpu_model", "Tesla T4"), ("gpu_count", 1), ("runner_label", "gpu"),
    ]}
    assert len(changed) == 5
    assert fingerprint_of(HARDWARE) not in changed


# --- describe_environment ------------------------------------------------------------------


def test_environment_block() -> None:
    environment = describe_environment(None)
    assert set(environment) == {"fingerprint", "hardware", "gpu", "python", "platform", "packages"}
    hardware = environment["hardware"]
    assert set(hardware) == {"cpu_model", "cpu_count", "gpu_model", "gpu_count", "runner_label"}
    assert hardware["cpu_model"]
    assert hardware["cpu_count"] >= 1
    assert (hardware["gpu_model"], hardware["gpu_count"], hardware["runner_label"]) == (None, 0, "")
    assert environment["gpu"] == "none"
    assert environment["fingerprint"] == fingerprint_of(hardware)
    assert environment["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "image" not in environment


def test_packages_include_numpy_and_benchtrail() -> None:
    import numpy

    import benchtrail

    packages = describe_environment(None)["packages"]
    assert packages["numpy"] == numpy.__version__
    assert packages["benchtrail"] == benchtrail.__version__
    assert "torch" not in packages or isinstance(packages["torch"], str)  # only what is installed


def test_fingerprint_is_stable_for_the_same_hardware() -> None:
    first = describe_environment(GPU, label="gpu-a100")
    assert describe_environment(GPU, label="gpu-a100")["fingerprint"] == first["fingerprint"]
    # Another process on the same machine: the same fingerprint.
    code = ("from benchtrail.bench.fingerprint import describe_environment\n"
            "from benchtrail.results.model import Gpu\n"
            f"print(describe_environment(Gpu(**{GPU!r}), label='gpu-a100').fingerprint)")
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert again.stdout.strip() == first["fingerprint"]


def test_fingerprint_changes_with_the_runner_label() -> None:
    assert describe_environment(None, label="a")["fingerprint"] != describe_environment(None, label="b")["fingerprint"]


def test_fingerprint_changes_with_the_gpu() -> None:
    fingerprints = {
        describe_environment(None)["fingerprint"],
        describe_environment(GPU)["fingerprint"],
        describe_environment({**GPU, "count": 1})["fingerprint"],
        describe_environment({**GPU, "model": "Tesla T4"})["fingerprint"],
    }
    assert len(fingerprints) == 4


def test_software_and_gpu_memory_are_recorded_but_not_fingerprinted() -> None:
    """A new driver or image is reported beside the numbers; it does not split the history."""
    base = describe_environment(GPU)
    other = describe_environment({**GPU, "driver_version": "560.28.03", "cuda_version": "12.6",
                                  "memory_total_mb": 1.0},
                                 image={"reference": "registry/bench:2", "digest": "sha256:" + "0" * 64})
    assert other["fingerprint"] == base["fingerprint"]
    assert other["gpu"]["driver_version"] == "560.28.03"
    assert other["image"] == {"reference": "registry/bench:2", "digest": "sha256:" + "0" * 64}


def test_gpu_block_as_described() -> None:
    environment = describe_environment(GPU)
    assert environment["gpu"] == GPU
    assert (environment["hardware"]["gpu_model"], environment["hardware"]["gpu_count"]) == (GPU["model"], 2)


def test_environment_validates_in_the_schema() -> None:
    from benchtrail.results.schema import schema_document

    jsonschema = pytest.importorskip("jsonschema")
    document = schema_document()
    block_schema: dict[str, Any] = {**document["$defs"]["environment"], "$defs": document["$defs"]}
    for gpu in (None, GPU):
        jsonschema.validate(describe_environment(gpu, label="x"), block_schema)


def test_label_given_is_recorded() -> None:
    assert describe_environment(None, label="explicit")["hardware"]["runner_label"] == "explicit"
    assert describe_environment(None)["hardware"]["runner_label"] == ""  # the command reads CI; not this module


def test_the_job_image_is_recorded_with_a_pinned_digest() -> None:
    digest = "sha256:" + "ab" * 32
    assert job_image(f"registry.example.com/ml/bench@{digest}") == Image(f"registry.example.com/ml/bench@{digest}",
                                                                        digest)
    assert job_image(digest) == Image(digest, digest)
    assert job_image("benchtrail:latest") == Image("benchtrail:latest", None)
    assert describe_environment(None, image={"reference": "x", "digest": None})["image"]["reference"] == "x"
    assert "image" not in describe_environment(None)
