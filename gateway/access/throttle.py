"""Sign-in throttling per username and per address: growing delays, never a permanent lockout.

After a few free failures each further failure doubles the wait (1 s, 2 s, 4 s ... up to
15 minutes), answered as 429 with ``Retry-After``; a success clears the username's count
and a quiet day clears any count. Unknown usernames are throttled exactly like known
ones (the key is the username's blind index), so throttling reveals no accounts. The
state is in the database so every API replica enforces the same limits.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cache.tables.accounts import LoginThrottle
from cache.tables.core import core_table

THROTTLE = core_table(LoginThrottle)
# Free failures before delays start: a parent mistyping is never slowed down; an
# address is shared by a whole school's or a household's devices behind NAT.
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


def failed(conn: Connection, keys: list[str], now: dt.datetime) -> None:
    for key in keys:
        row = conn.execute(select(THROTTLE).where(THROTTLE.c.key == key)).first()
        failures = 1 if row is None or now - row.last_failure_at > FORGET_AFTER else row.failures + 1
        wait = delay_after(failures, FREE[key[0]])
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


def succeeded(conn: Connection, username_key: str) -> None:
    conn.execute(delete(THROTTLE).where(THROTTLE.c.key == username_key))
