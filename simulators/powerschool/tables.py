"""Which endpoint serves each record kind in the PowerSchool-like simulator, and its columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Table:
    """How one record kind is served: a /ws/v1 resource, a schema table or a PowerQuery."""

    kind: str
    api: str  # "v1", "table" or "query"
    name: str  # v1 resource, table name, or PowerQuery name
    table: str  # the table its columns are nested under in /ws/schema
    has_txn: bool


TABLES: dict[str, Table] = {
    t.kind: t
    for t in (
        Table("school", "v1", "school", "", False),
        Table("student", "v1", "student", "", False),
        Table("section", "v1", "section", "", False),
        Table("contact", "query", "com.portico.guardians.contacts", "person", False),
        Table("link", "query", "com.portico.guardians.student_contacts", "studentcontactassoc", False),
        Table("enrollment", "table", "cc", "cc", True),
        Table("timetable", "table", "section_meeting", "section_meeting", False),
        Table("attendance", "table", "attendance", "attendance", True),
        Table("assignment", "table", "assignmentsection", "assignmentsection", True),
        Table("result", "table", "assignmentscore", "assignmentscore", True),
        Table("grade", "table", "pgfinalgrades", "pgfinalgrades", True),
        Table("behaviour", "table", "log", "log", True),
        Table("notice", "table", "announcement", "announcement", False),
        Table("report", "table", "u_progress_report", "u_progress_report", False),
    )
}
BY_TABLE = {t.name: t for t in TABLES.values() if t.api != "v1"}

# Columns each schema table or PowerQuery knows, for ``q=``/``projection=`` checks.
COLUMNS: dict[str, frozenset[str]] = {
    kind: frozenset(cols.split())
    for kind, cols in {
        "contact": "id firstname lastname title email phone",
        "link": "id schoolid studentid personid relationship iscustodial canaccessportal liveswithflg "
        "restrictedflg contactpriorityorder",
        "enrollment": "id schoolid sectionid studentid dateenrolled dateleft",
        "timetable": "id schoolid sectionid studentid day period_number start_time end_time week_pattern "
        "start_date end_date",
        "attendance": "id schoolid studentid att_date att_mode att_code code_category minutes_late "
        "whencreated",
        "assignment": "id schoolid sectionid name category assigneddate duedate totalpointvalue",
        "result": "id schoolid assignmentsectionid studentid scorepoints isexempt ismissing islate "
        "iscollected commentvalue",
        "grade": "id schoolid studentid sectionid finalgradename grade percent lastgradeupdate",
        "behaviour": "id schoolid studentid entry_datetime logtype points subtype entry entry_author",
        "notice": "id audience schoolid grade_level sectionid title body publish_from publish_to",
        "report": "id schoolid studentid title period issued_date comments",
    }.items()
}
