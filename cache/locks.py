"""Named locks across processes: a PostgreSQL advisory lock, or a lock file beside SQLite.

One sync per source at a time (:func:`source_lock`), one run of a daily job at a time
(:func:`job_lock`), however many workers share the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Engine, text

from cache.db import is_sqlite, sqlite_path

_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _lock_key(name: str, schema: str = "") -> int:
    # A stable signed 64-bit key per name for pg_try_advisory_lock. Advisory locks are
    # database-wide, so the schema is part of the key: two caches in one database (or
    # two test runs in their own schemas) must not block each other.
    digest = hashlib.sha256(f"portico:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def source_lock(engine: Engine, source: str) -> AbstractContextManager[bool]:
    """The lock that makes one sync of ``source`` run at a time."""
    return named_lock(engine, f"sync-{source}")


def job_lock(engine: Engine, job: str) -> AbstractContextManager[bool]:
    """The lock that makes one run of a scheduled job (e.g. reminders) happen at a time."""
    return named_lock(engine, f"job-{job}")


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True while holding the lock ``name``; False if someone else holds it."""
    url = str(engine.url)
    if not is_sqlite(url):
        with engine.connect() as conn:
            key = _lock_key(name, str(conn.execute(text("SELECT current_schema()")).scalar()))
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    path = sqlite_path(url)
    if path is None:
        with _guard:
            lock = _local_locks.setdefault(name, threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    lock_file = path.with_name(f"{path.name}.{name}.lock")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            got = True
        except BlockingIOError:
            got = False
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
