"""The cache's tables: versioned encrypted records, sync runs and per-source state.

Every canonical record is one ``record`` row: a few plaintext index columns (keyed
blind indexes and dates, never a name, SIS id, mark or comment) and an AES-GCM
``payload``. Rows are versioned by run: a row is visible in the snapshot published by
run P when ``valid_from <= P`` and (``valid_to`` is null or ``valid_to > P``). A sync
stages rows for its run, then publishes by moving the source's ``published_run`` in
one transaction, so readers see the old snapshot or the new one, never a mix.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, String, and_
from sqlmodel import Field, SQLModel

from cache.types import UtcDateTime

# Snapshot currency, as a SQL fragment over a ``record`` row aliased ``{t}``: the version
# of a record that the snapshot published by run ``:p`` holds. The one spelling of it;
# readers take it from cache.read.predicates.
CURRENT = "{t}.valid_from <= :p AND ({t}.valid_to IS NULL OR {t}.valid_to > :p)"


class RecordRow(SQLModel, table=True):
    __tablename__ = "record"
    __table_args__ = (
        # Unique: one version of a record per run, so a duplicate in the source cannot
        # produce two current rows (the second is skipped and counted as set aside).
        Index("ix_record_ref", "source", "kind", "ref", "valid_from", unique=True),
        Index("ix_record_student", "student_ref", "kind", "day"),
        # A run's own versions (its change set): what alerts read after a publish, and
        # what discarding a run deletes, without scanning the table.
        Index("ix_record_change", "source", "valid_from"),
        # Retired rows only (a small share): publishing prunes them and discarding a run
        # restores them without scanning the table.
        Index(
            "ix_record_retired",
            "source",
            "valid_to",
            sqlite_where=Column("valid_to").isnot(None),
            postgresql_where=Column("valid_to").isnot(None),
        ),
        # Current versions stored with a row key, in key order: a full pull's index of
        # them is read from here alone, without touching payloads. Keyless rows (most
        # connectors) stay out, so their inserts pay nothing for it.
        Index(
            "ix_record_row_key",
            "source",
            "kind",
            "row_key",
            sqlite_where=and_(Column("valid_to").is_(None), Column("row_key").isnot(None)),
            postgresql_where=and_(Column("valid_to").is_(None), Column("row_key").isnot(None)),
        ),
        Index(
            "ix_record_parent",
            "parent_ref",
            "kind",
            sqlite_where=Column("parent_ref").isnot(None),
            postgresql_where=Column("parent_ref").isnot(None),
        ),
        # A student's records of one kind under given parents: a child's results of the
        # assignments a page shows, their own lessons in their classes (cache.read.queries).
        # Without it those reads walk every student's rows under each parent.
        Index(
            "ix_record_student_parent",
            "student_ref",
            "kind",
            "parent_ref",
            sqlite_where=and_(Column("student_ref").isnot(None), Column("parent_ref").isnot(None)),
            postgresql_where=and_(Column("student_ref").isnot(None), Column("parent_ref").isnot(None)),
        ),
        Index(
            "ix_record_contact",
            "contact_ref",
            sqlite_where=Column("contact_ref").isnot(None),
            postgresql_where=Column("contact_ref").isnot(None),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=String(40))
    kind: str = Field(sa_type=String(16))
    ref: str = Field(sa_type=String(24))  # blind index of (source, kind, source_id): the public id
    student_ref: str | None = Field(default=None, sa_type=String(24))
    contact_ref: str | None = Field(default=None, sa_type=String(24))
    parent_ref: str | None = Field(default=None, sa_type=String(24))  # section, assignment
    day: dt.date | None = None  # the school-local date a record is about: range filters
    stamp: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)  # when recorded: lag
    active_from: dt.date | None = None
    active_to: dt.date | None = None
    guardian_until: dt.date | None = None
    access: bool | None = None  # links: responsibility and portal access, no court order
    audience: str | None = Field(default=None, sa_type=String(64))
    key_id: str = Field(sa_type=String(40))
    digest: bytes = Field(sa_type=LargeBinary)
    # Keyed hash of the source row this version came from (connectors.base.KnownRows), so
    # a full pull skips unchanged rows before normalising them; no content, like digest.
    row_key: int | None = Field(default=None, sa_type=BigInteger)
    payload: bytes = Field(sa_type=LargeBinary)
    valid_from: int
    valid_to: int | None = None


class SyncRun(SQLModel, table=True):
    """One sync attempt. Counts and reasons only: never record contents."""

    __tablename__ = "sync_run"
    __table_args__ = (Index("ix_sync_run_source", "source", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=String(40))
    status: str = Field(default="running", sa_type=String(16))
    # running | published | held | failed | discarded | superseded | unchanged
    full: bool = False
    started_at: dt.datetime = Field(sa_type=UtcDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    rejected: list[Any] = Field(default_factory=list, sa_type=JSON)
    hold_reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    retries: int = 0
    error_class: str | None = Field(default=None, sa_type=String(64))
    error: str | None = None
    cursors: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    decided_by: str | None = None
    # Seconds spent in each stage (fetch, stage, guards, publish, hooks), for /metrics.
    stages: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class SourceState(SQLModel, table=True):
    """What each source has published, and its health."""

    __tablename__ = "source_state"

    source: str = Field(primary_key=True, sa_type=String(40))
    published_run: int | None = None
    previous_run: int | None = None
    as_of: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    synced_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_attempt_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_full_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    consecutive_failures: int = 0
    breaker_open_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    cursors: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
