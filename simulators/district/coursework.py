"""Assignments, their results and term grades, each computed from its index."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

from connectors.records import Assignment, AssignmentResult, Grade, ResultStatus
from simulators.district import names
from simulators.district.classes import COURSES_PER_STUDENT
from simulators.district.roster import Roster, mix

ASSIGNMENTS_PER_SECTION = 30  # about three a month over a ten-month year
POINTS = (10.0, 20.0, 25.0, 50.0, 100.0)
US_LETTERS = (
    (93, "A"),
    (90, "A-"),
    (87, "B+"),
    (83, "B"),
    (80, "B-"),
    (77, "C+"),
    (73, "C"),
    (70, "C-"),
    (60, "D"),
    (0, "F"),
)


def _key(seed: int, tag: int, a: int, b: int = 0) -> int:
    return mix(mix(mix(seed * 0x9E3779B97F4A7C15 + tag) + a) + b)


class Coursework:
    """Assignments by section; results by section, assignment, student; grades by term."""

    def __init__(
        self,
        seed: int,
        style: str,
        roster: Roster,
        days: Sequence[dt.date],
        days_so_far: int,
        terms: Sequence[tuple[str, dt.date, dt.date]],
        today: dt.date,
    ) -> None:
        self.seed, self.style, self.roster, self.days = seed, style, roster, days
        self.today = today
        self.step = max(1, len(days) // ASSIGNMENTS_PER_SECTION)
        students = roster.students

        def on_roll(student: int, day: dt.date) -> bool:
            exit_date = students[student].exit_date
            return exit_date is None or exit_date > day

        # Members who leave sort last (latest exit first), so those still on roll on any
        # date are a prefix of the list and each (section, assignment) is one slice.
        self.members = [
            sorted(m, key=lambda st: -(students[st].exit_date or dt.date.max).toordinal())
            for m in roster.section_students
        ]
        self.result_keys: list[tuple[int, int, int]] = []  # (section, k, members marked)
        for section, members in enumerate(self.members):
            for k in range(ASSIGNMENTS_PER_SECTION):
                due = self._due_index(section, k)
                if due >= days_so_far:
                    break  # due dates rise with k: the rest are not due yet
                marked = sum(1 for st in members if on_roll(st, days[due]))
                self.result_keys.append((section, k, marked))
        self.result_offsets = [0, *accumulate(n for _s, _k, n in self.result_keys)]
        # Grades: every enrollment of a student on roll when the term began, term by term.
        self.terms = [t for t in terms if t[1] <= today]
        self.term_students = [
            [st for st in range(len(students)) if on_roll(st, first)] for _name, first, _last in self.terms
        ]
        self.grade_offsets = [0, *accumulate(len(t) * COURSES_PER_STUDENT for t in self.term_students)]
        # Marks entered so far carry the date of the last school day at least two days ago,
        # so a day's lag (the default for grades) has passed by the morning of ``today``.
        before = bisect_right(days, today - dt.timedelta(days=2))
        self.marked_through = days[before - 1] if before else today - dt.timedelta(days=2)

    def _due_index(self, section: int, k: int) -> int:
        return min(len(self.days) - 1, k * self.step + _key(self.seed, 1, section, k) % self.step)

    def assignment_id(self, i: int) -> str:
        return f"{i + 1:07d}" if self.style == "uk" else str(700001 + i)

    def result_position(self, assignment_id: str, student: int) -> int | None:
        """Index of the result of ``student`` for ``assignment_id``, if there is one."""
        first = 1 if self.style == "uk" else 700001
        if not assignment_id.isdigit() or not 0 <= int(assignment_id) - first < self.count_assignments():
            return None
        a = int(assignment_id) - first
        if self.assignment_id(a) != assignment_id:  # e.g. missing leading zeros
            return None
        section, k = divmod(a, ASSIGNMENTS_PER_SECTION)
        pos = bisect_left(self.result_keys, (section, k, 0))
        if pos == len(self.result_keys) or self.result_keys[pos][:2] != (section, k):
            return None  # not due yet
        members = self.members[section]
        m = members.index(student) if student in members else self.result_keys[pos][2]
        return self.result_offsets[pos] + m if m < self.result_keys[pos][2] else None

    def grade_position(self, student: int, slot: int, term: str) -> int | None:
        """Index of the grade of ``student`` in their section ``slot`` for ``term``, if any."""
        t = next((i for i, (name, _f, _l) in enumerate(self.terms) if name == term), None)
        if t is None:
            return None
        j = bisect_left(self.term_students[t], student)
        if j == len(self.term_students[t]) or self.term_students[t][j] != student:
            return None
        return self.grade_offsets[t] + j * COURSES_PER_STUDENT + slot

    # assignments ---------------------------------------------------------------
    def count_assignments(self) -> int:
        return len(self.roster.sections) * ASSIGNMENTS_PER_SECTION

    def assignments(self, start: int, stop: int) -> Iterator[Assignment]:
        for i in range(start, stop):
            section, k = divmod(i, ASSIGNMENTS_PER_SECTION)
            h = _key(self.seed, 2, section, k)
            due = self._due_index(section, k)
            title, category = names.ASSIGNMENT_KINDS[h % len(names.ASSIGNMENT_KINDS)]
            yield Assignment(
                source_id=self.assignment_id(i),
                section_id=self.roster.sections[section].source_id,
                title=f"{title} {k + 1}",
                category=category,
                set_date=self.days[max(0, due - 2 - (h >> 8) % 6)],
                due_date=self.days[due],
                points_possible=POINTS[(h >> 16) % len(POINTS)],
            )

    # results -------------------------------------------------------------------
    def count_results(self) -> int:
        return self.result_offsets[-1]

    def results(self, start: int, stop: int) -> Iterator[AssignmentResult]:
        students, keys, offsets = self.roster.students, self.result_keys, self.result_offsets
        pos = bisect_right(offsets, start) - 1
        i = start
        while i < stop:
            section, k, _marked = keys[pos]
            members = self.members[section]
            a = section * ASSIGNMENTS_PER_SECTION + k
            aid = self.assignment_id(a)
            points = POINTS[(_key(self.seed, 2, section, k) >> 16) % len(POINTS)]
            end = min(stop, offsets[pos + 1])
            # Due at the end of its due day: until then nothing is missing or late yet.
            due_passed = self.days[self._due_index(section, k)] < self.today
            for m in range(i - offsets[pos], end - offsets[pos]):
                student = members[m]
                sid = students[student].source_id
                h = _key(self.seed, 3, a, student)
                v = h % 100
                score: float | None = round(points * (0.45 + (h >> 8) % 56 / 100), 1)
                if v < 80 or (v < 86 and not due_passed):
                    status = ResultStatus.SUBMITTED
                elif v < 86:
                    status = ResultStatus.LATE
                elif v < 92 and not due_passed:
                    status, score = ResultStatus.NONE, None  # may still come in today
                elif v < 92:
                    status, score = ResultStatus.MISSING, None
                elif v < 95:
                    status, score = ResultStatus.EXEMPT, None
                else:  # not marked yet
                    status, score = ResultStatus.NONE, None
                comment = names.COMMENTS[(h >> 20) % len(names.COMMENTS)] if (h >> 32) % 10 == 0 else None
                yield AssignmentResult(
                    source_id=f"{aid}-{sid}",
                    assignment_id=aid,
                    student_id=sid,
                    score=score,
                    status=status,
                    comment=comment,
                )
            i = end
            pos += 1

    # grades --------------------------------------------------------------------
    def count_grades(self) -> int:
        return self.grade_offsets[-1]

    def grades(self, start: int, stop: int) -> Iterator[Grade]:
        roster = self.roster
        t = bisect_right(self.grade_offsets, start) - 1
        for i in range(start, stop):
            while self.grade_offsets[t + 1] <= i:
                t += 1
            j, slot = divmod(i - self.grade_offsets[t], COURSES_PER_STUDENT)
            student = self.term_students[t][j]
            section = roster.sections[roster.student_sections[student][slot]]
            name, first, last = self.terms[t]
            h = _key(self.seed, 4, student * COURSES_PER_STUDENT + slot, t)
            percent = round(55 + (h % 4400) / 100, 1)
            if self.style == "uk":
                mark = str(min(9, 1 + int(percent - 50) // 6))
            else:
                mark = next(letter for floor, letter in US_LETTERS if percent >= floor)
            sid = roster.students[student].source_id
            yield Grade(
                source_id=f"{sid}-{section.source_id}-{name}",
                student_id=sid,
                section_id=section.source_id,
                term=name,
                mark=mark,
                percent=percent,
                updated_at=dt.datetime.combine(
                    max(first, min(last, self.marked_through)), dt.time(17, (h >> 16) % 60), dt.UTC
                ),
            )
