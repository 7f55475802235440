"""``benchtrail record``: commit result files to the results branch in one commit and push."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchtrail.commands.defaults import RECORD_RETRIES, RETRY_TIMEOUT_S
from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.branch import DEFAULT_BRANCH
from benchtrail.results.store import Recorded

__all__ = ["RecordOptions", "RecordOutcome", "record"]


@dataclass(frozen=True, kw_only=True)
class RecordOptions:
    files: Sequence[Path]
    repo: Path = Path(".")
    remote: str = "origin"
    branch: str = DEFAULT_BRANCH
    push: bool = True
    retries: int | None = RECORD_RETRIES
    retry_timeout_s: float = RETRY_TIMEOUT_S


@dataclass(frozen=True)
class RecordOutcome:
    recorded: Recorded
    #: lines for stderr: what was there already, and where the commit went
    notices: tuple[str, ...]


def _notices(done: Recorded, options: RecordOptions) -> tuple[str, ...]:
    """One line for what was there already (its path when it is one), one for the commit."""
    lines = []
    if done.already:
        which = f" ({done.already[0]})" if len(done.already) == 1 else ""
        lines.append(f"{len(done.already)} result(s) already recorded on {options.branch}{which}")
    if done.commit is not None:
        where = f"pushed to {options.remote}" if done.pushed else "committed locally (not pushed)"
        tries = f" after {done.attempts} attempts" if done.attempts > 1 else ""
        lines.append(f"Recorded {len(done.added)} result(s) on {options.branch} ({done.commit[:12]}), "
                     f"{where}{tries}")
    return tuple(lines)


def record(options: RecordOptions, ci: CiContext | None = None) -> RecordOutcome:
    """Record ``options.files`` on the results branch; what was added, and where. In
    GitLab CI the push goes to this project with the job's token, as the GitLab user who
    started the job."""
    from benchtrail.results.gitrepo import identity_env, remote_access
    from benchtrail.results.store import record as store_record

    ci = ci if ci is not None else read_ci()
    done = store_record(options.files, repo=options.repo, remote=options.remote, branch=options.branch,
                        push=options.push, retries=options.retries, retry_timeout_s=options.retry_timeout_s,
                        access=remote_access(options.remote, ci.push_url(), ci.secrets),
                        identity=identity_env(ci.user_name, ci.user_email))
    return RecordOutcome(done, _notices(done, options))
