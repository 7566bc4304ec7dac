"""Attendance and the calendar of the synthetic district."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest

from connectors.records import AttendanceCategory, AttendanceMark, Student
from simulators.district.calendar import holidays, school_days, school_year
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

US = DistrictSpec(seed=7, schools=2, students=40)
UK = DistrictSpec(seed=7, schools=2, students=40, style="uk")
UK_CODES = {
    "/": AttendanceCategory.PRESENT,
    "\\": AttendanceCategory.PRESENT,
    "L": AttendanceCategory.LATE,
    "U": AttendanceCategory.UNAUTHORISED_ABSENCE,
    "N": AttendanceCategory.UNAUTHORISED_ABSENCE,
    "O": AttendanceCategory.UNAUTHORISED_ABSENCE,
    "G": AttendanceCategory.UNAUTHORISED_ABSENCE,
    "I": AttendanceCategory.AUTHORISED_ABSENCE,
    "M": AttendanceCategory.AUTHORISED_ABSENCE,
    "C": AttendanceCategory.AUTHORISED_ABSENCE,
}
US_CODES = {
    "P": AttendanceCategory.PRESENT,
    "T": AttendanceCategory.LATE,
    "E": AttendanceCategory.AUTHORISED_ABSENCE,
    "A": AttendanceCategory.UNAUTHORISED_ABSENCE,
}


def marks(d: SyntheticDistrict) -> list[AttendanceMark]:
    return [m for m in d.iter("attendance") if isinstance(m, AttendanceMark)]


@pytest.fixture(scope="module", params=[US, UK], ids=["us", "uk"])
def district(request: pytest.FixtureRequest) -> SyntheticDistrict:
    return SyntheticDistrict(request.param)


def test_the_school_year_contains_today_and_matches_the_documented_example() -> None:
    d = SyntheticDistrict(US)
    assert (d.year_start, d.year_end) == (dt.date(2026, 8, 26), dt.date(2027, 6, 18))
    assert school_year(dt.date(2027, 7, 10), "us") == school_year(dt.date(2026, 8, 1), "us")
    start, end = school_year(dt.date(2026, 11, 24), "uk")
    assert start.month == 9 and end.month == 7 and start.weekday() < 5 and end.weekday() < 5


@pytest.mark.parametrize("style", ["us", "uk"])
def test_school_days_are_weekdays_of_the_year_without_holidays(style: str) -> None:
    start, end = school_year(dt.date(2026, 11, 24), style)
    days = school_days(start, end, style)
    closed = holidays(start, style)
    assert 170 <= len(days) <= 200
    assert days == sorted(set(days)) and days[0] == start
    assert all(d.weekday() < 5 and d not in closed and start <= d <= end for d in days)
    assert dt.date(2026, 12, 25) in closed and dt.date(2026, 12, 25) not in days


def test_marks_fall_on_school_days_up_to_today_only(district: SyntheticDistrict) -> None:
    allowed = {d for d in district.school_days if d <= district.today}
    seen = {m.date for m in marks(district)}
    assert seen == allowed


def test_each_student_on_roll_has_one_mark_per_session_per_school_day(district: SyntheticDistrict) -> None:
    sessions = ("AM", "PM") if district.spec.style == "uk" else ("day",)
    per_student: dict[str, list[tuple[dt.date, str]]] = defaultdict(list)
    for m in marks(district):
        per_student[m.student_id].append((m.date, m.session))
    days = [d for d in district.school_days if d <= district.today]
    for s in district.iter("student"):
        assert isinstance(s, Student)
        mine = [d for d in days if s.exit_date is None or d < s.exit_date]
        assert per_student[s.source_id] == [(d, x) for d in mine for x in sessions]


def test_codes_follow_the_style_and_map_to_their_category(district: SyntheticDistrict) -> None:
    table = UK_CODES if district.spec.style == "uk" else US_CODES
    all_marks = marks(district)
    for m in all_marks:
        assert table[m.source_code] is m.category
        assert (m.minutes_late is not None) == (m.source_code in ("L", "U", "T"))
        assert m.minutes_late is None or 0 < m.minutes_late < 60
        if district.spec.style == "uk":
            assert m.source_code != "/" or m.session == "AM"
            assert m.source_code != "\\" or m.session == "PM"
    categories = Counter(m.category for m in all_marks)
    assert 0.85 < categories[AttendanceCategory.PRESENT] / len(all_marks) < 0.97
    assert {
        AttendanceCategory.LATE,
        AttendanceCategory.AUTHORISED_ABSENCE,
        AttendanceCategory.UNAUTHORISED_ABSENCE,
    } <= set(categories)


def test_recorded_at_is_aware_utc_during_registration_on_the_local_date(district: SyntheticDistrict) -> None:
    zone = ZoneInfo(district.timezone)
    for m in marks(district):
        assert m.recorded_at.utcoffset() == dt.timedelta(0)
        local = m.recorded_at.astimezone(zone)
        assert local.date() == m.date
        if m.session == "PM":
            assert dt.time(13, 20) <= local.time() <= dt.time(13, 50)
        else:
            assert dt.time(8, 40) <= local.time() <= dt.time(9, 30)


def test_past_marks_do_not_change_when_today_advances(district: SyntheticDistrict) -> None:
    later = SyntheticDistrict(
        dataclasses.replace(district.spec, today=district.today + dt.timedelta(days=30))
    )
    before = {m.source_id: m for m in marks(district)}
    after = {m.source_id: m for m in marks(later) if m.date <= district.today}
    assert before == after
    assert later.count("attendance") > district.count("attendance")


def test_a_full_year_district_marks_every_school_day() -> None:
    d = SyntheticDistrict(dataclasses.replace(US, today=dt.date(2027, 6, 18)))
    assert d.days_so_far == len(d.school_days)
    assert max(m.date for m in marks(d)) == d.year_end
