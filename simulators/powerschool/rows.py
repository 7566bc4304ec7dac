"""Rows of the record-backed tables and named queries of the simulated server.

Each function turns one of the model's records (and its ``transaction_date``) into the
row a server sends: every column it has, values as strings, null columns left out,
timestamps in district time without an offset, keys in their PowerSchool namespaces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from connectors import records as r
from simulators.powerschool.model import (
    GRADE_NUMBERS,
    ID_OFFSET,
    LETTERS,
    LOG_TYPE_IDS,
    POLARITY_TYPE,
    STATUS_CODES,
    PowerSchoolModel,
    yes,
)


def students(m: PowerSchoolModel, s: r.Student, txn: str) -> dict[str, Any]:
    grade = s.grade_level
    number = GRADE_NUMBERS.get(grade, grade)
    row: dict[str, Any] = {
        "dcid": s.source_id, "id": m.students_id(s.source_id),
        "student_number": m.student_number.get(s.source_id, str(int(s.source_id) + 7_000_000)),
        "first_name": s.legal_first_name, "last_name": s.legal_last_name,
        "lastfirst": f"{s.legal_last_name}, {s.legal_first_name}", "grade_level": str(number),
        "schoolid": m.school_number.get(s.school_id, "0"),
        "enroll_status": str(STATUS_CODES[s.enrollment_status]),
        "exitdate": (s.exit_date or m.year_end + dt.timedelta(days=1)).isoformat(),
        "person_id": str(int(s.source_id) + 8_000_000), "transaction_date": txn,
    }  # fmt: skip
    if s.entry_date is not None:
        row["entrydate"] = s.entry_date.isoformat()
    if s.date_of_birth is not None:
        row["dob"] = s.date_of_birth.isoformat()
    if s.homeroom:
        row["home_room"] = s.homeroom
    parents = m.legacy.get(s.source_id, [])
    roles: dict[str, r.Contact] = {}
    for link, person in parents:
        role = "father" if link.relationship == "Father" else "mother"
        if role in roles:
            role = "mother" if role == "father" else "father"
        roles[role] = person
    emails = []
    for role in ("mother", "father"):
        named = roles.get(role)
        if named is not None:
            row[role] = f"{named.last_name}, {named.first_name}"
            if named.email:
                emails.append(named.email)
    if emails:
        row["guardianemail"] = ",".join(emails)
    if parents:
        row["home_phone"] = parents[0][1].phone or ""
        row["allowwebaccess"] = yes(any(link.portal_access and not link.court_order for link, _ in parents))
    return row


def sections(m: PowerSchoolModel, s: r.Section, txn: str) -> dict[str, Any]:
    row = {
        "dcid": s.source_id, "id": m.sections_id(s.source_id),
        "schoolid": m.school_number.get(s.school_id, "0"), "course_number": s.course_code,
        "section_number": "1", "termid": str(m.yearid * 100), "expression": "1(A-E)",
        "external_expression": "1(M-F)", "gradebooktype": "2", "transaction_date": txn,
    }  # fmt: skip
    staff = m.staff.get((s.school_id, s.teacher_name or ""))
    if staff:
        row["teacher"] = staff
    if s.room:
        row["room"] = s.room
    return row


def cc(m: PowerSchoolModel, e: r.Enrollment, txn: str) -> dict[str, Any]:
    dcid = int(e.source_id)
    section = m.sections_id(e.section_id)
    term = str(m.yearid * 100)
    if e.end_date is not None and e.end_date < m.today:
        section, term = f"-{section}", f"-{term}"  # dropped: PowerSchool negates both
    row = {
        "dcid": str(dcid), "id": str(dcid + ID_OFFSET), "studentid": m.students_id(e.student_id),
        "sectionid": section, "termid": term, "schoolid": m.number_of_section(e.section_id),
        "course_number": m.section[e.section_id].course_code if e.section_id in m.section else "",
        "section_number": "1", "transaction_date": txn,
    }  # fmt: skip
    if e.start_date:
        row["dateenrolled"] = e.start_date.isoformat()
    if e.end_date:
        row["dateleft"] = e.end_date.isoformat()
    return row


def section_meeting(m: PowerSchoolModel, t: r.TimetableEntry, txn: str) -> dict[str, Any]:
    return {
        "sectionid": m.sections_id(t.section_id), "schoolid": m.number_of_section(t.section_id),
        "year_id": str(m.yearid), "period_number": t.period, "cycle_day_letter": LETTERS[t.day - 1],
    }  # fmt: skip


def attendance(m: PowerSchoolModel, a: r.AttendanceMark, txn: str) -> dict[str, Any]:
    dcid = int(a.source_id)
    school = m.student_school.get(a.student_id, "")
    return {
        "dcid": a.source_id, "id": str(dcid + ID_OFFSET), "studentid": m.students_id(a.student_id),
        "schoolid": m.school_number.get(school, "0"), "yearid": str(m.yearid),
        "att_date": a.date.isoformat(), "att_mode_code": "ATT_ModeDaily",
        "attendance_codeid": m.code_id.get((school, a.source_code), "0"), "ccid": "0", "periodid": "0",
        "calendar_dayid": str(m.calendar_base.get(school, 0) + (a.date - m.year_start).days),
        "transaction_date": txn,
    }  # fmt: skip


def assignmentsection(m: PowerSchoolModel, a: r.Assignment, txn: str) -> dict[str, Any]:
    row = {
        "assignmentsectionid": a.source_id, "assignmentid": str(int(a.source_id) + ID_OFFSET),
        "sectionsdcid": a.section_id, "name": a.title, "duedate": a.due_date.isoformat(),
        "scoretype": "POINTS", "isscorespublish": "1", "publishoption": "Immediately",
        "iscountedinfinalgrade": "1", "yearid": str(m.yearid), "whencreated": txn, "whenmodified": txn,
    }  # fmt: skip
    if a.points_possible is not None:
        row["totalpointvalue"] = repr(a.points_possible)
    return row


def assignmentscore(m: PowerSchoolModel, a: r.AssignmentResult, txn: str) -> dict[str, Any]:
    s = a.status
    row = {
        "assignmentscoreid": a.source_id, "assignmentsectionid": a.assignment_id,
        "studentsdcid": a.student_id, "islate": yes(s is r.ResultStatus.LATE),
        "ismissing": yes(s is r.ResultStatus.MISSING), "isexempt": yes(s is r.ResultStatus.EXEMPT),
        "isincomplete": "0", "isabsent": "0",
        "iscollected": yes(s in (r.ResultStatus.SUBMITTED, r.ResultStatus.LATE)),
        "whencreated": txn, "whenmodified": txn,
    }  # fmt: skip
    if a.score is not None:
        row["scorepoints"] = repr(a.score)
        row["actualscoreentered"] = repr(a.score)
    elif s is r.ResultStatus.EXEMPT:
        row["actualscoreentered"] = "EX"
    return row


def grade_row(m: PowerSchoolModel, g: r.Grade, txn: str) -> dict[str, Any]:
    table, _, dcid = g.source_id.partition(":")
    row: dict[str, Any] = {
        "dcid": dcid, "studentid": m.students_id(g.student_id), "sectionid": m.sections_id(g.section_id),
        "transaction_date": txn,
    }  # fmt: skip
    first, last = m.quarter.get(g.term, (m.year_start, m.year_end))
    if table == "storedgrades":
        row.update(termid=m.quarter_id.get(g.term, "0"), schoolid=m.number_of_section(g.section_id),
                   storecode=g.term, datestored=last.isoformat())  # fmt: skip
        section = m.section.get(g.section_id)
        if section:
            row.update(course_number=section.course_code, course_name=section.course_name)
    else:
        row.update(id=dcid, finalgradename=g.term, startdate=first.isoformat(), enddate=last.isoformat(),
                   lastgradeupdate=min(last, m.today).isoformat(), gradebooktype="2")  # fmt: skip
    row["grade"] = g.mark if g.mark is not None else "--"
    if g.percent is not None:
        row["percent"] = repr(g.percent)
    return row


def log(m: PowerSchoolModel, b: r.BehaviourEvent, txn: str) -> dict[str, Any]:
    dcid = int(b.source_id)
    row = {
        "dcid": b.source_id, "id": str(dcid + ID_OFFSET), "studentid": m.students_id(b.student_id),
        "schoolid": m.number_of_student(b.student_id), "logtypeid": LOG_TYPE_IDS[POLARITY_TYPE[b.polarity]],
        "entry_date": b.occurred_at.astimezone(m.zone).date().isoformat(),
    }  # fmt: skip
    if b.description:
        row["entry"] = b.description
    return row


def notices(m: PowerSchoolModel, x: r.Notice, txn: str) -> dict[str, Any]:
    row: dict[str, Any] = {"id": x.source_id, "audience": x.audience.value, "title": x.title, "body": x.body,
                           "publish_from": m.local_text(x.publish_from)}  # fmt: skip
    if x.school_id:
        row["schoolid"] = m.school_number.get(x.school_id, "0")
    if x.year_group:
        row["grade_level"] = str(GRADE_NUMBERS.get(x.year_group, x.year_group))
    if x.section_id:
        row["sectionsdcid"] = x.section_id
    if x.publish_to:
        row["publish_to"] = m.local_text(x.publish_to)
    return row


def reports(m: PowerSchoolModel, p: r.ProgressReport, txn: str) -> dict[str, Any]:
    row = {"id": p.source_id, "studentsdcid": p.student_id, "title": p.title, "period": p.period,
           "issued_date": p.issued_date.isoformat()}  # fmt: skip
    if p.comments:
        row["comments"] = p.comments
    return row


# --- the queries the Portico plugin installs ---------------------------------------------------


def q_persons(m: PowerSchoolModel, c: r.Contact, txn: str) -> dict[str, Any]:
    row = {"person_id": c.source_id, "contact_first_name": c.first_name, "contact_last_name": c.last_name}
    if c.email:
        row["contact_email"] = c.email
    if c.phone:
        row["contact_phonenumber"] = c.phone
    return row


def q_links(m: PowerSchoolModel, k: r.StudentContact, txn: str) -> dict[str, Any]:
    return {
        "studentcontactassocid": k.source_id, "student_dcid": k.student_id, "person_id": k.contact_id,
        "contactpriorityorder": str(k.priority), "relationship": k.relationship,
        "iscustodial": yes(bool(k.parental_responsibility)), "liveswithflg": yes(bool(k.lives_with)),
        "person_isactive": "1", "has_data_access": yes(bool(k.portal_access)),
    }  # fmt: skip


def q_emails(m: PowerSchoolModel, s: r.Student, txn: str) -> dict[str, Any]:
    return {"student_dcid": s.source_id, "student_email": s.email or ""}


ROWS: dict[str, Callable[[PowerSchoolModel, Any, str], dict[str, Any]]] = {
    "students": students,
    "sections": sections,
    "cc": cc,
    "section_meeting": section_meeting,
    "attendance": attendance,
    "assignmentsection": assignmentsection,
    "assignmentscore": assignmentscore,
    "storedgrades": grade_row,
    "pgfinalgrades": grade_row,
    "log": log,
    "u_portico_notices": notices,
    "u_portico_reports": reports,
    "com.portico.sis.contacts.persons": q_persons,
    "com.portico.sis.contacts.student_contacts": q_links,
    "com.portico.sis.students.emails": q_emails,
}
