"""Where a request's database work runs: on the event loop, or on a few worker threads.

On SQLite a statement is a library call in this process (20–30 µs): it runs on the event
loop, where a thread hop would cost more than the statement, and on two cores worker
threads contend for the GIL (docs/PERFORMANCE-api-notes.md). On PostgreSQL each
statement is a round trip to another process; made on the event loop, it stops every
other request while the server answers. So on PostgreSQL a data request's whole unit of
work (the session check, the authorised reads, the decryption and the response body,
and the wait for its audit commit) runs on one of :data:`THREADS` worker threads, each
with its own connection from the shelf, while the event loop goes on parsing and
answering other requests.

The handler is the same ``async`` function on both engines: a worker thread runs it to
completion on an event loop of its own. Its audit events are submitted for the request's
own loop (:func:`home_loop`): the serving loop, not the worker's, awaits their commit
(:mod:`gateway.api.auditbatch`) before the answer leaves, so the wait holds neither a
worker thread nor a connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# The loop serving the current request, when its work runs on a worker thread's loop.
_HOME: contextvars.ContextVar[asyncio.AbstractEventLoop] = contextvars.ContextVar("portico_home_loop")


def home_loop() -> asyncio.AbstractEventLoop:
    """The event loop that serves the current request and sends its answer."""
    loop = _HOME.get(None)
    return loop if loop is not None else asyncio.get_running_loop()


# Worker threads per process on a database server. Each holds at most one connection at
# a time (the shelf keeps that many), and a thread only helps while another waits for
# the server: on two cores, four overlap the round trips without the GIL contention of
# FastAPI's forty (docs/PERFORMANCE-api-notes.md).
THREADS = 4


def _shut(executor: ThreadPoolExecutor, loops: list[asyncio.AbstractEventLoop]) -> None:
    executor.shutdown(wait=True)
    while loops:
        loops.pop().close()


class Workers:
    """A bounded pool of threads, each running the requests handed to it on its own loop."""

    def __init__(self, threads: int = THREADS) -> None:
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="portico-db")
        # Closed with the pool: when the app goes, or at exit (loops closed, threads joined).
        self._finalizer = weakref.finalize(self, _shut, self._executor, self._loops)

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            self._loops.append(loop)
        return loop

    def _complete(self, work: Callable[[], Awaitable[T]]) -> T:
        return self._loop().run_until_complete(work())

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` run to completion on a worker thread; the caller's loop stays free."""
        loop = asyncio.get_running_loop()
        # With the caller's context variables (the request's log fields), as asyncio.to_thread.
        context = contextvars.copy_context()
        context.run(_HOME.set, loop)
        return await loop.run_in_executor(self._executor, context.run, self._complete, work)

    def close(self) -> None:
        self._finalizer()
