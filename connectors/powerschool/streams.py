"""The connector's streams: which declared reads feed each canonical record kind.

A stream's *primary* reads give its rows (one record, or one set-aside, per row, and the
keys a key-only re-read compares); its *lookups* are reference tables and queries that
rows are joined with (codes, periods, terms, the students' emails).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from connectors.powerschool import declare as d

Source = d.Read | d.Query


@dataclass(frozen=True)
class Choices:
    """The options that change what the connector reads."""

    legacy_contacts: bool = False
    notices_table: str | None = None
    reports_table: str | None = None
    log_types: bool = False  # behaviour is read only when the district maps its log types
    school_filter: bool = False  # options.school_ids: tables are read school by school (q=schoolid==N)


@dataclass(frozen=True)
class StreamSpec:
    name: str
    kind: str
    incremental: bool = False

    def offered(self, c: Choices) -> bool:
        if self.name == "notices":
            return c.notices_table is not None
        if self.name == "reports":
            return c.reports_table is not None
        if self.name == "behaviour":
            return c.log_types
        return True

    def primary(self, c: Choices) -> tuple[Source, ...]:
        return _PRIMARY[self.name](c)

    def lookups(self, c: Choices) -> tuple[Source, ...]:
        return _LOOKUPS[self.name](c) if self.name in _LOOKUPS else ()


Pick = Callable[[Choices], tuple[Source, ...]]
_PRIMARY: dict[str, Pick] = {
    "schools": lambda c: (d.V1_SCHOOLS,),
    "students": lambda c: (d.STUDENTS,),
    "contacts": lambda c: (d.LEGACY_GUARDIANS,) if c.legacy_contacts else (d.CONTACT_PERSONS,),
    "links": lambda c: (d.LEGACY_GUARDIANS,) if c.legacy_contacts else (d.CONTACT_LINKS,),
    "sections": lambda c: (d.SECTIONS,),
    "enrollments": lambda c: (d.CC,),
    "timetable": lambda c: (d.SECTION_MEETING,),
    "attendance": lambda c: (d.ATTENDANCE,),
    "assignments": lambda c: (d.ASSIGNMENTSECTION,),
    "results": lambda c: (d.ASSIGNMENTSCORE,),
    "grades": lambda c: (d.STOREDGRADES, d.PGFINALGRADES),
    "behaviour": lambda c: (d.LOG,),
    "notices": lambda c: (d.notices_read(c.notices_table or ""),),
    "reports": lambda c: (d.reports_read(c.reports_table or ""),),
}
# Every stream may need the school list, the terms and the identity maps (STUDENTS, SECTIONS).
_COMMON = (d.TERMS,)
_LOOKUPS: dict[str, Pick] = {
    "schools": lambda c: _COMMON,
    "students": lambda c: _COMMON + (() if c.legacy_contacts else (d.STUDENT_EMAILS,)),
    "links": lambda c: _COMMON + (d.STUDENTS,),
    "sections": lambda c: _COMMON + (d.COURSES, d.SCHOOLSTAFF, d.USERS),
    "enrollments": lambda c: _COMMON + (d.STUDENTS, d.SECTIONS),
    "timetable": lambda c: (
        _COMMON + (d.SECTIONS, d.CYCLE_DAY, d.PERIOD, d.CALENDAR_DAY, d.BELL_SCHEDULE_ITEMS)
    ),
    "attendance": lambda c: _COMMON + (d.STUDENTS, d.ATTENDANCE_CODE, d.PERIOD),
    "assignments": lambda c: _COMMON + (d.SECTIONS,),
    "results": lambda c: _COMMON + (d.STUDENTS, d.UNPUBLISHED_SCORES),
    "grades": lambda c: _COMMON + (d.STUDENTS, d.SECTIONS),
    "behaviour": lambda c: _COMMON + (d.STUDENTS, d.LOG_TYPES),
    "notices": lambda c: _COMMON + (d.SECTIONS,),
    "reports": lambda c: _COMMON + (d.STUDENTS,),
}

# In the order the sync engine reads them: records referenced by later streams come first.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("schools", "school"),
    StreamSpec("students", "student"),
    StreamSpec("contacts", "contact"),
    StreamSpec("links", "link"),
    StreamSpec("sections", "section"),
    StreamSpec("enrollments", "enrollment", incremental=True),
    StreamSpec("timetable", "timetable"),
    StreamSpec("attendance", "attendance", incremental=True),
    StreamSpec("assignments", "assignment", incremental=True),
    StreamSpec("results", "result", incremental=True),
    StreamSpec("grades", "grade", incremental=True),
    StreamSpec("behaviour", "behaviour", incremental=True),
    StreamSpec("notices", "notice"),
    StreamSpec("reports", "report"),
)
BY_NAME = {s.name: s for s in STREAMS}

# /ws/v1/metadata keys holding the page-size caps.
V1_SCHOOL_CAP = "school_max_page_size"
SCHEMA_CAP_KEY = "schema_table_query_max_page_size"


def offered(c: Choices, names: Iterable[str] | None = None) -> list[StreamSpec]:
    """The streams a configuration reads, in dependency order."""
    chosen = set(names) if names is not None else None
    return [s for s in STREAMS if s.offered(c) and (chosen is None or s.name in chosen)]


def plan(c: Choices, names: Iterable[str] | None = None) -> d.Plan:
    """Every read and query a configuration makes: what its plugin must grant."""
    reads: list[d.Read] = []
    queries: list[d.Query] = []
    for spec in offered(c, names):
        for source in (*spec.primary(c), *spec.lookups(c)):
            if isinstance(source, d.Query):
                if source not in queries:
                    queries.append(source)
            elif source is not d.V1_SCHOOLS:
                if not c.school_filter and "schoolid" in source.filters:
                    source = dataclasses.replace(
                        source, filters=tuple(f for f in source.filters if f != "schoolid")
                    )
                if source not in reads:
                    reads.append(source)
    return d.Plan(tuple(reads), tuple(queries))
