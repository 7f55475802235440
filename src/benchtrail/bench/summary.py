"""The harness's check of its own figures: runs that disagree too much to trust."""

from __future__ import annotations

__all__ = ["spread_warning"]

#: pyperf's threshold: a spread this large means the figures are unstable.
_LARGE_SPREAD = 0.10


def spread_warning(run_values: list[float], what: str) -> str | None:
    """A warning when the worker runs' headline values differ by 10 % of their mean or
    more: the figures then depend on which process measured them."""
    import statistics

    if len(run_values) < 2:
        return None
    mean = statistics.fmean(run_values)
    stdev = statistics.stdev(run_values)
    if mean > 0 and stdev >= _LARGE_SPREAD * mean:
        return f"{what}: the runs differ by {stdev / mean:.0%} of their mean (stdev): the figures may be unstable"
    return None
