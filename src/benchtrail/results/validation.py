"""Checking a document against a shipped JSON Schema, one line per problem.

Records and the suite file are both checked here, so every input names its problems the
same way: the path of the field, what was expected, and a shortened value of what was found
(``$.benchmarks[1].calls: expected a number >= 0, found -1``), never the whole document
(nbformat's ``NotebookValidationError`` does the same). jsonschema is imported only when a
validator is built: ``import benchtrail.cli`` must not load it.

Documents that programs write in bulk (result records: an import makes thousands) are first
put to a compiled check that can only say yes (``make_acceptor``, jsonschema-rs, about a
hundred times faster); jsonschema reads only those it does not accept, and describes them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import Any

__all__ = [
    "Problem",
    "field_path",
    "format_problems",
    "json_path",
    "json_type",
    "load_schema",
    "make_acceptor",
    "make_validator",
    "schema_problems",
    "shorten",
]

#: Where a problem is (keys and indexes from the document's root) and what is wrong there.
Problem = tuple[tuple[Any, ...], str]

_MAX_VALUE_CHARS = 60
_MAX_MESSAGE_CHARS = 200
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)  # TOML's bare keys
_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def load_schema(package: str, name: str) -> dict[str, Any]:
    """The JSON Schema ``schemas/<name>`` shipped as package data of ``package``."""
    text = resources.files(package).joinpath(f"schemas/{name}").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


#: keywords that describe rather than constrain: a ``$ref``'s sibling may say them again
_ANNOTATIONS = frozenset({"title", "description", "$comment", "examples", "default"})


def _inline_refs(node: Any, defs: dict[str, Any], within: frozenset[str] = frozenset()) -> Any:
    """``node`` with each ``{"$ref": "#/$defs/NAME"}`` replaced by that definition, except
    inside itself (a recursive one stays a reference): jsonschema resolves a reference on
    every visit, which was half the cost of checking a record."""
    if isinstance(node, list):
        return [_inline_refs(item, defs, within) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    name = reference[8:] if isinstance(reference, str) and reference.startswith("#/$defs/") else None
    if name is None or name not in defs or name in within:
        return {key: _inline_refs(value, defs, within) for key, value in node.items()}
    target = _inline_refs(defs[name], defs, within | {name})
    rest = {key: _inline_refs(value, defs, within) for key, value in node.items() if key != "$ref"}
    if set(rest) & set(target) - _ANNOTATIONS:  # both constrain the same keyword: keep both
        return {"allOf": [target, rest]}
    return {**target, **rest}  # the sibling's title or description wins, as a reader expects


def make_validator(
    document: dict[str, Any],
    *,
    formats: dict[str, Callable[[object], bool]] | None = None,
    references: Iterable[dict[str, Any]] = (),
    strict: bool = False,
) -> Any:
    """A jsonschema validator for ``document``, asserting only the named ``formats`` and
    resolving ``$ref`` to the ``references`` (schemas with an ``$id``), never the network.

    ``strict`` suits a file people write rather than one a program wrote: an integer must
    be a whole number as written (not ``2.0``), a number finite, and a pattern's ``$`` ends
    the text as in ECMA-262 (Python's also matches before a final newline)."""
    import jsonschema
    from referencing import Registry, Resource

    cls = jsonschema.validators.validator_for(document)
    document = _inline_refs(document, document.get("$defs", {}))
    if strict:
        cls = jsonschema.validators.extend(
            cls,
            type_checker=cls.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_finite}),
            validators={"pattern": _pattern_to_end},
        )
    checker = jsonschema.FormatChecker(formats=())
    for name, check in (formats or {}).items():
        checker.checks(name)(check)
    registry: Any = Registry().with_resources(
        (reference["$id"], Resource.from_contents(reference)) for reference in references
    )
    return cls(document, format_checker=checker, registry=registry)


def make_acceptor(
    document: dict[str, Any], *, formats: dict[str, Callable[[str], bool]] | None = None
) -> Callable[..., bool]:
    """A fast check of ``document`` that is trusted only when it says yes: ``True`` when
    jsonschema-rs finds an instance valid; ``False`` when it does not, or cannot read it (a
    lone surrogate, a key that is not text), and then ``make_validator``'s validator judges
    and says why. It is never more lenient than that validator (not strict, same
    ``formats``): it asserts every format it knows besides ``formats``, and reads a
    pattern's ``$`` as the end of the text. Nor does it accept what JSON cannot hold
    anywhere in an instance (NaN, infinities, lone surrogates), which neither validator sees;
    ``accepts(instance, json_safe=True)`` skips that look for an instance known to hold none
    (parsed from JSON text without ``NaN``, ``Infinity`` or a surrogate escape)."""
    import jsonschema_rs

    compiled = jsonschema_rs.validator_for(document, validate_formats=True, formats=formats or {})

    def accepts(instance: Any, *, json_safe: bool = False) -> bool:
        try:
            if not json_safe:
                json.dumps(instance, ensure_ascii=False, allow_nan=False).encode("utf-8")
            return bool(compiled.is_valid(instance))
        except (ValueError, TypeError, RecursionError):  # UnicodeEncodeError is a ValueError
            return False

    return accepts


def _is_integer(checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(checker: Any, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _pattern_to_end(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """The ``pattern`` keyword, with a final ``$`` that ends the text (``my-suite\\n`` is
    no slug)."""
    from jsonschema import ValidationError

    if not validator.is_type(instance, "string"):
        return
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    if not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def schema_problems(validator: Any, instance: Any) -> list[Problem]:
    """Every problem ``validator`` finds in ``instance``; for a failed oneOf or anyOf, those
    of the branch closest to what was given."""
    root = validator.schema
    return [problem for error in validator.iter_errors(instance) for problem in _describe(error, root)]


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type: ``number``, ``string``, ``object``, ..."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def shorten(value: Any) -> str:
    """``value`` as one line of JSON (a TOML date or time as TOML writes it), cut to a few
    dozen characters."""
    if isinstance(value, (dt.date, dt.time)):  # a datetime is a date
        text = value.isoformat()
    else:
        try:
            text = json.dumps(value, sort_keys=True, default=repr)
        except (TypeError, ValueError, RecursionError):
            text = f"<{json_type(value)}>"
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def json_path(parts: Iterable[Any]) -> str:
    """``$.a[0]["b c"]``: a JSON path, one line whatever the keys hold."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and _IDENTIFIER.fullmatch(part):
            path += f".{part}"
        else:  # quoted, so a dot, a bracket or a newline in a key keeps the path one line
            path += f"[{json.dumps(str(part))}]"
    return path


def field_path(parts: Iterable[Any]) -> str:
    """``benchmark[2].headers."X Y"``: a path into a TOML file, a key bare where TOML allows
    it and quoted otherwise, so the path stays one line; ``""`` for the root."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = part if isinstance(part, str) and _BARE_KEY.fullmatch(part) else json.dumps(str(part))
            path += f".{key}" if path else key
    return path


def format_problems(
    found: Iterable[Problem],
    *,
    source: str | None = None,
    render: Callable[[tuple[Any, ...]], str] = json_path,
) -> list[str]:
    """``source: path: message`` lines in document order, without repeats; the source, or a
    path that renders as ``""``, is left out."""
    ordered = sorted(found, key=lambda problem: _path_key(problem[0]))
    lines = (": ".join(part for part in (source, render(path), message) if part) for path, message in ordered)
    return list(dict.fromkeys(lines))


def _path_key(parts: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, part) if isinstance(part, int) else (1, str(part)) for part in parts)


def _branch_rank(errors: list[Any]) -> tuple[bool, int]:
    """How far a oneOf branch is from the instance: a branch for another JSON type
    (``"none"`` where an object was given) comes last, then the fewest problems."""
    wrong_type = False
    size = 0
    for error in errors:
        at_root = not error.relative_path
        if at_root and error.validator == "type":
            wrong_type = True
        elif at_root and error.validator in ("const", "enum"):
            allowed = [error.validator_value] if error.validator == "const" else error.validator_value
            wrong_type = wrong_type or all(
                json_type(value) != json_type(error.instance) for value in allowed
            )
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            size += len(_extra_keys(error))
        else:
            size += 1
    return wrong_type, size


def _extra_keys(error: Any) -> list[str]:
    known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return [key for key in error.instance if key not in known]


def _describe(error: Any, root: Any) -> list[Problem]:
    """One or more problems for a validation error; for a failed oneOf, the problems of
    the branch closest to what was given."""
    path = tuple(error.absolute_path)
    if error.validator in ("oneOf", "anyOf"):
        if not error.context:
            return [(path, "matches more than one of the allowed shapes")]
        branches: dict[Any, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        closest = min(branches.values(), key=_branch_rank)
        lines: list[Problem] = []
        for sub in closest:
            lines.extend(_describe(sub, root))
        return lines
    return [(path, _message(error, root))]


def _title(error: Any, root: Any) -> str | None:
    """The title of a failed keyword's schema or, where a ``$ref`` led there, of the schema
    at the same place in the root document (the ``$ref``'s sibling): words for a pattern."""
    place = root
    for key in list(error.absolute_schema_path)[:-1]:
        try:
            place = place[key]
        except (KeyError, IndexError, TypeError):
            place = None
            break
    for schema in (error.schema, place):
        if isinstance(schema, dict) and isinstance(schema.get("title"), str):
            return str(schema["title"])
    return None


def _message(error: Any, root: Any) -> str:
    kind, expected, found = error.validator, error.validator_value, error.instance
    shown = shorten(found)
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        if "number" in names and json_type(found) == "number":  # a strict validator's refusal
            return f"expected a finite number, found {shown}"
        return f"expected {' or '.join(names)}, found {shown}"
    if kind == "additionalProperties" and isinstance(found, dict):
        extra = _extra_keys(error)
        listed = ", ".join(shorten(key) for key in extra[:5])
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        return f"unknown key{'s' if len(extra) > 1 else ''} {listed}{more}"
    if kind == "const":
        return f"expected {shorten(expected)}, found {shown}"
    if kind == "enum":
        return f"expected one of {', '.join(shorten(v) for v in expected)}, found {shown}"
    if kind == "pattern" and "propertyNames" in error.relative_schema_path:
        return f"key {shown} does not match {expected}"
    if kind == "pattern":
        return f"expected {_title(error, root) or f'a string matching {expected}'}, found {shown}"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[kind]
        return f"expected a number {sign} {expected}, found {shown}"
    if kind in ("minItems", "maxItems") and isinstance(found, list):
        bound = "at least" if kind == "minItems" else "at most"
        return f"expected {bound} {expected} items, found {len(found)}"
    if kind in ("minLength", "maxLength") and isinstance(found, str):
        bound = "at least" if kind == "minLength" else "at most"
        return f"expected {bound} {expected} characters, found {len(found)}"
    if kind == "format":
        return f"expected an RFC 3339 {expected}, found {shown}"
    message = " ".join(str(error.message).split())
    if len(message) > _MAX_MESSAGE_CHARS:
        message = message[: _MAX_MESSAGE_CHARS - 3] + "..."
    return message
