"""The synthetic district reads like a real one: full timetables, notices that say who they
are for, nothing missing before it is due, report comments that agree with the register,
and marks a parent can already see."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from connectors.records import (
    AssignmentResult,
    AttendanceCategory,
    AttendanceMark,
    Audience,
    Enrollment,
    Grade,
    Notice,
    ProgressReport,
    Record,
    ResultStatus,
    Section,
    Student,
    StudentContact,
    TimetableEntry,
)
from simulators.district import names
from simulators.district.calendar import PERIODS
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict

T = TypeVar("T")

SPECS = {
    "us": DistrictSpec(seed=11, schools=2, students=80),
    "uk": DistrictSpec(seed=11, schools=2, students=80, style="uk"),
}


@pytest.fixture(scope="module", params=sorted(SPECS))
def district(request: pytest.FixtureRequest) -> SyntheticDistrict:
    return SyntheticDistrict(SPECS[request.param])


@pytest.fixture(scope="module")
def records(district: SyntheticDistrict) -> dict[str, list[Record]]:
    return {kind: list(district.iter(kind)) for kind in district.kinds()}


def of(records: dict[str, list[Record]], kind: str, cls: type[T]) -> list[T]:
    return [r for r in records[kind] if isinstance(r, cls)]


def test_every_student_has_a_lesson_in_every_period_of_the_week(
    records: dict[str, list[Record]],
) -> None:
    lessons: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for t in of(records, "timetable", TimetableEntry):
        lessons[t.section_id].append((t.week_pattern, t.day, t.period))
    taken: dict[str, list[str]] = defaultdict(list)
    for e in of(records, "enrollment", Enrollment):
        taken[e.student_id].append(e.section_id)
    assert taken
    for student, sections in taken.items():
        slots = [slot for s in sections for slot in lessons[s]]
        weeks = {w for w, _d, _p in slots}
        every = {(w, d, p) for w in weeks for d in range(1, 6) for p, _s, _e in PERIODS}
        assert len(slots) == len(set(slots)), student  # no clashes
        assert set(slots) == every, (student, sorted(every - set(slots)))  # no free periods


def test_nothing_is_missing_or_late_before_the_end_of_its_due_day(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    due = {a.source_id: a.due_date for a in records["assignment"]}  # type: ignore[attr-defined]
    results = of(records, "result", AssignmentResult)
    due_today = [r for r in results if due[r.assignment_id] >= district.today]
    assert due_today, "the spec should have work due today to check"
    assert {r.status for r in due_today} <= {ResultStatus.SUBMITTED, ResultStatus.EXEMPT, ResultStatus.NONE}
    assert any(r.status is ResultStatus.NONE for r in due_today)
    past = {r.status for r in results if due[r.assignment_id] < district.today}
    assert {ResultStatus.MISSING, ResultStatus.LATE} <= past


def test_report_comments_agree_with_the_students_attendance(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    marks: dict[str, list[AttendanceMark]] = defaultdict(list)
    for m in of(records, "attendance", AttendanceMark):
        marks[m.student_id].append(m)
    attended = (AttendanceCategory.PRESENT, AttendanceCategory.LATE)
    checked = low = full = 0
    for report in of(records, "report", ProgressReport):
        if report.issued_date < district.year_start:
            assert report.comments and "attendance" not in report.comments.lower()
            continue
        period = [m for m in marks[report.student_id] if m.date <= report.issued_date]
        rate = sum(m.category in attended for m in period) / len(period)
        checked += 1
        about_absence = report.comments == names.ATTENDANCE_COMMENT
        assert about_absence == (rate < names.LOW_ATTENDANCE), (report.source_id, rate, report.comments)
        assert "attendance has affected" not in (report.comments or "").lower()
        if report.comments == names.FULL_ATTENDANCE_COMMENT:
            assert rate == 1.0, report.source_id
        low += about_absence
        full += rate == 1.0
    assert checked and low and full, (checked, low, full)


def _visible(records: dict[str, list[Record]]) -> dict[str, list[Notice]]:
    """Each contact's notices, as the gateway's audience rules give them."""
    students = {s.source_id: s for s in of(records, "student", Student)}
    sections: dict[str, set[str]] = defaultdict(set)
    for e in of(records, "enrollment", Enrollment):
        sections[e.student_id].add(e.section_id)
    children: dict[str, list[Student]] = defaultdict(list)
    for link in of(records, "link", StudentContact):
        children[link.contact_id].append(students[link.student_id])
    notices = of(records, "notice", Notice)
    out: dict[str, list[Notice]] = {}
    for contact, kids in children.items():
        seen = {}
        for n in notices:
            for kid in kids:
                if (
                    n.audience is Audience.DISTRICT
                    or (n.audience is Audience.SCHOOL and n.school_id == kid.school_id)
                    or (
                        n.audience is Audience.YEAR
                        and n.school_id == kid.school_id
                        and n.year_group == kid.grade_level
                    )
                    or (n.audience is Audience.SECTION and n.section_id in sections[kid.source_id])
                ):
                    seen[n.source_id] = n
        out[contact] = list(seen.values())
    return out


def test_no_family_sees_two_notices_with_the_same_title(records: dict[str, list[Record]]) -> None:
    students = {s.source_id: s for s in of(records, "student", Student)}
    two_schools = 0
    for contact, notices in _visible(records).items():
        titles = [n.title for n in notices]
        assert len(titles) == len(set(titles)), (contact, sorted(t for t in titles if titles.count(t) > 1))
        kids = [
            students[k.student_id] for k in of(records, "link", StudentContact) if k.contact_id == contact
        ]
        two_schools += len({k.school_id for k in kids}) > 1
    assert two_schools, "the spec should have a family with children at two schools"


def test_notices_name_their_school_year_group_or_class_in_words(records: dict[str, list[Record]]) -> None:
    schools = {s.source_id: s.name for s in records["school"]}  # type: ignore[attr-defined]
    sections = {s.source_id: s for s in of(records, "section", Section)}
    for n in of(records, "notice", Notice):
        assert not re.search(r"^\w+ trip$|Details of the", n.title + " " + n.body), n
        if n.audience in (Audience.SCHOOL, Audience.YEAR):
            assert n.school_id is not None and schools[n.school_id] in n.title, n.title
        if n.audience is Audience.YEAR:
            grade = n.year_group or ""
            label = (
                grade if grade.startswith("Year") else ("Kindergarten" if grade == "K" else f"Grade {grade}")
            )
            assert n.title.startswith(label + " "), n.title
        if n.audience is Audience.SECTION:
            section = sections[n.section_id or ""]
            assert section.course_name in n.title and section.course_code in n.title, n.title


def test_marks_entered_so_far_are_visible_after_a_days_lag_on_the_morning_of_today(
    district: SyntheticDistrict, records: dict[str, list[Record]]
) -> None:
    morning = dt.datetime.combine(district.today, dt.time(0, 30), ZoneInfo(district.timezone))
    grades = of(records, "grade", Grade)
    assert grades
    for g in grades:
        assert g.updated_at + dt.timedelta(hours=24) <= morning, (g.source_id, g.updated_at)
