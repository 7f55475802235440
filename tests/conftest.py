"""Shared fixtures: a clean environment, and small suites written into tmp_path."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

_PREFIXES = ("CI_", "GITLAB_", "BENCHTRAIL_")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CI, GitLab or benchtrail variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith(_PREFIXES) or name == "CUDA_VISIBLE_DEVICES":
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def benchtrail_logger() -> Iterator[None]:
    """A CLI run in-process gives the ``benchtrail`` logger its own handler and stops it
    propagating (so caplog would see nothing): each test starts from the logger as it was."""
    logger = logging.getLogger("benchtrail")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


WORKLOAD = '''
import time

def load():
    return {"scale": 2}

def double(state, batch):
    return [row * state["scale"] for row in batch]

def noop(batch):
    return None

def tick():
    return None

def fails(batch):
    raise ValueError("bad input row")

def sleepy(batch):
    time.sleep(0.001)
'''


@pytest.fixture
def suite_dir(tmp_path: Path) -> Path:
    """A folder with ``workload.py`` and ``data/rows.jsonl``, ready for a suite file."""
    (tmp_path / "workload.py").write_text(WORKLOAD, encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text(
        "".join(f"{i}\n" for i in range(10)), encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def write_suite(suite_dir: Path):  # type: ignore[no-untyped-def]
    """Write a suite file (TOML text) into ``suite_dir`` and return its path."""

    def write(text: str, name: str = "suite.toml") -> Path:
        path = suite_dir / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
