"""Timestamps as records hold them: one grammar for checking them and for reading them.

The record schema's ``date-time`` format (``results.schema``) and every reader of a time
(``Record.started``, the baseline's and the series' order) go through the same fields and
ranges here, so a time the schema lets in is always one the code can read. Reading is the
kinder of the two: it also takes a space for the ``T``, no offset (UTC) and surrounding
blanks, as git and people write times. Neither imports the rest of ``results``:
``schema`` and ``model`` both use this module.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = ["instant", "is_rfc3339", "parse_time"]

_TIMESTAMP = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d\d)-(?P<day>\d\d)(?P<separator>[Tt ])"
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)(?P<fraction>\.\d+)?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hour>\d\d):(?P<offset_minute>\d\d))?",
    re.ASCII,
)


def _read(text: str) -> tuple[re.Match[str], dt.datetime] | None:
    """The match for ``text`` and the wall-clock time it names, before its offset; ``None``
    when it is no timestamp or a field is out of range. A leap second (:60) reads as :59;
    fractional digits beyond microseconds are dropped."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    second = int(match["second"])
    if second > 60 or (match["sign"] and (int(match["offset_hour"]) > 23 or int(match["offset_minute"]) > 59)):
        return None
    micro = int((match["fraction"] or ".0")[1:7].ljust(6, "0"))
    try:
        when = dt.datetime(int(match["year"]), int(match["month"]), int(match["day"]),
                           int(match["hour"]), int(match["minute"]), min(second, 59), micro)
    except ValueError:
        return None
    return match, when


def is_rfc3339(text: str) -> bool:
    """Whether ``text`` is an RFC 3339 date-time, as the schema's ``date-time`` format
    asks: a ``T`` (or ``t``) between date and time, ``Z`` or an offset, a real date.
    Checked here rather than by an optional package, so that a record is valid or not
    whatever else is installed."""
    read = _read(text)
    return read is not None and read[0]["separator"] != " " and (read[0]["utc"] or read[0]["sign"]) is not None


def parse_time(timestamp: str) -> dt.datetime | None:
    """An RFC 3339 / ISO 8601 date-time as an aware UTC datetime, or ``None`` when it is
    not one. Whatever the schema's ``date-time`` allows is read, on every Python we
    support: lower-case ``t``/``z``, a leap second (read as :59), any number of fractional
    digits (microseconds kept); one without an offset is UTC; a time within an offset of
    year 1 or 9999 is clamped there."""
    read = _read(timestamp.strip())
    if read is None:
        return None
    match, when = read
    if match["sign"]:
        offset = dt.timedelta(hours=int(match["offset_hour"]), minutes=int(match["offset_minute"]))
        try:
            when = when - offset if match["sign"] == "+" else when + offset
        except OverflowError:
            when = dt.datetime.min if match["sign"] == "+" else dt.datetime.max
    return when.replace(tzinfo=dt.timezone.utc)


def instant(timestamp: str) -> tuple[int, Any]:
    """A sort key that puts ISO 8601 timestamps in time order whatever their UTC offsets (a
    string comparison would not: ``10:00+02:00`` is before ``09:00Z``); text that is no
    timestamp sorts after every timestamp."""
    moment = parse_time(timestamp)
    return (1, timestamp) if moment is None else (0, moment)
