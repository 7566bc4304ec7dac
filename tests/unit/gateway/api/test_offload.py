"""Database waits on the event loop: on PostgreSQL a request waiting for the server stops no other."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from sqlalchemy import text

from cache.db import make_serving_engine
from cache.types import fetch
from gateway.api.app import create_app
from gateway.api.offload import bridged
from tests.support.offload import healthz_while_waiting
from tests.support.offload import pg_world as offload_world
from tests.support.world import World

pg_world = pytest.fixture(offload_world)


def test_healthz_answers_while_a_data_read_waits_for_postgresql(pg_world: World, pg_url: str) -> None:
    """Another connection holds an exclusive lock on the record table (as a migration or a
    VACUUM FULL would): a dashboard read waits for it, and the process keeps answering."""
    w = pg_world
    sid = w.district.cases.student_login
    headers = w.headers(w.ensure_account("student", sid).id)
    path = f"/v1/students/{w.ref('student', sid)}/attendance"
    app = create_app(w.config, w.cache, clock=w.clock)
    run = healthz_while_waiting(w, pg_url, app, path, headers, "http://portico.test")
    assert run.health.status_code == 200
    assert run.waiting, "the data request finished before the lock was released"
    assert run.took < 2.0, f"/healthz took {run.took:.1f} s while a data read waited"
    assert run.answer.status_code == 200 and run.answer.json()["data"]
    # The answer left after its audit event was committed.
    assert run.audited == 1


def test_a_coroutine_in_the_bridge_runs_as_it_would_on_the_loop() -> None:
    """``bridged``: a coroutine that never waits finishes at once; one that waits (a sleep,
    a future of the loop) finishes on the same loop and thread; its exceptions, raised
    before or after a wait, reach the caller; a cancellation inside it is its own to catch;
    its context variables are the caller's."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    ran_on: list[int] = []

    async def no_wait() -> str:
        ran_on.append(threading.get_ident())
        return var.get()

    async def waits() -> int:
        await asyncio.sleep(0)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, fut.set_result, 41)
        return await fut + 1

    async def fails(after_wait: bool) -> None:
        if after_wait:
            await asyncio.sleep(0.01)
        raise LookupError("from the handler")

    async def cancelled_inside() -> str:
        task = asyncio.get_running_loop().create_future()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "caught"
        return "not cancelled"

    async def main() -> None:
        var.set("the request's")
        assert await bridged(no_wait) == "the request's"
        assert await bridged(waits) == 42
        with pytest.raises(LookupError, match="from the handler"):
            await bridged(lambda: fails(after_wait=False))
        with pytest.raises(LookupError, match="from the handler"):
            await bridged(lambda: fails(after_wait=True))
        assert await bridged(cancelled_inside) == "caught"
        # Several at once, interleaved on the one loop.
        assert await asyncio.gather(*(bridged(waits) for _ in range(8))) == [42] * 8

    asyncio.run(main())
    assert set(ran_on) == {threading.get_ident()}


def test_a_request_cancelled_while_its_read_waits_is_cancelled_inside_the_bridge(pg_url: str) -> None:
    """A client gone while the server is still answering: the task is cancelled, the
    cancellation reaches the read inside the bridge, and the loop goes on."""
    engine = make_serving_engine(pg_url)

    async def slow() -> None:
        conn = engine.connect()
        try:
            fetch(conn, "SELECT pg_sleep(5)", {})
        finally:
            conn.invalidate()  # the server is still in the statement: not fit for reuse
            conn.close()

    async def main() -> float:
        task = asyncio.create_task(bridged(slow))
        await asyncio.sleep(0.3)
        task.cancel()
        started = asyncio.get_running_loop().time()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.get_running_loop().time() - started

    took = asyncio.run(main())
    assert took < 2.0, f"the cancelled read held the loop for {took:.1f} s"


def test_round_trips_inside_the_bridge_wait_on_the_loop(pg_url: str) -> None:
    """Two requests each waiting 0.3 s for the server, at once: together they take about
    0.3 s, not 0.6 s (a read that held the loop would serialise them), and a ticker on the
    loop keeps ticking meanwhile. SQLAlchemy statements and the hot reads alike."""
    engine = make_serving_engine(pg_url)

    async def request(hot: bool) -> None:
        conn = engine.connect()
        try:
            if hot:
                fetch(conn, "SELECT pg_sleep(0.3)", {})
            else:
                conn.execute(text("SELECT pg_sleep(0.3)"))
            conn.commit()
        finally:
            conn.close()

    async def main() -> tuple[float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        await bridged(lambda: request(True))  # connections open before the clock starts
        await asyncio.gather(bridged(lambda: request(True)), bridged(lambda: request(False)))
        beat = asyncio.create_task(ticker())
        started = asyncio.get_running_loop().time()
        await asyncio.gather(bridged(lambda: request(True)), bridged(lambda: request(False)))
        took = asyncio.get_running_loop().time() - started
        beat.cancel()
        await bridged(lambda: _dispose(engine))
        return took, ticks

    took, ticks = asyncio.run(main())
    assert took < 0.55, f"two 0.3 s reads at once took {took:.2f} s"
    assert ticks >= 10, f"the loop ticked {ticks} times in {took:.2f} s"


async def _dispose(engine) -> None:  # type: ignore[no-untyped-def]
    engine.dispose()
