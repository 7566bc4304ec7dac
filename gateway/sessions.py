"""Opaque bearer sessions: created at login, checked on every request, killed together.

A session dies on logout, idle timeout, absolute timeout, password change, account
disable or revocation. There is no "remember me": every session has an absolute end.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, update

from cache.accounts import Account, Session
from cache.types import fetch, typed, utcnow
from config.settings import AccessSettings
from gateway.security import new_token, token_hash

SESSIONS = Session.__table__  # type: ignore[attr-defined]
ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
# last_seen_at is written at most this often: one write per minute, not per request.
TOUCH_EVERY = dt.timedelta(seconds=60)
_FIELDS = tuple(Account.model_fields)
# Accounts by the values of every column: a request for an unchanged account reuses the
# object instead of validating a new one; any change (status, password, AUP) is a new key.
# Never mutated by callers (changes go through gateway.accounts.set_fields).
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
_COLS = ", ".join(f"a.{k}" for k in _FIELDS)  # the model's own column names; values are always bound
_RESOLVE = (
    f"SELECT s.expires_at, s.last_seen_at, {_COLS} FROM session s JOIN account a ON a.id = s.account_id"  # noqa: S608
)
_RESOLVE += " WHERE s.token_hash = :h"
_SESSION_TIMES = (SESSIONS.c.expires_at, SESSIONS.c.last_seen_at)
_ACCOUNT_COLUMNS = tuple(ACCOUNTS.c[k] for k in _FIELDS)


def resolve(conn: Connection, token: str, access: AccessSettings) -> Account | None:
    """The active account behind ``token``, or None (unknown, expired, idle, disabled)."""
    hashed = token_hash(token)
    rows = fetch(conn, _RESOLVE, {"h": hashed})
    if not rows:
        return None
    raw = rows[0]
    expires, last_seen = typed(conn.dialect, _SESSION_TIMES, raw[:2])
    account = _account(conn, raw[2:])
    now = utcnow()
    if expires <= now or now - last_seen > access.session_idle_timeout or account.status != "active":
        conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == hashed))
        conn.commit()
        return None
    if now - last_seen > TOUCH_EVERY:
        conn.execute(update(SESSIONS).where(SESSIONS.c.token_hash == hashed).values(last_seen_at=now))
        conn.commit()
    return account


def _account(conn: Connection, raw: tuple[Any, ...]) -> Account:
    """The account for a row's stored values, built once for as long as they do not change."""
    try:
        key = raw  # SQLite gives JSON columns as text: the row itself is the key
        account = _ACCOUNTS.get(key)
    except TypeError:  # PostgreSQL gives them as lists and dicts
        key = tuple(orjson.dumps(v) if isinstance(v, (list, dict)) else v for v in raw)
        account = _ACCOUNTS.get(key)
    if account is None:
        if len(_ACCOUNTS) > 4096:  # a bound on memory, not a policy
            _ACCOUNTS.clear()
        values = typed(conn.dialect, _ACCOUNT_COLUMNS, raw)
        account = _ACCOUNTS[key] = Account(**dict(zip(_FIELDS, values, strict=True)))
    return account


def end(conn: Connection, token: str) -> None:
    conn.execute(delete(SESSIONS).where(SESSIONS.c.token_hash == token_hash(token)))


def end_all(conn: Connection, account_id: str) -> int:
    """Kill every session of an account at once (password change, disable, revocation)."""
    return conn.execute(delete(SESSIONS).where(SESSIONS.c.account_id == account_id)).rowcount or 0
