"""Write a site into a temporary folder next to ``--out`` and swap it into place at the end.

A build that fails leaves the previous site as it was and no half-written one (asv and
mkdocs clear the old site first). A folder that is not a site benchtrail wrote is never
replaced: ``--out .`` must not take a checkout with it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from benchtrail.errors import ReportError

__all__ = ["MARKER", "publish"]

#: the file every site and MR page has: what tells a folder we may replace
MARKER = "index.html"

T = TypeVar("T")


def _check(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ReportError(f"{out}: --out is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ReportError(f"{out}: not empty and not a site benchtrail wrote (no {MARKER}): "
                          f"give --out a new or empty folder")


def publish(out: Path, write: Callable[[Path], T]) -> T:
    """Call ``write(folder)`` on a new temporary folder beside ``out``, then put that folder
    in ``out``'s place; ``ReportError`` when ``out`` cannot be written."""
    out = Path(os.path.abspath(out))
    _check(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f".{out.name}-building-", dir=out.parent))
        building.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the site: {exc.strerror or exc}") from None
    old = None
    try:
        result = write(building)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, old / "site")
        os.replace(building, out)
    except OSError as exc:
        if old is not None and (old / "site").exists() and not out.exists():
            os.replace(old / "site", out)  # put the previous site back
        for folder in (building, old):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        raise ReportError(f"{out}: cannot write the site: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return result
