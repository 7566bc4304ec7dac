"""What the connector reads from a PowerSchool server, declared once.

Every ``/ws/schema/table`` read (:class:`Read`), every named PowerQuery (:class:`Query`)
and the one ``/ws/v1`` list (:data:`V1_SCHOOLS`) is declared here. The projections the
connector sends, the plugin's ``<access_request>`` and its ``queries_root`` files are all
made from these declarations (:func:`reads_for`, :func:`access_request`,
:mod:`connectors.powerschool.plugin`), so the plugin a district installs grants exactly
what the connector asks for, and a test holds the connector to it.

Column names are lower case as they appear on the wire; the plugin spells them in upper
case as PowerSchool's data dictionary does. Sources for each table's columns are cited in
``docs/powerschool.md`` and in the test fixtures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CURSOR_COLUMNS = ("transaction_date", "whenmodified")


@dataclass(frozen=True)
class Read:
    """One ``/ws/schema/table/{table}`` read.

    ``columns`` are asked for with ``projection=`` (a read may ask for a subset); ``key``
    names the columns that identify a row (the key-only re-read asks for these alone);
    ``cursor`` is the incremental column, if the read has one; ``filters`` are the columns
    named in ``q=``. A cursor that is a date rather than a change stamp (``lookback_days``)
    is read again from that many days before the latest value seen.
    """

    table: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    cursor: str | None = None
    filters: tuple[str, ...] = ()
    lookback_days: int = 0

    def fields(self) -> set[str]:
        return {*self.columns, *self.key, *self.filters, *((self.cursor,) if self.cursor else ())}


@dataclass(frozen=True)
class Query:
    """A named PowerQuery the plugin installs (``POST /ws/schema/query/{name}``).

    ``columns`` pairs each ``TABLE.COLUMN`` the query declares with the label its rows
    carry, in the order the SQL returns them; ``key`` is the label that identifies a row.
    """

    name: str
    core_table: str
    description: str
    columns: tuple[tuple[str, str], ...]
    sql: str
    key: str

    def labels(self) -> tuple[str, ...]:
        return tuple(label for _, label in self.columns)

    def fields(self) -> set[tuple[str, str]]:
        """Every ``(table, column)`` the query names in its columns or its SQL."""
        out = {tuple(c.lower().split(".", 1)) for c, _ in self.columns}
        out |= sql_fields(self.sql)
        return {(t, c) for t, c in out}


_ALIAS = re.compile(r"\b(?:from|join)\s+([a-z_][a-z0-9_]*)\s+(?!on\b|where\b|join\b)([a-z_][a-z0-9_]*)", re.I)
_REF = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b", re.I)


def sql_fields(sql: str) -> set[tuple[str, str]]:
    """``(table, column)`` pairs a query's SQL touches: ``alias.column`` after resolving
    the aliases of ``FROM``/``JOIN`` clauses. Conservative: a reference to an unknown alias
    is an error, so a query cannot touch a column the plugin does not request."""
    aliases = {alias.lower(): table.lower() for table, alias in _ALIAS.findall(sql)}
    out = set()
    for alias, column in _REF.findall(sql):
        table = aliases.get(alias.lower())
        if table is None:
            raise ValueError(f"query SQL refers to {alias}.{column} without a FROM/JOIN alias {alias}")
        out.add((table, column.lower()))
    return out


# --- /ws/v1 ------------------------------------------------------------------------------

# GET /ws/v1/district/school: id = SCHOOLS.DCID, school_number = SCHOOLS.SCHOOL_NUMBER.
V1_SCHOOLS = Read("schools", ("dcid", "name", "school_number"), key=("dcid",))

# --- /ws/schema/table reads ----------------------------------------------------------------

TERMS = Read(
    "terms",
    ("dcid", "id", "yearid", "schoolid", "abbreviation", "firstday", "lastday", "isyearrec"),
    key=("dcid",),
    filters=("lastday",),
)
STUDENTS = Read(
    "students",
    ("dcid", "id", "student_number", "schoolid", "first_name", "last_name", "dob", "grade_level",
     "enroll_status", "entrydate", "exitdate", "home_room"),
    key=("dcid",),
    filters=("schoolid", "exitdate"),
)  # fmt: skip
# The identity map alone: a projection of STUDENTS.
STUDENT_KEYS = ("dcid", "id", "student_number", "schoolid")
# Older servers, or districts whose contacts were never migrated: guardians as text on STUDENTS.
LEGACY_GUARDIANS = Read(
    "students",
    ("dcid", "mother", "father", "guardianemail", "home_phone", "allowwebaccess"),
    key=("dcid",),
    filters=("schoolid", "exitdate"),
)
SECTIONS = Read(
    "sections",
    ("dcid", "id", "schoolid", "course_number", "termid", "teacher", "room"),
    key=("dcid",),
    filters=("schoolid", "termid"),
)
SECTION_KEYS = ("dcid", "id")
COURSES = Read("courses", ("course_number", "course_name"), key=("course_number",))
SCHOOLSTAFF = Read("schoolstaff", ("id", "users_dcid"), key=("id",))
USERS = Read("users", ("dcid", "first_name", "last_name"), key=("dcid",))
CC = Read(
    "cc",
    ("dcid", "studentid", "sectionid", "dateenrolled", "dateleft"),
    key=("dcid",),
    cursor="transaction_date",
    filters=("schoolid", "dateleft"),
)
SECTION_MEETING = Read(
    "section_meeting",
    ("sectionid", "cycle_day_letter", "period_number", "schoolid"),
    key=("sectionid", "cycle_day_letter", "period_number"),
    filters=("schoolid", "year_id"),
)
CYCLE_DAY = Read("cycle_day", ("id", "schoolid", "letter"), key=("id",), filters=("year_id",))
PERIOD = Read(
    "period", ("id", "schoolid", "period_number", "abbreviation"), key=("id",), filters=("year_id",)
)
CALENDAR_DAY = Read(
    "calendar_day",
    ("schoolid", "date_value", "cycle_day_id", "bell_schedule_id"),
    key=("schoolid", "date_value"),
    filters=("date_value", "insession"),
)
BELL_SCHEDULE_ITEMS = Read(
    "bell_schedule_items",
    ("bell_schedule_id", "period_id", "start_time", "end_time"),
    key=("bell_schedule_id", "period_id"),
)
ATTENDANCE = Read(
    "attendance",
    ("dcid", "studentid", "att_date", "att_mode_code", "attendance_codeid", "periodid"),
    key=("dcid",),
    cursor="transaction_date",
    filters=("schoolid", "att_date"),
)
ATTENDANCE_CODE = Read(
    "attendance_code", ("id", "att_code", "presence_status_cd"), key=("id",), filters=("yearid",)
)
ASSIGNMENTSECTION = Read(
    "assignmentsection",
    ("assignmentsectionid", "sectionsdcid", "name", "duedate", "totalpointvalue"),
    key=("assignmentsectionid",),
    cursor="whenmodified",
    filters=("yearid",),
)
# The assignments whose scores the teacher has not published (PowerTeacher Pro).
UNPUBLISHED_SCORES = Read(
    "assignmentsection",
    ("assignmentsectionid",),
    key=("assignmentsectionid",),
    filters=("yearid", "isscorespublish"),
)
ASSIGNMENTSCORE = Read(
    "assignmentscore",
    ("assignmentscoreid", "assignmentsectionid", "studentsdcid", "scorepoints", "islate", "ismissing",
     "isexempt", "iscollected"),
    key=("assignmentscoreid",),
    cursor="whenmodified",
    filters=("whencreated",),
)  # fmt: skip
STOREDGRADES = Read(
    "storedgrades",
    ("dcid", "studentid", "sectionid", "storecode", "grade", "percent", "datestored"),
    key=("dcid",),
    cursor="transaction_date",
    filters=("schoolid", "termid"),
)
PGFINALGRADES = Read(
    "pgfinalgrades",
    ("dcid", "studentid", "sectionid", "finalgradename", "grade", "percent", "lastgradeupdate"),
    key=("dcid",),
    cursor="transaction_date",
    filters=("startdate",),
)
# LOG has no change stamp every server is known to have: incremental reads take the entries
# dated from a week before the latest date seen (new entries and recent edits); the full
# reads the schedule makes (full_every) find older edits and deletions.
LOG = Read(
    "log",
    ("dcid", "studentid", "logtypeid", "entry_date", "entry"),
    key=("dcid",),
    cursor="entry_date",
    filters=("logtypeid", "entry_date"),
    lookback_days=7,
)
LOG_TYPES = Read("gen", ("id", "name"), key=("id",), filters=("cat",))


def notices_read(table: str) -> Read:
    """A district's own notices table (PowerSchool has none a parent portal can use)."""
    return Read(
        table,
        ("id", "audience", "schoolid", "grade_level", "sectionsdcid", "title", "body", "publish_from",
         "publish_to"),
        key=("id",),
    )  # fmt: skip


def reports_read(table: str) -> Read:
    """A district's own progress-report table (PowerSchool has no standard one)."""
    return Read(table, ("id", "studentsdcid", "title", "period", "issued_date", "comments"), key=("id",))


# --- named PowerQueries (installed by the plugin) -------------------------------------------

CONTACT_PERSONS = Query(
    name="com.portico.sis.contacts.persons",
    core_table="person",
    description="Every person who is a contact of a student, with a primary email and a preferred phone",
    columns=(
        ("PERSON.ID", "person_id"),
        ("PERSON.FIRSTNAME", "contact_first_name"),
        ("PERSON.LASTNAME", "contact_last_name"),
        ("EMAILADDRESS.EMAILADDRESS", "contact_email"),
        ("PERSONPHONENUMBERASSOC.PHONENUMBERASENTERED", "contact_phonenumber"),
    ),
    sql="""
SELECT p.id, p.firstname, p.lastname,
  (SELECT ea.emailaddress FROM personemailaddressassoc pea
     JOIN emailaddress ea ON ea.emailaddressid = pea.emailaddressid
    WHERE pea.personid = p.id
    ORDER BY pea.isprimaryemailaddress DESC, pea.emailaddresspriorityorder
    FETCH FIRST 1 ROWS ONLY),
  (SELECT COALESCE(ppa.phonenumberasentered, pn.phonenumber) FROM personphonenumberassoc ppa
     JOIN phonenumber pn ON pn.phonenumberid = ppa.phonenumberid
    WHERE ppa.personid = p.id
    ORDER BY ppa.ispreferred DESC, ppa.phonenumberpriorityorder
    FETCH FIRST 1 ROWS ONLY)
FROM person p
WHERE EXISTS (SELECT 1 FROM studentcontactassoc sca WHERE sca.personid = p.id)
ORDER BY p.id
""",
    key="person_id",
)

CONTACT_LINKS = Query(
    name="com.portico.sis.contacts.student_contacts",
    core_table="studentcontactassoc",
    description="Each student-contact association with its current detail and the contact's data access",
    columns=(
        ("STUDENTCONTACTASSOC.STUDENTCONTACTASSOCID", "studentcontactassocid"),
        ("STUDENTCONTACTASSOC.STUDENTDCID", "student_dcid"),
        ("STUDENTCONTACTASSOC.PERSONID", "person_id"),
        ("STUDENTCONTACTASSOC.CONTACTPRIORITYORDER", "contactpriorityorder"),
        ("CODESET.CODE", "relationship"),
        ("STUDENTCONTACTDETAIL.ISCUSTODIAL", "iscustodial"),
        ("STUDENTCONTACTDETAIL.LIVESWITHFLG", "liveswithflg"),
        ("PERSON.ISACTIVE", "person_isactive"),
        ("GUARDIANSTUDENT.GUARDIANID", "has_data_access"),
    ),
    sql="""
SELECT sca.studentcontactassocid, sca.studentdcid, sca.personid, sca.contactpriorityorder,
  cs.code, scd.iscustodial, scd.liveswithflg, p.isactive,
  CASE WHEN EXISTS (
    SELECT 1 FROM guardianstudent gs
      JOIN guardianpersonassoc gpa ON gpa.guardianid = gs.guardianid
     WHERE gs.studentsdcid = sca.studentdcid AND gpa.personid = sca.personid) THEN 1 ELSE 0 END
FROM studentcontactassoc sca
JOIN studentcontactdetail scd ON scd.studentcontactassocid = sca.studentcontactassocid AND scd.isactive = 1
JOIN person p ON p.id = sca.personid
LEFT JOIN codeset cs ON cs.codesetid = scd.relationshiptypecodesetid
ORDER BY sca.studentcontactassocid
""",
    key="studentcontactassocid",
)

STUDENT_EMAILS = Query(
    name="com.portico.sis.students.emails",
    core_table="students",
    description="Each student's own primary email address (through the student's person record)",
    columns=(("STUDENTS.DCID", "student_dcid"), ("EMAILADDRESS.EMAILADDRESS", "student_email")),
    sql="""
SELECT s.dcid, ea.emailaddress
FROM students s
JOIN personemailaddressassoc pea ON pea.personid = s.person_id AND pea.isprimaryemailaddress = 1
JOIN emailaddress ea ON ea.emailaddressid = pea.emailaddressid
ORDER BY s.dcid
""",
    key="student_dcid",
)

QUERIES = (CONTACT_PERSONS, CONTACT_LINKS, STUDENT_EMAILS)


# --- the access request ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The reads and queries one configuration of the connector makes (``streams.plan``)."""

    reads: tuple[Read, ...]
    queries: tuple[Query, ...]
    v1: tuple[Read, ...] = field(default=(V1_SCHOOLS,))


def access_request(p: Plan) -> list[tuple[str, str]]:
    """``(TABLE, FIELD)`` pairs, upper case and sorted: exactly what the plan reads."""
    out: set[tuple[str, str]] = set()
    for read in (*p.v1, *p.reads):
        out.update((read.table.upper(), c.upper()) for c in read.fields())
    for query in p.queries:
        out.update((t.upper(), c.upper()) for t, c in query.fields())
    return sorted(out)
