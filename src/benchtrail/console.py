"""Progress and colour for the terminal, plain lines for CI logs.

Click's progress bar prints its label only once when stderr is not a terminal, so a CI
log would sit silent through a long run; off a terminal we print one line per finished
step with the count and the elapsed time instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from benchtrail.bench.runner import Progress

__all__ = ["progress", "use_color"]


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, with ``NO_COLOR`` unset or empty and ``TERM`` not ``dumb``.

    An empty ``NO_COLOR`` does not count (https://no-color.org: "present and not an
    empty string").
    """
    stream = stream if stream is not None else sys.stderr
    return (
        stream.isatty()
        and not os.environ.get("NO_COLOR")
        and os.environ.get("TERM", "") != "dumb"
    )


#: Off a terminal, a step that runs longer than this prints a "still running" line.
HEARTBEAT_S = 30.0


class _Bar:
    def __init__(self, bar: click.progressbar, label: str) -> None:  # type: ignore[type-arg]
        self._bar = bar
        self._label = label

    def start(self, step: str) -> None:
        self._bar.label = f"{self._label}: {step}"
        self._bar.render_progress()

    def tick(self) -> None:
        self._bar.render_progress()

    def advance(self, step: str) -> None:
        self._bar.update(1)


class _Lines:
    def __init__(self, total: int, label: str, stream: TextIO) -> None:
        self._total = total
        self._label = label
        self._stream = stream
        self._done = 0
        self._start = time.monotonic()
        self._last_line = self._start
        self._step = ""

    def _print(self, text: str) -> None:
        self._last_line = time.monotonic()
        elapsed = self._last_line - self._start
        print(f"{self._label}: {text} ({elapsed:.1f} s)", file=self._stream, flush=True)

    def start(self, step: str) -> None:
        self._step = step

    def tick(self) -> None:
        if time.monotonic() - self._last_line >= HEARTBEAT_S:
            self._print(f"{self._done}/{self._total} done, still running {self._step}")

    def advance(self, step: str) -> None:
        self._done += 1
        self._print(f"{self._done}/{self._total} {step}")


@contextmanager
def progress(total: int, label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """Report ``total`` steps of work named ``label`` on stderr (or ``stream``)."""
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        with click.progressbar(length=total, label=label, file=stream, show_pos=True) as bar:
            yield _Bar(bar, label)
    else:
        yield _Lines(total, label, stream)
