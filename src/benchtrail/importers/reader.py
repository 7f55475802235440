"""Reading other tools' JSON with every problem tied to its file and JSON path.

An importer walks the parsed document through ``Node`` objects. A wrong or missing
field raises ``Bad`` at its JSON path (``$.benchmarks[2].stats.median``); ``Problems``
gathers them, one line each, so that a user sees every bad entry of a file at once,
not only the first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from benchtrail.errors import ImportFormatError
from benchtrail.results.schema import is_unicode, json_path, shorten

__all__ = ["Bad", "Node", "Problems", "limit", "load_json", "parse_json", "read_text"]

T = TypeVar("T")

#: No message lists more lines than this: a history with 10,000 bad entries says so briefly.
_MAX_LINES = 50
_LARGEST = 1e100


class Bad(Exception):
    """One problem at one JSON path of the input."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Node:
    """A value of the parsed input and the JSON path it was found at."""

    value: Any
    #: the path of a root node; a child's is its parent's and its key, written out only
    #: when a problem names it (an import walks millions of values)
    root_path: str = "$"
    parent: Node | None = field(default=None, repr=False, compare=False)
    key: str | int | None = None

    @cached_property
    def path(self) -> str:
        if self.parent is None:
            return self.root_path
        return self.parent.path + json_path((self.key,))[1:]

    def _child(self, value: Any, key: str | int) -> Node:
        return Node(value, parent=self, key=key)

    def fail(self, message: str) -> Bad:
        return Bad(self.path, message)

    def expected(self, what: str) -> Bad:
        return Bad(self.path, f"expected {what}, found {shorten(self.value)}")

    def obj(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise self.expected("an object")
        return self.value

    def get(self, key: str) -> Node:
        """The field ``key`` of this object; missing is a problem."""
        mapping = self.obj()
        if key not in mapping:
            raise Bad(self._child(None, key).path, "missing")
        return self._child(mapping[key], key)

    def opt(self, key: str) -> Node | None:
        """The field ``key`` of this object, or None when it is missing or null."""
        mapping = self.obj()
        if mapping.get(key) is None:
            return None
        return self._child(mapping[key], key)

    def fields(self) -> Iterator[tuple[str, Node]]:
        for key, value in self.obj().items():
            if not is_unicode(key):
                raise Bad(self.path, "expected Unicode text in a key, found a lone surrogate")
            yield key, self._child(value, key)

    def items(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.expected("an array")
        return [self._child(value, index) for index, value in enumerate(self.value)]

    def number(self, *, minimum: float | None = None, numeric_text: bool = False) -> float:
        """A finite number (``numeric_text``: also a string holding one, as some tools write)."""
        value = self.value
        if numeric_text and isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                raise self.expected("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.expected("a number")
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise self.expected("a finite number") from None
        if not math.isfinite(number):
            raise self.expected("a finite number")
        if abs(number) > _LARGEST:  # far beyond any measurement; squares would overflow
            raise self.expected(f"a number between -{_LARGEST:g} and {_LARGEST:g}")
        if minimum is not None and number < minimum:
            raise self.expected(f"a number >= {minimum:g}")
        return number

    def integer(self, *, minimum: int | None = None) -> int:
        value = self.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.expected("an integer")
        if minimum is not None and value < minimum:
            raise self.expected(f"an integer >= {minimum}")
        if abs(value) >= 2**53:  # what a float, and so a JSON reader in a browser, holds
            raise self.expected("an integer below 2**53")
        return value

    def text(self, *, nonempty: bool = False) -> str:
        if not isinstance(self.value, str):
            raise self.expected("a string")
        if not is_unicode(self.value):  # a "\ud800" escape: JSON allows it, UTF-8 does not
            raise self.fail("expected Unicode text, found a lone surrogate")
        if nonempty and not self.value.strip():
            raise self.expected("a non-empty string")
        return self.value

    def scalar(self) -> str | float | int | bool:
        """A parameter value: strings, numbers and booleans as they are; anything else
        (null, arrays, objects) as its compact JSON text."""
        value = self.value
        if isinstance(value, str):
            return self.text()
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and abs(value) < 2**53:
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        except (TypeError, ValueError, RecursionError):
            raise self.expected("a parameter value") from None


class Problems:
    """The problem lines found in one input, raised together as one ``ImportFormatError``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, bad: Bad) -> None:
        self.lines.append(f"{self.source}: {bad.path}: {bad.message}")

    def each(self, nodes: list[Node], convert: Callable[[Node], T]) -> list[T]:
        """``convert`` applied to every node; a node that raises ``Bad`` is noted and left out."""
        done: list[T] = []
        for node in nodes:
            try:
                done.append(convert(node))
            except Bad as bad:
                self.add(bad)
        return done

    def check(self) -> None:
        """Raise every problem noted so far, if any."""
        if self.lines:
            raise ImportFormatError(*limit(self.lines))


def limit(lines: list[str]) -> list[str]:
    """At most ``_MAX_LINES`` lines, the last one saying how many were left out."""
    if len(lines) <= _MAX_LINES:
        return lines
    return [*lines[: _MAX_LINES - 1], f"... and {len(lines) - _MAX_LINES + 1} more problems"]


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark is dropped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"{path}: not UTF-8 text: byte {exc.start}: {exc.reason}") from None


def parse_json(text: str, source: str) -> Node:
    """``text`` parsed as JSON (NaN and Infinity allowed: Python tools write them)."""
    try:
        return Node(json.loads(text))
    except ValueError as exc:
        raise ImportFormatError(f"{source}: not valid JSON: {exc}") from None
    except RecursionError:
        raise ImportFormatError(f"{source}: not valid JSON: nested too deeply") from None


def load_json(path: Path) -> Node:
    """The parsed JSON document at ``path``."""
    return parse_json(read_text(path), str(path))
