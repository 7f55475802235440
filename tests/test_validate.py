"""``commands.validate``: every file read, the valid ones named, every problem listed."""

from __future__ import annotations

import json
from pathlib import Path

from benchtrail.commands.validate import validate

GOLDEN = Path(__file__).parent / "data" / "records" / "result-1.json"


def test_valid_files_and_every_problem_of_the_others(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(GOLDEN.read_bytes())
    data = json.loads(GOLDEN.read_text(encoding="utf-8"))
    data["suite"] = "Not A Slug"
    del data["run"]["timer"]
    bad, broken = tmp_path / "bad.json", tmp_path / "broken.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    broken.write_text("{", encoding="utf-8")
    checked = validate([good, bad, broken])
    assert checked.valid == (good,)
    assert [line.split(": ")[1] for line in checked.problems[:2]] == ["$.run", "$.suite"]
    assert all(line.startswith(str(bad)) for line in checked.problems[:2])
    assert checked.problems[2].startswith(f"{broken}: not valid JSON")
    assert validate([good]).problems == ()
