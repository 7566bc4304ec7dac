"""Group commit for the access audit: concurrent requests' events share one transaction.

A request enqueues its events and, before returning any data, awaits the flush that
makes them durable, so every request that reached that point together is written by
one transaction (one lock of the chain head, one commit) instead of one each.
Semantics are the same in both modes below: no data leaves before its audit event is
committed, and a failed flush fails the requests it carried.

- **On the event loop** (SQLite, where a commit is a library call): the flush runs on
  the loop's next turn and carries every request that submitted in this turn.
- **On the serving loop, through asyncpg** (PostgreSQL, a request served on the loop:
  ``cache.loopreads``): one flush at a time per loop, awaited there; what requests submit
  while it commits goes in its next transaction.
- **On a writer thread** (a database server, where a commit is a round trip that must
  not stop the loop): one thread writes whatever is queued, and what requests submit
  while it commits goes in its next transaction. The futures belong to the loop that
  serves each request (:func:`gateway.api.offload.home_loop`), so a request run on a
  worker thread holds neither the thread nor a connection while it waits.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from cache.connections import Shelf
from cache.loopreads import LoopReads
from gateway.api.offload import deliver, home_loop
from gateway.privacy import audit

Waiting = list[tuple[list[audit.Entry], asyncio.Future[None]]]


def _settle(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for fut in futures:
        deliver(fut, None, error)


class AuditNotCommitted(Exception):
    """A request's audit events were not committed (or not known to be): it fails, and its
    data does not leave."""


class AuditBatcher:
    def __init__(self, engine: Engine, shelf: Shelf | None = None, *, writer_thread: bool = False) -> None:
        # The flush takes a connection from the API's shelf when given one (no pool checkout).
        self.engine = engine
        self.shelf = shelf
        # Per event loop: a future may only be resolved by the loop that made it.
        self.pending: dict[asyncio.AbstractEventLoop, Waiting] = {}
        self._lock = threading.Lock()
        self._writer = ThreadPoolExecutor(1, "portico-audit") if writer_thread else None
        # Where this process last saw the chain end (PostgreSQL: audit.commit appends there
        # in one statement; where another process has moved the head since, it appends again
        # under the head's lock). The loop's flushes and the writer thread's share it: a
        # stale one costs that second append (a transaction of three or four round trips).
        self.head: audit.Head | None = None
        self._writing = False
        # Served on the loop (asyncpg): each loop's waiting events, and the loops whose
        # flush is under way. Only that loop touches its entry: no lock.
        self._loop_pending: dict[asyncio.AbstractEventLoop, Waiting] = {}
        self._on_loop: set[asyncio.AbstractEventLoop] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _flush_on_loop(self, loop: asyncio.AbstractEventLoop, reads: LoopReads) -> None:
        try:
            while batch := self._loop_pending.pop(loop, []):
                error: Exception | None = None
                try:
                    conn = await reads.take()
                    try:
                        events = [e for entries, _ in batch for e in entries]
                        self.head = await audit.commit_on_loop(conn, events, self.head)
                    finally:
                        reads.give(conn)
                except BaseException as exc:
                    self.head = None  # read again by the next flush
                    # Every waiting request fails, and is not served again elsewhere (its
                    # events may have been committed before a connection was lost).
                    error = AuditNotCommitted(f"the audit group commit failed: {type(exc).__name__}")
                    error.__cause__ = exc
                    if not isinstance(exc, Exception):  # cancelled: the loop is ending
                        _settle([fut for _, fut in batch], error)  # its requests told first
                        raise
                _settle([fut for _, fut in batch], error)
        finally:
            self._on_loop.discard(loop)

    def submit(self, entries: list[audit.Entry], reads: LoopReads | None = None) -> asyncio.Future[None]:
        """A future of the request's loop, done once ``entries`` are committed; ``reads``:
        the loop's own connections (a request served on the loop, on PostgreSQL)."""
        loop = home_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if reads is not None:
            self._loop_pending.setdefault(loop, []).append((entries, fut))
            if loop not in self._on_loop:
                self._on_loop.add(loop)
                task = loop.create_task(self._flush_on_loop(loop, reads))
                self._tasks.add(task)  # the loop keeps only a weak reference to its tasks
                task.add_done_callback(self._tasks.discard)
            return fut
        if self._writer is None:
            queue = self.pending.get(loop)
            if queue is None:
                queue = self.pending[loop] = []
                loop.call_soon(self._flush, loop)
            queue.append((entries, fut))
            return fut
        with self._lock:
            self.pending.setdefault(loop, []).append((entries, fut))
            start, self._writing = not self._writing, True
        if start:
            self._writer.submit(self._drain)
        return fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self.pending.pop(loop, [])
        try:
            self._write([e for entries, _ in batch for e in entries])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request, which fails
            _settle([fut for _, fut in batch], exc)
            return
        _settle([fut for _, fut in batch], None)

    def _drain(self) -> None:
        """The writer thread: commit what is queued, again until nothing is."""
        while True:
            with self._lock:
                taken, self.pending = self.pending, {}
                if not taken:
                    self._writing = False
                    return
            error: Exception | None = None
            try:
                self._write([e for batch in taken.values() for entries, _ in batch for e in entries])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request, which fails
                error = exc
            for loop, batch in taken.items():
                try:  # one wake-up per loop, however many requests it serves
                    loop.call_soon_threadsafe(_settle, [fut for _, fut in batch], error)
                except RuntimeError:  # that loop is closed: nobody is waiting any more
                    continue

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _write(self, entries: list[audit.Entry]) -> None:
        head, self.head = self.head, None  # until this commit says where the chain ends
        if self.shelf is None:
            with self.engine.connect() as conn:
                self.head = audit.commit(conn, entries, head)
            return
        conn = self.shelf.take()
        try:
            self.head = audit.commit(conn, entries, head)
        finally:
            self.shelf.give(conn)
