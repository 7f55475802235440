"""Each suite's latest status on the default branch, by the project's own rule.

The latest commit of the default branch (in each environment) is compared with that
branch's history before it, exactly as ``benchtrail compare`` would compare it
(``compare_records``): the verdicts are the gate's, not a second copy of the rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from benchtrail.compare.comparison import compare_records
from benchtrail.compare.render import count_verdicts
from benchtrail.compare.rule import VERDICTS
from benchtrail.results.model import Record
from benchtrail.results.timestamps import instant

__all__ = ["STATUSES", "SuiteStatus", "status_key", "suite_status"]

#: what the index shows, the worst first
STATUSES = ("broken", "regressed", "inconclusive", "improved", "unchanged", "no baseline", "no runs")


@dataclass(frozen=True)
class SuiteStatus:
    status: str  # one of STATUSES
    #: the default branch the status is of
    ref: str | None
    #: the latest commit's records (one commit per environment)
    commits: tuple[str, ...] = ()
    #: verdict -> how many benchmark × metric rows got it, worst first
    counts: tuple[tuple[str, int], ...] = ()
    #: the counts in words: ``1 regression, 23 unchanged``
    summary: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "ref": self.ref, "commits": list(self.commits),
                "counts": [list(pair) for pair in self.counts], "summary": self.summary}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuiteStatus:
        return cls(data["status"], data["ref"], tuple(data["commits"]),
                   tuple((verdict, count) for verdict, count in data["counts"]), data["summary"])


def _status(verdicts: Counter[str]) -> str:
    if verdicts["broken"] or verdicts["errors"]:
        return "broken"
    if verdicts["regression"]:
        return "regressed"
    if verdicts["inconclusive"]:
        return "inconclusive"
    if verdicts["improvement"]:
        return "improved"
    if verdicts["unchanged"] or verdicts["missing"]:
        return "unchanged"
    return "no baseline"


def _latest(records: Sequence[Record]) -> list[Record]:
    """The records of each environment's most recent commit."""
    newest: dict[str, tuple[object, str]] = {}
    for record in records:
        when = (instant(record.source.commit_time or record.run.started_at), instant(record.run.started_at))
        seen = newest.get(record.fingerprint)
        if seen is None or when > seen[0]:  # type: ignore[operator]
            newest[record.fingerprint] = (when, record.commit_key)
    return [r for r in records if newest[r.fingerprint][1] == r.commit_key]


def suite_status(records: Sequence[Record], ref: str | None) -> SuiteStatus:
    """The status of one suite's ``records`` (all of them, any ref) on ``ref``."""
    on_ref = [r for r in records if r.source.ref == ref]
    if not on_ref:
        return SuiteStatus("no runs", ref)
    latest = _latest(on_ref)
    comparison = compare_records(latest, on_ref, target_ref=ref)  # type: ignore[arg-type]
    verdicts = Counter(row.verdict for row in comparison.rows)
    counts = tuple((v, verdicts[v]) for v in VERDICTS if verdicts[v])
    commits = tuple(dict.fromkeys(r.source.commit or r.run.started_at for r in latest))
    return SuiteStatus(_status(verdicts), ref, commits, counts, count_verdicts(comparison))


def status_key(records: Iterable[Record], ref: str | None, version: str) -> str:
    """What a suite's status depends on, as a hash: its records (records on the results
    branch never change: each is known by its commit, job, start and environment), the
    ref, and ``version`` (benchtrail's: the rule may change)."""
    import hashlib
    import json

    runs = sorted((r.commit_key, r.source.job_id or "", r.run.started_at, r.fingerprint, r.source.ref or "")
                  for r in records)
    return hashlib.sha256(json.dumps(["status", version, ref, runs]).encode("utf-8")).hexdigest()
