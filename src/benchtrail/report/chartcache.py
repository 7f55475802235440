"""Draw many charts: each one only when its data changed, the rest in parallel.

A chart's cache key is a hash of its whole ``ChartJob`` (values, tooltips, links) and of
the drawing code's version and matplotlib's, so a chart whose inputs did not change is
read back instead of drawn: adding one result redraws only the charts it touches. The
misses are drawn in a process pool, one worker per core. Entries are JSON files under
``<folder>/<key[:2]>/``, written through a temporary name; a file that cannot be read is
a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from benchtrail.report.charts import DRAWING_VERSION, ChartJob, ChartOutput, render_job

__all__ = ["ChartCache", "Progress", "ProgressFactory", "job_key", "no_progress", "render_charts"]

log = logging.getLogger(__name__)


class Progress(Protocol):
    def advance(self, step: str) -> None:
        """One step (a chart) is done; ``step`` names it."""


#: ``benchtrail.console.progress``'s shape: (total, label) -> a context giving a Progress
ProgressFactory = Callable[[int, str], AbstractContextManager[Progress]]


class _Silent:
    def advance(self, step: str) -> None:
        pass


@contextlib.contextmanager
def no_progress(total: int, label: str) -> Iterator[Progress]:
    """A progress report that says nothing."""
    yield _Silent()


def _versions() -> str:
    try:
        drawing = version("matplotlib")
    except PackageNotFoundError:  # pragma: no cover - matplotlib is a dependency
        drawing = "?"
    return f"{DRAWING_VERSION}/{drawing}"


def job_key(job: ChartJob, versions: str | None = None) -> str:
    """The hex sha256 of everything the chart shows and of the code that draws it."""
    # by hand rather than dataclasses.astuple, which deep-copies every value: 10x slower
    text = json.dumps([versions or _versions(), job.anchor, job.unit, job.direction,
                       [[t.short, t.date, t.title, t.url] for t in job.ticks],
                       [[line.name, line.slot, line.xs, line.runs] for line in job.lines],
                       job.window, job.find_changes, job.reference], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ChartCache:
    """Drawn charts (and other results worth keeping, such as a suite's status) by key in
    ``folder`` (``None``: nothing is kept)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def load(self, key: str) -> Any:
        """The JSON value kept under ``key``, or ``None``."""
        self.used.add(key)
        if self.folder is None:
            return None
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def store(self, key: str, value: Any) -> None:
        """Keep the JSON ``value`` under ``key``."""
        self.used.add(key)
        if self.folder is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp",
                                             delete=False) as out:
                json.dump(value, out, separators=(",", ":"))
            os.replace(out.name, path)
        except OSError as exc:  # a cache that cannot be written only costs time
            log.warning("cannot keep a chart in the cache %s: %s", self.folder, exc.strerror or exc)

    def get(self, key: str) -> ChartOutput | None:
        found = self.load(key)
        try:
            return ChartOutput.from_json(found) if found is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, output: ChartOutput) -> None:
        self.store(key, output.to_json())

    def prune(self) -> int:
        """Remove the entries that this build did not use; how many were removed."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.glob("??/*.json"):
            if path.stem not in self.used and len(path.stem) == 64:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        return removed


def render_charts(jobs: Sequence[ChartJob], cache: ChartCache,
                  progress: ProgressFactory = no_progress) -> tuple[list[ChartOutput], int]:
    """Every job's output, in order, and how many were drawn (the rest came from ``cache``).
    With more than one chart to draw they are drawn in a pool of ``os.cpu_count()``
    processes."""
    versions = _versions()
    keys = [job_key(job, versions) for job in jobs]
    outputs: list[ChartOutput | None] = [cache.get(key) for key in keys]
    missing = [index for index, output in enumerate(outputs) if output is None]
    if not missing:
        return [o for o in outputs if o is not None], 0
    with progress(len(missing), "Drawing charts") as bar:
        if len(missing) == 1:
            results = [(missing[0], render_job(jobs[missing[0]]))]
            bar.advance(jobs[missing[0]].anchor)
        else:
            results = []
            workers = min(os.cpu_count() or 1, len(missing))
            # loaded once here, a forked worker starts with matplotlib instead of loading it itself
            import matplotlib.backends.backend_svg  # noqa: F401
            import matplotlib.figure  # noqa: F401

            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(render_job, jobs[index]): index for index in missing}
                for future in as_completed(futures):
                    index = futures[future]
                    results.append((index, future.result()))
                    bar.advance(jobs[index].anchor)
    for index, output in results:
        outputs[index] = output
        cache.put(keys[index], output)
    return [o for o in outputs if o is not None], len(missing)
