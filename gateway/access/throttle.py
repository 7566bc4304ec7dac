"""Throttles for guessable and costly actions, kept in the database so every API replica shares them.

**Guesses** (sign-in per username and per address, the current password when changing
it, TOTP codes per account): after a few free failures each further failure doubles the
wait (1 s, 2 s, 4 s ... up to 15 minutes), answered as 429 with ``Retry-After``; a success
clears the key's count and a quiet day clears any count. Unknown usernames are throttled
exactly like known ones (the key is the username's blind index), so throttling reveals
no accounts.

**Costly actions** (password-reset mails, correction requests, exports): at most a
configured number per key in a fixed window (:func:`spend`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from sqlalchemy import Connection, Integer, bindparam, case, delete, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from cache.tables.accounts import LoginThrottle, RateCounter
from cache.tables.core import core_table
from cache.types import UtcDateTime
from config.settings import Rate, Throttles

THROTTLE = core_table(LoginThrottle)
COUNTERS = core_table(RateCounter)
# Free failures before delays start, by the key's first letter: a parent mistyping is
# never slowed down; an address is shared by a whole school's or a household's devices
# behind NAT. Password checks ("c") and TOTP codes ("t") take theirs from config.
FREE = {"u": 5, "a": 20}
MAX_DELAY = dt.timedelta(minutes=15)
FORGET_AFTER = dt.timedelta(hours=24)


def delay_after(failures: int, free: int) -> dt.timedelta:
    """The wait imposed after ``failures`` consecutive failures."""
    if failures <= free:
        return dt.timedelta(0)
    return min(dt.timedelta(seconds=2 ** min(failures - free - 1, 20)), MAX_DELAY)


def retry_after(conn: Connection, keys: list[str], now: dt.datetime) -> int | None:
    """Seconds to wait when any key is blocked now, else None."""
    rows = conn.execute(select(THROTTLE.c.blocked_until).where(THROTTLE.c.key.in_(keys))).all()
    waits = [
        (r.blocked_until - now).total_seconds() for r in rows if r.blocked_until and r.blocked_until > now
    ]
    return max(1, math.ceil(max(waits))) if waits else None


def failed(conn: Connection, keys: list[str], now: dt.datetime, free: Mapping[str, int] = FREE) -> None:
    for key in keys:
        row = conn.execute(select(THROTTLE).where(THROTTLE.c.key == key)).first()
        failures = 1 if row is None or now - row.last_failure_at > FORGET_AFTER else row.failures + 1
        wait = delay_after(failures, free[key[0]])
        values = {"failures": failures, "last_failure_at": now, "blocked_until": now + wait if wait else None}
        if row is not None:
            conn.execute(update(THROTTLE).where(THROTTLE.c.key == key).values(**values))
            continue
        try:
            with conn.begin_nested():
                conn.execute(insert(THROTTLE).values(key=key, **values))
        except IntegrityError:  # another replica counted this key first: add ours to theirs
            conn.execute(
                update(THROTTLE).where(THROTTLE.c.key == key).values(failures=THROTTLE.c.failures + 1)
            )


def succeeded(conn: Connection, key: str) -> None:
    """A success clears the key's failures (a username's, an account's password or TOTP)."""
    conn.execute(delete(THROTTLE).where(THROTTLE.c.key == key))


def spend(conn: Connection, key: str, rate: Rate, now: dt.datetime) -> int | None:
    """Count one action for ``key``; seconds to wait when that makes more than ``rate.count``
    in the current window, else None. One statement: replicas counting at once add up."""
    end = now + rate.per
    dialect = conn.dialect.name
    stmt = (postgresql.insert(COUNTERS) if dialect == "postgresql" else sqlite.insert(COUNTERS)).values(
        key=key, window_end=end, count=1
    )
    expired = stmt.table.c.window_end <= now
    upsert = stmt.on_conflict_do_update(
        index_elements=[COUNTERS.c.key],
        set_={
            "count": case((expired, 1), else_=stmt.table.c.count + 1),
            "window_end": case(
                (expired, literal(end, COUNTERS.c.window_end.type)), else_=stmt.table.c.window_end
            ),
        },
    ).returning(COUNTERS.c.count, COUNTERS.c.window_end)
    count, window_end = conn.execute(upsert).one()
    if int(count) <= rate.count:
        return None
    wait: dt.timedelta = window_end - now
    return max(1, math.ceil(wait.total_seconds()))


# :func:`spend` as one textual statement, for a count made on every request (a family
# token's): the same upsert, compiled once instead of built and compiled each time.
_SPEND = (
    text(
        "INSERT INTO rate_counter (key, window_end, count) VALUES (:k, :end, 1) ON CONFLICT (key) DO UPDATE SET "
        "count = CASE WHEN rate_counter.window_end <= :now THEN 1 ELSE rate_counter.count + 1 END, "
        "window_end = CASE WHEN rate_counter.window_end <= :now THEN :end ELSE rate_counter.window_end END "
        "RETURNING count, window_end"
    )
    .bindparams(bindparam("end", type_=UtcDateTime()), bindparam("now", type_=UtcDateTime()))
    .columns(count=Integer(), window_end=UtcDateTime())
)


def spend_each_request(conn: Connection, key: str, rate: Rate, now: dt.datetime) -> int | None:
    """:func:`spend`, for a count made on every request: the same rule and table."""
    count, window_end = conn.execute(_SPEND, {"k": key, "end": now + rate.per, "now": now}).one()
    if int(count) <= rate.count:
        return None
    wait: dt.timedelta = window_end - now
    return max(1, math.ceil(wait.total_seconds()))


def forget_expired(conn: Connection, now: dt.datetime) -> int:
    """Drop counters whose window is over and guesses forgotten (a daily tidy-up)."""
    n = conn.execute(delete(COUNTERS).where(COUNTERS.c.window_end <= now)).rowcount or 0
    old = now - FORGET_AFTER
    return n + (
        conn.execute(
            delete(THROTTLE).where(
                THROTTLE.c.last_failure_at < old,
                (THROTTLE.c.blocked_until.is_(None)) | (THROTTLE.c.blocked_until < now),
            )
        ).rowcount
        or 0
    )


# --- the throttles of each action, shared by the API and the portal ----------------------------


def free_failures(throttles: Throttles) -> dict[str, int]:
    """Free failures per kind of key: sign-in's, and the configured password checks and TOTP."""
    return {**FREE, "c": throttles.password_check_free, "t": throttles.totp_free}


class Guesses:
    """One account's guesses of one kind: its current password (``"c"``) or TOTP codes (``"t"``).

    :meth:`wait` before checking, then :meth:`failed` or :meth:`succeeded`; the caller commits.
    """

    def __init__(
        self, conn: Connection, throttles: Throttles, kind: str, account_id: str, now: dt.datetime
    ) -> None:
        assert kind in ("c", "t")
        self.conn, self.now, self.free = conn, now, free_failures(throttles)
        self.key = f"{kind}:{account_id}"

    def wait(self) -> int | None:
        return retry_after(self.conn, [self.key], self.now)

    def failed(self) -> None:
        failed(self.conn, [self.key], self.now, self.free)

    def succeeded(self) -> None:
        succeeded(self.conn, self.key)


def reset_wait(
    conn: Connection, throttles: Throttles, username_index: str, address_index: str | None, now: dt.datetime
) -> int | None:
    """Count a password-reset request per address, then per username (known or not: the
    username's blind index); seconds to wait when either is over its limit."""
    if address_index:
        wait = spend(conn, "reset:a:" + address_index, throttles.reset_per_address, now)
        if wait is not None:
            return wait
    return spend(conn, "reset:u:" + username_index, throttles.reset_per_account, now)


def correction_wait(conn: Connection, throttles: Throttles, account_id: str, now: dt.datetime) -> int | None:
    """Count a correction request of the account; seconds to wait when over the limit."""
    return spend(conn, "corrections:" + account_id, throttles.corrections_per_account, now)


def export_wait(conn: Connection, throttles: Throttles, account_id: str, now: dt.datetime) -> int | None:
    """Count an export by the account; seconds to wait when over the limit."""
    return spend(conn, "export:" + account_id, throttles.exports_per_account, now)
