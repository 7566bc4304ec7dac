"""Group commit for the access audit: concurrent requests' events share one transaction.

A request enqueues its events and, before returning any data, awaits the flush that
makes them durable; the flush runs on the event loop's next turn, so every request that
reached that point in the same turn is written by one transaction (one lock of the chain
head, one commit) instead of one each. Semantics are unchanged: no data leaves before
its audit event is committed, and a failed flush fails the requests it carried.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from cache.connections import Shelf
from gateway.privacy import audit


class AuditBatcher:
    def __init__(self, engine: Engine, shelf: Shelf | None = None) -> None:
        # The flush takes a connection from the API's shelf when given one (no pool checkout).
        self.engine = engine
        self.shelf = shelf
        # Per event loop: a future may only be resolved by the loop that made it.
        self.pending: dict[
            asyncio.AbstractEventLoop, list[tuple[list[audit.Entry], asyncio.Future[None]]]
        ] = {}

    def submit(self, entries: list[audit.Entry]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        queue = self.pending.get(loop)
        if queue is None:
            queue = self.pending[loop] = []
            loop.call_soon(self._flush, loop)
        queue.append((entries, fut))
        return fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self.pending.pop(loop, [])
        try:
            self._write([e for entries, _ in batch for e in entries])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting request, which fails
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)

    def _write(self, entries: list[audit.Entry]) -> None:
        if self.shelf is None:
            with self.engine.begin() as conn:
                audit.append(conn, entries)
            return
        conn = self.shelf.take()
        try:
            with conn.begin():
                audit.append(conn, entries)
        finally:
            self.shelf.give(conn)
