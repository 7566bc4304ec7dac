"""The listener Portico serves through (gateway.api.acceptor): every waiting connection
accepted in one turn, on asyncio's loop and on uvloop's, and across processes on one
socket by the process serving the fewest."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.api import acceptor
from gateway.api.acceptor import Acceptor, Share, counted


def loops() -> list[Callable[[], asyncio.AbstractEventLoop]]:
    found: list[Callable[[], asyncio.AbstractEventLoop]] = [asyncio.new_event_loop]
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is installed with uvicorn[standard]
        return found
    return [*found, uvloop.new_event_loop]


@contextmanager
def listening() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    try:
        yield sock
    finally:
        sock.close()


class Recorder(asyncio.Protocol):
    def __init__(self, made: list[Recorder], lost: list[Recorder]) -> None:
        self.made, self.lost = made, lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.made.append(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(self)


async def close_all(*made: list[Recorder]) -> None:
    for recorders in made:
        for r in recorders:
            r.transport.close()
    await asyncio.sleep(0.01)


@contextmanager
def connected(sock: socket.socket, n: int) -> Iterator[list[socket.socket]]:
    """``n`` client connections, each completed by the kernel (waiting to be accepted),
    closed whatever the test found (an open one would fail a later test)."""
    clients: list[socket.socket] = []
    try:
        for _ in range(n):
            clients.append(socket.create_connection(sock.getsockname()))
        yield clients
    finally:
        for c in clients:
            c.close()


async def settle(n: int, made: list[list[Recorder]], *acceptors: Acceptor) -> None:
    """Wait (two seconds at most) until the ``acceptors`` have made ``n`` connections in
    all, then stop them and close what they made."""
    for _ in range(400):
        if sum(len(m) for m in made) == n:
            break
        await asyncio.sleep(0.005)
    for acc in acceptors:
        acc.close()
        await acc.wait_closed()
    await close_all(*made)


@pytest.mark.parametrize("new_loop", loops(), ids=lambda f: f.__module__)
def test_every_waiting_connection_is_accepted_in_one_turn(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    loop = new_loop()
    made: list[Recorder] = []
    lost: list[Recorder] = []
    try:
        with listening() as sock, connected(sock, 40):
            calls = 0

            async def main() -> None:
                nonlocal calls
                acc = Acceptor(loop, sock, lambda: Recorder(made, lost))
                real = acc.accept

                def counting() -> None:
                    nonlocal calls
                    calls += 1
                    real()

                acc.accept = counting  # type: ignore[method-assign]
                acc._unwatch()
                acc._watch()  # the reader now calls the counting wrapper
                await settle(40, [made], acc)

            loop.run_until_complete(main())
            assert len(made) == 40
            assert calls == 1  # one readiness of the listening socket took all forty
    finally:
        loop.close()


def test_a_process_with_more_connections_leaves_the_next_to_another() -> None:
    share = Share(2)
    now = [100.0]
    loop = asyncio.new_event_loop()
    try:
        with listening() as sock:
            acc = Acceptor(loop, sock, asyncio.Protocol, share, clock=lambda: now[0])
            share.counts[0], share.counts[1] = 3, 1
            assert not acc.my_turn()
            now[0] += acceptor.PATIENCE_SECONDS / 2
            assert not acc.my_turn()
            now[0] += acceptor.PATIENCE_SECONDS / 2  # the others took nothing meanwhile: accept anyway
            assert acc.my_turn()
            share.counts[0] = 1  # as few as any other: its turn, and patience starts afresh
            assert acc.my_turn()
            assert acc.left_since is None
            share.counts[0] = 2
            assert not acc.my_turn()
            acc.close()
    finally:
        loop.close()


@pytest.mark.parametrize("new_loop", loops(), ids=lambda f: f.__module__)
def test_connections_opened_together_are_shared_evenly(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    """Two listeners on one socket, as two processes have it, each with its slot of one
    share: 32 connections opened at once end 16 and 16."""
    loop = new_loop()
    share_a, share_b = Share(2), Share(2)
    share_b.counts = share_a.counts  # one memory, as after the fork
    share_b.index = 1
    made_a: list[Recorder] = []
    made_b: list[Recorder] = []
    lost: list[Recorder] = []
    try:
        with listening() as sock, sock.dup() as other, connected(sock, 32):

            async def main() -> None:
                a = Acceptor(loop, sock, lambda: Recorder(made_a, lost), share_a)
                b = Acceptor(loop, other, lambda: Recorder(made_b, lost), share_b)
                await settle(32, [made_a, made_b], a, b)

            loop.run_until_complete(main())
            assert (len(made_a), len(made_b)) == (16, 16)
            assert len(lost) == 32  # closed: Recorder is not counted, so the counts stay as accepted
            assert list(share_a.counts) == [16, 16]
    finally:
        loop.close()


def test_a_lost_connection_is_taken_off_its_process_count() -> None:
    share = Share(3)
    share.index = 2
    share.counts[2] = 5
    made: list[Recorder] = []
    lost: list[Recorder] = []

    class Counted(counted(Recorder, share)):  # type: ignore[misc]
        pass

    proto = Counted(made, lost)
    proto.connection_lost(None)
    assert list(share.counts) == [acceptor.NOT_LISTENING, acceptor.NOT_LISTENING, 4]  # the others' untouched
    assert lost == [proto]  # the protocol's own connection_lost ran too
    assert counted(Recorder, share).__name__ == "CountedRecorder"


SERVER = """
import os, sys
from fastapi import FastAPI
from config.settings import ApiSettings
from gateway.api.server import serve, serve_processes

def build():
    app = FastAPI()

    @app.get("/pid")
    async def pid() -> int:
        return os.getpid()

    return app

port, processes = int(sys.argv[1]), int(sys.argv[2])
api = ApiSettings(host="127.0.0.1")
if processes == 1:
    serve(build(), api, port=port)
else:
    raise SystemExit(serve_processes(build, lambda: None, api, processes, port=port))
"""


@pytest.mark.parametrize("processes", [1, 2])
def test_served_connections_opened_together_are_shared_evenly_and_the_server_stops(processes: int) -> None:
    """``portico serve`` and ``portico api --processes 2`` as they listen: 32 connections
    opened one after another, each asking which process serves it, end 32 in one or 16 and
    16 (uvloop's own listener gave all 32 to one of two idle processes)."""
    import http.client
    import signal
    import subprocess
    import sys
    from collections import Counter

    from tests.support import REPO
    from tests.support.clock import wait_until
    from tests.support.net import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(processes)], cwd=REPO)  # noqa: S603
    try:

        def ask(conns: list[http.client.HTTPConnection]) -> list[int]:
            """Which process serves each of ``conns`` (all connected before the first asks)."""
            for c in conns:
                c.connect()
            pids = []
            for c in conns:
                c.request("GET", "/pid")
                answer = c.getresponse()
                assert answer.status == 200
                pids.append(int(answer.read()))
            return pids

        def listening(expected: int) -> bool:
            """Every process listens: two connections held open together go one to each (a
            process still building its app after the fork is left none, so until it listens
            the other takes all, which is not what this test measures)."""
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(expected)]
            try:
                return len(set(ask(conns))) == expected
            except OSError:
                return False
            finally:
                for c in conns:
                    c.close()

        wait_until(lambda: listening(processes), timeout=60)
        conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(32)]
        try:
            split = sorted(Counter(ask(conns)).values())
        finally:
            for c in conns:  # closed whatever the answer: an open socket would fail a later test
                c.close()
        if processes == 1:
            assert split == [32]
        else:  # 16 and 16, give or take what a process starved of CPU for 50 ms leaves to the other
            assert len(split) == 2 and split[1] - split[0] <= 2, split
    finally:
        proc.send_signal(signal.SIGTERM)
        # A clean stop: uvicorn raises the signal it caught again once it has shut down.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)


def test_a_process_not_yet_listening_is_left_no_connections() -> None:
    """After the fork a process builds its app before it listens: the one already listening
    takes what comes, without waiting on it."""
    share = Share(2)
    assert list(share.counts) == [acceptor.NOT_LISTENING] * 2
    loop = asyncio.new_event_loop()
    try:
        with listening() as sock:
            acc = Acceptor(loop, sock, asyncio.Protocol, share, clock=lambda: 100.0)
            assert list(share.counts) == [0, acceptor.NOT_LISTENING]
            share.counts[0] = 5
            assert acc.my_turn()  # the other is not listening: nothing to leave to it
            share.index = 1
            share.listening()
            share.index = 0
            assert not acc.my_turn()  # now it is, with none: its turn
            acc.close()
    finally:
        loop.close()


def test_the_patience_is_paid_once_not_for_every_connection() -> None:
    """Once the others have left the socket past the patience, every waiting connection is
    taken in that turn, not one each patience."""
    share = Share(2)
    now = [100.0]
    made: list[Recorder] = []
    lost: list[Recorder] = []
    loop = asyncio.new_event_loop()
    try:
        with listening() as sock, connected(sock, 10):

            async def main() -> None:
                acc = Acceptor(loop, sock, lambda: Recorder(made, lost), share, clock=lambda: now[0])
                share.counts[1] = 0  # the other listens, and takes nothing
                acc._unwatch()
                share.counts[0] = 1
                assert not acc.my_turn()  # more than the other: the patience starts
                now[0] += 2 * acceptor.PATIENCE_SECONDS
                acc.accept()  # one call, the clock standing still
                await settle(10, [made], acc)

            loop.run_until_complete(main())
            assert len(made) == 10
    finally:
        loop.close()


def test_the_server_refuses_tls_options_and_a_start_without_sockets(tmp_path: Path) -> None:
    """Portico binds its sockets itself and leaves TLS to the reverse proxy: a certificate
    given to uvicorn, or a start without sockets, is refused, not served on uvicorn's own
    listener (which the server no longer falls back to)."""
    import uvicorn
    from fastapi import FastAPI

    from gateway.api.server import Server

    cert = tmp_path / "cert.pem"
    cert.write_text("not read: refused before")
    with pytest.raises(ValueError, match="ssl options are not supported"):
        Server(uvicorn.Config(FastAPI(), ssl_certfile=str(cert), ssl_keyfile=str(cert)))
    server = Server(uvicorn.Config(FastAPI(), host="127.0.0.1", port=0, log_config=None))
    server.config.load()
    with pytest.raises(ValueError, match="bound sockets it is given"):
        asyncio.run(server.startup())
    assert not server.started
