"""Anchors for the audit chain, kept in the keystore database, outside the cache.

A hash chain alone cannot catch someone who rewrites every event after a point and
recomputes the hashes and the head. ``portico audit verify`` therefore records the
chain's head (id and hash) in the keystore database after each successful check, and
checks every earlier anchor: an event at or before an anchor that no longer carries
the anchored hash was rewritten. Anchors hold ids and hashes only.

``portico audit prune`` seals each checkpoint it writes here too (a digest of the
checkpoint's fields): a checkpoint in the cache without its seal, or with different
fields, was forged. Anchors of events a prune removed are covered by that checkpoint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Engine, Integer, MetaData, String, Table, insert, select

from cache.tables.audit import EVENTS
from cache.types import utcnow
from gateway.privacy import audit

# Created by the keystore's migrations (cache/migrations/keystore/: k0001 anchors, k0002 seals).
anchor_metadata = MetaData()
ANCHORS = Table(
    "audit_anchor",
    anchor_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("anchored_at", DateTime, nullable=False),
)
SEALS = Table(
    "audit_checkpoint_seal",
    anchor_metadata,
    Column("through_id", Integer, primary_key=True, autoincrement=False),
    Column("seal", String(64), nullable=False),
    Column("sealed_at", DateTime, nullable=False),
)


@dataclass
class AnchoredResult:
    chain: audit.VerifyResult
    anchors_checked: int
    broken_anchor: int | None = None  # the event id whose anchored hash no longer matches
    new_anchor: int | None = None
    unsealed_checkpoint: int | None = None  # a checkpoint (through this event) with no matching seal

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.broken_anchor is None and self.unsealed_checkpoint is None


def checkpoint_seal(
    through_id: int, through_hash: str, kept_count: int, kept_digest: str, pruned: int
) -> str:
    return hashlib.sha256(
        f"{through_id}:{through_hash}:{kept_count}:{kept_digest}:{pruned}".encode()
    ).hexdigest()


def seal_of(cp: Any) -> str:
    return checkpoint_seal(cp.through_id, cp.through_hash, cp.kept_count, cp.kept_digest, cp.pruned_count)


def seal(keystore: Engine, through_id: int, through_hash: str, seal_: str) -> None:
    """Anchor a prune's cut (the event and its hash) and seal its checkpoint, before the prune."""
    now = utcnow().replace(tzinfo=None)
    with keystore.begin() as ks:
        ks.execute(insert(ANCHORS).values(event_id=through_id, hash=through_hash, anchored_at=now))
        ks.execute(SEALS.delete().where(SEALS.c.through_id == through_id))
        ks.execute(insert(SEALS).values(through_id=through_id, seal=seal_, sealed_at=now))


def verify_anchored(cache_conn: Connection, keystore: Engine, *, record: bool = True) -> AnchoredResult:
    """Verify the chain, check it against every anchor and the checkpoint's seal, then anchor its head."""
    chain = audit.verify(cache_conn)
    with keystore.connect() as ks:
        anchors = ks.execute(select(ANCHORS.c.event_id, ANCHORS.c.hash).order_by(ANCHORS.c.event_id)).all()
        seals = dict(ks.execute(select(SEALS.c.through_id, SEALS.c.seal)).all())
    result = AnchoredResult(chain, 0)
    cp = audit.latest_checkpoint(cache_conn)
    if cp is not None and seals.get(cp.through_id) != seal_of(cp):
        result.unsealed_checkpoint = int(cp.through_id)
        return result
    for event_id, anchored_hash in anchors:
        found = cache_conn.execute(select(EVENTS.c.hash).where(EVENTS.c.id == event_id)).scalar()
        if cp is not None and event_id <= cp.through_id and found is None:
            if event_id == cp.through_id:
                found = cp.through_hash
            else:
                continue  # pruned: covered by the sealed checkpoint
        result.anchors_checked += 1
        if found != anchored_hash:
            result.broken_anchor = int(event_id)
            return result
    fresh = not anchors or anchors[-1][0] != chain.last_id
    if record and chain.ok and chain.last_id and fresh:
        with keystore.begin() as ks:
            ks.execute(
                insert(ANCHORS).values(
                    event_id=chain.last_id, hash=chain.last_hash, anchored_at=utcnow().replace(tzinfo=None)
                )
            )
        result.new_anchor = chain.last_id
    return result
