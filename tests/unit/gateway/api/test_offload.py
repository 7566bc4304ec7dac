"""Database work off the event loop: on PostgreSQL a request waiting for the server stops no other."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.api.app import create_app
from gateway.api.offload import Workers, home_loop
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


def test_healthz_answers_while_an_account_route_reads_from_postgresql(pg_world: World, pg_url: str) -> None:
    """The account routes that read the snapshot (alert preferences list the children the
    caller may see) wait for PostgreSQL on a worker thread like the data routes: with the
    record table locked, ``/v1/account/alerts`` waits and the process keeps answering."""
    w = pg_world
    sid = w.district.cases.student_login
    headers = w.headers(w.ensure_account("student", sid).id)
    app = create_app(w.config, w.cache, clock=w.clock)
    run = healthz_while_waiting(w, pg_url, app, "/v1/account/alerts", headers, "http://portico.test")
    assert run.health.status_code == 200
    assert run.waiting, "the account request finished before the lock was released"
    assert run.took < 2.0, f"/healthz took {run.took:.1f} s while an account route's read waited"
    assert run.answer.status_code == 200, run.answer.text
    assert run.answer.json()["data"]["children"], run.answer.text


def test_worker_threads_run_each_request_on_their_own_loop_and_know_the_serving_one() -> None:
    workers = Workers(threads=2)
    seen: list[tuple[int, bool]] = []

    async def work() -> None:
        await asyncio.sleep(0)  # a real await, on the worker's loop
        seen.append((threading.get_ident(), home_loop() is serving))

    async def main() -> None:
        await asyncio.gather(*(workers.run(work) for _ in range(8)))

    serving_loop = asyncio.new_event_loop()
    serving = serving_loop
    try:
        serving_loop.run_until_complete(main())
    finally:
        serving_loop.close()
        workers.close()
    assert len(seen) == 8
    assert threading.get_ident() not in {ident for ident, _ in seen}
    assert len({ident for ident, _ in seen}) <= 2
    assert all(knows for _, knows in seen)


def test_a_coroutine_stepped_by_hand_on_a_worker_runs_as_it_would_on_a_loop() -> None:
    """``run_direct``: a coroutine that never waits finishes in one step, with a running
    loop it may ask for; one that does wait (a sleep, a future of the worker's loop)
    finishes there; its exceptions, raised before or after a wait, reach the caller."""
    workers = Workers(threads=2)
    serving_loop = asyncio.new_event_loop()
    ran_on: list[int] = []

    async def no_wait() -> str:
        ran_on.append(threading.get_ident())
        loop = asyncio.get_running_loop()  # as View.audit_later asks
        assert loop is not serving_loop and home_loop() is serving_loop
        return "done"

    async def waits() -> int:
        await asyncio.sleep(0)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, 41)
        return await fut + 1

    async def fails(after_wait: bool) -> None:
        if after_wait:
            await asyncio.sleep(0)
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
        assert await workers.run_direct(no_wait) == "done"
        assert await workers.run_direct(waits) == 42
        with pytest.raises(LookupError, match="from the handler"):
            await workers.run_direct(lambda: fails(after_wait=False))
        with pytest.raises(LookupError, match="from the handler"):
            await workers.run_direct(lambda: fails(after_wait=True))
        assert await workers.run_direct(cancelled_inside) == "caught"
        # After all that the workers still serve, with no loop left running on them.
        assert await workers.run_direct(no_wait) == "done"
        assert await workers.run(waits) == 42

    try:
        serving_loop.run_until_complete(main())
    finally:
        serving_loop.close()
        workers.close()
    assert threading.get_ident() not in ran_on
