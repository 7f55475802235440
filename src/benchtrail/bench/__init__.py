"""The harness: load a suite, drive its workloads in worker processes, write one record."""

from __future__ import annotations

from benchtrail.bench.runner import run_suite
from benchtrail.bench.suite import DEFAULT_SUITE, BenchmarkSpec, Suite, load_suite

__all__ = ["DEFAULT_SUITE", "BenchmarkSpec", "Suite", "load_suite", "run_suite"]
