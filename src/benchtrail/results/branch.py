"""The results branch's default name, in a module of its own: ``benchtrail --help`` shows
it and must not load the store (git, the record model) to do so."""

from __future__ import annotations

__all__ = ["DEFAULT_BRANCH"]

DEFAULT_BRANCH = "benchtrail-results"
