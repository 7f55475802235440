"""Fixtures of the end-to-end tests: a Docker engine, the benchmark image built once,
gitlab-ci-local, and Chromium.

Without a Docker engine (or the locally made base image, gitlab-ci-local, Chromium)
these tests skip with the reason; with ``BENCHTRAIL_E2E=required`` they fail instead, so
a CI job that provisioned the machine (``tools/e2e/provision.sh``) cannot pass by
skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Read at import, before the autouse ``clean_environ`` fixture drops BENCHTRAIL_* variables.
REQUIRED = os.environ.get("BENCHTRAIL_E2E") == "required"
BASE_IMAGE = os.environ.get("BENCHTRAIL_E2E_BASE_IMAGE", "benchtrail-base:bookworm")
IMAGE = "benchtrail:e2e"
#: the org.opencontainers.image.title labels of the images these tests build
BUILT_TITLES = ("benchtrail", "benchtrail-install", "iris-onnx")
BUILD_TIMEOUT_S = 600


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it when the end-to-end tests are required."""
    if REQUIRED:
        pytest.fail(f"BENCHTRAIL_E2E=required, but {reason}", pytrace=False)
    pytest.skip(reason)


def docker_missing() -> str | None:
    """Why no Docker engine can be used here, or ``None``."""
    if shutil.which("docker") is None:
        return "the docker command is not installed (tools/e2e/provision.sh installs it)"
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`docker info` fails: {last} (tools/e2e/provision.sh starts dockerd)"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers, else skip (or fail when required)."""
    reason = docker_missing()
    if reason is not None:
        unavailable(reason)


@pytest.fixture(scope="session")
def image(docker_engine: None) -> str:
    """The benchmark image, built once per session by tools/build-image.sh on the local
    base image, with no network inside the build."""
    inspect = subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True, check=False)
    if inspect.returncode != 0:
        unavailable(f"the base image {BASE_IMAGE} is missing (tools/e2e/provision.sh makes it)")
    # The revision label is this checkout's HEAD, whatever CI_COMMIT_SHA says.
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    env = {**os.environ, "BASE_IMAGE": BASE_IMAGE, "REVISION": head.stdout.strip() or "unknown"}
    built = subprocess.run([str(ROOT / "tools" / "build-image.sh"), IMAGE], capture_output=True, text=True,
                           env=env, timeout=BUILD_TIMEOUT_S, check=False)
    if built.returncode != 0:
        pytest.fail(f"tools/build-image.sh {IMAGE} failed (exit {built.returncode}):\n{built.stderr[-4000:]}",
                    pytrace=False)
    return IMAGE


@pytest.fixture(scope="session", autouse=True)
def _replaced_images_removed() -> Iterator[None]:
    """Each build moves a tag and leaves the image it replaced untagged, about 1 GB each:
    at the end of the session the untagged ones that these tests' images are labelled
    with go, so that a CI machine's disk does not fill run after run."""
    yield
    if docker_missing() is not None:
        return
    for title in BUILT_TITLES:
        subprocess.run(["docker", "image", "prune", "--force", "--filter",
                        f"label=org.opencontainers.image.title={title}"],
                       capture_output=True, timeout=BUILD_TIMEOUT_S, check=False)


@pytest.fixture
def gitlab_ci_local() -> None:
    """gitlab-ci-local, else skip (or fail when the end-to-end tests are required)."""
    if shutil.which("gitlab-ci-local") is None:
        unavailable("gitlab-ci-local is not installed (tools/e2e/provision.sh installs it)")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's ``chromium`` (the executable), else skip (or fail when required)."""
    executable = shutil.which("chromium")
    if executable is None:
        unavailable("chromium is not installed (tools/e2e/provision.sh installs it)")
    return executable  # type: ignore[return-value]
