"""Access holds: revoke a contact, or every party for one student, until an operator releases it.

Holds live in Portico's own table, so every later sync leaves them in place. The
reader's authorisation query excludes held contacts and students; placing a hold on a
contact also ends that contact's sessions at once. The reason is encrypted under the
held person's data key and never shown to a parent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from cache.keys.keystore import Keyring
from cache.snapshots.encode import aad
from cache.tables.accounts import AccessHold
from cache.tables.core import core_table
from cache.types import utcnow
from gateway.access import accounts, sessions
from gateway.privacy import audit

HOLDS = core_table(AccessHold)
CONTACT_KINDS = ("court-order", "aup-breach", "responsibility-questioned")
STUDENT_KINDS = ("child-protection", "student-request")


@dataclass(frozen=True)
class HoldView:
    id: int
    subject: str
    ref: str
    kind: str
    created_at: dt.datetime
    created_by: str
    released_at: dt.datetime | None


def place(
    conn: Connection,
    keyring: Keyring,
    *,
    source: str,
    subject: str,
    ref: str,
    kind: str,
    reason: str,
    by: str,
) -> int:
    """Record a hold (and end the held contact's sessions); returns the hold's id."""
    allowed = CONTACT_KINDS if subject == "contact" else STUDENT_KINDS if subject == "student" else ()
    if kind not in allowed:
        raise ValueError(f"a {subject} hold is one of: {', '.join(allowed)}")
    key_id = keyring.key_for(f"{subject}:{ref}")
    now = utcnow()
    hold_id = conn.execute(
        insert(HOLDS)
        .values(
            source=source,
            subject=subject,
            ref=ref,
            kind=kind,
            key_id=key_id,
            reason_enc=keyring.sealer(key_id).seal(reason.encode(), aad("hold", kind, ref, key_id)),
            created_at=now,
            created_by=by,
        )
        .returning(HOLDS.c.id)
    ).scalar_one()
    if subject == "contact":
        account = accounts.find_by_subject(conn, source, ref)
        if account is not None:
            sessions.end_all(conn, account.id)
    _audit(conn, source, subject, ref, "hold", by)
    return int(hold_id)


def _audit(conn: Connection, source: str, subject: str, ref: str, action: str, by: str) -> None:
    """Hold changes go into the audit chain (category "hold", never shown to parents)."""
    audit.append(conn, [audit.Entry(
        actor_kind="operator", actor_id=by[:64], category="hold", outcome="allowed", source=source,
        student_ref=ref if subject == "student" else None, action=action,
    )])  # fmt: skip


def release(conn: Connection, *, source: str, subject: str, ref: str, kind: str | None, by: str) -> int:
    """Release the active holds of a subject (of one kind, or all); returns how many."""
    cond = [
        HOLDS.c.source == source,
        HOLDS.c.subject == subject,
        HOLDS.c.ref == ref,
        HOLDS.c.released_at.is_(None),
    ]
    if kind is not None:
        cond.append(HOLDS.c.kind == kind)
    res = conn.execute(update(HOLDS).where(*cond).values(released_at=utcnow(), released_by=by))
    if res.rowcount:
        _audit(conn, source, subject, ref, "release", by)
    return res.rowcount or 0


def active(conn: Connection, source: str | None = None) -> list[HoldView]:
    q = select(HOLDS).where(HOLDS.c.released_at.is_(None)).order_by(HOLDS.c.id)
    if source is not None:
        q = q.where(HOLDS.c.source == source)
    return [
        HoldView(r.id, r.subject, r.ref, r.kind, r.created_at, r.created_by, r.released_at)
        for r in conn.execute(q)
    ]


def reason_of(conn: Connection, keyring: Keyring, hold_id: int) -> str | None:
    """The recorded reason, for the operator's eyes only."""
    r = conn.execute(select(HOLDS).where(HOLDS.c.id == hold_id)).first()
    if r is None or r.reason_enc is None:
        return None
    return keyring.sealer(r.key_id).open(r.reason_enc, aad("hold", r.kind, r.ref, r.key_id)).decode()
