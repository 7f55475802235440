"""The results branch's default name and what a branch name may be, in a module of its own:
``benchtrail --help`` shows the name and must not load the store (git, the record model)."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_BRANCH", "branch_problem"]

DEFAULT_BRANCH = "benchtrail-results"

#: what ``git check-ref-format --branch`` refuses anywhere in a name
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def branch_problem(name: str) -> str | None:
    """Why ``name`` is no branch name git accepts (its ``check-ref-format`` rules), or
    ``None``. A full ref (``refs/heads/x``) is refused too: it would become
    ``refs/heads/refs/heads/x``."""
    if name.startswith("refs/"):
        return f"give the branch's name, not its ref: {name.removeprefix('refs/heads/')!r}"
    if (not name or name == "@" or name.startswith(("-", "/")) or name.endswith(("/", ".", ".lock"))
            or _FORBIDDEN.search(name) or any(part.startswith(".") or part.endswith(".lock")
                                               for part in name.split("/"))):
        return f"{name!r} is not a branch name git accepts (see `git check-ref-format`)"
    return None
