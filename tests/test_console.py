"""benchtrail.console: progress lines off a terminal, a bar on one, and when to colour.

A real pseudo-terminal stands in for the terminal.
"""

from __future__ import annotations

import io
import os
import re
import select
import time
from collections.abc import Iterator
from typing import TextIO

import pytest

from benchtrail.console import progress, use_color


@pytest.fixture
def terminal() -> Iterator[tuple[TextIO, int]]:
    """A text stream on a pseudo-terminal (``isatty()`` is true) and the fd to read it from."""
    pytest.importorskip("pty")
    controller, tty = os.openpty()
    stream = open(tty, "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    try:
        yield stream, controller
    finally:
        stream.close()
        os.close(controller)


def read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")


# --- progress --------------------------------------------------------------------------------


def test_progress_off_a_terminal_prints_one_line_per_step() -> None:
    stream = io.StringIO()
    with progress(3, "Running demo", stream=stream) as bar:
        bar.advance("infer[batch_size=1] run 1/1")
        time.sleep(0.12)
        bar.advance("infer[batch_size=8] run 1/1")
        bar.advance("noop run 1/1")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    pattern = re.compile(r"Running demo: (\d)/3 (.+) \((\d+\.\d) s\)")
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    assert [m.group(1) for m in matches] == ["1", "2", "3"]  # type: ignore[union-attr]
    assert [m.group(2) for m in matches] == [  # type: ignore[union-attr]
        "infer[batch_size=1] run 1/1", "infer[batch_size=8] run 1/1", "noop run 1/1"]
    elapsed = [float(m.group(3)) for m in matches]  # type: ignore[union-attr]
    assert elapsed[0] < 0.1
    assert 0.1 <= elapsed[1] < 5  # the time since the start, not since the last step
    assert elapsed == sorted(elapsed)
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_progress_lines_appear_as_each_step_finishes() -> None:
    stream = io.StringIO()
    with progress(2, "Suite", stream=stream) as bar:
        assert stream.getvalue() == ""
        bar.advance("a")
        assert stream.getvalue() == "Suite: 1/2 a (0.0 s)\n"
        bar.advance("b")
    assert stream.getvalue().count("\n") == 2


def test_a_long_step_prints_still_running_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchtrail.console

    stream = io.StringIO()
    with progress(2, "Suite", stream=stream) as bar:
        bar.start("slow")
        bar.tick()
        assert stream.getvalue() == ""  # not yet: the heartbeat waits HEARTBEAT_S
        monkeypatch.setattr(benchtrail.console, "HEARTBEAT_S", 0.0)
        bar.tick()
        assert stream.getvalue() == "Suite: 0/2 done, still running slow (0.0 s)\n"


def test_progress_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with progress(1, "Run", stream=None) as bar:
        bar.advance("only")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Run: 1/1 only (")


def test_progress_on_a_terminal_draws_a_bar(terminal: tuple[TextIO, int], plain_env: None) -> None:
    stream, controller = terminal
    with progress(2, "Running demo", stream=stream) as bar:
        bar.start("first")
        bar.advance("first")
        bar.start("second")
        bar.tick()
        bar.advance("second")
    stream.flush()
    shown = read_all(controller)
    assert "Running demo" in shown
    assert re.search(r"second +\[#+\] +2/2", shown), shown  # the bar names the last step
    assert "\r" in shown  # drawn in place
    assert "(0.0 s)" not in shown  # not the plain lines


# --- use_color -----------------------------------------------------------------------------------


def test_no_color_off_a_terminal(plain_env: None) -> None:
    assert use_color(io.StringIO()) is False


def test_color_on_a_terminal(terminal: tuple[TextIO, int], plain_env: None) -> None:
    assert use_color(terminal[0]) is True


@pytest.mark.parametrize("value", ["1", "true", "0"])  # any non-empty value, even "0"
def test_no_color_set_turns_colour_off(terminal: tuple[TextIO, int], plain_env: None,
                                       monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NO_COLOR", value)
    assert use_color(terminal[0]) is False


def test_empty_no_color_does_not_count(terminal: tuple[TextIO, int], plain_env: None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """no-color.org: "when present and not an empty string"."""
    monkeypatch.setenv("NO_COLOR", "")
    assert use_color(terminal[0]) is True


def test_dumb_terminal_gets_no_colour(terminal: tuple[TextIO, int], plain_env: None,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert use_color(terminal[0]) is False


def test_use_color_defaults_to_stderr(plain_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert use_color() is False  # pytest captures stderr: not a terminal
