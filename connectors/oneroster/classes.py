"""OneRoster classes, enrolments and gradebook to sections, enrolments, assignments and results.

A class is a section: its course's title, the class code, the room (``location``), its
terms' titles, and its primary teacher (``enrollments.primary``) by name. Student
enrolments become enrolments (``endDate`` is exclusive in the binding, inclusive in
Portico). Line items become assignments with their category's title; results keep
every score status: the binding's five (``exempt``, ``fully graded``, ``partially
graded``, ``submitted``, ``not submitted``), the 1.2 ``late`` and ``missing`` flags, a
proprietary ``ext:`` status (kept as the source's word), and a non-numeric
``textScore``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from config.errors import RecordError
from connectors import records as rec
from connectors.oneroster.cells import Bad, items, parse_bool, parse_date
from connectors.oneroster.people import User
from connectors.oneroster.tables import Row, Tables

_STATUS = {
    "exempt": rec.ResultStatus.EXEMPT,
    "fully graded": rec.ResultStatus.GRADED,
    "partially graded": rec.ResultStatus.PARTIALLY_GRADED,
    "submitted": rec.ResultStatus.SUBMITTED,
    "not submitted": rec.ResultStatus.NOT_SUBMITTED,
}


@dataclass
class Classes:
    sections: list[rec.Section] = field(default_factory=list)
    enrollments: list[rec.Enrollment] = field(default_factory=list)
    homerooms: dict[str, str] = field(default_factory=dict)  # student user sourcedId -> registration group
    errors: dict[str, list[RecordError]] = field(default_factory=dict)
    served: set[str] = field(default_factory=set)  # class sourcedIds of the schools served


def _err(c: Classes, stream: str, reason: str, where: str, column: str = "") -> None:
    c.errors.setdefault(stream, []).append(RecordError(reason, where=where, field=column))


def _current(begin: dt.date | None, end: dt.date | None, today: dt.date) -> bool:
    return (begin is None or begin <= today) and (end is None or today < end)


def build_classes(
    tables: Tables, schools: set[str], today: dt.date, terms: dict[str, str], users: dict[str, User]
) -> tuple[Classes, list[tuple[str, Row]]]:
    """Sections and homerooms; the student enrolment rows are returned for ``enrollments``
    (which needs the students' keys, known only once the students are built)."""
    out = Classes()
    courses = {row["sourcedId"]: row for _, row in tables.rows("courses")}
    classes: dict[str, tuple[str, Row]] = {}
    for where, row in tables.rows("classes"):
        if row["schoolSourcedId"] in schools:
            classes[row["sourcedId"]] = (where, row)
    out.served = set(classes)
    teachers: dict[str, tuple[bool, bool, str]] = {}  # class -> (primary, current, name)
    student_rows: list[tuple[str, Row]] = []
    for where, row in tables.rows("enrollments"):
        cls = classes.get(row["classSourcedId"])
        if cls is None:
            continue  # a class of another school
        try:
            begin, end = (
                parse_date(row.get("beginDate", ""), "beginDate"),
                parse_date(row.get("endDate", ""), "endDate"),
            )
        except Bad as bad:
            _err(out, "class_members", bad.reason, where, bad.column)
            continue
        current = _current(begin, end, today)
        if row["role"] == "teacher":
            user = users.get(row["userSourcedId"])
            if user is None:
                continue
            name = f"{user.row['givenName']} {user.row['familyName']}"
            candidate = (row.get("primary") == "true", current, name)
            if candidate[:2] > teachers.get(row["classSourcedId"], (False, False, ""))[:2]:
                teachers[row["classSourcedId"]] = candidate
        elif row["role"] == "student":
            student_rows.append((where, row))
            if cls[1]["classType"] == "homeroom" and current:
                out.homerooms[row["userSourcedId"]] = cls[1].get("classCode") or cls[1]["title"]
    for sid, (_, row) in classes.items():
        course = courses.get(row["courseSourcedId"])
        term_titles = [terms[t] for t in items(row["termSourcedIds"]) if t in terms]
        out.sections.append(
            rec.Section(
                source_id=sid,
                school_id=row["schoolSourcedId"],
                course_name=course["title"] if course else row["title"],
                course_code=row.get("classCode") or (course or {}).get("courseCode") or row["title"],
                teacher_name=teachers[sid][2] if sid in teachers else None,
                room=row.get("location") or None,
                term=", ".join(term_titles) or None,
            )
        )
    return out, student_rows


def enrollments(out: Classes, rows: list[tuple[str, Row]], keys: dict[str, str]) -> None:
    for _, row in rows:
        key = keys.get(row["userSourcedId"])
        if key is None:
            continue  # a student not published (set aside with its reason, or of another school)
        begin, end = (
            parse_date(row.get("beginDate", ""), "beginDate"),
            parse_date(row.get("endDate", ""), "endDate"),
        )
        out.enrollments.append(
            rec.Enrollment(
                source_id=row["sourcedId"],
                section_id=row["classSourcedId"],
                student_id=key,
                start_date=begin,
                end_date=None if end is None else end - dt.timedelta(days=1),
            )
        )


def assignments(tables: Tables, served: set[str]) -> tuple[list[rec.Assignment], list[RecordError]]:
    categories = (
        {row["sourcedId"]: row["title"] for _, row in tables.rows("categories")}
        if tables.supplied("categories")
        else {}
    )
    found: list[rec.Assignment] = []
    errors: list[RecordError] = []
    if not tables.supplied("lineItems"):
        return found, errors
    for where, row in tables.rows("lineItems"):
        if row["classSourcedId"] not in served:
            continue
        try:
            due = parse_date(row["dueDate"], "dueDate")
            top = row.get("resultValueMax", "")
            points = _float(top, "resultValueMax") if top else None
            found.append(
                rec.Assignment(
                    source_id=row["sourcedId"],
                    section_id=row["classSourcedId"],
                    title=row["title"],
                    category=categories.get(row["categorySourcedId"]),
                    set_date=parse_date(row["assignDate"], "assignDate"),
                    due_date=due or dt.date.min,
                    points_possible=points,
                )
            )
        except Bad as bad:
            errors.append(RecordError(bad.reason, where=where, field=bad.column))
    return found, errors


def results(
    tables: Tables, keys: dict[str, str], assignment_ids: set[str]
) -> tuple[list[rec.AssignmentResult], list[RecordError]]:
    found: list[rec.AssignmentResult] = []
    errors: list[RecordError] = []
    if not tables.supplied("results"):
        return found, errors
    for where, row in tables.rows("results"):
        key = keys.get(row["studentSourcedId"])
        if key is None or row["lineItemSourcedId"] not in assignment_ids:
            continue  # a student or line item not published here
        try:
            found.append(_result(row, key))
        except Bad as bad:
            errors.append(RecordError(bad.reason, where=where, field=bad.column))
    return found, errors


def _result(row: Row, key: str) -> rec.AssignmentResult:
    word = row["scoreStatus"]
    status = _STATUS.get(word)
    if status is None:
        if not word.startswith("ext:"):
            raise Bad("scoreStatus", "not a OneRoster score status (or an ext: term)")
        status = rec.ResultStatus.NONE
    if status is not rec.ResultStatus.EXEMPT:
        # The 1.2 flags say more than the status word: missing, then late.
        if parse_bool(row.get("missing", ""), "missing"):
            status = rec.ResultStatus.MISSING
        elif parse_bool(row.get("late", ""), "late"):
            status = rec.ResultStatus.LATE
    score = row.get("score", "")
    return rec.AssignmentResult(
        source_id=row["sourcedId"],
        assignment_id=row["lineItemSourcedId"],
        student_id=key,
        score=_float(score, "score") if score else None,
        status=status,
        comment=row.get("comment") or None,
        text_score=row.get("textScore") or None,
        source_status=word,
    )


def _float(cell: str, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise Bad(column, "not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Bad(column, "not a finite number")
    return value
