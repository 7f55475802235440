"""``benchtrail compare``: the records under test against their baseline on the results branch.

Load the records, read their suites' history from the results branch, decide, confirm
the suspects by running them again beside the merge base (``confirm``), then hand the
verdict on: the comparison
document (``--json``), the note's Markdown, the JUnit and metrics reports, the webhook
alert, and the exit code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchtrail.commands.defaults import CONFIRM_OUT, CONFIRM_TIMES
from benchtrail.compare.comparison import Comparison
from benchtrail.compare.defaults import DEFAULT_MIN_EFFECT, DEFAULT_WINDOW
from benchtrail.errors import BenchtrailError, StoreError
from benchtrail.gitlab.ci import CiContext, read_ci
from benchtrail.results.branch import DEFAULT_BRANCH
from benchtrail.results.model import Image, Record
from benchtrail.results.record import record_bytes

__all__ = ["CompareOptions", "CompareOutcome", "commit_time", "compare", "read_baseline_history"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CompareOptions:
    files: Sequence[Path]
    #: the branch whose runs are the baseline
    baseline_ref: str
    repo: Path = Path(".")
    remote: str = "origin"
    branch: str = DEFAULT_BRANCH
    #: the merge base: compare with its runs, or the latest before it
    baseline_commit: str | None = None
    window: int = DEFAULT_WINDOW
    min_effect: float = DEFAULT_MIN_EFFECT
    #: what to print: ``table``, ``markdown`` or ``json``
    fmt: str = "table"
    fail_on_regression: bool = False
    #: a benchmark the baseline has and the records lack fails the gate too
    fail_on_missing: bool = True
    confirm_suite: Path | None = None
    confirm_times: int = CONFIRM_TIMES
    confirm_out: Path = CONFIRM_OUT
    json_path: Path | None = None
    markdown_path: Path | None = None
    junit_path: Path | None = None
    metrics_path: Path | None = None
    report_url: str | None = None
    #: its path is a secret: never in a repr
    webhook_url: str | None = field(default=None, repr=False)
    cache: Path | None = None
    fetch: bool = True


@dataclass(frozen=True)
class CompareOutcome:
    comparison: Comparison
    #: what goes to stdout, in the format asked for
    output: str
    #: lines for stderr: files written, the webhook's fate
    notices: tuple[str, ...]
    #: 1 when a verdict fails the gate (regression, errors, broken, missing) under
    #: ``fail_on_regression``, else 0
    exit_code: int


def commit_time(repo: str | Path, commit: str) -> str | None:
    """The committer date of ``commit`` in ``repo``, or ``None`` when the clone lacks it
    (CI clones are shallow; the merge base may be outside them)."""
    from benchtrail.results.gitrepo import open_repo

    if not re.fullmatch(r"[0-9a-f]{7,64}", commit):
        return None  # not a commit name: never handed to git as an option
    try:
        return open_repo(repo).run("show", "-s", "--format=%cI", "--end-of-options", commit, "--").strip() or None
    except StoreError:
        return None


def read_baseline_history(suites: Sequence[str], **options: Any) -> list[Record]:
    """Every record of ``suites`` on the results branch (``iter_records`` options); none
    when the branch does not exist yet: a project's first merge requests have no baseline."""
    from benchtrail.results.history import NoResultsBranch, iter_records

    found: list[Record] = []
    for suite in suites:
        try:
            found.extend(stored.record for stored in iter_records(suite=suite, **options))
        except NoResultsBranch as exc:
            log.warning("%s: nothing to compare with yet", exc)
            return []
    return found


def _once(records: list[Record], files: Sequence[Path]) -> list[Record]:
    """``records`` with each run once: a record given twice (the same file twice, or a glob
    that matches one artifact in two places) would count its runs twice and make a
    change look surer than it is. The same job and start, or the same content, is one run."""
    kept: dict[tuple[str | None, str, str], Path] = {}
    unique = []
    for record, path in zip(records, files):
        key = (record.source.job_id, record.run.started_at, record.suite) if record.source.job_id else (
            None, record_bytes(record).decode("utf-8"), record.suite)
        if key in kept:
            log.warning("%s is the same run as %s: counted once", path, kept[key])
            continue
        kept[key] = path
        unique.append(record)
    return unique


def _decide(options: CompareOptions, ci: CiContext) -> Comparison:
    """Load, read the baseline history, decide, and confirm the suspects."""
    from benchtrail.compare.comparison import compare_records
    from benchtrail.compare.rule import GATE
    from benchtrail.results.record import load_record

    if not options.files:
        raise BenchtrailError("compare: no record files given")
    baseline_commit = options.baseline_commit
    if baseline_commit and set(baseline_commit) == {"0"}:
        baseline_commit = None  # GitLab's "no commit" (e.g. CI_COMMIT_BEFORE_SHA of a new branch)
    from benchtrail.results.gitrepo import remote_access

    current = _once([load_record(path) for path in options.files], options.files)
    access = remote_access(options.remote, ci.push_url(), ci.secrets)
    history = read_baseline_history(sorted({r.suite for r in current}), repo=options.repo,
                                    remote=options.remote, branch=options.branch, cache=options.cache,
                                    fetch=options.fetch, access=access)
    when = commit_time(options.repo, baseline_commit) if baseline_commit else None
    if baseline_commit and when is None:
        when = next((r.source.commit_time for r in history if r.source.commit == baseline_commit), None)
        if when is None:
            log.warning("the merge base %s has no runs and is not in this clone: comparing with the latest "
                        "runs of %s (fetch it, e.g. GIT_DEPTH: 0, to compare with the runs before it)",
                        baseline_commit[:12], options.baseline_ref)
    gate = GATE if options.fail_on_missing else tuple(v for v in GATE if v != "missing")
    rule = {"target_ref": options.baseline_ref, "merge_base": baseline_commit, "merge_base_time": when, "gate": gate,
            "min_effect": options.min_effect, "window": options.window}
    comparison = compare_records(current, history, **rule)
    if options.confirm_suite is not None and options.confirm_times:
        from benchtrail.bench.fingerprint import job_image
        from benchtrail.commands.confirm import ConfirmOptions, confirm

        image: Image | None = job_image(ci.job_image) if ci.job_image else None
        confirming = ConfirmOptions(suite_path=options.confirm_suite, out_dir=options.confirm_out,
                                    times=options.confirm_times, against=baseline_commit, repo=options.repo,
                                    access=access, job_image=image)
        comparison = confirm(comparison, current, confirming,
                             lambda records: compare_records(records, history, **rule))
    return comparison


def _output(comparison: Comparison, options: CompareOptions) -> str:
    from benchtrail.compare.render import render_table

    if options.fmt == "json":
        from benchtrail.compare.document import comparison_text

        return comparison_text(comparison)
    if options.fmt == "markdown":
        from benchtrail.gitlab.markdown import render_markdown

        return render_markdown(comparison, report_url=options.report_url)
    return render_table(comparison)


def _write_files(comparison: Comparison, options: CompareOptions) -> list[str]:
    """Write the files asked for; a line per file for stderr."""
    from benchtrail.compare.document import dump_comparison
    from benchtrail.gitlab.markdown import render_markdown
    from benchtrail.gitlab.reports import write_reports

    written = []
    if options.json_path is not None:
        written.append(dump_comparison(comparison, options.json_path))
    written += write_reports(comparison, render_markdown(comparison, report_url=options.report_url),
                             markdown=options.markdown_path, junit=options.junit_path,
                             metrics=options.metrics_path)
    return [f"Wrote {path}" for path in written]


def compare(options: CompareOptions, ci: CiContext | None = None) -> CompareOutcome:
    """Compare ``options.files`` with their baseline; write what ``options`` asks for,
    alert the webhook on a regression of the baseline branch itself."""
    ci = ci if ci is not None else read_ci()
    comparison = _decide(options, ci)
    output = _output(comparison, options)
    notices = _write_files(comparison, options)
    if options.webhook_url:
        from benchtrail.gitlab.alert import alert_regression

        said = alert_regression(comparison, options.webhook_url, baseline_ref=options.baseline_ref)
        if said:
            notices.append(said)
    regressed = comparison.failed and options.fail_on_regression
    return CompareOutcome(comparison, output, tuple(notices), 1 if regressed else 0)
