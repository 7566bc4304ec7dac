"""Named locks across processes: a PostgreSQL advisory lock, or a lock file beside SQLite.

One sync per source at a time (:func:`source_lock`), one run of a daily job at a time
(:func:`job_lock`), one schema upgrade at a time (:func:`migration_lock`, which waits for
another process's upgrade to end rather than skipping), however many workers share the cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
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


def migration_lock(engine: Engine, wait: float) -> AbstractContextManager[bool]:
    """The lock every schema upgrade holds, waiting up to ``wait`` seconds for another's to end."""
    return named_lock(engine, "migrate", wait=wait)


def _retry(attempt: Callable[[], bool], wait: float) -> bool:
    """``attempt`` until it succeeds or ``wait`` seconds have passed (once when wait is 0)."""
    deadline = time.monotonic() + wait
    while True:
        if attempt():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


@contextmanager
def named_lock(engine: Engine, name: str, *, wait: float = 0.0) -> Iterator[bool]:
    """Yield True while holding the lock ``name``; False if someone else holds it
    (after trying for ``wait`` seconds)."""
    url = str(engine.url)
    if not is_sqlite(url):
        with engine.connect() as conn:
            key = _lock_key(name, str(conn.execute(text("SELECT current_schema()")).scalar()))

            def try_pg() -> bool:
                ok = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()
                return ok

            got = _retry(try_pg, wait)
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
        got = lock.acquire(timeout=wait) if wait > 0 else lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    lock_file = path.with_name(f"{path.name}.{name}.lock")
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)

    def try_file() -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    try:
        got = _retry(try_file, wait)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
