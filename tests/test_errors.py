"""The exception hierarchy: exit codes and problem lines."""

from __future__ import annotations

import pytest

from benchtrail import errors


def test_every_error_is_a_user_error_with_exit_2() -> None:
    for name in errors.__all__:
        if name == "EXIT_BUG":
            continue
        cls = getattr(errors, name)
        assert issubclass(cls, errors.BenchtrailError)
        assert cls.exit_code == 2


def test_a_bug_exits_with_neither_a_regression_nor_a_user_error() -> None:
    assert errors.EXIT_BUG == 3 and errors.EXIT_BUG not in {1, errors.BenchtrailError.exit_code}


def test_problems_are_kept_one_per_line() -> None:
    exc = errors.SuiteError("a.toml: x: bad", "a.toml: y: bad")
    assert exc.problems == ("a.toml: x: bad", "a.toml: y: bad")
    assert str(exc) == "a.toml: x: bad\na.toml: y: bad"


def test_an_error_needs_a_problem() -> None:
    with pytest.raises(TypeError):
        errors.RecordError()
