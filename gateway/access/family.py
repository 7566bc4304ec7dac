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
from gateway.access.sessions import ACCOUNTS

FEEDS = core_table(CalendarFeed)
TOKENS = core_table(FamilyToken)
TOKEN_PREFIX = "pft_"  # noqa: S105 - the prefix every family token starts with, not a secret
# The kinds of data a family token may be given, as the API's routes name them.
KINDS = ("attendance", "timetable", "grades", "assignments", "behaviour", "notices", "reports")
# At most this many feeds and tokens per account: a bound on rows, not a policy.
MAX_PER_ACCOUNT = 50
_STATE = "SELECT published_run, as_of, synced_at FROM source_state WHERE source = :s"
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
    row = conn.execute(
        select(FEEDS.c.id, FEEDS.c.student_ref, FEEDS.c.last_used_at, *_with_account())
        .select_from(_joined(FEEDS))
        .where(FEEDS.c.secret_hash == token_hash(secret))
    ).first()
    if row is None:
        return None
    account = _account(row._mapping)
    if account.status != "active":
        return None
    if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
        conn.execute(update(FEEDS).where(FEEDS.c.id == row.id).values(last_used_at=now))
    return FeedUse(row.id, row.student_ref, account, _state(conn, account.source))


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
    row = conn.execute(
        select(
            TOKENS.c.id, TOKENS.c.students, TOKENS.c.kinds, TOKENS.c.expires_at, TOKENS.c.last_used_at,
            *_with_account(),
        )
        .select_from(_joined(TOKENS))
        .where(TOKENS.c.token_hash == token_hash(token))
    ).first()  # fmt: skip
    if row is None or row.expires_at <= now:
        return None
    account = _account(row._mapping)
    if account.status != "active":
        return None
    if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
        conn.execute(update(TOKENS).where(TOKENS.c.id == row.id).values(last_used_at=now))
    return TokenUse(
        row.id,
        frozenset(_listed(row.students)),
        frozenset(_listed(row.kinds)),
        account,
        _state(conn, account.source),
    )


# --- shared ------------------------------------------------------------------------------


def _with_account() -> list[Any]:
    return [c.label("a_" + c.name) for c in ACCOUNTS.c]


def _joined(table: Any) -> Any:
    return table.join(ACCOUNTS, ACCOUNTS.c.id == table.c.account_id)


def _state(conn: Connection, source: str) -> tuple[Any, Any, Any]:
    """The source's published run, as_of and synced_at as the driver returns them, the way
    ``sessions.resolve_with_state`` gives them (None each when nothing is published)."""
    rows = fetch(conn, _STATE, {"s": source})
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else (None, None, None)


def _account(mapping: Any) -> Account:
    return Account(**{c.name: mapping["a_" + c.name] for c in ACCOUNTS.c})


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (orjson.loads(value) if isinstance(value, (str, bytes)) else value)]
