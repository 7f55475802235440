"""How long benchtrail waits for a network: one setting for every exchange (git with a
remote, the GitLab API, a webhook), so that a stalled or dripping server ends a CI job's
step in one clear line instead of at the job's own timeout."""

from __future__ import annotations

import math
import os

from benchtrail.errors import BenchtrailError

__all__ = ["NETWORK_TIMEOUT_S", "NETWORK_TIMEOUT_VARIABLE", "network_timeout_s", "seconds_from"]

#: A fetch of the results branch tip, a push of one commit or a note takes seconds; two
#: minutes is a server that will not answer, well before a CI job's own timeout.
NETWORK_TIMEOUT_S = 120.0
#: the environment variable that sets another deadline, in seconds
NETWORK_TIMEOUT_VARIABLE = "BENCHTRAIL_NETWORK_TIMEOUT"


def seconds_from(variable: str, default: float) -> float | None:
    """The seconds the environment variable ``variable`` gives, ``default`` when it is unset
    or empty; ``None`` when it holds no finite number above 0 (the caller says so)."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def network_timeout_s(error: type[BenchtrailError]) -> float:
    """``BENCHTRAIL_NETWORK_TIMEOUT`` in seconds, else ``NETWORK_TIMEOUT_S``; raises
    ``error`` for a value that is not a number above 0."""
    seconds = seconds_from(NETWORK_TIMEOUT_VARIABLE, NETWORK_TIMEOUT_S)
    if seconds is None:
        text = os.environ.get(NETWORK_TIMEOUT_VARIABLE, "").strip()
        raise error(f"{NETWORK_TIMEOUT_VARIABLE}: expected a number of seconds above 0, found {text[:40]!r}")
    return seconds
