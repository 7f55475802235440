"""The baseline window: target branch, same environment, up to the merge base, N commits."""

from __future__ import annotations

from typing import Any

import pytest
from comparefixtures import OTHER_FINGERPRINT, bench_record, sha, stamp, typed

from benchtrail.compare.baseline import choose_baseline
from benchtrail.results.model import Record


def on_main(*numbers: int, **fields: Any) -> list[dict[str, Any]]:
    return [bench_record({"double": [1.0, 1.0, 1.0]}, n=n, **fields) for n in numbers]


def commits(records: tuple[Record, ...]) -> list[str]:
    return [r.source.commit for r in records]


def choose(history: list[dict[str, Any]], **options: Any):  # type: ignore[no-untyped-def]
    options = {"suite": "demo", "fingerprint": on_main(0)[0]["environment"]["fingerprint"],
               "target_ref": "main", **options}
    return choose_baseline(typed(history), **options)


def test_only_the_target_ref_the_suite_and_the_fingerprint_count() -> None:
    history = [*on_main(1, 2), *on_main(3, ref="feature"), *on_main(4, suite="other"),
               *on_main(5, fingerprint=OTHER_FINGERPRINT), *on_main(6, ref=None)]
    baseline = choose(history)
    assert commits(baseline.records) == [sha(1), sha(2)]
    assert baseline.anchor == sha(2) and baseline.commits == 2
    assert not baseline.at_merge_base and not baseline.environment_changed


def test_runs_only_in_other_fingerprints_mean_the_environment_changed() -> None:
    history = [*on_main(1, 2, fingerprint=OTHER_FINGERPRINT), *on_main(3, ref="feature")]
    baseline = choose(history)
    assert baseline.environment_changed
    assert baseline.records == () and baseline.anchor is None and baseline.commits == 0


def test_no_runs_of_the_suite_on_the_target_is_no_baseline_not_a_changed_environment() -> None:
    baseline = choose(on_main(1, ref="feature") + on_main(2, suite="other", fingerprint=OTHER_FINGERPRINT))
    assert baseline.records == () and not baseline.environment_changed


def test_the_merge_base_anchors_the_window() -> None:
    history = on_main(*range(1, 11))
    history.append(bench_record({"double": [1.0]}, n=6, rerun=1))  # the merge base, run twice
    baseline = choose(history, merge_base=sha(6), merge_base_time=stamp(9))
    assert commits(baseline.records) == [sha(n) for n in (1, 2, 3, 4, 5, 6, 6)]
    assert baseline.at_merge_base and baseline.anchor == sha(6)


def test_without_runs_of_its_own_the_merge_base_time_is_the_cutoff() -> None:
    history = on_main(1, 2, 3, 5, 6)  # commit 4, the merge base, has no runs
    baseline = choose(history, merge_base=sha(4), merge_base_time=stamp(4))
    assert commits(baseline.records) == [sha(1), sha(2), sha(3)]
    assert not baseline.at_merge_base and baseline.anchor == sha(3)


def test_the_cutoff_compares_instants_whatever_the_utc_offset() -> None:
    history = on_main(1, 2, 3, 5, 6)
    local = "2026-03-01T05:30:00+02:00"  # 03:30Z: after commit 3 (03:00Z), before commit 5 (05:00Z)
    assert commits(choose(history, merge_base=sha(4), merge_base_time=local).records) == [sha(1), sha(2), sha(3)]


def test_without_a_merge_base_the_latest_runs_are_the_baseline() -> None:
    baseline = choose(on_main(3, 1, 2))  # any order in, oldest commit first out
    assert commits(baseline.records) == [sha(1), sha(2), sha(3)]
    assert baseline.anchor == sha(3)


def test_commit_time_orders_the_runs_before_start_time() -> None:
    late_rerun_of_old = bench_record({"double": [1.0]}, n=1, rerun=0, commit_time=stamp(1))
    late_rerun_of_old["run"]["started_at"] = stamp(10)
    baseline = choose([late_rerun_of_old, *on_main(2)])
    assert baseline.anchor == sha(2)


def test_the_window_counts_commits_not_records() -> None:
    history = on_main(*range(1, 11))
    history += [bench_record({"double": [1.0]}, n=n, rerun=k) for n in (8, 9) for k in (1, 2)]
    baseline = choose(history, window=3)
    assert sorted(commits(baseline.records)) == [sha(8)] * 3 + [sha(9)] * 3 + [sha(10)]
    assert baseline.commits == 3
    with pytest.raises(ValueError, match="at least one commit"):
        choose(history, window=0)


def test_the_commit_under_test_is_never_its_own_baseline() -> None:
    history = on_main(1, 2, 3)
    baseline = choose(history, exclude_commit=sha(3))
    assert commits(baseline.records) == [sha(1), sha(2)]
    assert not choose(on_main(3), exclude_commit=sha(3)).environment_changed
