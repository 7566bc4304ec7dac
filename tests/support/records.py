"""Small hand-made canonical records: students, their contacts and links, a school."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.records import Contact, EnrollmentStatus, Record, School, Student, StudentContact


def student(i: int, homeroom: str = "8A") -> Student:
    """Student ``i`` (source id ``f"{i:05d}"``) of school ``100``, on roll since 2020."""
    return Student(
        source_id=f"{i:05d}",
        school_id="100",
        legal_first_name=f"First{i}",
        legal_last_name=f"Last{i}",
        preferred_first_name=None,
        preferred_last_name=None,
        date_of_birth=dt.date(2012, 1, 1 + i % 28),
        grade_level="8",
        homeroom=homeroom,
        enrollment_status=EnrollmentStatus.ACTIVE,
        entry_date=dt.date(2020, 9, 1),
        exit_date=None,
    )


def contact(source_id: str, first: str, last: str, email: str | None = None) -> Contact:
    return Contact(source_id=source_id, first_name=first, last_name=last, title=None, email=email, phone=None)


def link(student_id: str, contact_id: str, **fields: Any) -> StudentContact:
    """A mother with responsibility and portal access, unless ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "source_id": f"{student_id}-{contact_id}",
        "relationship": "Mother",
        "parental_responsibility": True,
        "portal_access": True,
        "lives_with": True,
        "court_order": False,
        "priority": 1,
        **fields,
    }
    return StudentContact(student_id=student_id, contact_id=contact_id, **values)


def family(n: int, homeroom: str = "8A") -> dict[str, list[Record]]:
    """``n`` students, each with one parent ``c{i}`` linked: streams ``students`` and ``contacts``."""
    students = [student(i, homeroom) for i in range(n)]
    parents: list[Record] = [contact(f"c{i}", f"P{i}", f"Last{i}", f"p{i}@example.org") for i in range(n)]
    links: list[Record] = [link(s.source_id, f"c{i}") for i, s in enumerate(students)]
    return {"students": list(students), "contacts": parents + links}


def school(source_id: str, name: str, timezone: str) -> School:
    """A school of the 2026-27 year (26 August to 18 June)."""
    return School(
        source_id=source_id,
        name=name,
        timezone=timezone,
        year_start_date=dt.date(2026, 8, 26),
        year_end_date=dt.date(2027, 6, 18),
    )
