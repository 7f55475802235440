"""One timestamp grammar: the schema's ``date-time`` check and the reading of times agree."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchtrail.results.timestamps import instant, is_rfc3339, parse_time


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02T13:30:00+02:00", dt.datetime(2026, 3, 2, 11, 30, tzinfo=dt.timezone.utc)),
    ("2026-03-02t11:45:00z", dt.datetime(2026, 3, 2, 11, 45, tzinfo=dt.timezone.utc)),
    ("2016-12-31T23:59:60Z", dt.datetime(2016, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)),
    ("2026-01-01T00:00:00.123456789Z", dt.datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=dt.timezone.utc)),
    ("2026-01-01T10:00:00", dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone.utc)),
    ("0001-01-01T00:30:00+01:00", dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)),
    ("yesterday", None),
    ("2026-02-30T00:00:00Z", None),
])
def test_timestamps_are_read_one_way(text: str, expected: dt.datetime | None) -> None:
    assert parse_time(text) == expected


def test_instant_orders_by_time_then_puts_text_last() -> None:
    stamps = ["2026-03-02T12:00:00Z", "2026-03-02T13:30:00+02:00", "not a time", "2026-03-02t11:45:00z"]
    assert sorted(stamps, key=instant) == [
        "2026-03-02T13:30:00+02:00", "2026-03-02t11:45:00z", "2026-03-02T12:00:00Z", "not a time"]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-02 13:12:40", dt.datetime(2026, 3, 2, 13, 12, 40, tzinfo=dt.timezone.utc)),  # as git may write it
    (" 2026-03-02T13:12:40Z\n", dt.datetime(2026, 3, 2, 13, 12, 40, tzinfo=dt.timezone.utc)),
    ("9999-12-31T23:30:00-01:00", dt.datetime.max.replace(tzinfo=dt.timezone.utc)),
    ("2026-03-02T13:12:61Z", None),
    ("2026-03-02T13:12:40+24:00", None),
    ("2026-03-02T13:12:40+05:60", None),
    ("2026-03-02T24:00:00Z", None),
])
def test_reading_is_kinder_than_the_schema_but_keeps_the_ranges(text: str, expected: dt.datetime | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(("text", "valid"), [
    ("2026-03-02T13:12:40Z", True),
    ("2026-03-02t13:12:40.123456789z", True),
    ("2026-03-02T13:12:40-23:59", True),
    ("2016-12-31T23:59:60Z", True),  # a leap second
    ("2026-03-02 13:12:40Z", False),  # RFC 3339 allows the space; the schema never has
    ("2026-03-02T13:12:40", False),  # no offset
    ("2026-03-02T13:12:40Z\n", False),
    (" 2026-03-02T13:12:40Z", False),
    ("2026-02-29T00:00:00Z", False),
    ("2026-03-02T13:12:61Z", False),
    ("2026-03-02T13:12:40+24:00", False),
    ("0000-01-01T00:00:00Z", False),
    ("yesterday", False),
])
def test_the_schema_check(text: str, valid: bool) -> None:
    assert is_rfc3339(text) is valid


@given(st.datetimes(timezones=st.timezones()), st.sampled_from(["T", "t"]),
       st.sampled_from([("", 0), (".5", 500000), (".123456789", 123456)]))
def test_every_rfc3339_time_passes_the_check_and_is_read(when: dt.datetime, separator: str,
                                                          fraction: tuple[str, int]) -> None:
    offset = when.utcoffset()
    assert offset is not None
    seconds = int(offset.total_seconds())
    if seconds % 60:  # RFC 3339 offsets are whole minutes
        return
    sign, minutes = ("-" if seconds < 0 else "+"), abs(seconds) // 60
    text = (f"{when.year:04d}-{when.month:02d}-{when.day:02d}{separator}"
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}{fraction[0]}"
            f"{sign}{minutes // 60:02d}:{minutes % 60:02d}")
    assert is_rfc3339(text)
    try:
        expected = when.replace(microsecond=fraction[1]).astimezone(dt.timezone.utc)
    except OverflowError:  # within an offset of year 1 or 9999: clamped, as tested above
        assert parse_time(text) is not None
        return
    assert parse_time(text) == expected
