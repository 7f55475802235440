"""The regression alert of the default branch: a chat message (Slack/Mattermost ``text``)
plus the regressed rows of the comparison document, POSTed to a webhook."""

from __future__ import annotations

from typing import Any

from benchtrail.compare.comparison import Comparison, Row
from benchtrail.compare.document import comparison_document
from benchtrail.compare.render import confirmed_how, format_change, format_quantity
from benchtrail.errors import WebhookError
from benchtrail.gitlab.webhook import post_webhook

__all__ = ["alert_regression", "webhook_payload"]

_LISTED = 10  # regressions named in the text; the rest are counted
#: what the default branch is alerted on: slower, or failing calls (a removal there was merged on purpose)
_ALERTED = ("broken", "errors", "regression")


def _line(row: Row) -> str:
    if row.verdict != "regression":  # broken or erring: what fails matters more than the rate
        return f"- {row.suite} {row.label}: {row.verdict}" + (f": {row.detail}" if row.detail else "")
    how = confirmed_how(row)
    return (f"- {row.suite} {row.label} {row.metric}: {format_change(row.decision.change)} "
            f"({format_quantity(row.decision.baseline, row.unit)} -> {format_quantity(row.decision.current, row.unit)})"
            + (f", confirmed in {how}" if how else ""))


def webhook_payload(comparison: Comparison) -> dict[str, Any]:
    """The alert for a regression on the default branch: a Slack/Mattermost ``text`` plus
    the comparison document's fields with its regressed results only."""
    source = comparison.source
    regressed = [r for r in comparison.rows if r.verdict in _ALERTED]
    where = f"{source.ref or comparison.target_ref} at {(source.commit or '?')[:12]}"
    lines = [f"benchtrail: {len(regressed)} regression{'s' if len(regressed) != 1 else ''} on {where}"]
    lines += [_line(r) for r in regressed[:_LISTED]]
    if len(regressed) > _LISTED:
        lines.append(f"- and {len(regressed) - _LISTED} more")
    if source.pipeline_url:
        lines.append(f"Pipeline: {source.pipeline_url}")
    body = comparison_document(comparison)
    body["results"] = [r for r in body["results"] if r["verdict"] in _ALERTED]
    # Slack and Mattermost read <...> as links and mentions (<!channel>): escape as they ask
    text = "\n".join(lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {**body, "text": text, "commit": source.commit, "ref": source.ref, "pipeline_url": source.pipeline_url}


def alert_regression(comparison: Comparison, url: str, *, baseline_ref: str) -> str | None:
    """POST the regression alert when the runs compared are of the baseline branch itself
    (the default branch: a merge request's regression is the note's business) and
    regressed. Returns the line to show, or ``None`` when there was nothing to post. A
    webhook that fails is a warning: the verdict stands whatever the chat server says."""
    if not any(r.verdict in _ALERTED for r in comparison.rows) or comparison.source.ref != baseline_ref:
        return None
    try:
        post_webhook(url, webhook_payload(comparison))
    except WebhookError as exc:
        return f"Warning: the regression alert was not posted: {exc}"
    return "Posted the regression alert to the webhook"
