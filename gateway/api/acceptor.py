"""Accepting connections: every waiting connection on each turn of the event loop, and,
across server processes on one socket, by the process serving the fewest.

uvicorn listens with the event loop's ``create_server``. Under uvloop that is libuv's
listener, which since libuv 1.45 accepts one connection per turn of the loop and relies
on the next poll for the next one. A turn of a busy Portico process runs every request
that arrived during the last turn (tens of milliseconds with 32 clients on a page), so
connections opened together waited one turn each: 32 connections opened at once were
accepted over 200 to 680 ms, and their first requests waited as long
(docs/PERFORMANCE-web-notes.md, "The first request of each connection"). asyncio's own
listener accepts up to its backlog per turn instead, but then, with several processes on
one socket, the first process to wake takes every waiting connection (32 of 32, 27 of 32
measured), and one process serves most clients while the other idles.

:class:`Acceptor` replaces the listener: on each readiness of the listening socket it
accepts every waiting connection (up to :data:`BATCH`) and hands each to the loop as an
accepted socket, on any loop. With a :class:`Share` (several processes), a process
accepts a connection only while it serves no more open connections than any other
process; otherwise it leaves the socket to them for :data:`YIELD_SECONDS` and looks
again, and after :data:`PATIENCE_SECONDS` of leaving it (the others busy or stuck) it
accepts anyway, so a connection never waits on a process that does not come.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import socket
import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("portico.api")

# At most this many connections accepted in one turn (asyncio's listener takes up to 100).
BATCH = 128
# A process with more open connections than another leaves the socket to it this long...
YIELD_SECONDS = 0.002
# ...and accepts anyway once it has left it this long without the others taking them.
PATIENCE_SECONDS = 0.05
# A process's slot in a Share before it listens.
NOT_LISTENING = -1


class Share:
    """Open connections of each of ``processes`` server processes, in memory made before
    the fork and shared by them; each process writes its own slot only."""

    def __init__(self, processes: int) -> None:
        # NOT_LISTENING until a process's Acceptor starts: one still building its app after
        # the fork takes no connection, so it is left none to take.
        self.counts = multiprocessing.RawArray("l", [NOT_LISTENING] * processes)
        self.index = 0

    def listening(self) -> None:
        """This process accepts from now on (its count starts at none)."""
        if self.counts[self.index] == NOT_LISTENING:
            self.counts[self.index] = 0

    def fewest(self) -> bool:
        """Whether this process serves no more open connections than any other listening."""
        mine = self.counts[self.index]
        return all(mine <= other for other in self.counts if other != NOT_LISTENING)

    def opened(self) -> None:
        self.counts[self.index] += 1

    def closed(self) -> None:
        self.counts[self.index] -= 1


def counted(protocol: type[asyncio.Protocol], share: Share) -> type[asyncio.Protocol]:
    """``protocol``, taking its connection off this process's count in ``share`` when it
    is lost (the :class:`Acceptor` counts it when it accepts it)."""

    class Counted(protocol):  # type: ignore[misc,valid-type]
        def connection_lost(self, exc: Exception | None) -> None:
            share.closed()
            super().connection_lost(exc)

    Counted.__name__ = Counted.__qualname__ = f"Counted{protocol.__name__}"
    return Counted


class Acceptor:
    """Accepts connections on ``sock`` for ``protocol_factory`` (see the module's
    description); in uvicorn's list of servers, it is closed as they are."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        share: Share | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = protocol_factory
        self.share = share
        self.clock = clock
        self.left_since: float | None = None  # when this process began to leave connections to others
        self.tasks: set[asyncio.Task[Any]] = set()
        self.reading = False
        self.closed = False
        sock.setblocking(False)
        if share is not None:
            share.listening()
        self._watch()

    def _watch(self) -> None:
        if not self.closed and not self.reading:
            self.loop.add_reader(self.sock.fileno(), self.accept)
            self.reading = True

    def _unwatch(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.sock.fileno())
            self.reading = False

    def my_turn(self) -> bool:
        """Whether this process takes the next connection (always, when it is the only one)."""
        if self.share is None or self.share.fewest():
            self.left_since = None
            return True
        now = self.clock()
        if self.left_since is None:
            self.left_since = now
        return now - self.left_since >= PATIENCE_SECONDS

    def accept(self) -> None:
        """Accept what is waiting, as far as it is this process's turn."""
        for _ in range(BATCH):
            if not self.my_turn():
                self._unwatch()  # the socket stays readable: look again shortly, not on every poll
                self.loop.call_later(YIELD_SECONDS, self._watch)
                return
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # out of descriptors or memory: as asyncio's listener, wait a second
                log.error("api.accept_failed", error_class=type(exc).__name__)
                self._unwatch()
                self.loop.call_later(1.0, self._watch)
                return
            # Not `left_since = None` here: once the others have left the socket past the
            # patience, this process takes what waits without waiting again for each one;
            # my_turn starts the patience afresh when this process has the fewest again.
            if self.share is not None:  # counted now: the next one may be another process's
                self.share.opened()
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self.loop.create_task(self._connect(conn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.factory, conn)
        except OSError:  # the peer went away before the transport was made (no connection_lost)
            conn.close()
            if self.share is not None:
                self.share.closed()

    def close(self) -> None:
        """Stop accepting (the listening socket is closed by its owner)."""
        self.closed = True
        self._unwatch()

    async def wait_closed(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
