"""Calendar feeds and family tokens: an account's own read-only links, made, listed and revoked.

- A **calendar feed** is a URL carrying a secret (256 bits, ``secrets.token_urlsafe``) that
  serves one student's timetable, due dates and dated notices as iCalendar.
- A **family token** (``pft_`` and 256 bits) is a bearer token for a parent's own tools:
  read-only, for the students and kinds of data chosen when it was made, until its expiry.

Only the SHA-256 of each secret is stored. Neither decides who may see a student: every
use goes through the same live check as a session's (the link, holds, coming of age,
enrolment; ``cache/read/reader.py``), so a feed or a token dies the moment its account
or the link does.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from cache.tables.accounts import Account
from cache.tables.core import core_table
from cache.tables.family import CalendarFeed, FamilyToken
from cache.types import fetch
from gateway.access.security import token_hash
from gateway.access.sessions import ACCOUNT_COLUMNS_SQL, account_from_row

FEEDS = core_table(CalendarFeed)
TOKENS = core_table(FamilyToken)
TOKEN_PREFIX = "pft_"  # noqa: S105 - the prefix every family token starts with, not a secret
# The kinds of data a family token may be given, as the API's routes name them.
KINDS = ("attendance", "timetable", "grades", "assignments", "behaviour", "notices", "reports")
# At most this many feeds and tokens per account: a bound on rows, not a policy.
MAX_PER_ACCOUNT = 50
# Each lookup brings the account and its source's published state, as a session's does.
_JOINED = (
    "JOIN account a ON a.id = x.account_id LEFT JOIN source_state ss ON ss.source = a.source "
    "WHERE x.{column} = :h"
)
_FEED = (
    "SELECT x.id, x.student_ref, x.last_used_at >= :touch_since, ss.published_run, ss.as_of, ss.synced_at, "  # noqa: S608
    f"{ACCOUNT_COLUMNS_SQL} FROM calendar_feed x " + _JOINED.format(column="secret_hash")
)
_TOKEN = (
    "SELECT x.id, x.students, x.kinds, x.expires_at > :now, x.last_used_at >= :touch_since, "  # noqa: S608
    f"ss.published_run, ss.as_of, ss.synced_at, {ACCOUNT_COLUMNS_SQL} FROM family_token x "
    + _JOINED.format(column="token_hash")
)
# last_used_at is written at most this often.
TOUCH_EVERY = dt.timedelta(seconds=60)


def is_family_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def _public_id() -> str:
    return secrets.token_hex(8)


# --- calendar feeds ----------------------------------------------------------------------


def create_feed(conn: Connection, account_id: str, student_ref: str, now: dt.datetime) -> tuple[str, str]:
    """A new feed of ``student_ref`` (already checked visible by the caller): (id, secret).
    The secret is returned once and never stored."""
    secret = secrets.token_urlsafe(32)
    feed_id = _public_id()
    conn.execute(
        insert(FEEDS).values(
            id=feed_id,
            secret_hash=token_hash(secret),
            account_id=account_id,
            student_ref=student_ref,
            created_at=now,
        )
    )
    return feed_id, secret


def feeds_of(conn: Connection, account_id: str) -> list[CalendarFeed]:
    rows = conn.execute(
        select(FEEDS).where(FEEDS.c.account_id == account_id).order_by(FEEDS.c.created_at, FEEDS.c.id)
    ).all()
    return [CalendarFeed(**row._mapping) for row in rows]


def revoke_feed(conn: Connection, account_id: str, feed_id: str) -> bool:
    """Delete the account's feed; False when it has no such feed (someone else's included)."""
    res = conn.execute(delete(FEEDS).where(FEEDS.c.account_id == account_id, FEEDS.c.id == feed_id))
    return bool(res.rowcount)


@dataclass(frozen=True)
class FeedUse:
    feed_id: str
    student_ref: str
    account: Account
    state: tuple[Any, Any, Any]  # the account's source: published run, as_of, synced_at


def resolve_feed(conn: Connection, secret: str, now: dt.datetime) -> FeedUse | None:
    """The feed behind ``secret`` with its active account, or None (unknown, revoked, account
    not active). Whether the student is still visible is the caller's live check."""
    if not 20 <= len(secret) <= 100:
        return None
    rows = fetch(conn, _FEED, {"h": token_hash(secret), "touch_since": now - TOUCH_EVERY})
    if not rows:
        return None
    feed_id, student_ref, touched, *state = rows[0][:6]
    account = account_from_row(conn, rows[0][6:])
    if account.status != "active":
        return None
    if not touched:
        conn.execute(update(FEEDS).where(FEEDS.c.id == feed_id).values(last_used_at=now))
    return FeedUse(feed_id, student_ref, account, (state[0], state[1], state[2]))


# --- family tokens ----------------------------------------------------------------------


def create_token(
    conn: Connection,
    account_id: str,
    students: list[str],
    kinds: list[str],
    expires_at: dt.datetime,
    now: dt.datetime,
) -> tuple[str, str]:
    """A new token (students already checked visible, kinds from :data:`KINDS`): (id, token).
    The token is returned once and never stored."""
    assert set(kinds) <= set(KINDS) and students and kinds
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = _public_id()
    conn.execute(
        insert(TOKENS).values(
            id=token_id,
            token_hash=token_hash(token),
            account_id=account_id,
            students=sorted(set(students)),
            kinds=[k for k in KINDS if k in kinds],
            created_at=now,
            expires_at=expires_at,
        )
    )
    return token_id, token


def tokens_of(conn: Connection, account_id: str) -> list[FamilyToken]:
    rows = conn.execute(
        select(TOKENS).where(TOKENS.c.account_id == account_id).order_by(TOKENS.c.created_at, TOKENS.c.id)
    ).all()
    return [FamilyToken(**row._mapping) for row in rows]


def revoke_token(conn: Connection, account_id: str, token_id: str) -> bool:
    """Delete the account's token; False when it has no such token (someone else's included)."""
    res = conn.execute(delete(TOKENS).where(TOKENS.c.account_id == account_id, TOKENS.c.id == token_id))
    return bool(res.rowcount)


def count_of(conn: Connection, account_id: str) -> int:
    """The account's feeds and tokens together (bounded by :data:`MAX_PER_ACCOUNT`)."""
    feeds = conn.execute(select(func.count()).where(FEEDS.c.account_id == account_id)).scalar() or 0
    tokens = conn.execute(select(func.count()).where(TOKENS.c.account_id == account_id)).scalar() or 0
    return int(feeds) + int(tokens)


@dataclass(frozen=True)
class TokenUse:
    token_id: str
    students: frozenset[str]
    kinds: frozenset[str]
    account: Account
    state: tuple[Any, Any, Any]


def resolve_token(conn: Connection, token: str, now: dt.datetime) -> TokenUse | None:
    """The live token ``token`` with its active account, or None (unknown, revoked, expired,
    account not active): the caller answers 401, as for a dead session."""
    if not is_family_token(token) or len(token) > 100:
        return None
    # One query on the driver's cursor, as a session's check (gateway.access.sessions).
    rows = fetch(conn, _TOKEN, {"h": token_hash(token), "now": now, "touch_since": now - TOUCH_EVERY})
    if not rows:
        return None
    token_id, students, kinds, live, touched, *state = rows[0][:8]
    if not live:
        return None
    account = account_from_row(conn, rows[0][8:])
    if account.status != "active":
        return None
    if not touched:
        conn.execute(update(TOKENS).where(TOKENS.c.id == token_id).values(last_used_at=now))
    return TokenUse(
        token_id,
        frozenset(_listed(students)),
        frozenset(_listed(kinds)),
        account,
        (state[0], state[1], state[2]),
    )


# --- shared ------------------------------------------------------------------------------


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (orjson.loads(value) if isinstance(value, (str, bytes)) else value)]
