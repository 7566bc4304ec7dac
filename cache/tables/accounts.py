"""Portico-owned state beside the snapshots: accounts, sessions, holds, tokens and throttling.

These rows are never touched by a sync (holds survive every later sync until
released). Personal values (usernames, hold reasons, TOTP secrets) are encrypted
under the data key of the person they belong to; lookups use blind indexes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from cache.types import UtcDateTime


class Account(SQLModel, table=True):
    """One person, one login, however many children (matched on the SIS contact id)."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("source", "subject_ref", name="uq_account_subject"),)

    id: str = Field(primary_key=True, sa_type=String(32))
    role: str = Field(sa_type=String(16))  # guardian | student
    source: str = Field(sa_type=String(40))
    subject_ref: str = Field(sa_type=String(24))  # contact_ref or student_ref
    username_index: str = Field(sa_type=String(24), unique=True)
    username_enc: bytes = Field(sa_type=LargeBinary)
    key_id: str = Field(sa_type=String(40))
    status: str = Field(default="pending", sa_type=String(16))  # pending | active | disabled
    password_hash: str | None = None
    password_history: list[str] = Field(default_factory=list, sa_type=JSON)
    password_changed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    totp_secret_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    totp_confirmed_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    aup_version: str | None = None
    aup_accepted_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    activated_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_login_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    reminders: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Session(SQLModel, table=True):
    """A signed-in session: only the SHA-256 of the bearer token is stored."""

    __tablename__ = "session"
    __table_args__ = (Index("ix_session_account", "account_id"),)

    token_hash: str = Field(primary_key=True, sa_type=String(64))
    account_id: str = Field(sa_type=String(32))
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    last_seen_at: dt.datetime = Field(sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)


class AccessHold(SQLModel, table=True):
    """A revocation: of one contact, or of every party for one student, until released."""

    __tablename__ = "access_hold"
    __table_args__ = (Index("ix_hold_ref", "source", "subject", "ref"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=String(40))
    subject: str = Field(sa_type=String(16))  # contact | student
    ref: str = Field(sa_type=String(24))
    # court-order | aup-breach | responsibility-questioned | child-protection | student-request
    kind: str = Field(sa_type=String(32))
    reason_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    key_id: str | None = None
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(sa_type=String(64))
    released_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    released_by: str | None = None


class AccountToken(SQLModel, table=True):
    """A single-use emailed token (activation or password reset): only its SHA-256 is stored."""

    __tablename__ = "account_token"
    __table_args__ = (Index("ix_account_token_account", "account_id", "purpose"),)

    token_hash: str = Field(primary_key=True, sa_type=String(64))
    account_id: str = Field(sa_type=String(32))
    purpose: str = Field(sa_type=String(16))  # invite | reset
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class LoginThrottle(SQLModel, table=True):
    """Consecutive failed sign-ins per key (a username's or an address's blind index).

    In the database, not in memory, so every API replica sees the same count.
    """

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, sa_type=String(40))
    failures: int = 0
    last_failure_at: dt.datetime = Field(sa_type=UtcDateTime)
    blocked_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class RateCounter(SQLModel, table=True):
    """Actions counted per key in a fixed window (password resets, correction requests, exports).

    In the database, like :class:`LoginThrottle`, so every API replica counts together.
    Keys are an action and an account id or a blind index, never a person's data.
    """

    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, sa_type=String(64))
    window_end: dt.datetime = Field(sa_type=UtcDateTime)
    count: int = 0


class MailCount(SQLModel, table=True):
    """Messages handed to the mail backend, by kind and outcome, counted by every process
    that sends (API and worker alike) so ``/metrics`` shows them all. No recipient."""

    __tablename__ = "mail_count"

    kind: str = Field(primary_key=True, sa_type=String(32))  # invitation, password-reset, ...
    outcome: str = Field(primary_key=True, sa_type=String(8))  # sent | failed
    count: int = 0
