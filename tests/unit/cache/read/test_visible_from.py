"""When an alert may go out: the first instant the one visibility rule shows a record."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cache.read.visibility import visible_from, window
from config.settings import VisibilityRule

LONDON = ZoneInfo("Europe/London")
ATTENDANCE = VisibilityRule(lag=dt.timedelta(minutes=30), same_day_not_before=dt.time(10, 30))


def test_same_day_attendance_waits_for_the_same_day_time_in_the_school_zone() -> None:
    recorded = dt.datetime(2026, 11, 24, 8, 40, tzinfo=dt.UTC)  # 08:40 in London
    at = visible_from(ATTENDANCE, recorded, dt.date(2026, 11, 24), LONDON, recorded)
    assert at == dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC)
    assert not window(ATTENDANCE, at - dt.timedelta(seconds=1), LONDON).shows(recorded, dt.date(2026, 11, 24))


def test_a_mark_for_yesterday_waits_only_for_its_lag() -> None:
    recorded = dt.datetime(2026, 11, 24, 8, 40, tzinfo=dt.UTC)
    at = visible_from(ATTENDANCE, recorded, dt.date(2026, 11, 23), LONDON, recorded)
    assert at == recorded + dt.timedelta(minutes=30)


def test_a_record_without_a_recorded_time_is_visible_when_first_held() -> None:
    known = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    assert visible_from(VisibilityRule(), None, dt.date(2026, 11, 20), LONDON, known) == known


@settings(max_examples=300, deadline=None)
@given(
    lag_min=st.integers(0, 48 * 60),
    same_day=st.one_of(st.none(), st.times()),
    recorded=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1)),
    day_offset=st.integers(-3, 3),
    known_after=st.integers(0, 24 * 60),
    zone=st.sampled_from(["Europe/London", "America/Los_Angeles", "Asia/Kolkata", "UTC"]),
)
def test_the_first_instant_shown_is_shown_and_the_moment_before_is_not(
    lag_min: int,
    same_day: dt.time | None,
    recorded: dt.datetime,
    day_offset: int,
    known_after: int,
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    rule = VisibilityRule(lag=dt.timedelta(minutes=lag_min), same_day_not_before=same_day)
    rec = recorded.replace(tzinfo=dt.UTC)
    day = rec.astimezone(tz).date() + dt.timedelta(days=day_offset)
    known = rec + dt.timedelta(minutes=known_after)
    at = visible_from(rule, rec, day, tz, known)
    assert at >= known
    assert window(rule, at, tz).shows(rec, day)
    if at > known:  # held back by the rule: a moment earlier it was hidden
        assert not window(rule, at - dt.timedelta(microseconds=1), tz).shows(rec, day)
