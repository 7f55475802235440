"""Hostile targets and a stopped runner: a target, setup or import that never returns or
ends the worker process, and a ``benchtrail run`` killed mid-run, end in one clear line,
with no worker (nor what it started) left running and no scratch folder left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from benchtrail.bench import load_suite, run_suite
from benchtrail.bench.runner import WORKER_TIMEOUT_S, worker_deadline_s
from benchtrail.errors import SuiteError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; prctl is Linux's")

# Each hang notes the worker's pid and that of a child it started, next to this module.
HANGS = """
import os, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))

def hang(*args):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.path.join(HERE, "pids.txt"), "w") as out:
        out.write(f"{os.getpid()} {child.pid}")
    time.sleep(600)

def ok(*args):
    return None
"""

EXITS = """
import os, sys

def quit_0(*args):
    sys.exit(0)

def quit_none(*args):
    sys.exit()

def hard_exit(*args):
    os._exit(0)

def ok(*args):
    return None
"""

ONE = """
[suite]
name = "faults"
[[benchmark]]
name = "faulty"
{fields}
iterations = 5
warmup = 1
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it waits only to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def eventually(check: Callable[[], bool], within_s: float = 5.0) -> bool:
    ends = time.monotonic() + within_s
    while not check():
        if time.monotonic() > ends:
            return False
        time.sleep(0.05)
    return True


def pids(folder: Path) -> list[int]:
    return [int(pid) for pid in (folder / "pids.txt").read_text().split()]


@pytest.fixture
def hostile(suite_dir: Path) -> Path:
    (suite_dir / "hangs.py").write_text(HANGS, encoding="utf-8")
    (suite_dir / "hangs_on_import.py").write_text("from hangs import hang\n\nhang()\n", encoding="utf-8")
    (suite_dir / "exits.py").write_text(EXITS, encoding="utf-8")
    (suite_dir / "exits_on_import.py").write_text("import sys\n\nsys.exit(0)\n", encoding="utf-8")
    return suite_dir


@pytest.mark.parametrize("fields", ['target = "hangs:hang"',
                                    'target = "exits:ok"\nsetup = "hangs:hang"',
                                    'target = "hangs_on_import:ok"'],
                         ids=["target", "setup", "import"])
def test_a_worker_that_never_returns_is_killed_with_what_it_started_and_named(
        hostile: Path, write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: str) -> None:
    monkeypatch.setenv("BENCHTRAIL_WORKER_TIMEOUT_S", "1.5")
    suite = load_suite(write_suite(ONE.format(fields=fields)))
    started = time.monotonic()
    with pytest.raises(SuiteError, match=r"^suite\.toml: benchmark\[0\]: the worker process for faulty gave no "
                                         r"result within 1\.5 s and was stopped \(a target, setup or module "
                                         r"import that never returns\?\); BENCHTRAIL_WORKER_TIMEOUT_S"):
        run_suite(suite, tmp_path / "out")
    assert time.monotonic() - started < 15
    worker, child = pids(hostile)
    assert not alive(worker)
    assert eventually(lambda: not alive(child))  # killed with the worker's process group
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("fields", "message"), [
    ('target = "exits:quit_0"', r"benchmark\[0\]\.target: exits:quit_0 raised SystemExit: 0 \(a target returns or "
                                r"raises an exception; it does not end the process\)$"),
    ('target = "exits:quit_none"\nconcurrency = 2', r"benchmark\[0\]\.target: exits:quit_none raised SystemExit "),
    ('target = "exits:ok"\nsetup = "exits:quit_0"', r"benchmark\[0\]\.setup: exits:quit_0 raised SystemExit: 0$"),
    ('target = "exits_on_import:ok"', r"benchmark\[0\]\.target: cannot import 'exits_on_import': SystemExit: 0$"),
    ('target = "exits:hard_exit"', r"benchmark\[0\]: the worker process for faulty\S* ended without a result: "
                                   r"the target, its setup or its module ended the process \(os\._exit\?\)$"),
    ('target = "exits:ok"\nsetup = "exits:hard_exit"', r"faulty ended without a result"),
], ids=["sys.exit(0) in target", "sys.exit() in a thread's target", "sys.exit(0) in setup", "sys.exit(0) at import",
        "os._exit(0) in target", "os._exit(0) in setup"])
def test_user_code_that_ends_the_worker_is_the_users_error_not_a_bug(
        hostile: Path, write_suite, tmp_path: Path, fields: str, message: str) -> None:
    suite = load_suite(write_suite(ONE.format(fields=fields)))
    with pytest.raises(SuiteError, match=message):  # not WorkerCrash (exit 3), not FileNotFoundError
        run_suite(suite, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["soon", "0", "-5", "inf", "nan"])
def test_a_worker_timeout_that_is_no_number_of_seconds_is_refused_before_any_worker_runs(
        hostile: Path, write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("BENCHTRAIL_WORKER_TIMEOUT_S", value)
    suite = load_suite(write_suite(ONE.format(fields='target = "hangs:hang"')))
    with pytest.raises(SuiteError, match=f"^BENCHTRAIL_WORKER_TIMEOUT_S: expected a number of seconds > 0, "
                                         f"found '{value}'$"):
        run_suite(suite, tmp_path / "out")
    assert not (hostile / "pids.txt").exists()


def test_the_deadline_follows_the_benchmarks_own_settings(write_suite) -> None:
    suite = load_suite(write_suite("""
[suite]
name = "budgets"
[[benchmark]]
name = "counted"
target = "workload:tick"
iterations = 1000000
[[benchmark]]
name = "timed"
target = "workload:tick"
duration_s = 30
[[benchmark]]
name = "http"
url = "http://127.0.0.1:9/x"
iterations = 100
warmup = 9
timeout_s = 2
[[benchmark]]
name = "paced"
url = "http://127.0.0.1:9/x"
iterations = 100
warmup = 0
rate = 4
timeout_s = 1
"""))
    counted, timed, http, paced = suite.benchmarks
    assert worker_deadline_s(counted, WORKER_TIMEOUT_S) == WORKER_TIMEOUT_S == 600
    assert worker_deadline_s(timed, 100) == 160  # twice the duration on top
    assert worker_deadline_s(http, 100) == 100 + 110 * 2  # every request (and one more) timing out
    assert worker_deadline_s(paced, 100) == 100 + 101 * 1 + 100 / 4


class Interrupted(BaseException):
    """What the CLI's signal handler raises (not an ``Exception``: nothing swallows it)."""


class InterruptOnceRunning:
    """Progress that raises ``Interrupted`` at the first tick after the target started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def start(self, step: str) -> None:
        pass

    def tick(self) -> None:
        if (self.folder / "pids.txt").exists():
            raise Interrupted

    def advance(self, step: str) -> None:
        pass


def test_an_interrupted_run_kills_its_worker_and_removes_its_scratch_folder(
        hostile: Path, write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    suite = load_suite(write_suite(ONE.format(fields='target = "hangs:hang"')))
    with pytest.raises(Interrupted):
        run_suite(suite, tmp_path / "out", progress=InterruptOnceRunning(hostile))
    worker, child = pids(hostile)
    assert not alive(worker)
    assert eventually(lambda: not alive(child))
    assert list(scratch.iterdir()) == []


def start_cli_run(hostile: Path, write_suite, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A real ``benchtrail run`` of a target that sleeps, once its worker runs the target."""
    suite = write_suite(ONE.format(fields='target = "hangs:hang"'))
    (tmp_path / "tmp").mkdir()  # its scratch folder, which SIGKILL leaves behind
    run = subprocess.Popen([sys.executable, "-m", "benchtrail", "run", str(suite), "--out", str(tmp_path / "out")],
                           cwd=hostile, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not eventually(lambda: (hostile / "pids.txt").exists() and bool((hostile / "pids.txt").read_text()), 60):
        run.kill()
        pytest.fail(f"the worker did not start: {run.communicate()[1].decode()}")
    return run


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_benchtrail_run_leaves_no_worker_running(hostile: Path, write_suite, tmp_path: Path,
                                                           signum: int) -> None:
    """GitLab stops a cancelled job with SIGTERM, then SIGKILL: the worker dies with the
    runner even when nothing of the runner's own code can run (SIGKILL: the kernel's
    PR_SET_PDEATHSIG does it)."""
    run = start_cli_run(hostile, write_suite, tmp_path)
    worker, child = pids(hostile)
    try:
        assert alive(worker)
        os.kill(run.pid, signum)
        run.wait(timeout=30)
        assert eventually(lambda: not alive(worker)), f"worker {worker} still runs after signal {signum}"
    finally:  # after SIGKILL the target's own child outlives the worker: it was not the runner's
        for pid in (worker, child):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
