"""Failed calls and vanished benchmarks as verdicts: a gate that a broken benchmark cannot pass.

A benchmark whose calls fail measures nothing worth comparing (its latencies are of the
calls that happened to succeed), so its failures are decided on first, as an error rate
(lower is better):

- **broken**: every measured call failed (errors and timeouts), whatever the baseline;
- **errors**: calls fail where the baseline's did not, or clearly more often: the
  current failure rate is above the baseline's by more than a one-sided binomial test at
  ``ALPHA_ERRORS`` allows (normal approximation; a rate that was zero has no noise);
- **improvement** when a baseline's failures are gone, **unchanged** otherwise.

And a benchmark × params that the baseline's latest commit measured but the records under
test lack is **missing** (removed or renamed): a removal that nobody intended would
otherwise pass as "nothing to compare".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from benchtrail.compare.rule import Decision
from benchtrail.results.model import Benchmark, Record

__all__ = ["ALPHA_ERRORS", "ERRORS_METRIC", "PRESENCE_METRIC", "Failures", "decide_failures", "failures_of",
           "missing_benchmarks"]

#: the pseudo-metric a benchmark's failed calls are decided on (a rate in %)
ERRORS_METRIC = "errors"
#: the pseudo-metric of a benchmark that is there, or missing
PRESENCE_METRIC = "presence"
#: one-sided false-alarm level of "clearly more errors": z = 3.09
ALPHA_ERRORS = 0.001
_Z = 3.090232306167813


class Failures:
    """Calls and failed calls of one benchmark over some records, and the first error."""

    def __init__(self) -> None:
        self.calls = 0
        self.failed = 0
        self.first_error: str | None = None

    def add(self, entry: Benchmark) -> None:
        self.calls += entry.calls
        self.failed += entry.errors + entry.timeouts
        if self.first_error is None and entry.error_samples:
            self.first_error = entry.error_samples[0]

    @property
    def rate(self) -> float | None:
        return self.failed / self.calls if self.calls else None


def failures_of(records: Iterable[Record]) -> dict[str, Failures]:
    """Benchmark label -> its calls and failures over ``records``."""
    found: dict[str, Failures] = {}
    for record in records:
        for entry in record.benchmarks:
            found.setdefault(entry.label, Failures()).add(entry)
    return found


def decide_failures(current: Failures, baseline: Failures | None) -> Decision | None:
    """The verdict on a benchmark's failed calls, or ``None`` when neither side failed a
    call (nothing to say). Rates are in per cent; ``baseline`` is ``None`` without one."""
    before = baseline.rate if baseline is not None else None
    now = current.rate
    if now is None or (current.failed == 0 and not before):
        return None
    counts = {"baseline_runs": baseline.calls if baseline is not None else 0, "current_runs": current.calls}
    change = (now / before - 1) if before else None
    shown = {"baseline": None if before is None else before * 100, "current": now * 100, "change": change}
    if current.failed == current.calls:
        return Decision("broken", **shown, **counts, suspect=False)
    if before is None or before == 0:
        return Decision("errors", **shown, **counts)
    if current.failed == 0:
        return Decision("improvement", **shown, **counts)
    z = (now - before) / math.sqrt(before * (1 - before) / current.calls) if before < 1 else 0.0
    verdict = "errors" if z > _Z else "improvement" if z < -_Z else "unchanged"
    return Decision(verdict, **shown, **counts)


def missing_benchmarks(latest: Sequence[Record], current: Sequence[Record]) -> list[Benchmark]:
    """The benchmarks of the baseline's ``latest`` commit that no record of ``current``
    has (compared by label: name and params), in the baseline's order."""
    present = {entry.label for record in current for entry in record.benchmarks}
    seen: dict[str, Benchmark] = {}
    for record in latest:
        for entry in record.benchmarks:
            if entry.label not in present:
                seen.setdefault(entry.label, entry)
    return list(seen.values())
