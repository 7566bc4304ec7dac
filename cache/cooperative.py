"""psycopg's waits for the server handed to an event loop, for code run in a :class:`Strand`.

A synchronous psycopg connection runs each statement as a generator that says when it
would block (its socket not ready to read or write), and ``Connection.wait`` drives that
generator to its end, waiting in C (``wait_c``). Code that runs inside a :class:`Strand`
(a greenlet on an event loop's thread, :mod:`gateway.api.offload`) must not block that
thread: :func:`cooperative` gives each PostgreSQL connection a ``wait`` that, inside a
strand, registers the socket with the loop (``add_reader``/``add_writer``) and switches to
the loop until it is ready, then goes on with the generator. Everywhere else (a CLI, the
sync, a thread) the connection waits as psycopg does.

So the statements, the reader and SQLAlchemy's own statements stay synchronous code, one
code path for both engines, and no round trip to the server stops the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

import greenlet
from greenlet import getcurrent

READ = 1  # psycopg.Wait.R and Ready.R (selectors.EVENT_READ)
WRITE = 2  # psycopg.Wait.W and Ready.W (selectors.EVENT_WRITE)

# What a strand hands to whoever resumed it when it stops to wait for its socket.
PARKED: tuple[str, Any] = ("parked", None)


class Strand(greenlet.greenlet):
    """A greenlet whose psycopg waits go to ``loop`` (see the module).

    When its socket is not ready it switches to its parent (the loop's greenlet) with
    :data:`PARKED`; once the socket is ready the loop runs :meth:`resume`, which switches
    back and passes on what the strand hands over next (:meth:`handed`).

    The strand is resumed from the loop's queue of callbacks (``call_soon``), never from
    inside the readiness callback itself: uvloop runs that inside libuv's poll, which
    keeps its array of events on the C stack, and a greenlet switched to from there may
    overwrite that part of the stack with its own (a crash, found under load). The socket
    stays registered for a statement's successive waits and is given up when the
    statement ends (:meth:`drive`)."""

    def __init__(self, run: Callable[..., Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(run)
        self.loop = loop
        self._parked = False

    def drive(self, gen: Generator[int, int, Any], wait: int, fd: int) -> Any:
        """psycopg's generator ``gen``, which has yielded ``wait`` for socket ``fd``, run to
        its end: each wait parked on the loop (one registration for the statement's waits
        of one kind, given up when it ends)."""
        loop = self.loop
        parent = self.parent
        assert parent is not None
        registered = 0
        try:
            while True:
                if wait != registered:
                    if registered & READ:
                        loop.remove_reader(fd)
                    if registered & WRITE:
                        loop.remove_writer(fd)
                    if wait & READ:
                        loop.add_reader(fd, loop.call_soon, self.resume, READ)
                    if wait & WRITE:
                        loop.add_writer(fd, loop.call_soon, self.resume, WRITE)
                    registered = wait
                self._parked = True
                wait = gen.send(parent.switch(PARKED))
        except StopIteration as done:
            return done.value
        finally:
            if registered & READ:
                loop.remove_reader(fd)
            if registered & WRITE:
                loop.remove_writer(fd)

    def resume(self, ready: int) -> None:
        """On the loop: the socket is ready; the strand goes on until it parks again or
        ends, and what it hands over then goes to :meth:`handed`. (A loop that reports
        the socket again before the strand has run, asyncio's own, finds it running.)"""
        if not self._parked:
            return
        self._parked = False
        out = self.switch(ready)
        if out is not PARKED:
            self.handed(out)

    def handed(self, out: Any) -> None:
        """What the strand handed over when resumed by :meth:`resume` (not a park)."""


def cooperative(dbapi_conn: Any, _record: Any = None) -> None:
    """Give a psycopg connection a ``wait`` that parks a :class:`Strand` instead of blocking
    (an engine's ``connect`` event; see the module). A wait with a timeout (psycopg's own
    cancellation) and a wait outside a strand go to psycopg's own."""
    own = dbapi_conn.wait
    pgconn = dbapi_conn.pgconn

    def wait(gen: Generator[int, int, Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        strand = getcurrent()
        if timeout is not None or not isinstance(strand, Strand):
            return own(gen, interval, timeout)
        try:
            first = next(gen)  # most of a statement's work; many (autocommit) never wait
        except StopIteration as done:
            return done.value
        return strand.drive(gen, first, pgconn.socket)

    dbapi_conn.wait = wait
