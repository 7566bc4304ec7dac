"""Single-use emailed tokens (activation, password reset): 256 bits, stored hashed, expiring."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, insert, select, update

from cache.tables.accounts import AccountToken
from cache.tables.core import core_table
from cache.types import utcnow
from gateway.access.security import new_token, token_hash

TOKENS = core_table(AccountToken)


# Purposes whose earlier links keep working until one of them is used: a reset someone
# else asks for must not cancel the link the account holder is about to follow.
KEEP_EARLIER = frozenset({"reset"})


def issue(conn: Connection, account_id: str, purpose: str, ttl: dt.timedelta) -> str:
    """A new token for ``purpose``. A new invitation cancels earlier ones; earlier reset
    links stay valid (until they expire, or until any of them is used)."""
    now = utcnow()
    if purpose not in KEEP_EARLIER:
        cancel_unused(conn, account_id, purpose, now)
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
    account_id = conn.execute(
        select(TOKENS.c.account_id).where(TOKENS.c.token_hash == token_hash(token))
    ).scalar()
    if account_id is not None:
        cancel_unused(conn, str(account_id), purpose, utcnow())  # the other links die with this use
    return None if account_id is None else str(account_id)


def cancel_unused(conn: Connection, account_id: str, purpose: str, now: dt.datetime) -> None:
    conn.execute(
        update(TOKENS)
        .where(TOKENS.c.account_id == account_id, TOKENS.c.purpose == purpose, TOKENS.c.used_at.is_(None))
        .values(used_at=now)
    )
