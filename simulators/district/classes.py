"""Sections, class membership and the weekly timetable of the synthetic district."""

from __future__ import annotations

import datetime as dt
import random

from connectors.records import School, Section, TimetableEntry
from simulators.district import names
from simulators.district.calendar import PERIODS
from simulators.district.roster import UK_GRADES, US_GRADES, Roster, source_id_for

CORE_COURSES = 4  # every student takes the first four courses of their grade
COURSES_PER_STUDENT = 6


def build_schools(
    roster: Roster,
    rng: random.Random,
    schools: int,
    timezone: str,
    year_start: dt.date,
    year_end: dt.date,
    style: str,
) -> None:
    labels = rng.sample(names.SCHOOL_NAMES, min(schools, len(names.SCHOOL_NAMES)))
    kind = "Academy" if style == "uk" else "School"
    for i in range(schools):
        label = labels[i % len(labels)] + ("" if i < len(labels) else f" {i // len(labels) + 1}")
        roster.schools.append(
            School(
                source_id=str(100 * (i + 1)),
                name=f"{label} {kind}",
                timezone=timezone,
                year_start_date=year_start,
                year_end_date=year_end,
            )
        )


def build_sections(roster: Roster, rng: random.Random, style: str, year_start: dt.date) -> None:
    """6-8 courses per grade per school, one section each; students take six of them."""
    grades = UK_GRADES if style == "uk" else US_GRADES
    courses = names.UK_COURSES if style == "uk" else names.US_COURSES
    term = None if style == "uk" else f"{year_start.year}-{year_start.year + 1}"
    by_school_grade: dict[tuple[int, int], list[int]] = {}
    for school in range(len(roster.schools)):
        for grade, label in enumerate(grades):
            ids = by_school_grade.setdefault((school, grade), [])
            for name, code in courses[: rng.randrange(6, 9)]:
                n = len(roster.sections)
                teacher = f"{rng.choice(('Ms', 'Mr', 'Mrs', 'Dr'))} {rng.choice(names.FAMILY_NAMES)}"
                short = label.removeprefix("Year ")
                roster.sections.append(
                    Section(
                        source_id=source_id_for(style, "section", n),
                        school_id=roster.schools[school].source_id,
                        course_name=name,
                        course_code=f"{short}{code}" if style == "uk" else f"{code}{short:0>2}",
                        teacher_name=teacher if style == "uk" else teacher.replace(" ", ". ", 1),
                        room=f"{'ABCS'[n % 4]}{1 + n % 20}" if style == "uk" else str(100 + n % 60),
                        term=term,
                    )
                )
                roster.section_school.append(school)
                roster.section_grade.append(grade)
                ids.append(n)
    roster.section_students = [[] for _ in roster.sections]
    for student, (school, grade) in enumerate(zip(roster.student_school, roster.student_grade, strict=True)):
        offered = by_school_grade[(school, grade)]
        # One elective from each option block (see ``option_blocks``), so the week is full.
        electives = [rng.choice(block) for block in option_blocks(offered)[CORE_COURSES:]]
        taken = tuple(sorted(offered[:CORE_COURSES] + electives))
        roster.student_sections.append(taken)
        for section in taken:
            roster.section_students[section].append(student)


def option_blocks(sections: list[int]) -> list[list[int]]:
    """A grade's timetable lanes: one per core course, then the electives dealt into
    ``COURSES_PER_STUDENT - CORE_COURSES`` blocks taught side by side (a student takes one
    of each block), so six lanes fill every period of the week."""
    blocks = COURSES_PER_STUDENT - CORE_COURSES
    electives = sections[CORE_COURSES:]
    return [[s] for s in sections[:CORE_COURSES]] + [electives[b::blocks] for b in range(blocks)]


def build_timetable(
    roster: Roster, rng: random.Random, style: str, year_start: dt.date, year_end: dt.date
) -> None:
    """Each grade's lanes share a clash-free grid that fills every period; odd uk schools
    run an A/B fortnight."""
    groups: dict[tuple[int, int], list[int]] = {}
    for n, key in enumerate(zip(roster.section_school, roster.section_grade, strict=True)):
        groups.setdefault(key, []).append(n)
    for (school, _grade), sections in groups.items():
        weeks = ("A", "B") if style == "uk" and school % 2 == 1 else ("every",)
        slots = [(w, day, p) for w in weeks for day in range(1, 6) for p in range(len(PERIODS))]
        rng.shuffle(slots)
        lanes = option_blocks(sections)
        per = len(slots) // len(lanes)
        for i, lane in enumerate(lanes):
            mine = sorted(slots[i * per : (i + 1) * per], key=lambda s: (s[0], s[1], s[2]))
            for section, (k, (week, day, p)) in ((s, e) for s in lane for e in enumerate(mine)):
                sid = roster.sections[section].source_id
                period, start, end = PERIODS[p]
                roster.timetable.append(
                    TimetableEntry(
                        source_id=f"{sid}-{k + 1}",
                        section_id=sid,
                        student_id=None,
                        day=day,
                        period=period,
                        start_time=start,
                        end_time=end,
                        week_pattern=week,
                        start_date=year_start,
                        end_date=year_end,
                    )
                )
