"""The awkward cases of the synthetic district, placed in its first families."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from simulators.district import names
from simulators.district.roster import SPECIAL_FAMILIES, SPECIAL_STUDENTS, People, Roster, children_per_family


@dataclass(frozen=True)
class Cases:
    """Source ids of the awkward cases, placed in the first families of every district."""

    two_child_contact: str  # responsibility and portal access for two enrolled children
    split_household: tuple[str, str, str]  # (student, contact living with, contact living apart)
    no_responsibility_contact: str  # portal_access True: only responsibility is missing
    no_portal_contact: str  # responsibility, but portal_access False
    court_order_link: tuple[str, str]  # (student, contact); the link otherwise grants everything
    leaver: str  # exit_date before today, transferred
    future_leaver: str  # exit_date after today, still active
    turning_18: str  # 18th birthday inside the school year
    adult: str  # 18 or older on the first day of the year
    same_name_contacts: tuple[str, str]  # same names, different families and emails
    student_login: str  # an enrolled student with data of every kind


def place_cases(people: People) -> Cases:
    """Families 0..10 hold the awkward cases, so even a tiny district has them all."""
    top, other_school = len(people.grades) - 1, 1 % people.n_schools
    ys, ye, today = people.year_start, people.year_end, people.today
    sur = [people.rng.choice(names.FAMILY_NAMES) for _ in range(SPECIAL_FAMILIES)]

    def st(i: int) -> str:
        return people.r.students[i].source_id

    def co(i: int) -> str:
        return people.r.contacts[i].source_id

    # 0: one parent, two enrolled children (in two schools when there are two).
    kids = [people.student(sur[0], 0), people.student(sur[0], other_school)]
    mum, dad = people.contact("Mother", sur[0]), people.contact("Father", sur[0])
    for kid in kids:
        people.link(kid, mum, "Mother", 1)
        people.link(kid, dad, "Father", 2)
    # 1: split household: both parents hold responsibility, the child lives with one.
    kid, a, b = people.student(sur[1], 0), people.contact("Mother", sur[1]), people.contact("Father", sur[1])
    people.link(kid, a, "Mother", 1)
    people.link(kid, b, "Father", 2, lives_with=False)
    split = (st(kid), co(a), co(b))
    # 2: a parent whose link carries a court order (otherwise full rights, to isolate it).
    kid, a, b = people.student(sur[2], 0), people.contact("Mother", sur[2]), people.contact("Father", sur[2])
    people.link(kid, a, "Mother", 1)
    people.link(kid, b, "Father", 2, lives_with=False, court_order=True)
    court = (st(kid), co(b))
    # 3: a grandparent with portal access but no parental responsibility.
    kid, a = people.student(sur[3], 0), people.contact("Father", sur[3])
    grandparent = people.contact("Grandmother", people.rng.choice(names.FAMILY_NAMES))
    people.link(kid, a, "Father", 1)
    people.link(kid, grandparent, "Grandmother", 2, responsibility=False, lives_with=False)
    # 4: a parent with responsibility whose portal access is switched off.
    kid, a = people.student(sur[4], 0), people.contact("Mother", sur[4])
    no_portal = people.contact("Parent", sur[4])
    people.link(kid, a, "Mother", 1)
    people.link(kid, no_portal, "Parent", 2, portal=False)
    # 5 and 6: two unrelated parents with identical names (emails differ by number).
    first, last = people.rng.choice(names.FIRST_NAMES), people.rng.choice(names.FAMILY_NAMES)
    twins = []
    for _ in range(2):
        kid, c = people.student(last, 0), people.contact("Parent", last, first)
        people.link(kid, c, "Parent", 1)
        twins.append(co(c))
    # 7: left earlier this year; 8: leaves later this year.
    left = ys + dt.timedelta(days=42)
    if left >= today:
        left = today - dt.timedelta(days=7)
    leaving = ye - dt.timedelta(days=30)
    if leaving <= today:
        leaving = today + dt.timedelta(days=14)
    leavers = []
    for fam, exit_date in ((7, left), (8, leaving)):
        kid, c = people.student(sur[fam], 0, exit_date=exit_date), people.contact("Mother", sur[fam])
        people.link(kid, c, "Mother", 1)
        leavers.append(st(kid))
    # 9: turns 18 about 100 days into the year; 10: already 18 on the first day.
    eighteenth = ys + dt.timedelta(days=100)
    dob = eighteenth.replace(year=eighteenth.year - 18, day=min(eighteenth.day, 28))
    older = []
    for fam, birthday, shift in ((9, dob, 0), (10, None, 1)):
        kid, c = (
            people.student(sur[fam], 0, top, birthday=birthday, age_shift=shift),
            people.contact("Father", sur[fam]),
        )
        people.link(kid, c, "Father", 1)
        older.append(st(kid))
    return Cases(
        two_child_contact=co(mum),
        split_household=split,
        no_responsibility_contact=co(grandparent),
        no_portal_contact=co(no_portal),
        court_order_link=court,
        leaver=leavers[0],
        future_leaver=leavers[1],
        turning_18=older[0],
        adult=older[1],
        same_name_contacts=(twins[0], twins[1]),
        student_login=st(kids[0]),
    )


def build_people(
    roster: Roster,
    rng: random.Random,
    style: str,
    schools: int,
    students: int,
    families: int,
    year_start: dt.date,
    year_end: dt.date,
    today: dt.date,
) -> Cases:
    """Add every student, contact and link: the special families first, then the rest."""
    people = People(roster, rng, style, schools, year_start, year_end, today)
    cases = place_cases(people)
    people.special = False
    sizes = children_per_family(rng, students - SPECIAL_STUDENTS, families - SPECIAL_FAMILIES)
    for size in sizes:
        people.family(size)
    return cases
