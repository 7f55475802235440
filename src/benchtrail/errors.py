"""The exceptions benchtrail raises for problems a user can fix.

Every one of them carries the exit code the CLI uses; anything else that escapes is a
bug (``EXIT_BUG``, 3: also what a worker process or the benchtrail in a container exits
with when its own code failed). ``cli.main`` is the only place that turns them into output::

    BenchtrailError            exit 2: a user or environment error
    ├── SuiteError             the suite file: syntax, fields, targets that do not import
    ├── DatasetError           a dataset file: missing, unreadable, wrong shape
    ├── RecordError            a result record: invalid JSON, wrong schema, refused write
    ├── ComparisonError        a comparison document: unreadable, invalid, refused write
    ├── StoreError             the results branch: git, fetch and push problems
    ├── GitLabError            the GitLab API or CI environment
    ├── DockerError            the Docker engine or an image
    ├── ImportFormatError      another tool's output that cannot be imported
    ├── ReportError            a report file (note, JUnit, metrics) that cannot be written
    └── WebhookError           a chat webhook: refused, unreachable, malformed URL
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_BUG",
    "BenchtrailError",
    "ComparisonError",
    "DatasetError",
    "DockerError",
    "GitLabError",
    "ImportFormatError",
    "RecordError",
    "ReportError",
    "StoreError",
    "SuiteError",
    "WebhookError",
]


#: the exit code of a bug: never 1 ("regression") nor 2 ("your mistake")
EXIT_BUG = 3


class BenchtrailError(Exception):
    """A problem the user can fix; ``problems`` lists every one found, one line each."""

    exit_code: ClassVar[int] = 2

    def __init__(self, *problems: str) -> None:
        if not problems:
            raise TypeError("a BenchtrailError needs at least one problem line")
        super().__init__(problems[0] if len(problems) == 1 else "\n".join(problems))
        self.problems: tuple[str, ...] = problems


class SuiteError(BenchtrailError):
    """The suite file or one of its benchmarks is wrong."""


class DatasetError(BenchtrailError):
    """A dataset named by the suite cannot be used."""


class RecordError(BenchtrailError):
    """A result record is not valid, or cannot be written."""


class ComparisonError(BenchtrailError):
    """A comparison document is not valid, or cannot be read or written."""


class StoreError(BenchtrailError):
    """The results branch cannot be read or written."""


class GitLabError(BenchtrailError):
    """The GitLab API or the CI environment refused or lacks something."""


class DockerError(BenchtrailError):
    """The Docker engine or an image cannot be used."""


class ImportFormatError(BenchtrailError):
    """Another tool's output cannot be turned into records."""


class ReportError(BenchtrailError):
    """A report file cannot be written."""


class WebhookError(BenchtrailError):
    """A webhook refused a message, could not be reached, or its URL is not usable."""
