"""Canonical record → cache row: blind-indexed columns, digest, and the key owner.

The plaintext columns carry only keyed blind indexes, dates, and flags needed to
authorise and filter inside SQL; everything that names or describes a person is in
the encrypted payload.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import orjson

from cache.crypto import BlindIndex
from cache.keystore import shared_owner
from connectors import records as r
from connectors.records import Record

STUDENT_SCOPED = {"student", "link", "enrollment", "attendance", "result", "grade", "behaviour", "report"}


@dataclass(slots=True)
class Encoded:
    kind: str
    ref: str
    owner: str
    payload: bytes
    digest: bytes
    cols: dict[str, object]


def adult_cutoff(policy: str, adult_age: int) -> Callable[[dt.date], dt.date | None]:
    """When guardians' access to a student ends on age alone (Minneapolis policy 1050 default)."""

    def birthday(dob: dt.date) -> dt.date:
        try:
            return dob.replace(year=dob.year + adult_age)
        except ValueError:  # 29 February
            return dt.date(dob.year + adult_age, 3, 1)

    def june_30(dob: dt.date) -> dt.date | None:
        # The school year runs July..June: access continues to 30 June of that year.
        b = birthday(dob)
        return dt.date(b.year if b.month <= 6 else b.year + 1, 6, 30)

    if policy == "continues":
        return lambda dob: None
    if policy == "at-birthday":  # the last day of access is the day before the birthday
        return lambda dob: birthday(dob) - dt.timedelta(days=1)
    return june_30


class Encoder:
    """Computes a record's row columns for one source."""

    def __init__(
        self, source: str, index: BlindIndex, tz: str, guardian_until: Callable[[dt.date], dt.date | None]
    ):
        self.source = source
        self.index = index
        self.tz = ZoneInfo(tz)
        self.guardian_until = guardian_until
        self.shared = shared_owner(source)
        self._refs: dict[tuple[str, str], str] = {}

    def ref(self, kind: str, source_id: str) -> str:
        key = (kind, source_id)
        v = self._refs.get(key)
        if v is None:
            v = self.index.ref(self.source, kind, source_id)
            if len(self._refs) < 200_000:  # students, contacts, sections repeat; attendance does not
                self._refs[key] = v
        return v

    def local_date(self, when: dt.datetime) -> dt.date:
        return when.astimezone(self.tz).date()

    def encode(self, rec: Record) -> Encoded:
        kind = rec.kind
        payload = orjson.dumps(rec)
        cols: dict[str, object] = {}
        ref = (
            self.index.ref(self.source, kind, rec.source_id)
            if kind == "attendance"
            else self.ref(kind, rec.source_id)
        )
        student_id = getattr(rec, "student_id", None)
        if kind == "student":
            assert isinstance(rec, r.Student)
            cols["student_ref"] = ref
            cols["active_from"] = rec.entry_date
            cols["active_to"] = rec.exit_date
            cols["guardian_until"] = self.guardian_until(rec.date_of_birth)
            owner = f"student:{ref}"
        elif student_id is not None:
            sref = self.ref("student", student_id)
            cols["student_ref"] = sref
            owner = f"student:{sref}"
        elif kind == "contact":
            owner = f"contact:{ref}"
        else:
            owner = self.shared

        if isinstance(rec, r.StudentContact):
            cols["contact_ref"] = self.ref("contact", rec.contact_id)
            cols["access"] = rec.parental_responsibility and rec.portal_access and not rec.court_order
        elif isinstance(rec, r.Contact):
            cols["contact_ref"] = ref
        elif isinstance(rec, r.AttendanceMark):
            cols["day"] = rec.date
            cols["stamp"] = rec.recorded_at
        elif isinstance(rec, (r.Enrollment, r.TimetableEntry)):
            cols["parent_ref"] = self.ref("section", rec.section_id)
            cols["active_from"], cols["active_to"] = rec.start_date, rec.end_date
        elif isinstance(rec, r.Assignment):
            cols["parent_ref"] = self.ref("section", rec.section_id)
            cols["day"] = rec.due_date
            if rec.set_date is not None:
                cols["stamp"] = dt.datetime.combine(rec.set_date, dt.time(0), self.tz)
        elif isinstance(rec, r.AssignmentResult):
            cols["parent_ref"] = self.ref("assignment", rec.assignment_id)
        elif isinstance(rec, r.Grade):
            cols["parent_ref"] = self.ref("section", rec.section_id)
            cols["stamp"] = rec.updated_at
            cols["day"] = self.local_date(rec.updated_at)
        elif isinstance(rec, r.BehaviourEvent):
            cols["stamp"] = rec.occurred_at
            cols["day"] = self.local_date(rec.occurred_at)
        elif isinstance(rec, r.Notice):
            cols["audience"] = self.audience(rec)
            cols["stamp"] = rec.publish_from
            cols["active_from"] = self.local_date(rec.publish_from)
            cols["active_to"] = self.local_date(rec.publish_to) if rec.publish_to else None
        elif isinstance(rec, r.ProgressReport):
            cols["day"] = rec.issued_date
        extra = repr(sorted(cols.items())).encode()
        return Encoded(kind, ref, owner, payload, self.index.digest(payload + extra), cols)

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
