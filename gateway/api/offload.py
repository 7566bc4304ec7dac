"""Where a request's database work waits: in the library call on SQLite, on the event loop on PostgreSQL.

On SQLite a statement is a library call in this process (20–30 µs): the handler calls
it and goes on, with no hand-over of any kind (docs/PERFORMANCE-api-notes.md). On
PostgreSQL each statement is a round trip to another process; made synchronously on the
event loop, it would stop every other request while the server answers. So on PostgreSQL
a request is served from psycopg's async connections (``cache.db.make_serving_engine``)
and its handler runs inside a greenlet (:func:`bridged`): the handlers, the reader, the
queries and every SQLAlchemy statement stay the same synchronous calls as on SQLite, and
each round trip inside them hands the wait to the event loop (SQLAlchemy's asyncio
adaptation, ``sqlalchemy.util.await_``), which serves other requests meanwhile.

The handler is the same ``async`` function on both engines. Inside the bridge it is
stepped by hand (:func:`_step`): what it awaits (its audit commit, a lock) is handed to
the event loop as its own ``await`` would hand it, and the answer handed back. No thread
is involved: one event loop, one task per request, as on SQLite.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

from sqlalchemy.util import await_, greenlet_spawn

T = TypeVar("T")


@types.coroutine
def _yield(value: Any) -> Generator[Any, Any, Any]:
    """Hand ``value`` (what a coroutine yielded: a future it awaits) to the running task
    and return what the task sends back, as the coroutine's own ``await`` would."""
    return (yield value)


def _step(coro: Coroutine[Any, Any, T]) -> T:
    """``coro`` run to its end inside the bridge's greenlet: each future it awaits is
    awaited by the request's task, on the loop; each answer or exception is sent back in."""
    error: BaseException | None = None
    sent: Any = None
    while True:
        try:
            yielded = coro.send(sent) if error is None else coro.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        error = sent = None
        try:
            sent = await_(_yield(yielded))
        except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, as await would
            error = exc


async def bridged(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``await work()``, with the synchronous database calls inside it free to await
    psycopg's async connection on this loop (SQLAlchemy's greenlet adaptation)."""
    coro = work()
    try:
        return await greenlet_spawn(_step, coro)
    finally:
        coro.close()  # a no-op once it has finished; closes it if the bridge itself failed
