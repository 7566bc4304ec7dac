"""Correction requests: stored encrypted under the student's key, listed, resolved; never sent to the SIS."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select, update

from cache.keys.keystore import Keyring
from cache.snapshots.encode import aad
from cache.tables.privacy import CORRECTIONS
from cache.types import utcnow

STATUSES = ("open", "resolved", "rejected")


@dataclass(frozen=True)
class Correction:
    id: str
    source: str
    student_ref: str
    account_id: str
    about: str
    message: str
    status: str
    created_at: Any
    notified_at: Any
    resolved_at: Any
    note: str | None

    def public(self) -> dict[str, Any]:
        """What the requester sees: their text, the status and the school's note."""
        return {
            "id": self.id,
            "about": self.about,
            "message": self.message,
            "status": self.status,
            "created_at": self.created_at,
            "resolved_at": self.resolved_at,
            "note": self.note,
        }


def _owner(student_ref: str) -> str:
    return f"student:{student_ref}"


def create(
    conn: Connection,
    keyring: Keyring,
    *,
    source: str,
    student_ref: str,
    account_id: str,
    about: str,
    message: str,
) -> str:
    """Store a new open request (in the caller's transaction); returns its id."""
    cid = "cor_" + secrets.token_urlsafe(12)
    key_id = keyring.fresh_key_for(_owner(student_ref))
    body = orjson.dumps({"about": about, "message": message})
    conn.execute(
        insert(CORRECTIONS).values(
            id=cid,
            source=source,
            student_ref=student_ref,
            account_id=account_id,
            key_id=key_id,
            body_enc=keyring.sealer(key_id).seal(body, aad("correction", "body", cid, key_id)),
            status="open",
            created_at=utcnow(),
        )
    )
    return cid


def _load(keyring: Keyring, row: Any) -> Correction:
    sealer = keyring.sealer(row.key_id)
    body = orjson.loads(sealer.open(row.body_enc, aad("correction", "body", row.id, row.key_id)))
    note = None
    if row.note_enc is not None:
        note = sealer.open(row.note_enc, aad("correction", "note", row.id, row.key_id)).decode()
    return Correction(
        row.id,
        row.source,
        row.student_ref,
        row.account_id,
        body["about"],
        body["message"],
        row.status,
        row.created_at,
        row.notified_at,
        row.resolved_at,
        note,
    )


def of_student(
    conn: Connection, keyring: Keyring, source: str, student_ref: str, account_id: str | None
) -> list[Correction]:
    """Requests about a student, newest first: one requester's (``account_id``), or everyone's (None)."""
    q = (
        select(CORRECTIONS)
        .where(CORRECTIONS.c.source == source, CORRECTIONS.c.student_ref == student_ref)
        .order_by(CORRECTIONS.c.created_at.desc())
    )
    if account_id is not None:
        q = q.where(CORRECTIONS.c.account_id == account_id)
    return [_load(keyring, r) for r in conn.execute(q).all()]


def get(conn: Connection, keyring: Keyring, cid: str) -> Correction | None:
    row = conn.execute(select(CORRECTIONS).where(CORRECTIONS.c.id == cid)).first()
    return _load(keyring, row) if row is not None else None


def listing(conn: Connection, keyring: Keyring, status: str | None = None) -> list[Correction]:
    q = select(CORRECTIONS).order_by(CORRECTIONS.c.created_at)
    if status is not None:
        q = q.where(CORRECTIONS.c.status == status)
    return [_load(keyring, r) for r in conn.execute(q).all()]


def mark_notified(conn: Connection, cid: str) -> None:
    conn.execute(update(CORRECTIONS).where(CORRECTIONS.c.id == cid).values(notified_at=utcnow()))


def resolve(
    conn: Connection, keyring: Keyring, cid: str, *, status: str, by: str, note: str | None = None
) -> bool:
    """Close a request as resolved or rejected, with a note the requester will see."""
    if status not in STATUSES[1:]:
        raise ValueError(f"status must be one of {', '.join(STATUSES[1:])}")
    row = conn.execute(select(CORRECTIONS.c.key_id).where(CORRECTIONS.c.id == cid)).first()
    if row is None:
        return False
    note_enc = None
    if note:
        note_enc = keyring.sealer(row.key_id).seal(note.encode(), aad("correction", "note", cid, row.key_id))
    conn.execute(
        update(CORRECTIONS)
        .where(CORRECTIONS.c.id == cid)
        .values(status=status, resolved_at=utcnow(), resolved_by=by, note_enc=note_enc)
    )
    return True
