"""Single-use emailed tokens (activation, password reset): 256 bits, stored hashed, expiring."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, insert, select, update

from cache.tables.accounts import AccountToken
from cache.tables.core import core_table
from cache.types import utcnow
from gateway.access.security import new_token, token_hash

TOKENS = core_table(AccountToken)


def issue(conn: Connection, account_id: str, purpose: str, ttl: dt.timedelta) -> str:
    """A new token for ``purpose``; earlier unused ones of the same purpose stop working."""
    now = utcnow()
    conn.execute(
        update(TOKENS)
        .where(TOKENS.c.account_id == account_id, TOKENS.c.purpose == purpose, TOKENS.c.used_at.is_(None))
        .values(used_at=now)
    )
    token, hashed = new_token()
    conn.execute(
        insert(TOKENS).values(
            token_hash=hashed, account_id=account_id, purpose=purpose, created_at=now, expires_at=now + ttl
        )
    )
    return token


def peek(conn: Connection, token: str, purpose: str) -> str | None:
    """The account a live token belongs to, without using it up."""
    row = conn.execute(
        select(TOKENS.c.account_id, TOKENS.c.expires_at, TOKENS.c.used_at).where(
            TOKENS.c.token_hash == token_hash(token), TOKENS.c.purpose == purpose
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return str(row.account_id)


def consume(conn: Connection, token: str, purpose: str) -> str | None:
    """Use the token up (once, even under races); returns its account, or None."""
    res = conn.execute(
        update(TOKENS)
        .where(
            TOKENS.c.token_hash == token_hash(token),
            TOKENS.c.purpose == purpose,
            TOKENS.c.used_at.is_(None),
            TOKENS.c.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
    )
    if not res.rowcount:
        return None
    return conn.execute(select(TOKENS.c.account_id).where(TOKENS.c.token_hash == token_hash(token))).scalar()
