"""The audit chain's tables: one row per event, and the head that serialises appends."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from cache.tables.core import core_table
from cache.types import UtcDateTime

GENESIS = "0" * 64


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_student", "student_ref", "at"), Index("ix_audit_at", "at"))

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_type=UtcDateTime)
    actor_kind: str = Field(sa_type=String(16))  # guardian | student | operator | system
    actor_id: str = Field(sa_type=String(64))  # account id, or operator name
    source: str | None = Field(default=None, sa_type=String(40))
    student_ref: str | None = Field(default=None, sa_type=String(24))
    category: str = Field(sa_type=String(32))  # attendance, grades, export, profile ...
    action: str = Field(default="read", sa_type=String(16))  # read | export | purge ...
    outcome: str = Field(sa_type=String(16))  # allowed | denied
    request_id: str | None = Field(default=None, sa_type=String(40))
    address_index: str | None = Field(default=None, sa_type=String(24))
    prev_hash: str = Field(sa_type=String(64))
    hash: str = Field(sa_type=String(64))


class AuditHead(SQLModel, table=True):
    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    last_id: int = 0
    last_hash: str = Field(default=GENESIS, sa_type=String(64))


class AuditDenied(SQLModel, table=True):
    """Denied reads counted per caller and hour: what was asked for is not kept.

    A denied read disclosed nothing, and the id it asked for is the caller's own string:
    one row per request would let anyone signed in grow the audit log at will.
    """

    __tablename__ = "audit_denied"
    __table_args__ = (Index("ix_audit_denied_actor", "actor_id", "hour"),)

    hour: dt.datetime = Field(primary_key=True, sa_type=UtcDateTime)
    actor_id: str = Field(primary_key=True, sa_type=String(64))
    actor_kind: str = Field(sa_type=String(16))
    count: int = 0


class AuditCheckpoint(SQLModel, table=True):
    """Where ``portico audit prune`` cut the chain: events up to ``through_id`` were pruned.

    ``through_hash`` is the hash of event ``through_id``: the first event after it links
    to it. Events at or before ``through_id`` that are kept (records of disclosure) are
    summed up in ``kept_digest``, so removing or changing one is found by ``verify``.
    """

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    through_id: int
    through_hash: str = Field(sa_type=String(64))
    kept_count: int
    kept_digest: str = Field(sa_type=String(64))
    pruned_count: int
    at: dt.datetime = Field(sa_type=UtcDateTime)


EVENTS = core_table(AuditEvent)
HEAD = core_table(AuditHead)
DENIED = core_table(AuditDenied)
CHECKPOINTS = core_table(AuditCheckpoint)
