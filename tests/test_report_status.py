"""``report.status``: each suite's latest commit on the default branch, by the project's rule."""

from __future__ import annotations

import numpy as np
from comparefixtures import bench_record, history, noisy, typed

from benchtrail.report.status import SuiteStatus, status_key, suite_status


def test_a_slower_latest_commit_is_a_regression_and_steady_ones_unchanged() -> None:
    steady = typed(history([10.0] * 12, seed=1))
    status = suite_status(steady, "main")
    assert (status.status, status.counts, status.summary) == ("unchanged", (("unchanged", 1),), "1 unchanged")
    slower = typed(history([10.0] * 11 + [14.0], seed=1))
    found = suite_status(slower, "main")
    assert found.status == "regressed" and found.commits == (slower[-1].source.commit,)
    faster = typed(history([10.0] * 11 + [7.0], seed=1))
    assert suite_status(faster, "main").status == "improved"
    assert SuiteStatus.from_json(found.to_json()) == found


def test_only_the_default_branch_counts() -> None:
    records = typed(history([10.0] * 6, seed=2) + history([20.0], seed=3, first=7, ref="feature"))
    assert suite_status(records, "main").status == "unchanged"
    assert suite_status(records, "release").status == "no runs"
    assert suite_status(typed(history([10.0], seed=2)), "main").status == "no baseline"


def test_every_call_failing_is_broken() -> None:
    rng = np.random.default_rng(4)
    records = [bench_record({"double": noisy(rng, 10.0)}, n=n) for n in range(1, 6)]
    records[-1]["benchmarks"][0]["errors"] = records[-1]["benchmarks"][0]["calls"]
    assert suite_status(typed(records), "main").status == "broken"


def test_the_key_is_of_the_records_the_ref_and_the_version() -> None:
    records = typed(history([10.0] * 3, seed=2) + history([10.0], seed=2, first=4, ref="release"))
    assert status_key(records, "main", "1") == status_key(list(reversed(records)), "main", "1")
    assert status_key(records, "main", "1") not in {status_key(records[:-1], "main", "1"),
                                                    status_key(records, "main", "2")}
