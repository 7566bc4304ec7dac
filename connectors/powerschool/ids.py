"""The identifier namespaces of a PowerSchool server, and the maps between them.

One child has three numbers: ``STUDENTS.DCID`` (the ``/ws/v1`` id, and what
``ASSIGNMENTSCORE.STUDENTSDCID``, ``STUDENTCONTACTASSOC.STUDENTDCID`` and
``GUARDIANSTUDENT.STUDENTSDCID`` hold), ``STUDENTS.ID`` (what ``CC``, ``ATTENDANCE``,
``STOREDGRADES``, ``PGFINALGRADES`` and ``LOG`` hold in ``STUDENTID``) and
``STUDENT_NUMBER`` (the district's own). The same number can name two children in two
namespaces. Schools: ``SCHOOLS.DCID`` is the ``/ws/v1`` id, every table's ``SCHOOLID`` is
``SCHOOLS.SCHOOL_NUMBER``. Sections: ``SECTIONS.DCID`` is the ``/ws/v1`` id and
``ASSIGNMENTSECTION.SECTIONSDCID``; ``SECTIONS.ID`` is what ``CC``, the grade tables and
``SECTION_MEETING`` hold in ``SECTIONID`` (negated in ``CC`` when the class was dropped).

Portico keys a student by DCID, a school by DCID and a section by DCID. Each map here
turns the other namespace into that one, and a value it cannot turn (unknown, or shared by
two records) raises :class:`Unresolved`: the row is set aside, never attached to a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.powerschool.values import ident


class Unresolved(Exception):
    """A key that names no record, or more than one, in the namespace it belongs to."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


_AMBIGUOUS = ""


def _id(value: Any, field: str, namespace: str) -> str:
    try:
        return ident(value)
    except (TypeError, ValueError):
        raise Unresolved(field, f"no {namespace} given") from None


def _found(by: dict[str, str], key: str, field: str, namespace: str) -> str:
    """The DCID ``key`` names in ``namespace``, unless it names none or more than one."""
    found = by.get(key)
    if not found:
        many = found is not None
        raise Unresolved(field, f"{field} matches {'more than one' if many else 'no'} {namespace}")
    return found


@dataclass
class SchoolIds:
    """SCHOOLS.SCHOOL_NUMBER <-> SCHOOLS.DCID."""

    by_number: dict[str, str] = field(default_factory=dict)
    number_of: dict[str, str] = field(default_factory=dict)

    def add(self, dcid: str, number: str) -> None:
        self.by_number[number] = _AMBIGUOUS if number in self.by_number else dcid
        self.number_of[dcid] = number

    def dcid(self, number: Any, field: str = "schoolid") -> str:
        return _found(
            self.by_number, _id(number, field, "SCHOOLS.SCHOOL_NUMBER"), field, "SCHOOLS.SCHOOL_NUMBER"
        )


@dataclass
class StudentIds:
    """STUDENTS.ID -> STUDENTS.DCID, the DCIDs known, and each student's school number."""

    by_id: dict[str, str] = field(default_factory=dict)
    school_of: dict[str, str] = field(default_factory=dict)  # DCID -> SCHOOLS.SCHOOL_NUMBER
    # One string per school number, shared by its students (a district has few schools).
    _numbers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> StudentIds:
        ids = cls()
        for row in rows:
            ids.add(row)
        return ids

    def add(self, row: dict[str, Any]) -> None:
        try:
            dcid = ident(row.get("dcid"))
        except (TypeError, ValueError):
            return  # a row without a DCID cannot be pointed at; the students stream sets it aside
        try:
            sid = ident(row.get("id"))
        except (TypeError, ValueError):
            sid = None
        if sid is not None:
            self.by_id[sid] = _AMBIGUOUS if sid in self.by_id and self.by_id[sid] != dcid else dcid
        try:
            number = ident(row.get("schoolid"))
            self.school_of[dcid] = self._numbers.setdefault(number, number)
        except (TypeError, ValueError):
            self.school_of[dcid] = ""

    def from_id(self, value: Any, field: str = "studentid") -> str:
        """The DCID of the student whose STUDENTS.ID is ``value``."""
        return _found(self.by_id, _id(value, field, "STUDENTS.ID"), field, "STUDENTS.ID")

    def from_dcid(self, value: Any, field: str = "studentsdcid") -> str:
        """``value`` itself, once it is known to be a student's DCID."""
        key = _id(value, field, "STUDENTS.DCID")
        if key not in self.school_of:
            raise Unresolved(field, f"{field} matches no STUDENTS.DCID")
        return key


@dataclass
class SectionIds:
    """SECTIONS.ID -> SECTIONS.DCID, and each section's school number and term."""

    by_id: dict[str, str] = field(default_factory=dict)
    info: dict[str, tuple[str, str]] = field(default_factory=dict)  # DCID -> (school number, TERMS.ID)

    def add(self, row: dict[str, Any]) -> None:
        try:
            dcid = ident(row.get("dcid"))
        except (TypeError, ValueError):
            return
        try:
            sid = ident(row.get("id"))
            self.by_id[sid] = _AMBIGUOUS if sid in self.by_id and self.by_id[sid] != dcid else dcid
        except (TypeError, ValueError):
            pass
        school = row.get("schoolid")
        term = row.get("termid")
        self.info[dcid] = (
            "" if school in (None, "") else str(ident(school)),
            "" if term in (None, "") else str(ident(term)),
        )

    def from_id(self, value: Any, field: str = "sectionid") -> str:
        """The DCID of the section whose SECTIONS.ID is ``abs(value)`` (a dropped enrolment
        negates it)."""
        return _found(self.by_id, _id(value, field, "SECTIONS.ID").lstrip("-"), field, "SECTIONS.ID")

    def from_dcid(self, value: Any, field: str = "sectionsdcid") -> str:
        key = _id(value, field, "SECTIONS.DCID")
        if key not in self.info:
            raise Unresolved(field, f"{field} matches no SECTIONS.DCID")
        return key
