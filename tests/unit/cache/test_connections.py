"""The API's connection shelf hands out clean connections, and audit appends on them are committed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cache import connections
from cache.connections import Shelf
from cache.db import make_engine
from cache.types import fetch
from gateway.privacy import audit
from tests.support.config import migrated_engine


def entry(n: int) -> audit.Entry:
    return audit.Entry(actor_kind="guardian", actor_id=f"acc_{n}", category="grades", outcome="allowed")


def events(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def test_a_connection_comes_back_clean_and_is_reused(db_url: str) -> None:
    engine = migrated_engine(db_url)
    shelf = Shelf(engine)
    conn = shelf.take()
    fetch(conn, "SELECT count(*) FROM audit_event", {})  # a driver-level read (psycopg begins a transaction)
    audit.append(conn, [entry(1)])  # written, never committed
    shelf.give(conn)
    shelf.give(conn)  # again is harmless: shelved once
    again = shelf.take()
    assert again is conn and not again.in_transaction()
    assert shelf.take() is not conn  # not handed out twice
    assert events(engine) == 0  # the uncommitted append was rolled back on return
    audit.append(again, [entry(2)])
    again.commit()
    assert events(engine) == 1
    shelf.give(again)
    shelf.close()
    assert again.closed
    engine.dispose()


def test_an_append_on_a_connection_without_a_transaction_is_committed_by_commit(db_url: str) -> None:
    engine = migrated_engine(db_url)
    with engine.connect() as conn:
        assert not conn.in_transaction()
        audit.append(conn, [entry(1), entry(2)])
        conn.commit()
    assert events(engine) == 2
    with engine.connect() as conn:
        assert audit.verify(conn).ok
    engine.dispose()


def test_idle_broken_and_surplus_connections_go_back_to_the_pool(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_url)
    shelf = Shelf(engine, keep=1)
    a, b = shelf.take(), shelf.take()
    shelf.give(a)
    shelf.give(b)  # the shelf keeps one
    assert b.closed and not a.closed
    clock = [1000.0]
    monkeypatch.setattr(connections.time, "monotonic", lambda: clock[0])
    shelf.give(shelf.take())
    idle = shelf.take()
    shelf.give(idle)
    clock[0] += connections.MAX_IDLE + 1
    fresh = shelf.take()
    assert fresh is not idle and idle.closed  # unused too long: the pool checks connections it reuses
    fresh.invalidate()
    shelf.give(fresh)
    assert fresh.closed and shelf.take() is not fresh
    engine.dispose()


def test_a_dropped_shelf_returns_its_connections() -> None:
    engine = make_engine("sqlite://")
    shelf = Shelf(engine)
    conn = shelf.take()
    shelf.give(conn)
    del shelf  # no garbage-collector warning about a connection never checked in
    assert conn.closed
    engine.dispose()


def test_objects_made_before_serving_are_kept_out_of_full_collections() -> None:
    import gc

    from gateway.api.app import settle_before_serving

    assert gc.get_freeze_count() == 0
    try:
        settle_before_serving()
        assert gc.get_freeze_count() > 10_000  # the imported framework, frozen
    finally:
        gc.unfreeze()


def test_a_view_gives_its_connection_back_where_it_came_from(sqlite_url: str) -> None:
    import datetime as dt

    from cache.read.reader import Principal, Reader
    from cache.tables.records import SourceState
    from gateway.api.deps import View

    engine = make_engine(sqlite_url)
    shelf = Shelf(engine)

    def view_on(conn, from_shelf: Shelf | None) -> View:  # type: ignore[no-untyped-def]
        now = dt.datetime.now(dt.UTC)
        principal = Principal("acc", "guardian", "sis", "ref")
        return View(
            Reader(conn, None),
            principal,
            SourceState(source="sis"),
            now.date(),
            now,
            "r",
            None,
            shelf=from_shelf,
        )  # type: ignore[arg-type]

    shelved = shelf.take()
    v = view_on(shelved, shelf)
    v.close()
    v.close()  # again is harmless
    assert not shelved.closed and shelf.take() is shelved
    with pytest.raises(RuntimeError, match="given back"):
        v.reader.query("SELECT 1", {})
    # A view over FastAPI's request connection (no shelf): closed, never shelved, so the
    # dependency that owns it can close it without another request holding it.
    owned = engine.connect()
    view_on(owned, None).close()
    assert owned.closed and shelf.take() is not owned
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_the_server_ended_is_closed_when_given_back_without_raising(pg_url: str) -> None:
    """Given back after its request met the error, a connection whose backend was ended
    fails its rollback: the shelf closes it and keeps it off the shelf, and raises nothing,
    so the request's own error is the one reported."""
    engine = migrated_engine(pg_url)
    shelf = Shelf(engine)
    conn = shelf.take()
    conn.execute(text("SELECT count(*) FROM audit_event"))  # a transaction begun, left open
    with engine.connect() as admin:
        pid = conn.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    shelf.give(conn)
    assert conn.closed and shelf._idle == []
    fresh = shelf.take()
    assert fetch(fresh, "SELECT 1", {}) == [(1,)]
    shelf.give(fresh)
    shelf.close()
    engine.dispose()
