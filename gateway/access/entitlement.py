"""Who is entitled to an account in a published snapshot: linked guardians and enrolled students.

A contact is entitled only through a link granting parental responsibility and portal
access without a court order (``link.access``) to a student on roll today. Holds and
the coming-of-age rule are not applied here: they govern access, checked live on
every request, while the account itself stays (holds are lifted, years roll on).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cache.read.predicates import CURRENT, ON_ROLL
from cache.read.reader import Reader

_ON_ROLL = ON_ROLL.format(t="st")

ENTITLED_CONTACTS = f"""
SELECT c.ref, c.key_id, c.payload FROM record c
WHERE c.source = :src AND c.kind = 'contact' AND {CURRENT.format(t="c")} AND c.ref IN (
  SELECT ln.contact_ref FROM record ln
  JOIN record st ON st.source = ln.source AND st.kind = 'student' AND st.ref = ln.student_ref
  WHERE ln.source = :src AND ln.kind = 'link' AND ln.access = :yes
    AND {CURRENT.format(t="ln")} AND {CURRENT.format(t="st")} AND {_ON_ROLL})
ORDER BY c.ref
"""

ENROLLED_STUDENTS = f"""
SELECT st.ref, st.key_id, st.payload FROM record st
WHERE st.source = :src AND st.kind = 'student' AND {CURRENT.format(t="st")} AND {_ON_ROLL}
ORDER BY st.ref
"""


def entitled_contacts(
    reader: Reader, source: str, published: int, today: dt.date
) -> list[tuple[str, dict[str, Any]]]:
    """(contact ref, contact record) of every contact entitled to a guardian account today."""
    rows = reader.query(ENTITLED_CONTACTS, {"src": source, "p": published, "today": today, "yes": True})
    return [(ref, reader.open(source, "contact", ref, k, p)) for ref, k, p in rows]


def enrolled_students(
    reader: Reader, source: str, published: int, today: dt.date
) -> list[tuple[str, dict[str, Any]]]:
    """(student ref, student record) of every student on roll today."""
    rows = reader.query(ENROLLED_STUDENTS, {"src": source, "p": published, "today": today})
    return [(ref, reader.open(source, "student", ref, k, p)) for ref, k, p in rows]


def person(reader: Reader, source: str, published: int, kind: str, ref: str) -> dict[str, Any] | None:
    """A contact's or student's record by ref: for names and emails of account holders."""
    rows = reader.query(
        f"SELECT ref, key_id, payload FROM record c WHERE c.source = :src AND c.kind = :k "
        f"AND c.ref = :ref AND {CURRENT.format(t='c')}",
        {"src": source, "k": kind, "p": published, "ref": ref},
    )
    return reader.open(source, kind, ref, rows[0][1], rows[0][2]) if rows else None


def school_people(reader: Reader, source: str, published: int, school_ref: str) -> set[str]:
    """Refs of a school's students and of every contact linked to them."""
    rows = reader.query(
        f"SELECT ref, key_id, payload FROM record st WHERE st.source = :src AND st.kind = 'student' "
        f"AND {CURRENT.format(t='st')}",
        {"src": source, "p": published},
    )
    index = reader.keyring.index
    students = {
        ref
        for ref, k, p in rows
        if index.ref(source, "school", reader.open(source, "student", ref, k, p)["school_id"]) == school_ref
    }
    links = reader.query(
        f"SELECT contact_ref, student_ref FROM record ln WHERE ln.source = :src AND ln.kind = 'link' "
        f"AND {CURRENT.format(t='ln')}",
        {"src": source, "p": published},
    )
    return students | {c for c, s in links if s in students}


def emails(reader: Reader, source: str, published: int) -> list[str]:
    """Every contact's and student's email in the snapshot (to find shared addresses)."""
    rows = reader.query(
        f"SELECT ref, kind, key_id, payload FROM record c WHERE c.source = :src "
        f"AND c.kind IN ('contact', 'student') AND {CURRENT.format(t='c')}",
        {"src": source, "p": published},
    )
    found = (reader.open(source, kind, ref, k, p).get("email") for ref, kind, k, p in rows)
    return [e for e in found if e]
