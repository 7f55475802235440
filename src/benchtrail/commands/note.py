"""``benchtrail note``: the merge request note of one suite, from a comparison document.

The note is rendered from the document ``benchtrail compare --json`` wrote, never from
its Markdown. Outside a merge request pipeline, or without a token that may write notes,
the note is skipped with one line that says why; GitLab's refusals are ``GitLabError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchtrail.commands.defaults import COMPARISON_PATH
from benchtrail.errors import ComparisonError
from benchtrail.gitlab.ci import CiContext, read_ci

__all__ = ["NoteOptions", "note"]


@dataclass(frozen=True, kw_only=True)
class NoteOptions:
    comparison: Path = COMPARISON_PATH
    #: the suite whose note to post; ``None``: the only one in the document
    suite: str | None = None
    #: ``always``, ``changed`` or ``regressed``: when a *new* note is posted
    when: str = "always"
    dry_run: bool = False
    report_url: str | None = None
    #: where this job keeps the merge request's page (``report --comparison``) among its
    #: artifacts: the note links to it there
    mr_page: str | None = None
    gitlab_url: str | None = None
    project: str | None = None
    mr_iid: str | None = None


def _suite(suites: list[str], asked: str | None, path: Path) -> str:
    if not suites:
        raise ComparisonError(f"{path}: the comparison has no results, so no note to post")
    if asked is None and len(suites) > 1:
        raise ComparisonError(f"{path} compares several suites: say which with --suite ({', '.join(suites)})")
    suite = asked if asked is not None else suites[0]
    if suite not in suites:
        raise ComparisonError(f"--suite: no suite {suite!r} in {path} (it has {', '.join(suites)})")
    return suite


def note(options: NoteOptions, ci: CiContext | None = None) -> str:
    """Post or update the note and return one line saying what happened (a dry run
    returns the note it would post instead)."""
    from benchtrail.compare.document import load_comparison
    from benchtrail.gitlab.markdown import render_note
    from benchtrail.gitlab.notes import TOKEN_ADVICE, note_target, note_text, should_post, upsert_note

    ci = ci if ci is not None else read_ci()
    comparison = load_comparison(options.comparison)
    suite = _suite(comparison.suites, options.suite, options.comparison)
    verdict = comparison.for_suite(suite).verdict
    mr_page_url = ci.artifact_url(options.mr_page) if options.mr_page else None
    body = render_note(comparison, suite, report_url=options.report_url, mr_page_url=mr_page_url)
    wanted = should_post(options.when, verdict)
    if options.dry_run:
        return note_text(body, suite)
    if options.mr_iid is None and not ci.mr_iid:
        return (f"merge request note for {suite} skipped: not a merge request pipeline "
                f"(CI_MERGE_REQUEST_IID is not set)")
    if ci.note_token is None or ci.note_token_variable is None:
        return (f"merge request note for {suite} skipped: no token to write it with (CI_JOB_TOKEN cannot write "
                f"merge request notes); {TOKEN_ADVICE}")
    target = note_target(ci, project=options.project, mr_iid=options.mr_iid, server_url=options.gitlab_url)
    outcome = upsert_note(body, suite=suite, target=target, token=ci.note_token, create=wanted,
                          token_variable=ci.note_token_variable)
    if outcome.action == "skipped":
        return (f"merge request note for {suite} not posted on {target.shown}: the verdict is {verdict} and "
                f"notes are posted when={options.when}")
    done = {"created": "created", "updated": "updated", "unchanged": "already up to date:"}[outcome.action]
    return f"merge request note for {suite} {done} {outcome.web_url}"
