"""GitLab: the CI environment a job runs in, and what its tokens may do.

``ci`` reads the job's variables; ``access`` checks, before a record job pushes, that
the token it has may push, and says in one line what to grant when it may not.
"""

from __future__ import annotations

__all__: list[str] = []
