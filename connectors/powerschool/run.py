"""What the streams of one PowerSchool run share, read once: the school list, the terms and the
current school year, the identity maps between namespaces, and the code and calendar tables.

The connector makes a new :class:`Run` when the first stream of a sync is read (the engine
builds a connector per sync), so nothing here outlives the run it was read for.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from config.errors import SourceDataError
from connectors.powerschool import declare as d
from connectors.powerschool import normalize as n
from connectors.powerschool.ids import SchoolIds, SectionIds, StudentIds
from connectors.powerschool.options import Options
from connectors.powerschool.reader import Reader
from connectors.powerschool.streams import SCHEMA_CAP_KEY, V1_SCHOOL_CAP
from connectors.powerschool.values import LocalTimes, clock_time, date, flag, ident, text
from connectors.records import AttendanceCategory

Row = dict[str, Any]
Rows = list[Row]


class Run:
    """The shared context of one run, loaded on demand (``need``)."""

    def __init__(self, options: Options, reader: Reader, meta: Callable[[], dict[str, Any]],
                 page_size: Callable[[str], int]) -> None:  # fmt: skip
        self.options = options
        self.reader = reader
        self.meta = meta
        self.page_size = page_size
        self._context: n.Context | None = None
        self.loaded: set[str] = set()
        self.school_rows: Rows | None = None
        self._year: tuple[int, dt.date, dt.date] | None = None
        self.log_type_ids: list[str] = []
        self.refreshed: set[str] = set()  # identity maps read again this run (a key named no record)

    def context(self) -> n.Context:
        if self._context is None:
            zone = self.options.timezone or self.meta().get("district_timezone")
            if not isinstance(zone, str) or not zone:
                raise SourceDataError(
                    "the server's /ws/v1/metadata names no district_timezone: set options.timezone"
                )
            try:
                times = LocalTimes(zone)
            except (KeyError, ValueError):
                raise SourceDataError(
                    "the server's district_timezone is not an IANA zone: set options.timezone"
                ) from None
            self._context = n.Context(times=times, zone=zone)
        return self._context

    def today(self) -> dt.date:
        return dt.datetime.now(self.context().times.zone).date()

    def need(self, *names: str) -> n.Context:
        ctx = self.context()
        for name in names:
            if name not in self.loaded:
                getattr(self, f"_load_{name}")(ctx)
                self.loaded.add(name)
        return ctx

    # A table or query read whole into a map is walked page by page: the rows of the whole
    # district (a student's e-mail, every staff member) are never held at once, only the map
    # built from them and the page at hand (docs/PERFORMANCE-scale.md, peak RSS).
    def _all_rows(self, read: d.Read, columns: Sequence[str], clauses: Sequence[str]) -> Iterator[Row]:
        _, pages = self.reader.table(read, columns, clauses, SCHEMA_CAP_KEY)
        return (row for _, rows, _ in pages for row in rows if isinstance(row, dict))

    def _query_rows(self, query: d.Query) -> Iterator[Row]:
        _, pages = self.reader.query(query, SCHEMA_CAP_KEY)
        return (row for _, rows, _ in pages for row in rows if isinstance(row, dict))

    def schools(self) -> Rows:
        """The /ws/v1 school list, read once per run."""
        if self.school_rows is None:
            pages = self.reader.v1_list("/ws/v1/district/school", "schools", "school", V1_SCHOOL_CAP)
            self.school_rows = [row for _, rows, _ in pages for row in rows]
        return self.school_rows

    def _load_schools(self, ctx: n.Context) -> None:
        ctx.schools = SchoolIds()
        for row in self.schools():
            try:
                ctx.schools.add(ident(row.get("id")), ident(row.get("school_number")))
            except (TypeError, ValueError, AttributeError):
                continue  # the schools stream sets it aside

    def selected(self) -> list[str] | None:
        """School numbers of ``options.school_ids`` (given as /ws/v1 ids, SCHOOLS.DCID)."""
        if self.options.school_ids is None:
            return None
        ctx = self.need("schools")
        numbers = []
        for dcid in self.options.school_ids:
            number = ctx.schools.number_of.get(dcid)
            if number is None:
                raise SourceDataError("options.school_ids names a school the server does not list")
            numbers.append(number)
        return numbers

    def _load_terms(self, ctx: n.Context) -> None:
        since = (self.today() - dt.timedelta(days=400)).isoformat()
        rows = self._all_rows(d.TERMS, d.TERMS.columns, [f"lastday=ge={since}"])
        years: list[tuple[dt.date, int, str, dt.date]] = []  # (first day, yearid, school, last day)
        for row in rows:
            try:
                school, term = ident(row.get("schoolid")), ident(row.get("id"))
                first, last = date(row.get("firstday")), date(row.get("lastday"))
            except (TypeError, ValueError):
                continue  # a term without dates names no days
            label = row.get("abbreviation")
            ctx.terms[(school, term)] = (text(label) if label not in (None, "") else term, first, last)
            if row.get("isyearrec") not in (None, "") and flag(row.get("isyearrec")):
                try:
                    years.append((first, int(ident(row.get("yearid"))), school, last))
                except (TypeError, ValueError):
                    continue
        if not years:
            return
        today = self.today()
        started = [y for y in years if y[0] <= today]
        yearid = max(started)[1] if started else min(years)[1]
        current = [y for y in years if y[1] == yearid]
        self._year = (yearid, min(y[0] for y in current), max(y[3] for y in current))
        for first, _, school, last in current:
            ctx.years[school] = (first, last)
        for first, _, school, last in sorted(years):  # a school without this year's term
            if school not in ctx.years and first <= today:
                ctx.years[school] = (first, last)

    def year(self) -> tuple[int, dt.date, dt.date]:
        self.need("terms")
        if self._year is None:
            raise SourceDataError(
                "TERMS holds no year term (ISYEARREC = 1) in the last year: no school year to read"
            )
        return self._year

    def _load_students(self, ctx: n.Context) -> None:
        """Students on roll at some point this school year (EXITDATE is the day after the last)."""
        start = self.year()[1]
        ctx.students = StudentIds.of(
            self._all_rows(d.STUDENTS, d.STUDENT_KEYS, [f"exitdate=ge={start.isoformat()}"])
        )

    def _load_sections(self, ctx: n.Context) -> None:
        yearid = self.year()[0]
        ctx.sections = SectionIds()
        for row in self._all_rows(
            d.SECTIONS, (*d.SECTION_KEYS, "schoolid", "termid"), [f"termid=ge={yearid * 100}"]
        ):
            ctx.sections.add(row)

    def _load_courses(self, ctx: n.Context) -> None:
        for row in self._all_rows(d.COURSES, d.COURSES.columns, []):
            number, name = row.get("course_number"), row.get("course_name")
            if number not in (None, "") and name not in (None, ""):
                ctx.courses[text(number)] = text(name)

    def _load_teachers(self, ctx: n.Context) -> None:
        names = {}
        for row in self._all_rows(d.USERS, d.USERS.columns, []):
            try:
                full = " ".join(
                    text(row[k]) for k in ("first_name", "last_name") if row.get(k) not in (None, "")
                )
                names[ident(row.get("dcid"))] = full
            except (TypeError, ValueError):
                continue
        for row in self._all_rows(d.SCHOOLSTAFF, d.SCHOOLSTAFF.columns, []):
            try:
                name = names.get(ident(row.get("users_dcid")))
                if name:
                    ctx.teachers[ident(row.get("id"))] = name
            except (TypeError, ValueError):
                continue

    def _load_emails(self, ctx: n.Context) -> None:
        for row in self._query_rows(d.STUDENT_EMAILS):
            email = row.get("student_email")
            try:
                if email not in (None, ""):
                    ctx.student_emails[ident(row.get("student_dcid"))] = text(email)
            except (TypeError, ValueError):
                continue

    def _load_codes(self, ctx: n.Context) -> None:
        yearid = self.year()[0]
        mapped = self.options.attendance_codes
        for row in self._all_rows(d.ATTENDANCE_CODE, d.ATTENDANCE_CODE.columns, [f"yearid=={yearid}"]):
            try:
                code_id = ident(row.get("id"))
            except (TypeError, ValueError):
                continue
            code = "" if row.get("att_code") is None else text(row.get("att_code")).strip()
            presence = str(row.get("presence_status_cd") or "").strip().lower()
            category = mapped.get(code)
            if category is None and presence == "present":
                category = AttendanceCategory.PRESENT
            elif category is None and presence == "absent":
                category = AttendanceCategory.UNAUTHORISED_ABSENCE
            if category is not None:
                ctx.codes[code_id] = (code, category)

    def _load_periods(self, ctx: n.Context) -> None:
        yearid = self.year()[0]
        for row in self._all_rows(d.PERIOD, d.PERIOD.columns, [f"year_id=={yearid}"]):
            try:
                pid, school, number = (
                    ident(row.get("id")),
                    ident(row.get("schoolid")),
                    ident(row.get("period_number")),
                )
            except (TypeError, ValueError):
                continue
            label = row.get("abbreviation")
            label = text(label) if label not in (None, "") else number
            ctx.periods[pid] = label
            ctx.period_by_number[(school, number)] = (pid, label)

    def _load_cycle(self, ctx: n.Context) -> None:
        """Which weekday (and week of a fortnight) each cycle day falls on, and its bells."""
        yearid, start, end = self.year()
        letters: dict[str, tuple[str, str]] = {}
        for row in self._all_rows(d.CYCLE_DAY, d.CYCLE_DAY.columns, [f"year_id=={yearid}"]):
            try:
                letters[ident(row.get("id"))] = (ident(row.get("schoolid")), text(row.get("letter")).strip())
            except (TypeError, ValueError):
                continue
        clauses = [f"date_value=ge={start.isoformat()}", f"date_value=le={end.isoformat()}", "insession==1"]
        days: dict[tuple[str, str], list[tuple[dt.date, str]]] = defaultdict(list)
        for row in self._all_rows(d.CALENDAR_DAY, d.CALENDAR_DAY.columns, clauses):
            try:
                found = letters.get(ident(row.get("cycle_day_id")))
                if found is not None:
                    days[found].append((date(row.get("date_value")), ident(row.get("bell_schedule_id"))))
            except (TypeError, ValueError):
                continue
        by_school: dict[str, dict[int, list[tuple[dt.date, str]]]] = defaultdict(lambda: defaultdict(list))
        for (school, letter), dates in days.items():
            weekdays = {day.isoweekday() for day, _ in dates}
            if len(weekdays) != 1:
                ctx.cycle[(school, letter)] = (
                    "the cycle day falls on different weekdays: a rotating timetable is not a weekly one"
                )
                continue
            bell = Counter(b for _, b in dates).most_common(1)[0][0]
            ctx.cycle[(school, letter)] = n.Lesson(weekdays.pop(), "every", bell)
            by_school[school][dates[0][0].isoweekday()].append((min(day for day, _ in dates), letter))
        # Two cycle days on the same weekday alternate: a fortnight of weeks A and B.
        for school, weekdays_of in by_school.items():
            for shared in weekdays_of.values():
                if len(shared) == 2:
                    for week, (_, letter) in zip("AB", sorted(shared), strict=True):
                        lesson = ctx.cycle[(school, letter)]
                        if isinstance(lesson, n.Lesson):
                            lesson.week = week
                elif len(shared) > 2:
                    for _, letter in shared:
                        ctx.cycle[(school, letter)] = "more than two cycle days share a weekday"
        for row in self._all_rows(d.BELL_SCHEDULE_ITEMS, d.BELL_SCHEDULE_ITEMS.columns, []):
            try:
                key = (ident(row.get("bell_schedule_id")), ident(row.get("period_id")))
                ctx.bells[key] = (clock_time(row.get("start_time")), clock_time(row.get("end_time")))
            except (TypeError, ValueError):
                continue

    def _load_log_types(self, ctx: n.Context) -> None:
        wanted = {name.strip().lower(): polarity for name, polarity in self.options.log_types.items()}
        for row in self._all_rows(d.LOG_TYPES, d.LOG_TYPES.columns, ["cat==logtype"]):
            name = row.get("name")
            polarity = wanted.get(str(name or "").strip().lower())
            if polarity is not None:
                try:
                    ctx.log_types[ident(row.get("id"))] = (text(name).strip(), polarity)
                except (TypeError, ValueError):
                    continue
        self.log_type_ids = sorted(ctx.log_types)

    def _load_unpublished(self, ctx: n.Context) -> None:
        yearid = self.year()[0]
        clauses = [f"yearid=={yearid}", "isscorespublish==0"]
        for row in self._all_rows(d.UNPUBLISHED_SCORES, d.UNPUBLISHED_SCORES.columns, clauses):
            try:
                ctx.unpublished.add(ident(row.get("assignmentsectionid")))
            except (TypeError, ValueError):
                continue

    # What each stream's rows are joined with (loaded before its first page).
    NEEDS: dict[str, tuple[str, ...]] = {
        "schools": ("schools", "terms"),
        "students": ("schools", "terms"),
        "contacts": (),
        "links": ("students",),
        "sections": ("schools", "terms", "courses", "teachers"),
        "enrollments": ("students", "sections"),
        "timetable": ("terms", "sections", "periods", "cycle"),
        "attendance": ("students", "codes", "periods"),
        "assignments": ("sections",),
        "results": ("students", "unpublished"),
        "grades": ("students", "sections"),
        "behaviour": ("students", "log_types"),
        "notices": ("schools", "sections"),
        "reports": ("students",),
    }

    def refresh(self, stream: str) -> bool:
        """A key named no record: the maps may predate a change on the server (a child enrolled
        since they were read); read them again, once per run."""
        ctx = self.context()
        maps = {"students": self._load_students, "sections": self._load_sections}
        stale = [m for m in self.NEEDS[stream] if m in maps and m not in self.refreshed]
        for name in stale:
            maps[name](ctx)
            self.refreshed.add(name)
        return bool(stale)
