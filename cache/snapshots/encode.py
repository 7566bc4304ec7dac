"""Canonical record → cache row: blind-indexed columns, digest, and the key owner.

The plaintext columns carry only keyed blind indexes, dates, and flags needed to
authorise and filter inside SQL; everything that names or describes a person is in
the encrypted payload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from cache.keys.crypto import BlindIndex
from cache.keys.keystore import shared_owner
from connectors import records as r
from connectors.records import Record

# Kinds with too many records to memoise their refs.
_UNCACHED = frozenset({"attendance", "result", "assignment", "behaviour", "grade", "timetable"})
# Kinds whose refs other records name many times (a mark's student, an enrolment's section,
# a result's assignment): only these are memoised, up to MEMO_REFS of them (about 150 B
# each), then the memo starts again. A ref costs about 2 µs to compute, a memo hit 0.1 µs.
_MEMOISED = ("student", "section", "assignment", "school")
MEMO_REFS = 16_384


# Kinds whose digest mixes in config besides the record (digest_of): a row key, which
# sees only the source row, cannot vouch for them.
CONFIG_SHAPED_KINDS = frozenset({"student"})


@dataclass(slots=True)
class Encoded:
    kind: str
    ref: str
    owner: str
    payload: bytes
    digest: bytes
    cols: dict[str, object]
    record: Record  # what was encoded (a change set's watcher summarises it in place)
    row_key: int | None = None


def adult_cutoff(policy: str, adult_age: int) -> Callable[[dt.date | None], dt.date | None]:
    """When guardians' access to a student ends on age alone (Minneapolis policy 1050 default).
    A student whose date of birth the SIS does not know has no cut-off."""

    def birthday(dob: dt.date) -> dt.date:
        try:
            return dob.replace(year=dob.year + adult_age)
        except ValueError:  # 29 February
            return dt.date(dob.year + adult_age, 3, 1)

    def june_30(dob: dt.date | None) -> dt.date | None:
        # The school year runs July..June: access continues to 30 June of that year.
        if dob is None:
            return None
        b = birthday(dob)
        return dt.date(b.year if b.month <= 6 else b.year + 1, 6, 30)

    if policy == "continues":
        return lambda dob: None
    return june_30


class Encoder:
    """Computes a record's row columns for one source."""

    def __init__(
        self,
        source: str,
        index: BlindIndex,
        tz: str,
        guardian_until: Callable[[dt.date | None], dt.date | None],
        student_source: str | None = None,
    ):
        self.source = source
        # A source attached to another's students (``students_of`` in YAML) refers to
        # students by that source's ids: its records get that source's student refs, so
        # they land on the same child and are encrypted under the same data key.
        self.student_source = student_source or source
        self.index = index
        self.tz = ZoneInfo(tz)
        self.guardian_until = guardian_until
        self.shared = shared_owner(source)
        self._refs: dict[str, dict[str, str]] = {kind: {} for kind in _MEMOISED}
        self._memoised = 0
        self._columns: dict[str, Callable[[Any, str], dict[str, object]]] = {
            "school": self._c_school,
            "student": self._c_student,
            "contact": self._c_contact,
            "link": self._c_link,
            "section": self._c_section,
            "enrollment": self._c_membership,
            "timetable": self._c_membership,
            "attendance": self._c_attendance,
            "assignment": self._c_assignment,
            "result": self._c_result,
            "grade": self._c_grade,
            "behaviour": self._c_behaviour,
            "notice": self._c_notice,
            "report": self._c_report,
        }

    def ref(self, kind: str, source_id: str) -> str:
        memo = self._refs.get(kind)
        v = None if memo is None else memo.get(source_id)
        if v is None:
            v = self.index.ref(self.student_source if kind == "student" else self.source, kind, source_id)
            if memo is not None:
                if self._memoised >= MEMO_REFS:  # bounded: memory stays flat as districts grow
                    for m in self._refs.values():
                        m.clear()
                    self._memoised = 0
                memo[source_id] = v
                self._memoised += 1
        return v

    def local_date(self, when: dt.datetime) -> dt.date:
        return when.astimezone(self.tz).date()

    def digest_of(self, rec: Record) -> tuple[bytes, bytes]:
        """The payload and its keyed digest: all a full pull needs to spot an unchanged record."""
        payload = orjson.dumps(rec)
        # The columns derive from the payload, except guardian_until, which config shapes too.
        extra = str(self.guardian_until(rec.date_of_birth)).encode() if isinstance(rec, r.Student) else b""
        return payload, self.index.digest(payload + extra)

    def encode(self, rec: Record, payload: bytes | None = None, digest: bytes | None = None) -> Encoded:
        kind = rec.kind
        if payload is None or digest is None:
            payload, digest = self.digest_of(rec)
        # Kept until the page is written: orjson leaves its output in a buffer of at least
        # 4 KB, so a copy of the exact size is what the page holds (a 5,000-record page:
        # about 1.5 MB instead of 20 MB).
        payload = bytes(memoryview(payload))
        if kind in _UNCACHED:
            ref = self.index.ref(self.source, kind, rec.source_id)
        else:
            ref = self.ref(kind, rec.source_id)
        cols = self._columns[kind](rec, ref)
        sref = cols.get("student_ref")
        if sref is not None:
            owner = f"student:{sref}"
        elif kind == "contact":
            owner = f"contact:{ref}"
        else:
            owner = self.shared
        return Encoded(kind, ref, owner, payload, digest, cols, rec)

    # --- per-kind plaintext columns: blind indexes, dates and flags only -------------------

    def _student_of(self, rec: Any) -> str:
        return self.ref("student", rec.student_id)

    def _c_school(self, rec: r.School, ref: str) -> dict[str, object]:
        return {}

    def _c_student(self, rec: r.Student, ref: str) -> dict[str, object]:
        return {
            "student_ref": ref,
            "active_from": rec.entry_date,
            "active_to": rec.exit_date,
            "guardian_until": self.guardian_until(rec.date_of_birth),
        }

    def _c_contact(self, rec: r.Contact, ref: str) -> dict[str, object]:
        return {"contact_ref": ref}

    def _c_link(self, rec: r.StudentContact, ref: str) -> dict[str, object]:
        return {
            "student_ref": self._student_of(rec),
            "contact_ref": self.ref("contact", rec.contact_id),
            "access": rec.grants_access,
        }

    def _c_section(self, rec: r.Section, ref: str) -> dict[str, object]:
        return {}

    def _c_membership(self, rec: r.Enrollment | r.TimetableEntry, ref: str) -> dict[str, object]:
        sid = getattr(rec, "student_id", None)
        return {
            "student_ref": self.ref("student", sid) if sid else None,
            "parent_ref": self.ref("section", rec.section_id),
            "active_from": rec.start_date,
            "active_to": rec.end_date,
        }

    def _c_attendance(self, rec: r.AttendanceMark, ref: str) -> dict[str, object]:
        return {"student_ref": self._student_of(rec), "day": rec.date, "stamp": rec.recorded_at}

    def _c_assignment(self, rec: r.Assignment, ref: str) -> dict[str, object]:
        stamp = dt.datetime.combine(rec.set_date, dt.time(0), self.tz) if rec.set_date else None
        return {"parent_ref": self.ref("section", rec.section_id), "day": rec.due_date, "stamp": stamp}

    def _c_result(self, rec: r.AssignmentResult, ref: str) -> dict[str, object]:
        return {"student_ref": self._student_of(rec), "parent_ref": self.ref("assignment", rec.assignment_id)}

    def _c_grade(self, rec: r.Grade, ref: str) -> dict[str, object]:
        return {
            "student_ref": self._student_of(rec),
            "parent_ref": self.ref("section", rec.section_id),
            "stamp": rec.updated_at,
            "day": self.local_date(rec.updated_at),
        }

    def _c_behaviour(self, rec: r.BehaviourEvent, ref: str) -> dict[str, object]:
        return {
            "student_ref": self._student_of(rec),
            "stamp": rec.occurred_at,
            "day": self.local_date(rec.occurred_at),
        }

    def _c_notice(self, rec: r.Notice, ref: str) -> dict[str, object]:
        return {
            "audience": self.audience(rec),
            "stamp": rec.publish_from,
            "active_from": self.local_date(rec.publish_from),
            "active_to": self.local_date(rec.publish_to) if rec.publish_to else None,
        }

    def _c_report(self, rec: r.ProgressReport, ref: str) -> dict[str, object]:
        return {"student_ref": self._student_of(rec), "day": rec.issued_date}

    def audience(self, n: r.Notice) -> str:
        if n.audience == r.Audience.DISTRICT:
            return "district"
        if n.audience == r.Audience.SECTION and n.section_id is not None:
            return "section:" + self.ref("section", n.section_id)
        school = self.ref("school", n.school_id or "")
        if n.audience == r.Audience.YEAR:
            return f"year:{school}:{n.year_group or ''}"
        return "school:" + school


def aad(source: str, kind: str, ref: str, key_id: str) -> bytes:
    """Associated data binding a payload to its row: a ciphertext moved elsewhere fails."""
    return f"{source}\x1f{kind}\x1f{ref}\x1f{key_id}".encode()
