"""Opaque bearer sessions: created at login, checked on every request, killed together.

A session dies on logout, idle timeout, absolute timeout, password change, account
disable or revocation. There is no "remember me": every session has an absolute end.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import JSON, Connection, delete, insert, update

from cache.memo import remember
from cache.read.reader import FirstRead, sees_student
from cache.tables.accounts import Account, Session
from cache.tables.core import core_table
from cache.types import fetch, renamed_params, typed, utcnow
from config.settings import AccessSettings
from gateway.access.security import new_token, token_hash

if TYPE_CHECKING:
    from cache.read.reader import Reader

SESSIONS = core_table(Session)
ACCOUNTS = core_table(Account)
# last_seen_at is written at most this often: one write per minute, not per request.
TOUCH_EVERY = dt.timedelta(seconds=60)
_FIELDS = tuple(Account.model_fields)
# Accounts by the values of every column: a request for an unchanged account reuses the
# object instead of validating a new one; any change (status, password, AUP) is a new key.
# Never mutated by callers (changes go through gateway.access.accounts.set_fields).
_ACCOUNTS: dict[tuple[object, ...], Account] = {}


def create(conn: Connection, account_id: str, access: AccessSettings) -> tuple[str, int]:
    """A new session; returns the bearer token (shown once) and its lifetime in seconds."""
    token, hashed = new_token()
    now = utcnow()
    conn.execute(
        insert(SESSIONS).values(
            token_hash=hashed,
            account_id=account_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + access.session_absolute_timeout,
        )
    )
    return token, int(access.session_absolute_timeout.total_seconds())


# The per-request token check, the hottest query in the API: run on the driver's cursor.
# The session's times are compared in SQL (no datetimes parsed per request), and the
# account's source's published state comes along, which every data request needs next.
_COLS = ", ".join(f"a.{k}" for k in _FIELDS)  # the model's own column names; values are always bound
_ACCOUNT_COLUMNS = tuple(ACCOUNTS.c[k] for k in _FIELDS)
_RESOLVE = (
    "SELECT s.expires_at > :now AND s.last_seen_at >= :idle_since, s.last_seen_at >= :touch_since, "  # noqa: S608
    f"ss.published_run, ss.as_of, ss.synced_at, {_COLS} FROM session s JOIN account a ON a.id = s.account_id "
    "LEFT JOIN source_state ss ON ss.source = a.source WHERE s.token_hash = :h"
)
# The same, with the one student the request names, if and only if the caller may see it
# now: the relationship check of cache.read.reader, spliced with the caller's columns.
# One statement instead of two for every request about one student.
_RESOLVE_WITH_STUDENT = _RESOLVE.replace(
    f"{_COLS} FROM", f"{_COLS}, st.ref, st.key_id, st.payload FROM"
).replace(
    " WHERE s.token_hash = :h",
    " LEFT JOIN record st ON st.ref = :only AND "
    + sees_student("a.role", "a.source", "a.subject_ref", "ss.published_run")
    + " WHERE s.token_hash = :h",
)
_N = len(_FIELDS)
# A route's first read, in the session's statement: the student's values as the columns
# that hold them; the read's own parameters renamed apart from the session's.
_FIRST_SPLICED = {"sref": "st.ref", "src": "a.source", "p": "ss.published_run"}
_FIRST_PREFIX = "f_"


@functools.lru_cache(maxsize=32)
def _with_first(sql: str, columns: tuple[str, ...], order: str | None) -> str:
    """:data:`_RESOLVE_WITH_STUDENT` with a route's first read of the student it finds
    (:class:`~cache.read.reader.FirstRead`): its rows as one more column for each of its
    columns, an array of that column's values in the rows' order (NULL for no rows; arrays of
    one type decode faster than one array of rows: docs/PERFORMANCE-api-notes.md), read
    laterally from ``st``, the row the relationship check let through (none: the read finds
    nothing). PostgreSQL only: the serving loop's statement."""
    first = renamed_params(sql, lambda name: _FIRST_SPLICED.get(name) or ":" + _FIRST_PREFIX + name)
    by = f" ORDER BY {order}" if order else ""
    arrays = ", ".join(f"array_agg(x.{c}{by}) AS {_FIRST_PREFIX}{c}" for c in columns)
    selected = ", ".join(f"fr.{_FIRST_PREFIX}{c}" for c in columns)
    return _RESOLVE_WITH_STUDENT.replace(
        ", st.ref, st.key_id, st.payload FROM", f", st.ref, st.key_id, st.payload, {selected} FROM"
    ).replace(
        " WHERE s.token_hash = :h",
        f" LEFT JOIN LATERAL (SELECT {arrays} FROM ({first}) x) fr ON true WHERE s.token_hash = :h",  # noqa: S608
    )


# Where the JSON columns are in the account's values (lists and dicts on PostgreSQL).
_JSON_AT = tuple(i for i, c in enumerate(_ACCOUNT_COLUMNS) if isinstance(c.type, JSON))


class Resolved(NamedTuple):
    account: Account
    # The source's published run, as_of and synced_at as the driver returns them
    # (None when the source has no state yet).
    state: tuple[Any, Any, Any]
    # With ``student=`` given: that student's row (ref, key_id, payload) if the caller may
    # see it now (cache.read.reader.sees_student), else None.
    student: tuple[Any, Any, Any] | None = None
    # With ``first=`` given and the student found: the rows of that read.
    first: list[Any] | None = None


def resolve(conn: Connection, token: str, access: AccessSettings) -> Account | None:
    """The active account behind ``token``, or None (unknown, expired, idle, disabled)."""
    found = resolve_with_state(conn, token, access)
    return None if found is None else found.account


def resolve_with_state(
    conn: Connection,
    token: str,
    access: AccessSettings,
    student: str | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Resolved | None:
    """:func:`resolve`, with the published state of the account's source, and with
    ``student`` (a ref) the row of that student if the caller may see it on ``today``.
    ``now``: the real time, if the caller has read it already."""
    sql, params = _resolve_read(token, access, student, today, now)
    return _resolved(conn, fetch(conn, sql, params), params, student)


async def aresolve_with_state(
    reader: Reader,
    token: str,
    access: AccessSettings,
    student: str | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    first: FirstRead | None = None,
) -> Resolved | None:
    """:func:`resolve_with_state` through ``reader``: the statement awaited on its
    connection of the serving loop when it has one (``Reader.aquery``), where a session
    due its touch is touched too; a session to end is deleted on the synchronous connection
    (on the loop: the request is handed over). ``first``: the route's first read of
    ``student``, read in the same statement (on the loop only: PostgreSQL's)."""
    sql, params = _resolve_read(token, access, student, today, now)
    if first is not None and student is not None and reader.on_loop:
        sql = _with_first(first.sql, first.columns, first.order)
        params.update({_FIRST_PREFIX + k: v for k, v in first.params.items()})
    else:
        first = None
    rows = await reader.aquery(sql, params)
    if (
        reader.on_loop
        and rows
        and rows[0][0]
        and not rows[0][1]
        and _account(reader.conn, rows[0][5 : 5 + _N]).status == "active"
    ):
        # A live session of an active account due its touch (once a minute): written
        # here, awaited, one statement on the loop's autocommit connection, as _resolved
        # writes it on a worker thread's (one that ended, or whose account is not active,
        # is deleted there: the request is handed over).
        await reader.aquery(_TOUCH, {"now": params["now"], "h": params["h"]})
        rows = [(rows[0][0], True, *rows[0][2:])]
    found = _resolved(reader.conn, rows, params, student)
    if first is not None and found is not None and found.student is not None:
        arrays = rows[0][5 + _N + 3 :]
        return found._replace(first=list(zip(*arrays, strict=True)) if arrays[0] is not None else [])
    return found


_TOUCH = "UPDATE session SET last_seen_at = :now WHERE token_hash = :h"


def _resolve_read(
    token: str, access: AccessSettings, student: str | None, today: dt.date | None, now: dt.datetime | None
) -> tuple[str, dict[str, Any]]:
    if now is None:
        now = utcnow()
    params: dict[str, Any] = {
        "h": token_hash(token),
        "now": now,
        "idle_since": now - access.session_idle_timeout,
        "touch_since": now - TOUCH_EVERY,
    }
    if student is None:
        return _RESOLVE, params
    assert today is not None
    params.update(only=student, today=today, yes=True)
    return _RESOLVE_WITH_STUDENT, params


def _resolved(
    conn: Connection, rows: list[Any], params: dict[str, Any], student: str | None
) -> Resolved | None:
    if not rows:
        return None
    hashed, now = params["h"], params["now"]
    row = rows[0]
    live, touched = row[0], row[1]
    account = _account(conn, row[5 : 5 + _N])
    if not live or account.status != "active":
        conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == hashed))
        conn.commit()
        return None
    if not touched:
        conn.execute(update(SESSIONS).where(SESSIONS.c.token_hash == hashed).values(last_seen_at=now))
        conn.commit()
    seen = row[5 + _N : 5 + _N + 3] if student is not None and row[5 + _N] is not None else None
    return Resolved(account, (row[2], row[3], row[4]), seen)


def _account(conn: Connection, raw: tuple[Any, ...]) -> Account:
    """The account for a row's stored values, built once for as long as they do not change."""
    if conn.dialect.name == "sqlite":
        key = raw  # SQLite gives JSON columns as text: the row itself is the key
    else:  # PostgreSQL gives them as lists and dicts: those columns as JSON text
        key = tuple(raw)
        for i in _JSON_AT:
            if isinstance(raw[i], (list, dict)):
                key = (*key[:i], orjson.dumps(raw[i]), *key[i + 1 :])
    account = _ACCOUNTS.get(key)
    if account is None:
        values = typed(conn.dialect, _ACCOUNT_COLUMNS, raw)
        account = remember(_ACCOUNTS, key, Account(**dict(zip(_FIELDS, values, strict=True))), 4096)
    return account


# For the other per-request lookups that join the account (``gateway.access.family``).
ACCOUNT_COLUMNS_SQL = _COLS


def account_from_row(conn: Connection, raw: tuple[Any, ...]) -> Account:
    """The account for the values of :data:`ACCOUNT_COLUMNS_SQL` as the driver returns them."""
    return _account(conn, raw)


def end(conn: Connection, token: str) -> None:
    conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == token_hash(token)))


def end_all(conn: Connection, account_id: str) -> int:
    """Kill every session of an account at once (password change, disable, revocation)."""
    return conn.execute(delete(SESSIONS).where(SESSIONS.c.account_id == account_id)).rowcount or 0
