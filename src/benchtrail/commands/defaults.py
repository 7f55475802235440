"""Where the commands read and write by default, and how hard they try: one place for the
options objects and for ``cli.py``, which shows them in ``--help`` without loading the
commands themselves."""

from __future__ import annotations

from pathlib import Path

__all__ = ["COMPARISON_PATH", "CONFIRM_OUT", "CONFIRM_ROUNDS", "CONFIRM_TIMES", "OUT_DIR", "RECORD_RETRIES", "RETRY_TIMEOUT_S"]

#: where ``run`` and ``import`` write records (and the record job records from)
OUT_DIR = Path("benchtrail-out")
#: the comparison document ``compare --json`` writes in the template and ``note`` reads
COMPARISON_PATH = Path("benchtrail-report/comparison.json")
#: where confirmation runs write their records: not under ``OUT_DIR``, which gets recorded
CONFIRM_OUT = Path("benchtrail-report/confirm")
#: how many more runs a suspect benchmark gets before the verdict, per side when paired
#: with the merge base: five pairs find a 20 % slowdown under a busy neighbour (docs/rule.md)
CONFIRM_TIMES = 5
#: rounds of ``CONFIRM_TIMES`` pairs at most: a suspect still inconclusive gets another round
CONFIRM_ROUNDS = 3
#: pushes ``record`` retries when another job pushed first (``None``: no count, only the
#: time), and for how long: 32 jobs recording 10 times each at once, on 2 cores, all land
#: (tools/perf/bench_writers.py), a stalled server still ends each git command sooner
RECORD_RETRIES: int | None = None
RETRY_TIMEOUT_S = 600.0
