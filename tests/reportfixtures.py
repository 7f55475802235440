"""Histories for the report tests: two environments, a step, a retried job, and a benchmark
name and commit titles that try to be HTML, Markdown and script."""

from __future__ import annotations

from typing import Any

import numpy as np
from comparefixtures import FINGERPRINT, OTHER_FINGERPRINT, bench_record, noisy

PROJECT = "https://gitlab.example.com/group/proj"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_TITLE = "[x](javascript:alert(2)) <img src=x onerror=alert(3)> **bold** & </title>"
#: latency of "double" in the first environment steps from 10 to 13 ms at this commit
STEP_AT = 16


def site_records(commits: int = 24, *, seed: int = 5, environments: tuple[str, ...] = (FINGERPRINT, OTHER_FINGERPRINT),
                 ref: str = "main") -> list[dict[str, Any]]:
    """One record per commit and environment (commit 5 of the first environment twice: a
    retried job), every third commit titled with ``HOSTILE_TITLE``."""
    rng = np.random.default_rng(seed)
    records = []
    for n in range(1, commits + 1):
        for slot, fingerprint in enumerate(environments):
            for rerun in range(2 if (n == 5 and slot == 0) else 1):
                level = 13.0 if (n >= STEP_AT and slot == 0) else 10.0 + 20 * slot
                record = bench_record({
                    "double": {"latency_ms": noisy(rng, level, 3),
                               "throughput": {"unit": "items/s", "direction": "higher", "value": 100.0,
                                              "runs": noisy(rng, 100.0, 3)}},
                    HOSTILE_NAME: noisy(rng, 5.0, 3),
                }, n=n, rerun=slot * 2 + rerun, fingerprint=fingerprint, ref=ref)
                record["source"].update(
                    commit_title=HOSTILE_TITLE if n % 3 == 0 else f"Commit {n}", project_url=PROJECT,
                    pipeline_id=str(700 + n), pipeline_url=f"{PROJECT}/-/pipelines/{700 + n}")
                records.append(record)
    return records
