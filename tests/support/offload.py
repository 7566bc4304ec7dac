"""A request that waits for PostgreSQL while the process answers others (gateway.api.offload).

Another connection holds an exclusive lock on the record table (as a migration or a VACUUM
FULL would); a request that reads records is sent, and ``/healthz`` is timed while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from cache.tables.audit import AuditEvent
from cache.tables.core import core_table
from tests.support.world import World, build_world, cheap_hashing

EVENTS = core_table(AuditEvent)


def pg_world(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The served world on PostgreSQL (a test module's fixture: ``pytest.fixture(pg_world)``)."""
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, pg_url)
    yield served
    served.close()


def audit_events(w: World) -> int:
    with w.cache.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())


@dataclass(frozen=True)
class WhileLocked:
    health: httpx.Response
    took: float  # seconds /healthz took while the request waited
    waiting: bool  # the request was still waiting when /healthz answered
    answer: httpx.Response  # the request's answer, once the lock was released
    audited: int  # audit events committed meanwhile
    handed_over: int = 0  # requests begun on the loop and served by a worker thread (lifespan)


def healthz_while_waiting(
    w: World,
    pg_url: str,
    app: FastAPI,
    path: str,
    headers: dict[str, str],
    base_url: str,
    *,
    lifespan: bool = False,
) -> WhileLocked:
    """GET ``path`` while the record table is locked, then ``/healthz``; release the lock.
    ``lifespan``: with the app's lifespan (on PostgreSQL the dashboard's reads are awaited
    on the loop: ``cache.loopreads``), ``path`` read once before the lock (the snapshot's
    shared records known)."""
    before = audit_events(w)
    locker = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    # Released once /healthz has answered; by this timer at the latest, so a blocked event
    # loop shows as a late /healthz instead of a test that never ends.
    release = threading.Timer(5.0, locker.commit)

    async def main() -> tuple[httpx.Response, float, bool, httpx.Response, int]:
        transport = httpx.ASGITransport(app=app)
        async with contextlib.AsyncExitStack() as stack:
            c = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url=base_url))
            handed = 0
            if lifespan:
                await stack.enter_async_context(app.router.lifespan_context(app))
                assert (await c.get(path, headers=headers)).status_code == 200
                handed = app.state.portico.loop_reads.handed_over
            nonlocal before
            before = audit_events(w)
            locker.execute("LOCK TABLE record IN ACCESS EXCLUSIVE MODE")
            release.start()
            request = asyncio.create_task(c.get(path, headers=headers))
            await asyncio.sleep(0.5)  # the request is now waiting for the lock
            started = time.monotonic()
            health = await c.get("/healthz")
            took = time.monotonic() - started
            waiting = not request.done()
            release.cancel()
            await asyncio.to_thread(locker.commit)
            answer = await request
            if lifespan:
                handed = app.state.portico.loop_reads.handed_over - handed
            return health, took, waiting, answer, handed

    try:
        health, took, waiting, answer, handed = asyncio.run(main())
    finally:
        release.cancel()
        locker.close()
    return WhileLocked(health, took, waiting, answer, audit_events(w) - before, handed)
