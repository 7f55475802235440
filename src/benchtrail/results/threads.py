"""The BLAS/OpenMP thread settings a suite ran with: the record's ``environment.threads``.

The same model can run 100x slower at a small batch with a BLAS library's default threads
than with one thread on a 2-core runner, so the record states the settings in force: the
thread variables that were set, and each thread pool threadpoolctl saw in the worker
process after warm-up. They are not part of the environment fingerprint: a change between
the baseline and a merge request is named next to the numbers (``thread_change``), not
kept apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["THREAD_VARIABLES", "ThreadPool", "Threads", "describe_threads", "merge_threads", "thread_change"]

#: the environment variables that set a BLAS/OpenMP library's threads, in the order shown
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class ThreadPool:
    """One thread pool threadpoolctl found: its API (``blas`` or ``openmp``), the library
    behind it (``openblas``, ``mkl``, ``blis``, ``openmp``...) and its threads (``None``
    when the library does not say)."""

    user_api: str
    internal_api: str
    num_threads: int | None

    def to_json(self) -> dict[str, Any]:
        return {"user_api": self.user_api, "internal_api": self.internal_api, "num_threads": self.num_threads}


def _pool_order(pool: ThreadPool) -> tuple[str, str, int]:
    return pool.user_api, pool.internal_api, -1 if pool.num_threads is None else pool.num_threads


@dataclass(frozen=True)
class Threads:
    """The thread variables that were set (name, value; sorted by name) and the distinct
    thread pools seen (sorted). Build it with ``Threads.of`` so that equal settings are
    equal values."""

    variables: tuple[tuple[str, str], ...] = ()
    pools: tuple[ThreadPool, ...] = ()

    @classmethod
    def of(cls, variables: Mapping[str, str] | Iterable[tuple[str, str]], pools: Iterable[ThreadPool]) -> Threads:
        """Settings in canonical order: variables by name, pools by API, library, threads;
        a pool seen twice (two copies of one library) counts once."""
        pairs = variables.items() if isinstance(variables, Mapping) else variables
        return cls(tuple(sorted(dict(pairs).items())), tuple(sorted(set(pools), key=_pool_order)))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Threads:
        return cls.of(data["variables"], (ThreadPool(p["user_api"], p["internal_api"], p["num_threads"])
                                          for p in data["pools"]))

    def to_json(self) -> dict[str, Any]:
        return {"variables": dict(self.variables), "pools": [pool.to_json() for pool in self.pools]}


def merge_threads(seen: Iterable[Threads | None]) -> Threads | None:
    """The settings of a whole suite run from those of its worker processes: the union of
    the pools, and each variable as the first process that had it set saw it. ``None``
    (a process that read nothing, e.g. an HTTP benchmark's) is skipped; all ``None``
    gives ``None``."""
    known = [threads for threads in seen if threads is not None]
    if not known:
        return None
    variables: dict[str, str] = {}
    for threads in known:
        for name, value in threads.variables:
            variables.setdefault(name, value)
    return Threads.of(variables, (pool for threads in known for pool in threads.pools))


def _plural(count: int | None) -> str:
    return "thread" if count == 1 else "threads"


def describe_threads(threads: Threads) -> str:
    """One short line: the variables set, then each library's threads, e.g.
    ``OMP_NUM_THREADS=1; openblas 1 thread`` or ``default: openblas 2 threads, openmp 2 threads``.
    A library seen with several counts shows them all (``openblas 1/2 threads``); an
    unknown count is ``?``; no pool at all is ``no BLAS/OpenMP thread pool loaded``."""
    counts: dict[str, list[int | None]] = {}
    for pool in threads.pools:
        counts.setdefault(pool.internal_api, [])
        if pool.num_threads not in counts[pool.internal_api]:
            counts[pool.internal_api].append(pool.num_threads)
    libraries = ", ".join(
        f"{library} {'/'.join('?' if n is None else str(n) for n in numbers)} "
        f"{_plural(numbers[0] if len(numbers) == 1 else None)}"
        for library, numbers in counts.items()
    ) or "no BLAS/OpenMP thread pool loaded"
    order = {name: position for position, name in enumerate(THREAD_VARIABLES)}
    variables = sorted(threads.variables, key=lambda pair: (order.get(pair[0], len(order)), pair[0]))
    if not variables:
        return f"default: {libraries}"
    return f"{', '.join(f'{name}={value}' for name, value in variables)}; {libraries}"


def thread_change(before: Threads | None, now: Threads | None) -> str | None:
    """``before → now`` in ``describe_threads`` words when the settings differ, else ``None``
    (also when either side did not record them, e.g. a record made before they were)."""
    if before is None or now is None or before == now:
        return None
    return f"{describe_threads(before)} → {describe_threads(now)}"
