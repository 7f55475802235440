"""Baseline choice, regression decision and change points over history."""

from __future__ import annotations

__all__: list[str] = []
