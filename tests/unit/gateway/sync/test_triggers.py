"""Schedules fire on time in the district's zone: DST, weekdays, jitter bounds, blackouts."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from config.cron import crontab_days
from config.errors import ConfigError
from config.settings import Blackout, Schedule
from gateway.sync.triggers import in_blackout, make_trigger

ZONES = ["America/New_York", "Europe/London"]


def gaps(fires: list[dt.datetime]) -> set[float]:
    # In UTC: Python subtracts two datetimes of one zone by wall clock, ignoring DST.
    utc = [f.astimezone(dt.UTC) for f in fires]
    return {(b - a).total_seconds() for a, b in zip(utc, utc[1:], strict=False)}


def fires_in_year(schedule: Schedule, tz: str, year: int = 2026) -> list[dt.datetime]:
    trigger = make_trigger(schedule, tz)
    zone = ZoneInfo(tz)
    start = dt.datetime(year, 1, 1, tzinfo=zone)
    trigger.start_date = start  # an interval trigger otherwise starts one interval from today
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    out: list[dt.datetime] = []
    prev = None
    now = start
    while True:
        nxt = trigger.get_next_fire_time(prev, now)
        if nxt is None or nxt >= end:
            return out
        out.append(nxt)
        prev = now = nxt


def show(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(f"\n  [figure] {text}")


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("cron", ["30 1 * * *", "30 2 * * *", "0 3 * * *"])
def test_a_daily_cron_runs_exactly_once_every_local_day_of_a_year_with_dst_changes(
    tz: str, cron: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fires = fires_in_year(Schedule(cron=cron), tz)
    per_day = Counter(f.date() for f in fires)
    assert len(per_day) == 365
    assert set(per_day.values()) == {1}, {d: n for d, n in per_day.items() if n != 1}
    utc = [f.astimezone(dt.UTC) for f in fires]
    assert utc == sorted(set(utc))
    show(capsys, f"{tz} cron {cron!r}: {len(fires)} runs in 2026, 365 days, none missed or doubled")


@pytest.mark.parametrize("tz", ZONES)
def test_an_every_15_minutes_cron_keeps_real_time_spacing_through_both_clock_changes(tz: str) -> None:
    fires = fires_in_year(Schedule(cron="*/15 * * * *"), tz)
    assert gaps(fires) == {900.0}
    assert len(fires) == 365 * 24 * 4


@pytest.mark.parametrize("tz", ZONES)
def test_an_hourly_interval_runs_8760_times_a_year_one_real_hour_apart(tz: str) -> None:
    fires = fires_in_year(Schedule(interval=dt.timedelta(hours=1)), tz)
    assert gaps(fires) == {3600.0}
    assert len(fires) in (8759, 8760)  # the first fire is one interval after the start


def test_crontab_weekday_numbers_count_sunday_as_zero() -> None:
    assert crontab_days("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_days("0") == crontab_days("7") == "sun"
    assert crontab_days("0-6") == "*"
    fires = fires_in_year(Schedule(cron="0 7 * * 1-5"), "America/New_York")
    assert {f.weekday() for f in fires} == {0, 1, 2, 3, 4}
    assert len(fires) == 261  # the weekdays of 2026


def test_cron_jitter_delays_each_run_by_at_most_the_jitter() -> None:
    schedule = Schedule(cron="0 * * * *", jitter=dt.timedelta(minutes=5))
    fires = fires_in_year(schedule, "Europe/London")
    offsets = [f.minute * 60 + f.second + f.microsecond / 1e6 for f in fires]
    assert all(0 <= o <= 300 for o in offsets)
    assert max(offsets) - min(offsets) > 60  # it does spread runs out
    # one run per real hour, the clock changes included
    assert len({f.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) for f in fires}) == len(fires)
    assert len(fires) == 8760


def test_interval_jitter_stays_within_bounds() -> None:
    trigger = make_trigger(
        Schedule(interval=dt.timedelta(minutes=10), jitter=dt.timedelta(seconds=30)), "UTC"
    )
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    prev = base
    for _ in range(200):
        nxt = trigger.get_next_fire_time(prev, prev)
        assert nxt is not None
        # APScheduler computes from the previous (jittered) fire: 10 minutes plus up to 30 s.
        assert 600 <= (nxt - prev).total_seconds() <= 630
        prev = nxt


def test_an_invalid_cron_is_a_config_error_naming_the_key() -> None:
    # The schema refuses it first (config.cron); a schedule built around the schema still
    # gets a config error naming the key, not a traceback.
    schedule = Schedule.model_construct(
        cron="61 * * * *", interval=None, jitter=dt.timedelta(0), timezone=None
    )
    with pytest.raises(ConfigError) as err:
        make_trigger(schedule, "UTC", where="connectors[0].schedule")
    assert "connectors[0].schedule.cron" in str(err.value)


def local(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=ZoneInfo("America/New_York"))


def test_a_yearly_blackout_covers_its_dates_inclusive_and_no_others() -> None:
    summer = [Blackout(from_date="07-01", to_date="08-15")]
    assert in_blackout(summer, local(2026, 7, 1, 0, 0))
    assert in_blackout(summer, local(2026, 8, 15, 23, 59))
    assert not in_blackout(summer, local(2026, 6, 30, 23, 59))
    assert not in_blackout(summer, local(2026, 8, 16, 0, 0))


def test_a_blackout_over_the_new_year_wraps() -> None:
    winter = [Blackout(from_date="12-24", to_date="01-02")]
    assert in_blackout(winter, local(2026, 12, 31))
    assert in_blackout(winter, local(2027, 1, 2))
    assert not in_blackout(winter, local(2027, 1, 3))
    assert not in_blackout(winter, local(2026, 12, 23))


def test_a_nightly_window_over_midnight_is_closed_at_its_end() -> None:
    nightly = [Blackout(from_time=dt.time(23, 0), to_time=dt.time(5, 0))]
    assert in_blackout(nightly, local(2026, 3, 3, 23, 0))
    assert in_blackout(nightly, local(2026, 3, 4, 4, 59))
    assert not in_blackout(nightly, local(2026, 3, 4, 5, 0))
    assert not in_blackout(nightly, local(2026, 3, 4, 22, 59))


def test_dates_and_times_together_black_out_only_those_hours_on_those_dates() -> None:
    rollover = [Blackout(from_date="07-01", to_date="07-03", from_time=dt.time(8), to_time=dt.time(18))]
    assert in_blackout(rollover, local(2026, 7, 2, 9))
    assert not in_blackout(rollover, local(2026, 7, 2, 19))
    assert not in_blackout(rollover, local(2026, 7, 4, 9))
