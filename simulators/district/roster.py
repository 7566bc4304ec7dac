"""Structural part of the synthetic district: schools, people, links, sections, timetable."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from connectors.records import (
    Contact,
    EnrollmentStatus,
    School,
    Section,
    Student,
    StudentContact,
    TimetableEntry,
)
from simulators.district import names

US_GRADES = ("K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12")
UK_GRADES = tuple(f"Year {n}" for n in range(7, 14))
# Age on the first day of the school year of a pupil in the first grade of each style.
FIRST_GRADE_AGE = {"us": 5, "uk": 11}
SPECIAL_FAMILIES = 11  # families 0..10 hold the awkward cases (see cases.place_cases)
SPECIAL_STUDENTS = 12
MASK = (1 << 64) - 1


def mix(x: int) -> int:
    """SplitMix64 finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


@dataclass
class Roster:
    """Every structural record, plus the index arrays the bulk generators need."""

    schools: list[School] = field(default_factory=list)
    students: list[Student] = field(default_factory=list)
    student_school: list[int] = field(default_factory=list)
    student_grade: list[int] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    links: list[StudentContact] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    section_school: list[int] = field(default_factory=list)
    section_grade: list[int] = field(default_factory=list)
    student_sections: list[tuple[int, ...]] = field(default_factory=list)
    section_students: list[list[int]] = field(default_factory=list)
    timetable: list[TimetableEntry] = field(default_factory=list)


def source_id_for(style: str, kind: str, i: int) -> str:
    """Source id of the i-th student/contact/section: uk ids keep leading zeros, us ids are numeric."""
    if style == "uk":
        return {"student": f"{i + 1:06d}", "contact": f"{i + 1:07d}", "section": f"{i + 1:05d}"}[kind]
    return str({"student": 100001, "contact": 500001, "section": 3001}[kind] + i)


def _birthday(rng: random.Random, year_start: dt.date, age: int) -> dt.date:
    # A birthday making the pupil `age` on the first day of the year.
    latest = year_start.replace(year=year_start.year - age, day=1)
    return latest - dt.timedelta(days=rng.randrange(1, 364))


def children_per_family(rng: random.Random, students: int, families: int) -> list[int]:
    """Split ``students`` children over ``families`` families, each with at least one."""
    sizes = [1] * families
    remaining = students - families
    passes = 0
    while remaining > 0:
        cap = 4 + passes // 4  # keep families realistic, but always terminate
        for f in range(families):
            if remaining and sizes[f] < cap and rng.random() < 0.5:
                sizes[f] += 1
                remaining -= 1
        passes += 1
    return sizes


_REL_TITLES = {
    "Mother": ("Mrs", "Ms"),
    "Father": ("Mr",),
    "Parent": ("Mx", "Dr"),
    "Guardian": ("Ms", "Mr"),
    "Grandmother": ("Mrs",),
    "Grandfather": ("Mr",),
    "Aunt": ("Ms",),
    "Carer": ("Mr", "Ms"),
    "Step-parent": ("Mr", "Ms"),
}


class People:
    """Builds students, contacts and links family by family."""

    def __init__(
        self,
        roster: Roster,
        rng: random.Random,
        style: str,
        schools: int,
        year_start: dt.date,
        year_end: dt.date,
        today: dt.date,
    ) -> None:
        self.r, self.rng, self.style, self.n_schools = roster, rng, style, schools
        self.year_start, self.year_end, self.today = year_start, year_end, today
        self.special = True  # while the special families are built
        self.grades = UK_GRADES if style == "uk" else US_GRADES

    def contact(self, relationship: str, last: str, first: str | None = None) -> int:
        rng, n = self.rng, len(self.r.contacts)
        first = first or rng.choice(names.FIRST_NAMES)
        title = rng.choice(_REL_TITLES[relationship])
        # About 5% of contacts have no email; the special families (built first) always do.
        no_email = rng.random() < 0.05 and not self.special
        email = (
            None
            if no_email
            else (f"{first}.{last}.{n + 1}@{'example.com' if n % 5 == 4 else 'example.org'}".lower())
        )
        phone = f"+44 7700 900{n % 1000:03d}" if self.style == "uk" else f"+1-555-01{n % 100:02d}"
        self.r.contacts.append(
            Contact(
                source_id=source_id_for(self.style, "contact", n),
                first_name=first,
                last_name=last,
                title=title if self.style == "uk" else f"{title}.",
                email=email,
                phone=phone,
            )
        )
        return n

    def student(
        self,
        last: str,
        school: int,
        grade: int | None = None,
        *,
        age_shift: int = 0,
        birthday: dt.date | None = None,
        exit_date: dt.date | None = None,
    ) -> int:
        rng, n = self.rng, len(self.r.students)
        grade = rng.randrange(len(self.grades)) if grade is None else grade
        first = rng.choice(names.FIRST_NAMES)
        preferred = rng.choice(names.FIRST_NAMES) if rng.random() < 0.1 else None
        age = FIRST_GRADE_AGE[self.style] + grade + age_shift
        dob = birthday or _birthday(rng, self.year_start, age)
        years_in = grade if rng.random() < 0.85 else rng.randrange(grade + 1)
        if exit_date is not None:
            years_in = max(1, years_in)  # a leaver joined before they left
        entry = self.year_start.replace(year=self.year_start.year - years_in)
        label = self.grades[grade]
        homeroom = f"{grade + 7}{'ABCD'[n % 4]}" if self.style == "uk" else f"Room {101 + (n * 7) % 40}"
        left = exit_date is not None and exit_date < self.today
        sid = source_id_for(self.style, "student", n)
        self.r.students.append(
            Student(
                source_id=sid,
                school_id=self.r.schools[school].source_id,
                legal_first_name=first,
                legal_last_name=last,
                preferred_first_name=preferred,
                preferred_last_name=None,
                date_of_birth=dob,
                grade_level=label,
                homeroom=homeroom,
                enrollment_status=EnrollmentStatus.TRANSFERRED if left else EnrollmentStatus.ACTIVE,
                entry_date=entry,
                exit_date=exit_date,
                # Older pupils have a school email address; young us pupils do not.
                email=f"{first}.{last}.s{sid}@example.org".lower()
                if grade >= 3 or self.style == "uk"
                else None,
            )
        )
        self.r.student_school.append(school)
        self.r.student_grade.append(grade)
        return n

    def link(
        self,
        student: int,
        contact: int,
        relationship: str,
        priority: int,
        *,
        responsibility: bool = True,
        portal: bool = True,
        lives_with: bool = True,
        court_order: bool = False,
    ) -> None:
        sid = self.r.students[student].source_id
        cid = self.r.contacts[contact].source_id
        self.r.links.append(
            StudentContact(
                source_id=f"{sid}-{cid}",
                student_id=sid,
                contact_id=cid,
                relationship=relationship,
                parental_responsibility=responsibility,
                portal_access=portal,
                lives_with=lives_with,
                court_order=court_order,
                priority=priority,
            )
        )

    def family(self, size: int) -> None:
        rng = self.rng
        last = rng.choice(names.FAMILY_NAMES)
        kids = [self.student(last, rng.randrange(self.n_schools)) for _ in range(size)]
        rel_a = rng.choice(("Mother", "Father", "Parent", "Guardian", "Mother"))
        # (contact, relationship, has parental responsibility, lives with the children)
        guardians = [(self.contact(rel_a, last), rel_a, True, True)]
        if rng.random() < 0.7:  # about 70% of families have two guardians
            rel_b = rng.choice(("Father", "Mother", "Parent", "Step-parent"))
            other = last if rng.random() < 0.7 else rng.choice(names.FAMILY_NAMES)
            guardians.append((self.contact(rel_b, other), rel_b, rel_b != "Step-parent", True))
        if rng.random() < 0.2:  # an emergency contact without parental responsibility
            rel_c = rng.choice(("Grandmother", "Grandfather", "Aunt", "Carer"))
            guardians.append((self.contact(rel_c, rng.choice(names.FAMILY_NAMES)), rel_c, False, False))
        for kid in kids:
            for prio, (c, rel, parent, home) in enumerate(guardians, start=1):
                self.link(kid, c, rel, prio, responsibility=parent, portal=parent, lives_with=home)


def default_families(students: int) -> int:
    """About 0.65 families per student, but enough for the special families in small districts."""
    low = SPECIAL_FAMILIES + (students - SPECIAL_STUDENTS + 1) // 2
    return min(max(round(0.65 * students), low), students - 1)
