"""Connections kept between API reads instead of going back to SQLAlchemy's pool.

A data request runs four or five short reads. Checking a connection out of the pool
and back in (events, reset, the ``Connection`` wrapper) cost about 15 µs measured
alone, half of one of those reads, so the API keeps a few open connections on a shelf: a request takes one and
gives it back clean (no transaction open), ready for the next.

A shelved connection is as the pool would hand it out: reset on return, and never
older than :data:`MAX_IDLE` seconds unused (after that it goes back to the pool, which
checks it before reuse, ``pool_pre_ping`` on PostgreSQL). Closing the shelf, or losing
the last reference to it, returns every shelved connection to the pool.

On PostgreSQL the API's worker threads (``gateway.api.offload``) take and give back
connections at once: the shelf's list is only changed under its lock, and a connection
is used by one thread at a time, the one that took it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref

from sqlalchemy import Connection, Engine

MAX_IDLE = 30.0  # seconds


def _close_all(idle: list[tuple[Connection, float]]) -> None:
    while idle:
        try:
            conn, _ = idle.pop()
        except IndexError:  # another thread took the last one
            return
        conn.close()


class Shelf:
    def __init__(self, engine: Engine, keep: int = 8) -> None:
        self.engine = engine
        self.keep = keep
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        # Returned to the pool when the shelf goes, not left for the garbage collector.
        self._finalizer = weakref.finalize(self, _close_all, self._idle)

    def take(self) -> Connection:
        """An open connection with no transaction in progress: shelved, or new from the pool."""
        idle = self._idle
        now = time.monotonic()
        while idle:
            with self._lock:
                if not idle:
                    break
                conn, since = idle.pop()
            if now - since <= MAX_IDLE and not conn.closed and not conn.invalidated:
                return conn
            conn.close()
        return self.engine.connect()

    def give(self, conn: Connection) -> None:
        """Back on the shelf after a request (again is harmless); a broken or surplus one is
        closed. Never raises: it is called on the way out of requests and flushes, where an
        error of its own would hide theirs (a connection the server ended fails its rollback
        here, after the request has met the real error)."""
        if conn.closed or any(shelved is conn for shelved, _ in list(self._idle)):
            return
        if conn.invalidated or len(self._idle) >= self.keep:
            conn.close()
            return
        try:
            if conn.in_transaction():
                conn.rollback()
            # Reads on the driver's own cursor (cache.types.fetch) bypass SQLAlchemy: end
            # any transaction the driver began for them (a no-op when there is none).
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.rollback()
        except Exception:  # noqa: BLE001 - out of service: closed, never shelved
            with contextlib.suppress(Exception):
                conn.close()
            return
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        _close_all(self._idle)
