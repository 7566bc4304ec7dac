"""Assignments, their results and term grades, each computed from its index."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate

from connectors.records import Assignment, AssignmentResult, Grade, ResultStatus
from connectors.sim import names
from connectors.sim.roster import Roster, mix

ASSIGNMENTS_PER_SECTION = 30  # about three a month over a ten-month year
POINTS = (10.0, 20.0, 25.0, 50.0, 100.0)
US_LETTERS = ((93, "A"), (90, "A-"), (87, "B+"), (83, "B"), (80, "B-"), (77, "C+"), (73, "C"),
              (70, "C-"), (60, "D"), (0, "F"))


def _key(seed: int, tag: int, a: int, b: int = 0) -> int:
    return mix(mix(mix(seed * 0x9E3779B97F4A7C15 + tag) + a) + b)


class Coursework:
    """Assignments by section; results by section, assignment, student; grades by term."""

    def __init__(self, seed: int, style: str, roster: Roster, days: Sequence[dt.date], days_so_far: int,
                 terms: Sequence[tuple[str, dt.date, dt.date]], today: dt.date) -> None:
        self.seed, self.style, self.roster, self.days = seed, style, roster, days
        self.today = today
        self.step = max(1, len(days) // ASSIGNMENTS_PER_SECTION)
        n = len(roster.sections)
        # Results exist only for assignments already due; due dates rise with k.
        self.due_counts = [
            sum(1 for k in range(ASSIGNMENTS_PER_SECTION) if self._due_index(s, k) < days_so_far)
            for s in range(n)
        ]
        self.result_offsets = [0, *accumulate(
            self.due_counts[s] * len(roster.section_students[s]) for s in range(n))]
        self.terms = [t for t in terms if t[1] <= today]
        self.enrollments = sum(len(t) for t in roster.student_sections)

    def _due_index(self, section: int, k: int) -> int:
        return min(len(self.days) - 1, k * self.step + _key(self.seed, 1, section, k) % self.step)

    def assignment_id(self, i: int) -> str:
        return f"{i + 1:07d}" if self.style == "uk" else str(700001 + i)

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
                source_id=self.assignment_id(i), section_id=self.roster.sections[section].source_id,
                title=f"{title} {k + 1}", category=category,
                set_date=self.days[max(0, due - 2 - (h >> 8) % 6)], due_date=self.days[due],
                points_possible=POINTS[(h >> 16) % len(POINTS)],
            )

    # results -------------------------------------------------------------------
    def count_results(self) -> int:
        return self.result_offsets[-1]

    def results(self, start: int, stop: int) -> Iterator[AssignmentResult]:
        section = bisect_right(self.result_offsets, start) - 1
        i = start
        students = self.roster.students
        while i < stop:
            base = self.result_offsets[section]
            members = self.roster.section_students[section]
            end = min(stop, self.result_offsets[section + 1])
            for j in range(i - base, end - base):
                k, m = divmod(j, len(members))
                a = section * ASSIGNMENTS_PER_SECTION + k
                student = members[m]
                h = _key(self.seed, 3, a, student)
                points = POINTS[(_key(self.seed, 2, section, k) >> 16) % len(POINTS)]
                v = h % 100
                score: float | None = round(points * (0.45 + (h >> 8) % 56 / 100), 1)
                if v < 80:
                    status = ResultStatus.SUBMITTED
                elif v < 86:
                    status = ResultStatus.LATE
                elif v < 92:
                    status, score = ResultStatus.MISSING, None
                elif v < 95:
                    status, score = ResultStatus.EXEMPT, None
                else:
                    status, score = ResultStatus.NONE, None
                comment = names.COMMENTS[(h >> 20) % len(names.COMMENTS)] if (h >> 32) % 10 == 0 else None
                yield AssignmentResult(
                    source_id=f"{self.assignment_id(a)}-{students[student].source_id}",
                    assignment_id=self.assignment_id(a), student_id=students[student].source_id,
                    score=score, status=status, comment=comment,
                )
            i = end
            section += 1

    # grades --------------------------------------------------------------------
    def count_grades(self) -> int:
        return self.enrollments * len(self.terms)

    def grades(self, start: int, stop: int, per_student: int) -> Iterator[Grade]:
        roster = self.roster
        for i in range(start, stop):
            t, e = divmod(i, self.enrollments)
            student, slot = divmod(e, per_student)
            section = roster.student_sections[student][slot]
            name, _first, last = self.terms[t]
            h = _key(self.seed, 4, e, t)
            percent = round(55 + (h % 4400) / 100, 1)
            if self.style == "uk":
                mark = str(min(9, 1 + int(percent - 50) // 6))
            else:
                mark = next(letter for floor, letter in US_LETTERS if percent >= floor)
            updated = min(last, self.today)
            sid = roster.students[student].source_id
            yield Grade(
                source_id=f"{sid}-{roster.sections[section].source_id}-{name}", student_id=sid,
                section_id=roster.sections[section].source_id, term=name, mark=mark, percent=percent,
                updated_at=dt.datetime.combine(updated, dt.time(17, (h >> 16) % 60), dt.UTC),
            )
