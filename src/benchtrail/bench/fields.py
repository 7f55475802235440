"""Checks for suite-file fields that report instead of raising.

Each check adds a one-line problem (``suite.toml: benchmark[2].runs: expected ...``) and
returns ``BAD``, so ``load_suite`` can go on and report every problem of a file at once.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import string
from pathlib import Path
from typing import Any

from benchtrail.errors import SuiteError

__all__ = ["BAD", "Problems", "check_headers", "field_key", "integer", "not_json", "number", "show"]

BAD = object()  # a setting that was wrong: reported once, then the built-in default is used
_MAX_SHOWN = 60
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Problems:
    """The problems found in one suite file, each a line naming the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"{self.path.name}: {where}: {message}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise SuiteError(*self.lines)


def field_key(name: str) -> str:
    """A key as it goes into a field path: bare like TOML's bare keys, else quoted, so a
    dot, a space or a line break in a key keeps the message one line and unambiguous."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def show(value: Any) -> str:
    """``repr(value)`` cut to a few dozen characters, for "found ..." in a message."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def not_json(value: Any) -> str | None:
    """What in a TOML value cannot be sent as JSON (dates and times, nan, inf), if anything."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            return show(item)
        elif isinstance(item, (dt.date, dt.time)):  # datetime is a date
            return f"the TOML date or time {item.isoformat()}"
        elif not isinstance(item, (str, int, float, bool)):
            return show(item)
    return None


def check_headers(headers: Any, where: str, problems: Problems) -> None:
    if not isinstance(headers, dict):
        problems.add(f"{where}.headers", f"expected a table of header = value, found {show(headers)}")
        return
    for header, value in headers.items():
        field_name = f"{where}.headers.{field_key(header)}"
        if not _HEADER_NAME.fullmatch(header):
            problems.add(field_name, "expected a header name (letters, digits and !#$%&'*+-.^_`|~)")
            continue
        if not isinstance(value, str):
            problems.add(field_name, f"expected a string, found {show(value)}")
            continue
        try:
            filled = string.Template(value).substitute(os.environ)
        except KeyError as exc:
            problems.add(field_name, f"environment variable {exc.args[0]} is not set")
            continue
        except ValueError as exc:
            problems.add(field_name, f"bad ${{VAR}} reference: {exc}")
            continue
        # The filled-in value may hold a secret: say what is wrong, never show it.
        if any(char in filled for char in "\r\n\0"):
            problems.add(field_name, "the value (after ${VAR} substitution) contains a line break or NUL")


def integer(value: Any, where: str, problems: Problems | None, minimum: int) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        if problems is not None:
            problems.add(where, f"expected a whole number >= {minimum}, found {show(value)}")
        return BAD
    return value


def number(value: Any, where: str, problems: Problems) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        ok = ok and value > 0 and math.isfinite(value)
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        problems.add(where, f"expected a finite number > 0, found {show(value)}")
        return BAD
    return float(value)
