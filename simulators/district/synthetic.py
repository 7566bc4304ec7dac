"""One deterministic synthetic district that yields canonical records of every kind."""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.records import AttendanceCategory, Enrollment, Record
from simulators.district.attendance import AttendanceBook
from simulators.district.calendar import school_days, school_year, terms
from simulators.district.cases import Cases, build_people
from simulators.district.classes import COURSES_PER_STUDENT, build_schools, build_sections, build_timetable
from simulators.district.coursework import Coursework
from simulators.district.pastoral import Pastoral
from simulators.district.roster import SPECIAL_FAMILIES, SPECIAL_STUDENTS, Roster, default_families

KINDS = (
    "school",
    "student",
    "contact",
    "link",
    "section",
    "enrollment",
    "timetable",
    "attendance",
    "assignment",
    "result",
    "grade",
    "behaviour",
    "notice",
    "report",
)
DEFAULT_TIMEZONE = {"us": "America/New_York", "uk": "Europe/London"}


@dataclass(frozen=True)
class DistrictSpec:
    """What to generate; the same spec always yields byte-identical records."""

    seed: int = 7
    schools: int = 2
    students: int = 200
    families: int | None = None  # default: about 0.65 * students
    today: dt.date = dt.date(2026, 11, 24)
    style: str = "us"  # "us" or "uk"
    timezone: str | None = None  # default: America/New_York (us) or Europe/London (uk)

    def __post_init__(self) -> None:
        if self.style not in DEFAULT_TIMEZONE:
            raise ValueError("style must be 'us' or 'uk'")
        if self.schools < 1:
            raise ValueError("schools must be at least 1")
        if self.students < SPECIAL_STUDENTS:
            raise ValueError(f"students must be at least {SPECIAL_STUDENTS} (the awkward cases need them)")
        families = default_families(self.students) if self.families is None else self.families
        # Families 0..10 are the special ones; every other family needs a child of its own.
        general_students, general_families = self.students - SPECIAL_STUDENTS, families - SPECIAL_FAMILIES
        if general_families < (1 if general_students else 0) or general_families > general_students:
            raise ValueError(f"families must be between {SPECIAL_FAMILIES + 1} and students - 1")
        object.__setattr__(self, "families", families)
        if isinstance(self.today, dt.datetime):  # a datetime would not compare with the dates
            object.__setattr__(self, "today", self.today.date())
        if self.timezone is None:
            object.__setattr__(self, "timezone", DEFAULT_TIMEZONE[self.style])
        try:
            ZoneInfo(str(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("timezone must be an IANA time zone name") from exc


@dataclass
class _Kind:
    count: Callable[[], int]
    iter: Callable[[int, int], Iterator[Record]]
    index: dict[str, int] = field(default_factory=dict)


class SyntheticDistrict:
    """Records of a district described by a ``DistrictSpec``.

    ``iter(kind, start, stop)`` computes records ``[start, stop)`` directly from their
    index (bulk kinds never generate earlier records); structural kinds (schools,
    people, links, sections, timetable) are built once per instance. ``cases`` names
    the awkward records that tests and the demo rely on.
    """

    def __init__(self, spec: DistrictSpec) -> None:
        self.spec = spec
        self.style = spec.style
        self.timezone: str = spec.timezone or DEFAULT_TIMEZONE[spec.style]
        self.today = spec.today
        self.year_start, self.year_end = school_year(spec.today, spec.style)
        self.school_days = school_days(self.year_start, self.year_end, spec.style)
        self.days_so_far = bisect_right(self.school_days, spec.today)
        rng = random.Random(spec.seed)
        roster = Roster()
        build_schools(roster, rng, spec.schools, self.timezone, self.year_start, self.year_end, spec.style)
        assert spec.families is not None  # resolved by DistrictSpec.__post_init__
        self._cases = build_people(
            roster,
            rng,
            spec.style,
            spec.schools,
            spec.students,
            spec.families,
            self.year_start,
            self.year_end,
            spec.today,
        )
        build_sections(roster, rng, spec.style, self.year_start)
        build_timetable(roster, rng, spec.style, self.year_start, self.year_end)
        self.roster = roster
        # Each student's school days on roll so far, as [first, end) indexes into school_days.
        self.ranges: list[tuple[int, int]] = []
        for s in roster.students:
            first = bisect_left(self.school_days, s.entry_date or self.year_start)
            end = bisect_left(self.school_days, s.exit_date) if s.exit_date else len(self.school_days)
            self.ranges.append((first, max(first, min(end, self.days_so_far))))
        self.student_index = {s.source_id: i for i, s in enumerate(roster.students)}
        self._kinds: dict[str, _Kind] = {}

    def kinds(self) -> tuple[str, ...]:
        """Record kinds in dependency order."""
        return KINDS

    @property
    def cases(self) -> Cases:
        """Source ids of the awkward cases (see ``Cases``)."""
        return self._cases

    # the generic interface -------------------------------------------------------
    def count(self, kind: str) -> int:
        """Exact number of records of ``kind``."""
        return self._kind(kind).count()

    def iter(self, kind: str, start: int = 0, stop: int | None = None) -> Iterator[Record]:
        """Records ``[start, stop)`` of ``kind`` in a stable order, without generating earlier ones."""
        k = self._kind(kind)
        total = k.count()
        start = max(0, min(start, total))
        stop = total if stop is None else max(start, min(stop, total))
        return k.iter(start, stop)

    def get(self, kind: str, source_id: str) -> Record | None:
        """The record of ``kind`` with ``source_id``, or None; bulk kinds parse the id (no scan)."""
        k = self._kind(kind)
        if kind == "attendance":
            return self._attendance.get(source_id, self.student_index)
        if kind == "enrollment":  # "<student>-<section>"
            student, _, section = source_id.partition("-")
            i, slot = self.student_index.get(student), self._slot(student, section)
            at = None if i is None or slot is None else i * COURSES_PER_STUDENT + slot
        elif kind == "grade":  # "<student>-<section>-<term>"
            student, _, rest = source_id.partition("-")
            section, _, term = rest.partition("-")
            i, slot = self.student_index.get(student), self._slot(student, section)
            at = None if i is None or slot is None else self._coursework.grade_position(i, slot, term)
        elif kind == "result":  # "<assignment>-<student>"
            assignment, _, student = source_id.partition("-")
            i = self.student_index.get(student)
            at = None if i is None else self._coursework.result_position(assignment, i)
        else:
            at = self._position(kind, source_id)
        return None if at is None else next(k.iter(at, at + 1))

    def _slot(self, student_id: str, section_id: str) -> int | None:
        """Which of a student's sections (0..5) has ``section_id``."""
        i = self.student_index.get(student_id)
        if i is None:
            return None
        sections = [self.roster.sections[s].source_id for s in self.roster.student_sections[i]]
        return sections.index(section_id) if section_id in sections else None

    def _position(self, kind: str, source_id: str) -> int | None:
        """Index of ``source_id`` within ``kind``: parsed for per-student kinds, else a lazy map."""
        k = self._kind(kind)
        if kind in ("behaviour", "report"):  # "<student>-B<n>" / "<student>-R<n>"
            student, _, tail = source_id.rpartition("-")
            i = self.student_index.get(student)
            offsets = self._pastoral.event_offsets if kind == "behaviour" else self._pastoral.report_offsets
            if i is None or tail[:1] != ("B" if kind == "behaviour" else "R") or not tail[1:].isdigit():
                return None
            at = offsets[i] + int(tail[1:]) - 1
            return at if offsets[i] <= at < offsets[i + 1] else None
        if not k.index:  # small kinds only: the bulk ones are all parsed above
            k.index = {r.source_id: n for n, r in enumerate(k.iter(0, k.count()))}
        return k.index.get(source_id)

    def grade_terms(self) -> list[tuple[str, dt.date, dt.date, int, int]]:
        """(term, first day, last day, first position, end position) of the grades by term:
        grades are ordered term by term, only for terms begun by ``today``."""
        cw = self._coursework
        return [
            (name, first, last, cw.grade_offsets[t], cw.grade_offsets[t + 1])
            for t, (name, first, last) in enumerate(cw.terms)
        ]

    # kinds -------------------------------------------------------------------------
    def _kind(self, kind: str) -> _Kind:
        if kind not in KINDS:
            raise KeyError(f"unknown record kind: {kind}")
        if kind not in self._kinds:
            self._kinds[kind] = self._make(kind)
        return self._kinds[kind]

    def _make(self, kind: str) -> _Kind:
        r = self.roster
        lists: dict[str, list] = {  # type: ignore[type-arg]
            "school": r.schools,
            "student": r.students,
            "contact": r.contacts,
            "link": r.links,
            "section": r.sections,
            "timetable": r.timetable,
        }
        if kind in lists:
            items = lists[kind]
            return _Kind(lambda: len(items), lambda a, b: iter(items[a:b]))
        if kind == "notice":
            return _Kind(lambda: len(self._pastoral.notices), lambda a, b: iter(self._pastoral.notices[a:b]))
        if kind == "enrollment":
            return _Kind(lambda: len(r.students) * COURSES_PER_STUDENT, self._enrollments)
        if kind == "attendance":
            return _Kind(self._attendance.count, self._attendance.iter)
        if kind in ("assignment", "result", "grade"):
            cw = self._coursework
            return {
                "assignment": _Kind(cw.count_assignments, cw.assignments),
                "result": _Kind(cw.count_results, cw.results),
                "grade": _Kind(cw.count_grades, cw.grades),
            }[kind]
        pa = self._pastoral
        return {
            "behaviour": _Kind(pa.count_behaviour, pa.behaviour),
            "report": _Kind(pa.count_reports, pa.reports),
        }[kind]

    def _enrollments(self, start: int, stop: int) -> Iterator[Enrollment]:
        r = self.roster
        for i in range(start, stop):
            student, slot = divmod(i, COURSES_PER_STUDENT)
            st = r.students[student]
            section = r.sections[r.student_sections[student][slot]]
            yield Enrollment(
                source_id=f"{st.source_id}-{section.source_id}",
                section_id=section.source_id,
                student_id=st.source_id,
                start_date=max(st.entry_date or self.year_start, self.year_start),
                end_date=st.exit_date or self.year_end,
            )

    @cached_property
    def _attendance(self) -> AttendanceBook:
        return AttendanceBook(
            self.spec.seed,
            self.style,
            self.timezone,
            self.school_days,
            [s.source_id for s in self.roster.students],
            self.ranges,
        )

    @cached_property
    def _coursework(self) -> Coursework:
        return Coursework(
            self.spec.seed,
            self.style,
            self.roster,
            self.school_days,
            self.days_so_far,
            terms(self.year_start, self.year_end, self.style),
            self.today,
        )

    @cached_property
    def _pastoral(self) -> Pastoral:
        return Pastoral(
            self.spec.seed,
            self.style,
            self.timezone,
            self.roster,
            self.school_days,
            self.ranges,
            self.year_start,
            self.today,
            self._attendance_rate,
        )

    def _attendance_rate(self, student: int, first: dt.date, last: dt.date) -> float | None:
        """Share of the student's marked sessions from ``first`` to ``last`` attended (present or late)."""
        book = self._attendance
        attended = total = 0
        for mark in book.iter(book.offsets[student], book.offsets[student + 1]):
            if first <= mark.date <= last:
                total += 1
                attended += mark.category in (AttendanceCategory.PRESENT, AttendanceCategory.LATE)
        return attended / total if total else None


__all__ = ["KINDS", "Cases", "DistrictSpec", "SyntheticDistrict"]
