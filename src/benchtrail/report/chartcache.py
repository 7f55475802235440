"""Draw many charts: each one only when its data changed, the rest in parallel.

A chart's cache key is a hash of its whole ``ChartJob`` (values, tooltips, links) and of
the drawing code's version and matplotlib's, so a chart whose inputs did not change is
read back instead of drawn: adding one result redraws only the charts it touches. The
misses are drawn in a process pool, one worker per core. Entries are JSON files under
``<folder>/<key[:2]>/``, written through a temporary name; a file that cannot be read is
a miss, never an error. An entry may also keep files (``<key>.<name>``: a suite's pages
and data files), hard-linked to the site's copy where the file system allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

from benchtrail.report.charts import DRAWING_VERSION, ChartJob, ChartOutput, render_job

__all__ = ["ChartCache", "Drawing", "Progress", "ProgressFactory", "drawing_versions", "job_key", "no_progress",
           "render_charts", "start_drawing"]

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


def drawing_versions() -> str:
    """The drawing code's version and matplotlib's: part of every chart's key."""
    try:
        drawing = version("matplotlib")
    except PackageNotFoundError:  # pragma: no cover - matplotlib is a dependency
        drawing = "?"
    return f"{DRAWING_VERSION}/{drawing}"


def job_key(job: ChartJob, versions: str | None = None) -> str:
    """The hex sha256 of everything the chart shows and of the code that draws it."""
    # by hand rather than dataclasses.astuple, which deep-copies every value: 10x slower
    text = json.dumps([versions or drawing_versions(), job.anchor, job.unit, job.direction,
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

    def _file(self, key: str, name: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.{name}"

    def keep_file(self, key: str, name: str, source: Path) -> None:
        """Keep the file ``source`` as ``name`` under ``key``: a hard link where the file
        system allows (the site and the cache then share it; nothing writes either in
        place), else a copy."""
        self.used.add(key)
        if self.folder is None:
            return
        path = self._file(key, name)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            try:
                os.link(source, temporary)
            except OSError:  # another file system, or no hard links there
                shutil.copyfile(source, temporary)
            os.replace(temporary, path)
        except OSError as exc:  # a cache that cannot be written only costs time
            log.warning("cannot keep a page in the cache %s: %s", self.folder, exc.strerror or exc)

    def file_size(self, key: str, name: str) -> int | None:
        """The size of the file kept as ``name`` under ``key``, or ``None``."""
        if self.folder is None:
            return None
        try:
            return self._file(key, name).stat().st_size
        except OSError:
            return None

    def read_file(self, key: str, name: str) -> bytes:
        """The bytes of the file kept as ``name`` under ``key`` (``OSError`` when it is gone)."""
        if self.folder is None:
            raise FileNotFoundError(name)
        return self._file(key, name).read_bytes()

    def place_file(self, key: str, name: str, target: Path) -> None:
        """Put the file kept as ``name`` under ``key`` at ``target`` (a hard link where the
        file system allows, else a copy); ``OSError`` when it is gone."""
        if self.folder is None:
            raise FileNotFoundError(name)
        source = self._file(key, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except FileNotFoundError:
            raise
        except OSError:
            shutil.copyfile(source, target)

    def prune(self) -> int:
        """Remove the entries (and their files) that this build did not use; how many files
        were removed."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.glob("??/*"):
            key, dot = path.name[:64], path.name[64:65]
            if key not in self.used and len(key) == 64 and dot in ("", ".") and not path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        return removed


class Drawing:
    """Charts being drawn (``start_drawing``): ``results`` waits for them."""

    def __init__(self, jobs: Sequence[ChartJob], keys: Sequence[str], cache: ChartCache,
                 progress: ProgressFactory) -> None:
        self.jobs, self.keys, self.cache, self.progress = jobs, keys, cache, progress
        self.outputs: list[ChartOutput | None] = [cache.get(key) for key in keys]
        self.missing = [index for index, output in enumerate(self.outputs) if output is None]
        self.pool: ProcessPoolExecutor | None = None
        self.futures: dict[Future[ChartOutput], int] = {}

    def start(self) -> None:
        if len(self.missing) < 2:
            return  # drawn in this process, in ``results``
        # loaded once here, a forked worker starts with matplotlib instead of loading it itself
        import matplotlib.backends.backend_svg  # noqa: F401
        import matplotlib.figure  # noqa: F401

        self.pool = ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, len(self.missing)))
        self.futures = {self.pool.submit(render_job, self.jobs[index]): index for index in self.missing}

    def results(self) -> tuple[list[ChartOutput], int]:
        """Every job's output, in order, and how many were drawn (the rest came from the cache)."""
        if not self.missing:
            return [o for o in self.outputs if o is not None], 0
        results = []
        with self.progress(len(self.missing), "Drawing charts") as bar:
            if self.pool is None:
                for index in self.missing:
                    results.append((index, render_job(self.jobs[index])))
                    bar.advance(self.jobs[index].anchor)
            else:
                for future in as_completed(self.futures):
                    index = self.futures[future]
                    results.append((index, future.result()))
                    bar.advance(self.jobs[index].anchor)
        for index, output in results:
            self.outputs[index] = output
            self.cache.put(self.keys[index], output)
        drawn, self.missing = len(self.missing), []
        return [o for o in self.outputs if o is not None], drawn


@contextlib.contextmanager
def start_drawing(jobs: Sequence[ChartJob], cache: ChartCache, progress: ProgressFactory = no_progress,
                  keys: Sequence[str] | None = None) -> Iterator[Drawing]:
    """Start drawing the charts of ``jobs`` that ``cache`` lacks, in a pool of
    ``os.cpu_count()`` processes when there is more than one, and give a ``Drawing`` whose
    ``results`` waits for them: the caller can do other work meanwhile. ``keys``: the jobs'
    ``job_key``, when the caller has them already."""
    if keys is None:
        versions = drawing_versions()
        keys = [job_key(job, versions) for job in jobs]
    drawing = Drawing(jobs, keys, cache, progress)
    drawing.start()
    try:
        yield drawing
    finally:
        if drawing.pool is not None:
            drawing.pool.shutdown(wait=True, cancel_futures=True)


def render_charts(jobs: Sequence[ChartJob], cache: ChartCache, progress: ProgressFactory = no_progress,
                  keys: Sequence[str] | None = None) -> tuple[list[ChartOutput], int]:
    """Every job's output, in order, and how many were drawn (the rest came from ``cache``).
    With more than one chart to draw they are drawn in a pool of ``os.cpu_count()``
    processes. ``keys``: the jobs' ``job_key``, when the caller has them already."""
    with start_drawing(jobs, cache, progress, keys) as drawing:
        return drawing.results()
