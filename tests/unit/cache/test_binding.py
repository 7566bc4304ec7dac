"""How values are bound on SQLite: datetimes as the naive-UTC text SQLAlchemy's dialect stores."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from cache.types import sqlite_value

ZONES = [dt.UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata"), dt.timezone(dt.timedelta(hours=-3))]


@given(
    st.datetimes(min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31)),
    st.sampled_from(ZONES),
)
def test_a_datetime_is_bound_as_its_utc_isoformat_without_the_offset(
    naive: dt.datetime, zone: dt.tzinfo
) -> None:
    at = naive.replace(tzinfo=zone)
    utc = at.astimezone(dt.UTC)
    assert sqlite_value(at) == utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def test_whole_seconds_and_early_years_keep_every_digit() -> None:
    assert sqlite_value(dt.datetime(7, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == "0007-01-02 03:04:05.000000"
    assert sqlite_value(dt.date(2026, 12, 3)) == "2026-12-03"
    assert sqlite_value("text") == "text"
