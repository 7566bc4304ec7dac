"""Calendar feeds and family tokens: an account's read-only links for its own tools.

Only the SHA-256 of each secret is stored; the secret itself is shown once, when it is
made. The rows name a student and kinds of data by opaque refs and fixed words: no
personal data. Who may read what is decided on every use by the same live check as a
session's (``cache/read/reader.py``), never by these rows alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Index, String
from sqlmodel import Field, SQLModel

from cache.types import UtcDateTime


class CalendarFeed(SQLModel, table=True):
    """An iCalendar feed of one student for one account: its URL carries the secret."""

    __tablename__ = "calendar_feed"
    __table_args__ = (Index("ix_calendar_feed_account", "account_id"),)

    id: str = Field(primary_key=True, sa_type=String(24))  # public, random, not the secret
    secret_hash: str = Field(sa_type=String(64), unique=True)
    account_id: str = Field(sa_type=String(32))
    student_ref: str = Field(sa_type=String(24))
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)


class FamilyToken(SQLModel, table=True):
    """A personal access token: read-only, for chosen students and kinds, until it expires."""

    __tablename__ = "family_token"
    __table_args__ = (Index("ix_family_token_account", "account_id"),)

    id: str = Field(primary_key=True, sa_type=String(24))  # public, random, not the secret
    token_hash: str = Field(sa_type=String(64), unique=True)
    account_id: str = Field(sa_type=String(32))
    students: list[str] = Field(default_factory=list, sa_type=JSON)  # student refs
    kinds: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    expires_at: dt.datetime = Field(sa_type=UtcDateTime)
    last_used_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
