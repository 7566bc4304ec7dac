"""Deletion: destroy students' data keys and rows, and certify it (no personal data in the certificate).

Destroying a student's data key erases the student everywhere, old copies of the cache
database included, because data keys live only in the separate keystore. Rows are
deleted too (every version), with the student's account, sessions, correction
requests and alerts (news and outbox rows), the contacts linked to no other student,
and the reasons of holds on them (the holds themselves stay, in case the student is
allowed back). A :class:`~cache.tables.privacy.PurgedSubject` row keeps the student out
of later syncs (:mod:`cache.snapshots.purge_filter`). Every purge runs under the source's
sync lock.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from cache.keys.keystore import Keyring
from cache.locks import source_lock
from cache.tables.accounts import AccessHold, Account, Session
from cache.tables.alerts import AlertNews, AlertOutbox
from cache.tables.core import core_table
from cache.tables.privacy import CERTIFICATES, CORRECTIONS, PURGED
from cache.tables.records import RecordRow
from cache.types import utcnow
from config.errors import PorticoError
from gateway.privacy import audit

log = structlog.get_logger("portico.privacy")
RECORDS = core_table(RecordRow)
ACCOUNTS = core_table(Account)
SESSIONS = core_table(Session)
HOLDS = core_table(AccessHold)
NEWS = core_table(AlertNews)
OUTBOX = core_table(AlertOutbox)
REASON = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
CHUNK = 500


class PurgeError(PorticoError):
    """A purge could not run (a sync holds the lock, a bad reason code)."""


def chunks(items: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


@contextmanager
def locked(engine: Engine, source: str, wait_s: float = 60.0) -> Iterator[None]:
    """Wait for a running sync of ``source`` to finish, then hold its lock."""
    deadline = time.monotonic() + wait_s
    while True:
        with source_lock(engine, source) as got:
            if got:
                yield
                return
        if time.monotonic() > deadline:
            raise PurgeError(f"a sync of {source} is running; try again when it has finished")
        time.sleep(0.5)


def unindexed(column: Any) -> Any:
    """``column || ''``: leaves the index choice to the student_ref term. Without statistics
    SQLite's planner prefers (source, kind) and walks every row of the source."""
    return column + ""


def check_reason(reason_code: str) -> str:
    # A code, not free text: certificates and audit rows must never carry personal data.
    if not REASON.match(reason_code):
        raise PurgeError("the reason is a short code like deletion-request or leaver-retention")
    return reason_code


def _linked_contacts(conn: Connection, source: str, refs: list[str]) -> dict[str, set[str]]:
    """Contacts linked to these students and to no other student (in any stored version),
    each with the purged students it was linked to."""
    linked: dict[str, set[str]] = {}
    for chunk in chunks(refs):
        for c, s in conn.execute(
            select(RECORDS.c.contact_ref, RECORDS.c.student_ref).where(
                unindexed(RECORDS.c.source) == source,
                unindexed(RECORDS.c.kind) == "link",
                RECORDS.c.student_ref.in_(chunk),
            )
        ):
            if c:
                linked.setdefault(c, set()).add(s)
    purged = set(refs)
    for chunk in chunks(sorted(linked)):
        for c, s in conn.execute(
            select(RECORDS.c.contact_ref, RECORDS.c.student_ref).where(
                RECORDS.c.source == source, RECORDS.c.kind == "link", RECORDS.c.contact_ref.in_(chunk)
            )
        ):
            if s not in purged:
                linked.pop(c, None)
    return linked


def _delete_rows(conn: Connection, source: str, refs: list[str], contacts: list[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for chunk in chunks(refs):
        # Every source's rows about these students: a student ref is a blind index of this
        # source's student, which only this source and the sources attached to its students
        # (students_of) put on their rows.
        mine = RECORDS.c.student_ref.in_(chunk)
        for kind, n in conn.execute(
            select(RECORDS.c.kind, func.count()).where(mine).group_by(RECORDS.c.kind)
        ):
            counts[kind] += int(n)
        conn.execute(delete(RECORDS).where(mine))
    for chunk in chunks(contacts):
        where = (RECORDS.c.source == source) & (RECORDS.c.kind == "contact") & RECORDS.c.ref.in_(chunk)
        counts["contact"] += int(conn.execute(select(func.count()).where(where)).scalar() or 0)
        conn.execute(delete(RECORDS).where(where))
    # Portico's own rows about these people.
    for role, subjects in (("student", refs), ("guardian", contacts)):
        for chunk in chunks(subjects):
            ids = [
                a
                for (a,) in conn.execute(
                    select(ACCOUNTS.c.id).where(
                        ACCOUNTS.c.source == source,
                        ACCOUNTS.c.role == role,
                        ACCOUNTS.c.subject_ref.in_(chunk),
                    )
                )
            ]
            if ids:
                counts["session"] += (
                    conn.execute(delete(SESSIONS).where(SESSIONS.c.account_id.in_(ids))).rowcount or 0
                )
                counts["account"] += (
                    conn.execute(delete(ACCOUNTS).where(ACCOUNTS.c.id.in_(ids))).rowcount or 0
                )
    # Holds stay: a student allowed back must come back under the same revocation. Their
    # reasons were encrypted under the destroyed keys, so they are erased, not kept.
    for subject, subjects in (("student", refs), ("contact", contacts)):
        for chunk in chunks(subjects):
            counts["hold_reason_erased"] += (
                conn.execute(
                    update(HOLDS)
                    .where(HOLDS.c.source == source, HOLDS.c.subject == subject, HOLDS.c.ref.in_(chunk))
                    .values(reason_enc=None, key_id=None)
                ).rowcount
                or 0
            )
    # Alerts about them, not yet expanded or sent (or kept after sending), from every source
    # that puts their ref on its rows, as for the records above.
    for chunk in chunks(refs):
        for name, table in (("alert_news", NEWS), ("alert_outbox", OUTBOX)):
            counts[name] += conn.execute(delete(table).where(table.c.student_ref.in_(chunk))).rowcount or 0
    for chunk in chunks(refs):
        counts["correction"] += (
            conn.execute(
                delete(CORRECTIONS).where(
                    CORRECTIONS.c.source == source, CORRECTIONS.c.student_ref.in_(chunk)
                )
            ).rowcount
            or 0
        )
    return {k: v for k, v in sorted(counts.items()) if v}


def certify(
    engine: Engine,
    cert_id: str,
    scope: str,
    source: str | None,
    operator: str,
    reason_code: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    now = utcnow()
    full = {
        "certificate": cert_id,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "operator": operator,
        "reason": reason_code,
        "scope": scope,
        "source": source,
        **body,
    }
    with engine.begin() as conn:
        conn.execute(
            insert(CERTIFICATES).values(
                id=cert_id,
                created_at=now,
                operator=operator,
                reason_code=reason_code,
                scope=scope,
                source=source,
                body=full,
            )
        )
    return full


def purge_students(
    engine: Engine,
    keyring: Keyring,
    source: str,
    refs: Iterable[str],
    *,
    reason_code: str,
    operator: str,
    blocked: bool = True,
    scope: str = "student",
) -> dict[str, Any]:
    """Purge students (opaque refs) of ``source``; returns the deletion certificate."""
    check_reason(reason_code)
    student_refs = sorted(set(refs))
    cert_id = "del_" + secrets.token_hex(8)
    with locked(engine, source):
        with engine.begin() as conn:
            via = _linked_contacts(conn, source, student_refs)
            contacts = sorted(via)
            rows = _delete_rows(conn, source, student_refs, contacts)
            now = utcnow()
            common = dict(
                source=source, purged_at=now, reason_code=reason_code, blocked=blocked, certificate_id=cert_id
            )
            marks = [dict(common, subject="student", ref=r, via_ref=None) for r in student_refs]
            # A contact comes back with any of the students it was purged with.
            marks += [
                dict(common, subject="contact", ref=c, via_ref=s) for c in contacts for s in sorted(via[c])
            ]
            for i in range(0, len(marks), CHUNK):
                conn.execute(insert(PURGED), marks[i : i + CHUNK])
            audit.append(
                conn,
                [
                    audit.Entry("operator", operator, "deletion", "allowed", source, r, action="purge")
                    for r in student_refs
                ],
            )
        owners = [f"student:{r}" for r in student_refs] + [f"contact:{c}" for c in contacts]
        destroyed = keyring.destroy_many(owners)
    return certify(
        engine,
        cert_id,
        scope,
        source,
        operator,
        reason_code,
        {
            "students": len(student_refs),
            "contacts": len(contacts),
            "blocked_from_reimport": blocked,
            "subjects": [{"owner": o, "key_id_destroyed": destroyed.get(o)} for o in owners],
            "rows_deleted": rows,
        },
    )
