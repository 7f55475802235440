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
from typing import Protocol, TextIO

import click

__all__ = ["Progress", "progress", "use_color"]


def use_color(stream: TextIO | None = None) -> bool:
    """Colour only on a terminal, with ``NO_COLOR`` unset and ``TERM`` not ``dumb``."""
    stream = stream if stream is not None else sys.stderr
    return (
        stream.isatty()
        and "NO_COLOR" not in os.environ
        and os.environ.get("TERM", "") != "dumb"
    )


class Progress(Protocol):
    def advance(self, step: str) -> None:
        """Mark one step as finished; ``step`` names it."""


class _Bar:
    def __init__(self, bar: click.progressbar) -> None:  # type: ignore[type-arg]
        self._bar = bar

    def advance(self, step: str) -> None:
        self._bar.label = step
        self._bar.update(1)


class _Lines:
    def __init__(self, total: int, label: str, stream: TextIO) -> None:
        self._total = total
        self._label = label
        self._stream = stream
        self._done = 0
        self._start = time.monotonic()

    def advance(self, step: str) -> None:
        self._done += 1
        elapsed = time.monotonic() - self._start
        print(
            f"{self._label}: {self._done}/{self._total} {step} ({elapsed:.1f} s)",
            file=self._stream,
            flush=True,
        )


@contextmanager
def progress(total: int, label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """Report ``total`` steps of work named ``label`` on stderr (or ``stream``)."""
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        with click.progressbar(length=total, label=label, file=stream, show_pos=True) as bar:
            yield _Bar(bar)
    else:
        yield _Lines(total, label, stream)
