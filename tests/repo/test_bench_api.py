"""scripts/bench_api's own measurements of the server process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support import REPO

# Measured in a process of its own: in the test process, threads left by other tests may
# end between the two readings and take their switches out of the sum.
CHILD = textwrap.dedent(
    """
    import os, threading, time
    from scripts.bench_api import ctx_switches

    slept, done = threading.Event(), threading.Event()

    def sleeper():
        for _ in range(50):
            time.sleep(0.001)  # gives up its core each time: a voluntary switch a sleep
        slept.set()
        done.wait()  # still alive when counted: a thread that ended is no longer in /proc

    thread = threading.Thread(target=sleeper)
    before = ctx_switches(os.getpid())
    thread.start()
    assert slept.wait(10)
    print(ctx_switches(os.getpid()) - before)
    done.set()
    thread.join()
    """
)


def test_context_switches_count_every_thread_of_the_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert float(out.stdout) >= 50


def test_the_served_instructions_client_sends_a_fixed_count_over_kept_connections() -> None:
    """``--served-instructions`` counts a server's instructions over a fixed number of
    requests on connections opened (and warmed) before the count starts: every request
    is answered and read in full, and no connection is opened for the counted ones."""
    import asyncio
    import re

    from scripts.bench_api import KeepAlive

    seen: dict[str, int] = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                seen["requests"] += 1
                assert re.search(rb"\r\nAuthorization: Bearer t\d\r\n", head), head
                body = b"x" * (100 + seen["requests"])  # a body of its own length each time
                status = b"200 OK" if b"/ok" in head else b"404 Not Found"
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
        except asyncio.IncompleteReadError:  # the client closed the connection
            writer.close()
            await writer.wait_closed()

    async def main() -> tuple[list[int], list[int]]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = KeepAlive(port, 4)
        await client.open()
        try:
            first = await client.send([("t1", "/ok"), ("t2", "/ok")], 8)
            opened = seen["connections"]
            second = await client.send([("t1", "/ok"), ("t3", "/missing")], 10)
            assert seen["connections"] == opened == 4
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
        return first, second

    first, second = asyncio.run(main())
    assert first == [200] * 8
    assert sorted(second) == [200] * 5 + [404] * 5 and seen["requests"] == 18
