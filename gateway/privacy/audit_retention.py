"""Audit retention: ``portico audit prune`` removes what ``privacy.audit_retention`` no
longer requires, and the chain stays verifiable.

What is kept however old (``privacy.keep_disclosures_while_record_held``, on by
default): every *record of disclosure*, an allowed read, export or investigation of a
student's data, for as long as the cache holds that student's records. FERPA keeps the
record of disclosures as long as the education record it is about (34 CFR 99.32(a)(2));
once a student is purged (on request, as a leaver, at contract end) their disclosure
records age out like any other event. The district's access rules as they were set and
changed (``access-rule`` events) are kept too.

How the chain survives: a prune removes events from the start of the chain up to the
last event older than the retention (the *cut*), except the records of disclosure it
keeps. It writes a checkpoint row holding the cut event's id and hash and a digest of
the kept events; the next event links to that hash, so ``portico audit verify`` checks
the rest of the chain from the checkpoint and the kept events against its digest.
Before anything is deleted the whole chain is verified (a broken chain is never pruned)
and the checkpoint is sealed in the keystore database beside the anchors, so a forged
checkpoint is caught like a rewritten event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select

from cache.tables.audit import CHECKPOINTS, DENIED, EVENTS
from cache.tables.core import core_table
from cache.tables.records import RecordRow
from config.errors import PorticoError
from config.settings import PrivacySettings
from gateway.privacy import audit
from gateway.privacy.audit_anchor import checkpoint_seal, seal, verify_anchored

RECORDS = core_table(RecordRow)
# Actions that disclose a student's data (never "purge", "hold" and the like).
DISCLOSURES = ("read", "export", "investigate")
# Categories kept however old: the district's access rules as they were set and changed
# (gateway/access/rule_record.py appends them; a few rows, and the history of what
# entitled whom).
KEPT_CATEGORIES = ("access-rule",)
BATCH = 5000


class AuditBroken(PorticoError):
    """The chain does not verify: nothing is pruned (run ``portico audit verify``)."""


@dataclass
class PruneResult:
    cutoff: dt.datetime
    through_id: int | None  # the cut: None when nothing was old enough
    pruned: int = 0
    kept: int = 0
    denied_counts_pruned: int = 0
    dry_run: bool = False


def _held_students(engine: Engine) -> set[tuple[str, str]]:
    """(source, student ref) of every student whose records the cache still holds."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(RECORDS.c.source, RECORDS.c.ref).where(RECORDS.c.kind == "student").distinct()
        ).all()
    return {(str(s), str(r)) for s, r in rows}


def _kept(row: Row[Any], held: set[tuple[str, str]]) -> bool:
    """A record of disclosure of a student the cache still holds, or an access rule."""
    if row.category in KEPT_CATEGORIES:
        return True
    return (
        row.outcome == "allowed"
        and row.action in DISCLOSURES
        and row.student_ref is not None
        and (row.source, row.student_ref) in held
    )


def _events_through(conn: Connection, through: int) -> Iterator[list[Row[Any]]]:
    """Events up to ``through``, in id order, a batch at a time (bounded memory)."""
    cols = (
        EVENTS.c.id,
        EVENTS.c.hash,
        EVENTS.c.source,
        EVENTS.c.student_ref,
        EVENTS.c.category,
        EVENTS.c.action,
        EVENTS.c.outcome,
    )
    last = 0
    while True:
        rows: list[Row[Any]] = list(
            conn.execute(
                select(*cols)
                .where(EVENTS.c.id > last, EVENTS.c.id <= through)
                .order_by(EVENTS.c.id)
                .limit(BATCH)
            )
        )
        if not rows:
            return
        yield rows
        last = rows[-1].id


def prune(
    engine: Engine,
    keystore: Engine,
    privacy: PrivacySettings,
    now: dt.datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PruneResult:
    """Remove audit events and denied-read counts older than ``privacy.audit_retention``,
    keeping records of disclosure of students still held (see the module's description)."""
    cutoff = now - privacy.audit_retention
    result = PruneResult(cutoff, None, dry_run=dry_run)
    with engine.connect() as conn:
        checked = verify_anchored(conn, keystore, record=not dry_run)
        if not checked.ok:
            raise AuditBroken(
                "the audit chain does not verify: run `portico audit verify`; nothing was pruned"
            )
        cp = audit.latest_checkpoint(conn)
        start = int(cp.through_id) if cp is not None else 0
        first_young = conn.execute(
            select(func.min(EVENTS.c.id)).where(EVENTS.c.id > start, EVENTS.c.at >= cutoff)
        ).scalar()
        through = (int(first_young) - 1) if first_young is not None else checked.chain.last_id
        result.denied_counts_pruned = int(
            conn.execute(select(func.count()).select_from(DENIED).where(DENIED.c.hour < cutoff)).scalar() or 0
        )
        if through <= start:
            if not dry_run:
                with engine.begin() as tx:
                    tx.execute(delete(DENIED).where(DENIED.c.hour < cutoff))
            return result
        through_hash = str(conn.execute(select(EVENTS.c.hash).where(EVENTS.c.id == through)).scalar())
        held = _held_students(engine) if privacy.keep_disclosures_while_record_held else set()
        digest = audit.KeptDigest()
        doomed = 0
        for batch in _events_through(conn, through):
            for row in batch:
                if _kept(row, held):
                    digest.add(row.id, row.hash)
                else:
                    doomed += 1
    result.through_id, result.kept, result.pruned = through, digest.count, doomed
    if dry_run:
        return result
    pruned_total = doomed + (int(cp.pruned_count) if cp is not None else 0)
    # Sealed first: a prune stopped half-way leaves a seal for a checkpoint that was
    # never written (ignored), never a checkpoint without its seal.
    kept_hex = digest.hexdigest()
    seal(
        keystore,
        through,
        through_hash,
        checkpoint_seal(through, through_hash, digest.count, kept_hex, pruned_total),
    )
    # One transaction: the checkpoint and the deletions it describes land together.
    done = 0
    with engine.begin() as tx:
        tx.execute(
            insert(CHECKPOINTS).values(
                through_id=through,
                through_hash=through_hash,
                kept_count=digest.count,
                kept_digest=kept_hex,
                pruned_count=pruned_total,
                at=now,
            )
        )
        for batch in _events_through(tx, through):
            ids = [row.id for row in batch if not _kept(row, held)]
            if ids:
                tx.execute(delete(EVENTS).where(EVENTS.c.id.in_(ids)))
                done += len(ids)
                if progress is not None:
                    progress(done, doomed)
        tx.execute(delete(DENIED).where(DENIED.c.hour < cutoff))
    return result
