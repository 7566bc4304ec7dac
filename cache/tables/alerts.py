"""Alerts to families: each account's choices and the outbox of messages to send.

Neither table holds personal data in clear: a child is named by its ref (a keyed blind
index), a record by its ref and kind, and a message's words are rendered from the cache
at the moment it is sent, so a purge or a revoked link leaves nothing here to leak.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, String
from sqlmodel import Field, SQLModel

from cache.types import UtcDateTime


class AlertPreference(SQLModel, table=True):
    """One account's choices: per child and kind a mode, a score threshold, quiet hours, a language.

    ``prefs`` holds ``{"children": {student_ref: {kind: mode}}, "threshold": float | None,
    "quiet": {"start": "HH:MM", "end": "HH:MM"} | "off" | None, "language": str | None}``;
    anything missing is the district's default (``alerts`` in the config)."""

    __tablename__ = "alert_pref"

    account_id: str = Field(primary_key=True, sa_type=String(32))
    prefs: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_at: dt.datetime = Field(sa_type=UtcDateTime)


class AlertNews(SQLModel, table=True):
    """One piece of news from a publish: a record version that gained an alert kind.

    Detection writes one row per (record, alert kind) and nothing per recipient: who hears
    of it (granting links, active accounts, each account's choices, holds) is decided when
    the sender expands the row into :class:`AlertOutbox` rows, one per recipient, in the
    transaction that deletes it. ``visible_at`` is when the portal first shows the record
    (None for a notice: per child, from the notice's audience, when expanded). A score
    (``low_score``: the new percentage and the retired version's) is sealed under the
    record's data key (``key_id``), never kept in clear; no other field is personal."""

    __tablename__ = "alert_news"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(sa_type=String(40))  # the record's source
    record_kind: str = Field(sa_type=String(16))
    record_ref: str = Field(sa_type=String(24))
    student_ref: str | None = Field(default=None, sa_type=String(24))  # None for a notice
    kind: str = Field(sa_type=String(24))  # the alert kind (config.settings.ALERT_KINDS)
    record_run: int  # the run that wrote the version announced
    visible_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    key_id: str | None = Field(default=None, sa_type=String(40))  # the score's data key
    score: bytes | None = Field(default=None, sa_type=LargeBinary)  # sealed [new, old]
    created_at: dt.datetime = Field(sa_type=UtcDateTime)  # when detected (first held)


class AlertOutbox(SQLModel, table=True):
    """One alert for one account about one record: sent at most once by its ``key``.

    ``key`` is a hash of (account, source, record ref, alert kind): however often a record
    is re-synced, and whichever worker detects it, one row exists. A sender claims a row
    (``claim``, ``claimed_until``), sends it, then marks it sent; a sender killed between
    the two leaves the claim to expire, and that one message is sent again."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ix_alert_outbox_due", "status", "due_at"),
        Index("ix_alert_outbox_account", "account_id", "status"),
        # Only claimed rows are looked up by claim: a queued row (claim NULL) costs no entry.
        Index(
            "ix_alert_outbox_claim",
            "claim",
            sqlite_where=Column("claim").isnot(None),
            postgresql_where=Column("claim").isnot(None),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=String(64), unique=True)
    account_id: str = Field(sa_type=String(32))
    source: str = Field(sa_type=String(40))  # the record's source
    student_ref: str = Field(sa_type=String(24))
    kind: str = Field(sa_type=String(24))  # the alert kind (config.settings.ALERT_KINDS)
    record_kind: str = Field(sa_type=String(16))
    record_ref: str = Field(sa_type=String(24))
    # The run that wrote the record version announced: while that version is current, the
    # row (and its key) is kept however old, so the version is never announced twice.
    record_run: int | None = None
    mode: str = Field(sa_type=String(8))  # instant | daily | weekly
    visible_at: dt.datetime = Field(sa_type=UtcDateTime)  # when the portal shows the record
    due_at: dt.datetime = Field(sa_type=UtcDateTime)  # not sent before
    status: str = Field(default="pending", sa_type=String(12))  # pending | sent | failed | dropped
    attempts: int = 0
    claim: str | None = Field(default=None, sa_type=String(32))
    claimed_until: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: dt.datetime = Field(sa_type=UtcDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UtcDateTime)
    error: str | None = Field(default=None, sa_type=String(64))  # an error class, never a message
