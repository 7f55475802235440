"""``report.outfolder``: the site is swapped in whole, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchtrail.errors import ReportError
from benchtrail.report.outfolder import publish


def site(text: str):  # type: ignore[no-untyped-def]
    def write(folder: Path) -> str:
        (folder / "index.html").write_text(text, encoding="utf-8")
        return text
    return write


def test_a_new_site_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "public"
    assert publish(out, site("one")) == "one"
    (out / "stale.html").write_text("old", encoding="utf-8")
    publish(out, site("two"))
    assert (out / "index.html").read_text(encoding="utf-8") == "two" and not (out / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]


def test_a_failed_build_leaves_the_old_site_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "public"
    publish(out, site("one"))

    def broken(folder: Path) -> None:
        (folder / "index.html").write_text("half", encoding="utf-8")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        publish(out, broken)
    assert (out / "index.html").read_text(encoding="utf-8") == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]


def test_a_folder_that_is_no_site_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match="not a site benchtrail wrote"):
        publish(tmp_path / "src", site("x"))
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ReportError, match="is a file"):
        publish(tmp_path / "file", site("x"))
    assert (tmp_path / "src" / "main.py").exists()
    (tmp_path / "empty").mkdir()
    publish(tmp_path / "empty", site("x"))
