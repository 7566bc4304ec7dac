"""The portal's pages do their database work where the API's does (gateway.api.offload):
on PostgreSQL a page waiting for the server stops no other request."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from cache.tables.audit import AuditEvent
from cache.tables.core import core_table
from gateway.api.app import create_app
from gateway.web import mount
from tests.support.world import World, build_world, cheap_hashing

EVENTS = core_table(AuditEvent)


@pytest.fixture
def pg_world(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, pg_url)
    yield served
    served.close()


def audit_events(w: World) -> int:
    with w.cache.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def test_healthz_answers_while_a_portal_page_waits_for_postgresql(pg_world: World, pg_url: str) -> None:
    """Another connection holds an exclusive lock on the record table (as a migration or a
    VACUUM FULL would): a child's attendance page waits for it, and the process keeps answering."""
    w = pg_world
    sid = w.district.cases.student_login
    token = w.headers(w.ensure_account("student", sid).id)["Authorization"].removeprefix("Bearer ")
    # On loopback, so the session cookie is the plain one (no __Host- prefix).
    cookie = {"Cookie": f"portico_session={token}"}
    path = f"/children/{w.ref('student', sid)}/attendance"
    app = create_app(w.config, w.cache, clock=w.clock)
    mount.install(app)
    before = audit_events(w)

    locker = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    locker.execute("LOCK TABLE record IN ACCESS EXCLUSIVE MODE")
    # Released by the test once /healthz has answered; by this timer at the latest, so a
    # blocked event loop shows as a late /healthz instead of a test that never ends.
    release = threading.Timer(5.0, locker.commit)
    release.start()

    async def main() -> tuple[httpx.Response, float, bool, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            page = asyncio.create_task(c.get(path, headers=cookie))
            await asyncio.sleep(0.5)  # the page is now waiting for the lock
            started = time.monotonic()
            health = await c.get("/healthz")
            took = time.monotonic() - started
            waiting = not page.done()
            release.cancel()
            await asyncio.to_thread(locker.commit)
            return health, took, waiting, await page

    try:
        health, took, waiting, page = asyncio.run(main())
    finally:
        release.cancel()
        locker.close()
    assert health.status_code == 200
    assert waiting, "the page finished before the lock was released"
    assert took < 2.0, f"/healthz took {took:.1f} s while a page's read waited"
    assert page.status_code == 200 and "<h1" in page.text, page.text[:500]
    # The page left after its audit event was committed.
    assert audit_events(w) == before + 1
