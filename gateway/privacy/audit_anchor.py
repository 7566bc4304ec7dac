"""Anchors for the audit chain, kept in the keystore database, outside the cache.

A hash chain alone cannot catch someone who rewrites every event after a point and
recomputes the hashes and the head. ``portico audit verify`` therefore records the
chain's head (id and hash) in the keystore database after each successful check, and
checks every earlier anchor: an event at or before an anchor that no longer carries
the anchored hash was rewritten. Anchors hold ids and hashes only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Connection, DateTime, Engine, Integer, MetaData, String, Table, insert, select

from cache.tables.audit import EVENTS
from cache.types import utcnow
from gateway.privacy import audit

# Created by the keystore's baseline migration (cache/migrations/keystore/k0001_baseline.py).
anchor_metadata = MetaData()
ANCHORS = Table(
    "audit_anchor",
    anchor_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("anchored_at", DateTime, nullable=False),
)


@dataclass
class AnchoredResult:
    chain: audit.VerifyResult
    anchors_checked: int
    broken_anchor: int | None = None  # the event id whose anchored hash no longer matches
    new_anchor: int | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.broken_anchor is None


def verify_anchored(cache_conn: Connection, keystore: Engine, *, record: bool = True) -> AnchoredResult:
    """Verify the chain, check it against every anchor, then anchor its current head."""
    chain = audit.verify(cache_conn)
    with keystore.connect() as ks:
        anchors = ks.execute(select(ANCHORS.c.event_id, ANCHORS.c.hash).order_by(ANCHORS.c.event_id)).all()
    result = AnchoredResult(chain, 0)
    for event_id, anchored_hash in anchors:
        found = cache_conn.execute(select(EVENTS.c.hash).where(EVENTS.c.id == event_id)).scalar()
        result.anchors_checked += 1
        if found != anchored_hash:
            result.broken_anchor = int(event_id)
            return result
    if record and chain.ok and chain.checked:
        head = cache_conn.execute(select(EVENTS.c.hash).where(EVENTS.c.id == chain.checked)).scalar()
        if not anchors or anchors[-1][0] != chain.checked:
            with keystore.begin() as ks:
                ks.execute(
                    insert(ANCHORS).values(
                        event_id=chain.checked, hash=head, anchored_at=utcnow().replace(tzinfo=None)
                    )
                )
            result.new_anchor = chain.checked
    return result
