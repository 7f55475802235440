"""Which runs a merge request is compared with: the baseline window on the target branch.

Never "the previous entry of the history" (github-action-benchmark's rule, its most
common complaint: the previous entry can be another branch, another machine, or an
outlier). The baseline is the target branch's runs in the same environment fingerprint,
ending at the merge base: the merge-base commit's runs when it has some, else the most
recent runs before it; ``window`` commits of them, so that the rule can measure the
run-to-run noise and skip steps that already landed (see ``rule``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from benchtrail.compare.defaults import DEFAULT_WINDOW
from benchtrail.results.model import Record
from benchtrail.results.timestamps import instant

__all__ = ["DEFAULT_WINDOW", "Baseline", "choose_baseline"]



@dataclass(frozen=True)
class Baseline:
    """The records a comparison uses as its baseline, oldest commit first."""

    records: tuple[Record, ...]
    #: the last baseline commit: the merge base when it has runs
    anchor: str | None
    #: the anchor is the merge base itself (not the latest runs before it)
    at_merge_base: bool
    #: the target branch has runs of this suite, but none in this environment
    environment_changed: bool
    #: the runs stop at the merge base's commit time (it has no runs of its own)
    before_merge_base: bool = False

    @property
    def commits(self) -> int:
        """How many distinct commits the baseline spans."""
        return len({r.commit_key for r in self.records})

    def by_commit(self) -> list[list[Record]]:
        """The records grouped by commit (repeated jobs of one commit together), oldest first."""
        groups: dict[str, list[Record]] = {}
        for record in self.records:
            groups.setdefault(record.commit_key, []).append(record)
        return list(groups.values())


def _when(record: Record) -> Any:
    return instant(record.source.commit_time or record.run.started_at), instant(record.run.started_at)


def choose_baseline(
    history: Iterable[Record],
    *,
    suite: str,
    fingerprint: str,
    target_ref: str,
    merge_base: str | None = None,
    merge_base_time: str | None = None,
    window: int = DEFAULT_WINDOW,
    exclude_commit: str | None = None,
) -> Baseline:
    """The baseline of ``suite`` in environment ``fingerprint``: runs of ``target_ref``
    up to the merge base (its own runs when there are any; else runs whose commit time is
    not after ``merge_base_time``; else, the merge base unknown, the latest runs), the
    last ``window`` commits of them. ``exclude_commit`` (the commit under test) is never
    its own baseline."""
    if window < 1:
        raise ValueError("the baseline window needs at least one commit")
    on_target = [r for r in history
                 if r.suite == suite and r.source.ref == target_ref
                 and (exclude_commit is None or r.source.commit != exclude_commit)]
    same = sorted((r for r in on_target if r.fingerprint == fingerprint), key=_when)
    changed = bool(on_target) and not same
    at_base = merge_base is not None and any(r.source.commit == merge_base for r in same)
    if at_base:
        last = max(i for i, r in enumerate(same) if r.source.commit == merge_base)
        same = same[:last + 1]
    elif merge_base_time is not None:
        cutoff = instant(merge_base_time)
        same = [r for r in same if _when(r)[0] <= cutoff]
    commits: list[str] = []
    for record in reversed(same):
        if record.commit_key not in commits:
            commits.append(record.commit_key)
    kept = set(commits[:window])
    chosen = tuple(r for r in same if r.commit_key in kept)
    return Baseline(chosen, chosen[-1].commit_key if chosen else None, at_base, changed,
                    before_merge_base=not at_base and merge_base_time is not None)
