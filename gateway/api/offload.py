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

The dashboard's routes (``DataRouter.get(..., on_loop=True)``) are the exception: on
PostgreSQL they await their reads on the serving loop itself, through asyncpg
(``cache.loopreads``), with no thread at all; one that reaches work needing a synchronous
connection is handed over to a worker thread before it has answered or written anything
(``cache.loopreads.WouldBlock``), and is served there from the start.

The handler is the same ``async`` function on both engines. A worker thread steps a data
route's coroutine by hand (:meth:`Workers.run_direct`: it never waits on the worker, so
no event loop has to run for it), and runs a FastAPI route's to completion on an event
loop of its own (:meth:`Workers.run`). Its audit events are submitted for the request's
own loop (:func:`home_loop`): the serving loop, not the worker's, awaits their commit
(:mod:`gateway.api.auditbatch`) before the answer leaves, so the wait holds neither a
worker thread nor a connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar, cast

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


@types.coroutine
def _resume(coro: Coroutine[Any, Any, T], first: Any) -> Generator[Any, Any, T]:
    """The rest of ``coro``, which has yielded ``first`` (what it awaits), run as its own
    ``await`` would: each yielded future handed to the task, each answer handed back."""
    yielded = first
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, as await would
            try:
                yielded = coro.throw(exc)
            except StopIteration as done:
                return cast(T, done.value)
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as done:
                return cast(T, done.value)


def _shut(
    jobs: queue.SimpleQueue[_Job | None],
    threads: list[threading.Thread],
    loops: list[asyncio.AbstractEventLoop],
) -> None:
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        if thread is not threading.current_thread():
            thread.join()
    while loops:
        loops.pop().close()


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    """A worker thread: each job run in its context, its outcome sent to its loop."""
    while True:
        job = jobs.get()
        if job is None:
            return
        context, how, work, loop, fut = job
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(how, work)
        except BaseException as exc:  # noqa: BLE001 - the caller's to raise, on its loop
            error = exc
        try:
            loop.call_soon_threadsafe(deliver, fut, result, error)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            continue
        finally:
            del job, context, work, result, error


def deliver(fut: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the serving loop: the worker's outcome, unless the caller stopped waiting."""
    if fut.done():
        return
    if error is None:
        fut.set_result(result)
    else:
        fut.set_exception(error)


# A request handed to a worker: the context to run it in, how, what, and where the
# outcome goes (the serving loop and its future).
_Job = tuple[contextvars.Context, Callable[[Any], Any], Any, asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class Workers:
    """A bounded pool of threads, each running the requests handed to it on its own loop.

    Requests reach the threads through one queue and their outcomes come back with
    ``call_soon_threadsafe``: half the CPU of ``run_in_executor``'s two chained futures
    per request (docs/PERFORMANCE-api-notes.md)."""

    def __init__(self, threads: int = THREADS) -> None:
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=_serve, args=(self._jobs,), name=f"portico-db-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        # Closed with the pool: when the app goes, or at exit (loops closed, threads joined).
        self._finalizer = weakref.finalize(self, _shut, self._jobs, self._threads, self._loops)

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            self._loops.append(loop)
        return loop

    def _complete(self, work: Callable[[], Awaitable[T]]) -> T:
        return self._loop().run_until_complete(work())

    def _drive(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """``work()`` stepped by hand, with this thread's loop as the running loop: a data
        request's coroutine never waits for anything on the worker (its audit commit is
        awaited by the serving loop), and running a loop for it (a task, two turns of
        the selector) cost more CPU than most of its reads (docs/PERFORMANCE-api-notes.md).
        Should it ever wait, the rest runs on this thread's loop as before."""
        loop = self._loop()
        coro = work()
        asyncio.events._set_running_loop(loop)
        try:
            first = coro.send(None)
        except StopIteration as done:
            return cast(T, done.value)
        except BaseException:
            coro.close()
            raise
        finally:
            asyncio.events._set_running_loop(None)
        return loop.run_until_complete(_resume(coro, first))

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work()`` run to completion on a worker thread; the caller's loop stays free."""
        return await self._hand(self._complete, work)

    async def run_direct(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """:meth:`run` for a coroutine that uses no task machinery (no ``anyio``, no
        ``current_task``): stepped by hand on the worker (:meth:`_drive`)."""
        return await self._hand(self._drive, work)

    async def _hand(self, how: Callable[[Any], T], work: Any) -> T:
        loop = asyncio.get_running_loop()
        # With the caller's context variables (the request's log fields), as asyncio.to_thread.
        context = contextvars.copy_context()
        context.run(_HOME.set, loop)
        fut: asyncio.Future[T] = loop.create_future()
        if self._finalizer.alive:
            self._jobs.put((context, how, work, loop, fut))
        else:
            fut.set_exception(RuntimeError("the worker threads are closed"))
        return await fut

    def close(self) -> None:
        self._finalizer()
