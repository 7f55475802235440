"""The rule's defaults, in a module of their own: ``benchtrail --help`` shows them and must
not load the rule (numpy) to do so."""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_EFFECT", "DEFAULT_WINDOW"]

#: the smallest relative change that counts as a regression (beyond the noise too)
DEFAULT_MIN_EFFECT = 0.05
#: how many baseline commits, ending at the merge base, give the baseline and its noise
DEFAULT_WINDOW = 20
