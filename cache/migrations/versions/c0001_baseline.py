"""Baseline: the cache's schema as Portico 0.1 made it, before migrations.

An empty database gets every table. A database an earlier Portico made (tables, but no
version) is completed the way that version did on every start (:mod:`cache.migrations.adopt`).

Revision ID: c0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column as C

from cache.migrations.adopt import complete, drop

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None

S = sa.String
TS = sa.DateTime  # naive UTC (cache.types.UtcDateTime turns it aware on the way out)
metadata = sa.MetaData()

sa.Table(
    "access_hold",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("source", S(40), nullable=False),
    C("subject", S(16), nullable=False),
    C("ref", S(24), nullable=False),
    C("kind", S(32), nullable=False),
    C("reason_enc", sa.LargeBinary),
    C("key_id", S),
    C("created_at", TS, nullable=False),
    C("created_by", S(64), nullable=False),
    C("released_at", TS),
    C("released_by", S),
    sa.Index("ix_hold_ref", "source", "subject", "ref"),
)
sa.Table(
    "account",
    metadata,
    C("id", S(32), primary_key=True),
    C("role", S(16), nullable=False),
    C("source", S(40), nullable=False),
    C("subject_ref", S(24), nullable=False),
    C("username_index", S(24), nullable=False, unique=True),
    C("username_enc", sa.LargeBinary, nullable=False),
    C("key_id", S(40), nullable=False),
    C("status", S(16), nullable=False),
    C("password_hash", S),
    C("password_history", sa.JSON, nullable=False),
    C("password_changed_at", TS),
    C("totp_secret_enc", sa.LargeBinary),
    C("totp_confirmed_at", TS),
    C("aup_version", S),
    C("aup_accepted_at", TS),
    C("created_at", TS, nullable=False),
    C("activated_at", TS),
    C("last_login_at", TS),
    C("reminders", sa.JSON, nullable=False),
    sa.UniqueConstraint("source", "subject_ref", name="uq_account_subject"),
)
sa.Table(
    "account_token",
    metadata,
    C("token_hash", S(64), primary_key=True),
    C("account_id", S(32), nullable=False),
    C("purpose", S(16), nullable=False),
    C("created_at", TS, nullable=False),
    C("expires_at", TS, nullable=False),
    C("used_at", TS),
    sa.Index("ix_account_token_account", "account_id", "purpose"),
)
sa.Table(
    "audit_event",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("at", TS, nullable=False),
    C("actor_kind", S(16), nullable=False),
    C("actor_id", S(64), nullable=False),
    C("source", S(40)),
    C("student_ref", S(24)),
    C("category", S(32), nullable=False),
    C("action", S(16), nullable=False),
    C("outcome", S(16), nullable=False),
    C("request_id", S(40)),
    C("address_index", S(24)),
    C("prev_hash", S(64), nullable=False),
    C("hash", S(64), nullable=False),
    sa.Index("ix_audit_at", "at"),
    sa.Index("ix_audit_student", "student_ref", "at"),
)
sa.Table(
    "audit_head",
    metadata,
    C("id", sa.Integer, primary_key=True, autoincrement=False),
    C("last_id", sa.Integer, nullable=False),
    C("last_hash", S(64), nullable=False),
)
sa.Table(
    "correction_request",
    metadata,
    C("id", S(32), primary_key=True),
    C("source", S(40), nullable=False),
    C("student_ref", S(24), nullable=False),
    C("account_id", S(32), nullable=False),
    C("school_id_index", S(24)),
    C("key_id", S(40), nullable=False),
    C("body_enc", sa.LargeBinary, nullable=False),
    C("status", S(16), nullable=False),
    C("created_at", TS, nullable=False),
    C("notified_at", TS),
    C("resolved_at", TS),
    C("resolved_by", S(64)),
    C("note_enc", sa.LargeBinary),
    sa.Index("ix_correction_student", "source", "student_ref", "created_at"),
)
sa.Table(
    "deletion_certificate",
    metadata,
    C("id", S(40), primary_key=True),
    C("created_at", TS, nullable=False),
    C("operator", S(64), nullable=False),
    C("reason_code", S(40), nullable=False),
    C("scope", S(16), nullable=False),
    C("source", S(40)),
    C("body", sa.JSON, nullable=False),
)
sa.Table(
    "login_throttle",
    metadata,
    C("key", S(40), primary_key=True),
    C("failures", sa.Integer, nullable=False),
    C("last_failure_at", TS, nullable=False),
    C("blocked_until", TS),
)
sa.Table(
    "purged_subject",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("source", S(40), nullable=False),
    C("subject", S(16), nullable=False),
    C("ref", S(24), nullable=False),
    C("via_ref", S(24)),
    C("purged_at", TS, nullable=False),
    C("reason_code", S(40), nullable=False),
    C("blocked", sa.Boolean, nullable=False),
    C("certificate_id", S(40), nullable=False),
    C("returned_at", TS),
    sa.Index("ix_purged_source", "source", "returned_at"),
)
_valid_to: sa.ColumnClause[Any] = sa.column("valid_to")
sa.Table(
    "record",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("source", S(40), nullable=False),
    C("kind", S(16), nullable=False),
    C("ref", S(24), nullable=False),
    C("student_ref", S(24)),
    C("contact_ref", S(24)),
    C("parent_ref", S(24)),
    C("day", sa.Date),
    C("stamp", TS),
    C("active_from", sa.Date),
    C("active_to", sa.Date),
    C("guardian_until", sa.Date),
    C("access", sa.Boolean),
    C("audience", S(64)),
    C("key_id", S(40), nullable=False),
    C("digest", sa.LargeBinary, nullable=False),
    C("row_key", sa.BigInteger),
    C("payload", sa.LargeBinary, nullable=False),
    C("valid_from", sa.Integer, nullable=False),
    C("valid_to", sa.Integer),
    sa.Index("ix_record_ref", "source", "kind", "ref", "valid_from", unique=True),
    sa.Index("ix_record_student", "student_ref", "kind", "day"),
    sa.Index(
        "ix_record_retired",
        "source",
        "valid_to",
        sqlite_where=_valid_to.isnot(None),
        postgresql_where=_valid_to.isnot(None),
    ),
    sa.Index(
        "ix_record_row_key",
        "source",
        "kind",
        "row_key",
        sqlite_where=sa.and_(_valid_to.is_(None), sa.column("row_key").isnot(None)),
        postgresql_where=sa.and_(_valid_to.is_(None), sa.column("row_key").isnot(None)),
    ),
    sa.Index(
        "ix_record_parent",
        "parent_ref",
        "kind",
        sqlite_where=sa.column("parent_ref").isnot(None),
        postgresql_where=sa.column("parent_ref").isnot(None),
    ),
    sa.Index(
        "ix_record_contact",
        "contact_ref",
        sqlite_where=sa.column("contact_ref").isnot(None),
        postgresql_where=sa.column("contact_ref").isnot(None),
    ),
)
sa.Table(
    "session",
    metadata,
    C("token_hash", S(64), primary_key=True),
    C("account_id", S(32), nullable=False),
    C("created_at", TS, nullable=False),
    C("last_seen_at", TS, nullable=False),
    C("expires_at", TS, nullable=False),
    sa.Index("ix_session_account", "account_id"),
)
sa.Table(
    "source_state",
    metadata,
    C("source", S(40), primary_key=True),
    C("published_run", sa.Integer),
    C("previous_run", sa.Integer),
    C("as_of", TS),
    C("synced_at", TS),
    C("last_attempt_at", TS),
    C("last_full_at", TS),
    C("consecutive_failures", sa.Integer, nullable=False),
    C("breaker_open_until", TS),
    C("cursors", sa.JSON, nullable=False),
)
sa.Table(
    "sync_run",
    metadata,
    C("id", sa.Integer, primary_key=True),
    C("source", S(40), nullable=False),
    C("status", S(16), nullable=False),
    C("full", sa.Boolean, nullable=False),
    C("started_at", TS, nullable=False),
    C("finished_at", TS),
    C("counts", sa.JSON, nullable=False),
    C("rejected", sa.JSON, nullable=False),
    C("hold_reasons", sa.JSON, nullable=False),
    C("retries", sa.Integer, nullable=False),
    C("error_class", S(64)),
    C("error", S),
    C("cursors", sa.JSON, nullable=False),
    C("decided_by", S),
    sa.Index("ix_sync_run_source", "source", "id"),
)


def upgrade() -> None:
    complete(metadata)


def downgrade() -> None:
    drop(metadata)
