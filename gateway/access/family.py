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
from typing import Any, Generic, Literal, TypeVar, get_args

import orjson
from sqlalchemy import Connection, delete, func, insert, select, update

from cache.tables.accounts import Account
from cache.tables.core import core_table
from cache.tables.family import CalendarFeed, FamilyToken
from cache.types import fetch
from gateway.access.security import token_hash
from gateway.access.sessions import ACCOUNT_COLUMNS_SQL, account_from_row

TOKEN_PREFIX = "pft_"  # noqa: S105 - the prefix every family token starts with, not a secret
# The kinds of data a family token may be given, as the API's routes name them.
TokenKind = Literal["attendance", "timetable", "grades", "assignments", "behaviour", "notices", "reports"]
KINDS: tuple[str, ...] = get_args(TokenKind)
# The two kinds of link an account may hold.
LinkKind = Literal["feed", "token"]
# At most this many feeds and tokens per account: a bound on rows, not a policy.
MAX_PER_ACCOUNT = 50
# last_used_at is written at most this often.
TOUCH_EVERY = dt.timedelta(seconds=60)


def is_family_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX)


def _public_id() -> str:
    return secrets.token_hex(8)


_Row = TypeVar("_Row", CalendarFeed, FamilyToken)


class _Links(Generic[_Row]):
    """One table of an account's links (feeds or tokens): rows keyed by a public id, each
    with the SHA-256 of its secret, and every query but the lookup by secret bounded to
    the account (a row of another account's is as absent as one that never was)."""

    def __init__(self, model: type[_Row], hash_column: str, columns: tuple[str, ...]) -> None:
        self.model: type[_Row] = model
        self.table = core_table(model)
        self.hash_column = hash_column
        # The lookup by secret brings ``columns`` of the row, then its account's source's
        # published state and the account itself, as a session's does.
        self.lookup_sql = (
            f"SELECT {', '.join(columns)}, ss.published_run, ss.as_of, ss.synced_at, {ACCOUNT_COLUMNS_SQL} "  # noqa: S608
            f"FROM {model.__tablename__} x JOIN account a ON a.id = x.account_id "
            f"LEFT JOIN source_state ss ON ss.source = a.source WHERE x.{hash_column} = :h"
        )
        self.width = len(columns)

    def create(self, conn: Connection, secret: str, account_id: str, now: dt.datetime, **values: Any) -> str:
        """Store a new row for ``secret`` (its hash only); its public id."""
        link_id = _public_id()
        conn.execute(
            insert(self.table).values(
                id=link_id,
                **{self.hash_column: token_hash(secret)},
                account_id=account_id,
                created_at=now,
                **values,
            )
        )
        return link_id

    def of(self, conn: Connection, account_id: str) -> list[_Row]:
        t = self.table
        rows = conn.execute(
            select(t).where(t.c.account_id == account_id).order_by(t.c.created_at, t.c.id)
        ).all()
        return [self.model(**row._mapping) for row in rows]

    def revoke(self, conn: Connection, account_id: str, link_id: str) -> bool:
        t = self.table
        res = conn.execute(delete(t).where(t.c.account_id == account_id, t.c.id == link_id))
        return bool(res.rowcount)

    def count(self, conn: Connection, account_id: str) -> int:
        return int(
            conn.execute(select(func.count()).where(self.table.c.account_id == account_id)).scalar() or 0
        )

    def lookup(self, conn: Connection, secret: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The row of ``secret`` (the columns, the source's state, the account's), or None."""
        rows = fetch(conn, self.lookup_sql, {"h": token_hash(secret), **params})
        return rows[0] if rows else None

    def used(
        self, conn: Connection, row: tuple[Any, ...], now: dt.datetime
    ) -> tuple[Account, tuple[Any, Any, Any]] | None:
        """The active account behind a looked-up ``row`` and its source's state, or None; the
        row's last use is written when the lookup found it untouched for :data:`TOUCH_EVERY`
        (the columns end with ``x.last_used_at >= :touch_since``)."""
        account = account_from_row(conn, row[self.width + 3 :])
        if account.status != "active":
            return None
        if not row[self.width - 1]:
            conn.execute(update(self.table).where(self.table.c.id == row[0]).values(last_used_at=now))
        state = row[self.width : self.width + 3]
        return account, (state[0], state[1], state[2])


# Each lookup's own columns: the public id first, whether it was used since ``touch_since`` last.
_FEEDS = _Links(CalendarFeed, "secret_hash", ("x.id", "x.student_ref", "x.last_used_at >= :touch_since"))
_TOKENS = _Links(
    FamilyToken,
    "token_hash",
    ("x.id", "x.students", "x.kinds", "x.expires_at > :now", "x.last_used_at >= :touch_since"),
)
FEEDS = _FEEDS.table
TOKENS = _TOKENS.table
_LINKS: dict[LinkKind, _Links[Any]] = {"feed": _FEEDS, "token": _TOKENS}


def revoke(conn: Connection, kind: LinkKind, account_id: str, link_id: str) -> bool:
    """Delete the account's feed or token; False when it has no such link (someone else's included)."""
    return _LINKS[kind].revoke(conn, account_id, link_id)


def count_of(conn: Connection, account_id: str) -> int:
    """The account's feeds and tokens together (bounded by :data:`MAX_PER_ACCOUNT`)."""
    return sum(links.count(conn, account_id) for links in _LINKS.values())


# --- calendar feeds ----------------------------------------------------------------------


def create_feed(conn: Connection, account_id: str, student_ref: str, now: dt.datetime) -> tuple[str, str]:
    """A new feed of ``student_ref`` (already checked visible by the caller): (id, secret).
    The secret is returned once and never stored."""
    secret = secrets.token_urlsafe(32)
    return _FEEDS.create(conn, secret, account_id, now, student_ref=student_ref), secret


def feeds_of(conn: Connection, account_id: str) -> list[CalendarFeed]:
    return _FEEDS.of(conn, account_id)


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
    row = _FEEDS.lookup(conn, secret, {"touch_since": now - TOUCH_EVERY})
    used = _FEEDS.used(conn, row, now) if row is not None else None
    if row is None or used is None:
        return None
    return FeedUse(row[0], row[1], *used)


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
    token_id = _TOKENS.create(
        conn,
        token,
        account_id,
        now,
        students=sorted(set(students)),
        kinds=[k for k in KINDS if k in kinds],
        expires_at=expires_at,
    )
    return token_id, token


def tokens_of(conn: Connection, account_id: str) -> list[FamilyToken]:
    return _TOKENS.of(conn, account_id)


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
    row = _TOKENS.lookup(conn, token, {"now": now, "touch_since": now - TOUCH_EVERY})
    if row is None or not row[3]:  # unknown, revoked or expired
        return None
    used = _TOKENS.used(conn, row, now)
    if used is None:
        return None
    return TokenUse(row[0], frozenset(_listed(row[1])), frozenset(_listed(row[2])), *used)


# --- shared ------------------------------------------------------------------------------


def _listed(value: Any) -> list[str]:
    return [str(v) for v in (orjson.loads(value) if isinstance(value, (str, bytes)) else value)]
