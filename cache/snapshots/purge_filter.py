"""The re-import rule for purged students, consulted by every sync before a record is staged.

Rule (``docs/privacy.md``): a purged student's records, and the contacts purged with
them, are skipped at every later sync. The student comes back only when the SIS
still has them enrolled (status active or pre-registered, and no exit date on or
before today) *and* the purge was not blocked by the district. A district purged at
contract end imports nothing at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from cache.snapshots.encode import Encoder
from cache.tables.privacy import PURGED
from cache.types import utcnow
from connectors.records import EnrollmentStatus, Record, Student

ENROLLED = {EnrollmentStatus.ACTIVE, EnrollmentStatus.PRE_REGISTERED}


def still_enrolled(rec: Student, today: dt.date) -> bool:
    return rec.enrollment_status in ENROLLED and (rec.exit_date is None or rec.exit_date > today)


class PurgeFilter:
    """Drops a sync's records of purged subjects; lets a returning student back in."""

    def __init__(self, conn: Connection, encoder: Encoder, today: dt.date) -> None:
        self.conn = conn
        self.encoder = encoder
        self.today = today
        self.source = encoder.source
        self.everything = False
        self.students: dict[str, bool] = {}  # ref -> blocked
        self.contacts: dict[str, set[str | None]] = {}  # ref -> the students it was purged with
        self.skipped = 0
        rows = conn.execute(
            select(PURGED.c.source, PURGED.c.subject, PURGED.c.ref, PURGED.c.via_ref, PURGED.c.blocked).where(
                PURGED.c.source.in_({self.source, encoder.student_source}), PURGED.c.returned_at.is_(None)
            )
        ).all()
        for source, subject, ref, via, blocked in rows:
            if source != self.source:
                # A source attached to another's students (students_of) keeps that source's
                # purged students out too, and never lets one back itself.
                if subject == "student":
                    self.students[ref] = True
                continue
            if subject == "district":
                self.everything = True
            elif subject == "student":
                self.students[ref] = bool(blocked) or self.students.get(ref, False)
            elif subject == "contact":
                self.contacts.setdefault(ref, set()).add(via)

    @property
    def active(self) -> bool:
        return self.everything or bool(self.students) or bool(self.contacts)

    def admit(self, records: Sequence[Record]) -> Sequence[Record]:
        if not self.active:
            return records
        return [rec for rec in records if self.admits(rec)]

    def admits(self, rec: Record) -> bool:
        """False for a record of a purged subject (counted in ``skipped``)."""
        if self.everything:
            self.skipped += 1
            return False
        ref = self.encoder.ref
        kind = rec.kind
        if kind == "student":
            sref = ref("student", rec.source_id)
            if sref in self.students:
                assert isinstance(rec, Student)
                if self.students[sref] or not still_enrolled(rec, self.today):
                    self.skipped += 1
                    return False
                self._return(sref)
        elif kind == "contact":
            if ref("contact", rec.source_id) in self.contacts:
                self.skipped += 1
                return False
        else:
            student_id = getattr(rec, "student_id", None)
            if student_id is not None and ref("student", student_id) in self.students:
                self.skipped += 1
                return False
        return True

    def _return(self, student_ref: str) -> None:
        """The SIS still enrols an unblocked purged student: they, and their contacts, come back."""
        del self.students[student_ref]
        for c in [c for c, vias in self.contacts.items() if student_ref in vias]:
            del self.contacts[c]
        self.conn.execute(
            update(PURGED)
            .where(
                PURGED.c.source == self.source,
                PURGED.c.returned_at.is_(None),
                ((PURGED.c.subject == "student") & (PURGED.c.ref == student_ref))
                | ((PURGED.c.subject == "contact") & (PURGED.c.via_ref == student_ref)),
            )
            .values(returned_at=utcnow())
        )
