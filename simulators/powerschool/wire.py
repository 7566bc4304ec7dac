"""Canonical records as a PowerSchool-like SIS puts them on the wire (the simulator's side).

The inverse of :mod:`connectors.powerschool.normalize`, written from the SIS's point of
view: numbers as strings, absent optional values omitted, empty blocks as ``""``,
times as seconds since midnight, grade levels as numbers (K = 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from connectors import records as r

_GRADE_NUMBERS = {"K": "0", "PK": "-1", "PK3": "-2"}
_STATUS_CODES = {
    r.EnrollmentStatus.PRE_REGISTERED: "-1",
    r.EnrollmentStatus.ACTIVE: "0",
    r.EnrollmentStatus.INACTIVE: "1",
    r.EnrollmentStatus.TRANSFERRED: "2",
    r.EnrollmentStatus.GRADUATED: "3",
}
_CATEGORIES = {
    r.AttendanceCategory.PRESENT: "Present",
    r.AttendanceCategory.LATE: "Tardy",
    r.AttendanceCategory.AUTHORISED_ABSENCE: "Excused",
    r.AttendanceCategory.UNAUTHORISED_ABSENCE: "Unexcused",
    r.AttendanceCategory.NOT_REQUIRED: "Not_Required",
}
_LOG_TYPES = {r.Polarity.ACHIEVEMENT: "Merit", r.Polarity.BEHAVIOUR: "Discipline"}
_RESULT_FLAGS = {
    r.ResultStatus.EXEMPT: "isexempt",
    r.ResultStatus.MISSING: "ismissing",
    r.ResultStatus.LATE: "islate",
    r.ResultStatus.SUBMITTED: "iscollected",
}


def grade_number(name: str) -> str:
    return _GRADE_NUMBERS.get(name, name)


def _seconds(t: dt.time) -> str:
    return str(t.hour * 3600 + t.minute * 60 + t.second)


def _iso(value: dt.datetime) -> str:
    # Skipping astimezone for values already in UTC halves the cost on the bulk kinds.
    return (value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)).isoformat()


def _put(out: dict[str, Any], key: str, value: object) -> None:
    """Absent optional values are left out, as PowerSchool does."""
    if value is not None:
        out[key] = value


def _block(**values: object) -> dict[str, Any] | str:
    """A nested block; an empty one is ``""`` on the wire."""
    out = {k: v for k, v in values.items() if v is not None}
    return out or ""


def school(s: r.School) -> dict[str, Any]:
    return {
        "id": s.source_id,
        "name": s.name,
        "school_number": s.source_id,
        "time_zone": s.timezone,
        "school_year": {"start_date": s.year_start_date.isoformat(), "end_date": s.year_end_date.isoformat()},
    }


def student(s: r.Student) -> dict[str, Any]:
    number = grade_number(s.grade_level)
    enrollment: dict[str, Any] = {
        "school_id": s.school_id,
        # /ws/v1 sends some numbers as numbers and others as strings; clients must take both.
        "grade_level": int(number) if number.lstrip("-").isdigit() else number,
        "enroll_status_code": _STATUS_CODES[s.enrollment_status],
        "enroll_status": s.enrollment_status.value[0].upper(),
    }
    _put(enrollment, "entry_date", s.entry_date and s.entry_date.isoformat())
    _put(enrollment, "exit_date", s.exit_date and s.exit_date.isoformat())
    return {
        "id": s.source_id,
        "local_id": s.source_id,
        "name": _block(
            first_name=s.legal_first_name,
            last_name=s.legal_last_name,
            preferred_first_name=s.preferred_first_name,
            preferred_last_name=s.preferred_last_name,
        ),
        "demographics": {"birth_date": s.date_of_birth.isoformat()},
        "school_enrollment": enrollment,
        "schedule_setup": _block(home_room=s.homeroom),
        "contact_info": _block(email=s.email),
    }


def section(s: r.Section) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.source_id,
        "school_id": s.school_id,
        "course_number": s.course_code,
        "course_name": s.course_name,
        "staff": _block(display_name=s.teacher_name),
    }
    _put(out, "room", s.room)
    _put(out, "term_abbreviation", s.term)
    return out


def contact(c: r.Contact) -> dict[str, Any]:
    out = {"id": c.source_id, "firstname": c.first_name, "lastname": c.last_name}
    _put(out, "title", c.title)
    _put(out, "email", c.email)
    _put(out, "phone", c.phone)
    return out


def link(k: r.StudentContact) -> dict[str, Any]:
    return {
        "id": k.source_id,
        "studentid": k.student_id,
        "personid": k.contact_id,
        "relationship": k.relationship,
        "iscustodial": "1" if k.parental_responsibility else "0",
        "canaccessportal": "1" if k.portal_access else "0",
        "liveswithflg": "1" if k.lives_with else "0",
        "restrictedflg": "1" if k.court_order else "0",
        "contactpriorityorder": str(k.priority),
    }


def enrollment(e: r.Enrollment) -> dict[str, Any]:
    out = {"id": e.source_id, "sectionid": e.section_id, "studentid": e.student_id}
    _put(out, "dateenrolled", e.start_date and e.start_date.isoformat())
    _put(out, "dateleft", e.end_date and e.end_date.isoformat())
    return out


def timetable(t: r.TimetableEntry) -> dict[str, Any]:
    out = {
        "id": t.source_id,
        "sectionid": t.section_id,
        "day": str(t.day),
        "period_number": t.period,
        "start_time": _seconds(t.start_time),
        "end_time": _seconds(t.end_time),
        "week_pattern": t.week_pattern,
    }
    _put(out, "studentid", t.student_id)
    _put(out, "start_date", t.start_date and t.start_date.isoformat())
    _put(out, "end_date", t.end_date and t.end_date.isoformat())
    return out


def attendance(a: r.AttendanceMark) -> dict[str, Any]:
    out = {
        "id": a.source_id,
        "studentid": a.student_id,
        "att_date": a.date.isoformat(),
        "att_mode": a.session,
        "att_code": a.source_code,
        "code_category": _CATEGORIES[a.category],
        "whencreated": _iso(a.recorded_at),
    }
    if a.minutes_late is not None:
        out["minutes_late"] = str(a.minutes_late)
    return out


def assignment(a: r.Assignment) -> dict[str, Any]:
    out = {"id": a.source_id, "sectionid": a.section_id, "name": a.title, "duedate": a.due_date.isoformat()}
    _put(out, "category", a.category)
    _put(out, "assigneddate", a.set_date and a.set_date.isoformat())
    _put(out, "totalpointvalue", None if a.points_possible is None else repr(a.points_possible))
    return out


def result(a: r.AssignmentResult) -> dict[str, Any]:
    out = {"id": a.source_id, "assignmentsectionid": a.assignment_id, "studentid": a.student_id}
    _put(out, "scorepoints", None if a.score is None else repr(a.score))
    flag = _RESULT_FLAGS.get(a.status)
    if flag:
        out[flag] = "1"
    _put(out, "commentvalue", a.comment)
    return out


def grade(g: r.Grade) -> dict[str, Any]:
    out = {
        "id": g.source_id,
        "studentid": g.student_id,
        "sectionid": g.section_id,
        "finalgradename": g.term,
        "lastgradeupdate": _iso(g.updated_at),
    }
    _put(out, "grade", g.mark)
    _put(out, "percent", None if g.percent is None else repr(g.percent))
    return out


def behaviour(b: r.BehaviourEvent) -> dict[str, Any]:
    out = {
        "id": b.source_id,
        "studentid": b.student_id,
        "entry_datetime": _iso(b.occurred_at),
        "logtype": _LOG_TYPES[b.polarity],
        "points": str(b.points),
        "subtype": b.category,
    }
    _put(out, "entry", b.description)
    _put(out, "entry_author", b.staff_name)
    return out


def notice(n: r.Notice) -> dict[str, Any]:
    out = {
        "id": n.source_id,
        "audience": n.audience.value,
        "title": n.title,
        "body": n.body,
        "publish_from": _iso(n.publish_from),
    }
    _put(out, "schoolid", n.school_id)
    _put(out, "grade_level", n.year_group and grade_number(n.year_group))
    _put(out, "sectionid", n.section_id)
    _put(out, "publish_to", n.publish_to and _iso(n.publish_to))
    return out


def report(p: r.ProgressReport) -> dict[str, Any]:
    out = {
        "id": p.source_id,
        "studentid": p.student_id,
        "title": p.title,
        "period": p.period,
        "issued_date": p.issued_date.isoformat(),
    }
    _put(out, "comments", p.comments)
    return out


WIRE: dict[str, Callable[[Any], dict[str, Any]]] = {
    "school": school,
    "student": student,
    "section": section,
    "contact": contact,
    "link": link,
    "enrollment": enrollment,
    "timetable": timetable,
    "attendance": attendance,
    "assignment": assignment,
    "result": result,
    "grade": grade,
    "behaviour": behaviour,
    "notice": notice,
    "report": report,
}


def to_wire(record: r.Record) -> dict[str, Any]:
    return WIRE[record.kind](record)
