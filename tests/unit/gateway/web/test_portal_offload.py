"""The portal's pages do their database work where the API's does (gateway.api.offload):
on PostgreSQL a page waiting for the server stops no other request."""

from __future__ import annotations

import pytest

from gateway.api.app import create_app
from gateway.web import mount
from tests.support.offload import healthz_while_waiting
from tests.support.offload import pg_world as offload_world
from tests.support.world import World

pg_world = pytest.fixture(offload_world)


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
    run = healthz_while_waiting(w, pg_url, app, path, cookie, "http://127.0.0.1")
    assert run.health.status_code == 200
    assert run.waiting, "the page finished before the lock was released"
    assert run.took < 2.0, f"/healthz took {run.took:.1f} s while a page's read waited"
    assert run.answer.status_code == 200 and "<h1" in run.answer.text, run.answer.text[:500]
    # The page left after its audit event was committed.
    assert run.audited == 1
