"""``commands.show_history``: the history read from Python, as text in each format."""

from __future__ import annotations

import json
from pathlib import Path

from comparefixtures import STEP_AFTER_6, history, push_history, sha

from benchtrail.commands.show_history import HistoryOptions
from benchtrail.commands.show_history import history as show_history
from benchtrail.gitlab.ci import read_ci

pytest_plugins = ("gitfixtures",)


def test_points_and_change_points(work: Path, tmp_path: Path) -> None:
    push_history(work, history(STEP_AFTER_6 * 2, seed=41), tmp_path / "hist")
    points = json.loads(show_history(HistoryOptions(repo=work, fmt="json", metric="latency_ms"), read_ci({})).text)
    assert len(points) == 24 and {p["benchmark"] for p in points} == {"double"}
    assert [p["commit"] for p in points[:2]] == [sha(1), sha(2)]
    steps = json.loads(show_history(HistoryOptions(repo=work, fmt="json", change_points=True), read_ci({})).text)
    assert [s["commit"] for s in steps][:1] == [sha(7)]
    table = show_history(HistoryOptions(repo=work, suite="nosuch"), read_ci({})).text
    assert table.splitlines()[0].split()[:3] == ["date", "commit", "ref"]
