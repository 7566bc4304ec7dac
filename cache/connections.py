"""Connections kept between API reads instead of going back to SQLAlchemy's pool.

A data request runs four or five short reads. Checking a connection out of the pool
and back in (events, reset, the ``Connection`` wrapper) cost about 15 µs measured
alone, half of one of those reads, so the API keeps a few open connections on a shelf: a request takes one and
gives it back clean (no transaction open), ready for the next. While another request
waits for the pool (all its connections out), a connection given back goes to the pool,
so a shelf never keeps a waiter from the pool's last connections.

A shelved connection is as the pool would hand it out: reset on return, and never
older than :data:`MAX_IDLE` seconds unused (after that it goes back to the pool, which
checks it before reuse, ``pool_pre_ping`` on PostgreSQL). Closing the shelf, or losing
the last reference to it, returns every shelved connection to the pool.

On PostgreSQL the API serves from psycopg's async connections (:func:`cache.db.make_serving_engine`,
``gateway.api.offload``): the same SQLAlchemy ``Connection`` API, each round trip awaited
on the event loop through SQLAlchemy's greenlet adaptation. Such a connection can only
be used inside that adaptation (a request's bridge); closing the shelf runs its closes
there too (:func:`adapted`). The shelf's list is only changed under its lock (the audit
writer thread keeps a shelf of its own), and a connection is used by one request at a
time, the one that took it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.util import greenlet_spawn

MAX_IDLE = 30.0  # seconds
T = TypeVar("T")


def adapted(fn: Callable[[], T]) -> T:
    """``fn()`` inside SQLAlchemy's greenlet adaptation, called from synchronous code: for
    what an async-driver connection does without waiting on the network (closing one:
    libpq's ``PQfinish``; rolling back an idle one: nothing to send). Such work finishes
    without waiting for anything (psycopg may yield to the loop now and then, a bare
    ``sleep(0)``: stepped over); one that would wait on the network is refused, not
    blocked on."""
    coro = greenlet_spawn(fn)
    while True:
        try:
            waits = coro.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        if waits is not None:
            coro.close()
            raise RuntimeError("a connection's close waited on the network outside the event loop")


def _close_all(idle: list[tuple[Connection, float]], is_async: bool = False) -> None:
    def close() -> None:
        while idle:
            try:
                conn, _ = idle.pop()
            except IndexError:  # another thread took the last one
                return
            conn.close()

    if is_async:
        adapted(close)
    else:
        close()


class Shelf:
    def __init__(self, engine: Engine, keep: int = 8, capacity: int | None = None) -> None:
        self.engine = engine
        self.keep = keep
        # The pool's size with its overflow, when a taker may have to wait for it (the
        # serving engine on a database server): None, never.
        self.capacity = capacity
        self._idle: list[tuple[Connection, float]] = []
        self._lock = threading.Lock()
        # Takers waiting for the pool (its every connection checked out): a connection
        # given back meanwhile goes to the pool, for them, not onto the shelf.
        self._waiting = 0
        # Returned to the pool when the shelf goes, not left for the garbage collector.
        self._finalizer = weakref.finalize(self, _close_all, self._idle, engine.dialect.is_async)

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
        checkedout = getattr(self.engine.pool, "checkedout", None)
        if self.capacity is None or checkedout is None or checkedout() < self.capacity:
            return self.engine.connect()
        with self._lock:  # every connection of the pool is out: this one waits for it
            self._waiting += 1
        try:
            return self.engine.connect()
        finally:
            with self._lock:
                self._waiting -= 1

    def give(self, conn: Connection) -> None:
        """Back on the shelf after a request (again is harmless); a broken or surplus one is closed."""
        if conn.closed or any(shelved is conn for shelved, _ in list(self._idle)):
            return
        if conn.invalidated or len(self._idle) >= self.keep or self._waiting:
            conn.close()
            return
        try:
            if conn.in_transaction():
                conn.rollback()
            # Reads on the driver's own cursor (cache.types.fetch) bypass SQLAlchemy: end
            # any transaction the driver began for them (a no-op when there is none). The
            # DB-API connection: the driver's own, or SQLAlchemy's adapter of an async one.
            dbapi: Any = conn.connection.dbapi_connection
            dbapi.rollback()
        except Exception:
            conn.close()
            raise
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        _close_all(self._idle, self.engine.dialect.is_async)
