"""How long benchtrail waits for a network: one setting for every exchange (git with a
remote, the GitLab API, a webhook), so that a stalled or dripping server ends a CI job's
step in one clear line instead of at the job's own timeout."""

from __future__ import annotations

import math
import os

from benchtrail.errors import BenchtrailError

__all__ = ["NETWORK_TIMEOUT_S", "NETWORK_TIMEOUT_VARIABLE", "network_timeout_s"]

#: A fetch of the results branch tip, a push of one commit or a note takes seconds; two
#: minutes is a server that will not answer, well before a CI job's own timeout.
NETWORK_TIMEOUT_S = 120.0
#: the environment variable that sets another deadline, in seconds
NETWORK_TIMEOUT_VARIABLE = "BENCHTRAIL_NETWORK_TIMEOUT"


def network_timeout_s(error: type[BenchtrailError]) -> float:
    """``BENCHTRAIL_NETWORK_TIMEOUT`` in seconds, else ``NETWORK_TIMEOUT_S``; raises
    ``error`` for a value that is not a number above 0."""
    text = os.environ.get(NETWORK_TIMEOUT_VARIABLE, "").strip()
    if not text:
        return NETWORK_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise error(f"{NETWORK_TIMEOUT_VARIABLE}: expected a number of seconds above 0, found {text[:40]!r}")
    return seconds
