"""Audit group commit: concurrent requests share one transaction, and no one proceeds on a failure."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from gateway.api.auditbatch import AuditBatcher
from gateway.privacy import audit
from tests.support.config import migrated_engine


def entry(n: int) -> audit.Entry:
    return audit.Entry(actor_kind="guardian", actor_id=f"acc_{n}", category="attendance", outcome="allowed")


def test_concurrent_events_are_committed_in_one_transaction_and_chain_correctly(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrated_engine(sqlite_url)
    batcher = AuditBatcher(engine)
    calls: list[int] = []
    real = audit.commit

    def counting(conn, entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        real(conn, entries)

    monkeypatch.setattr(audit, "commit", counting)

    async def request(n: int) -> None:
        await batcher.submit([entry(n)])

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(10)))
        await request(10)  # a later turn of the loop: its own transaction

    asyncio.run(main())
    assert calls == [10, 1]
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 11
    engine.dispose()


def test_a_failed_flush_fails_every_request_it_carried(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrated_engine(sqlite_url)
    batcher = AuditBatcher(engine)

    def broken(conn, entries):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "commit", broken)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(batcher.submit([entry(n)]) for n in range(3)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    engine.dispose()


def test_on_a_writer_thread_every_event_is_committed_once_in_chain_order(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PostgreSQL mode: events of requests served by several loops (the worker threads'
    and the server's) are written by one thread, in as many transactions as it takes."""
    engine = migrated_engine(db_url)
    batcher = AuditBatcher(engine, writer_thread=True)
    calls: list[int] = []
    real = audit.commit

    def counting(conn, entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        real(conn, entries)

    monkeypatch.setattr(audit, "commit", counting)

    async def main() -> None:
        await asyncio.gather(*(batcher.submit([entry(n)]) for n in range(40)))

    def another_loop() -> None:
        asyncio.run(main())

    threads = [threading.Thread(target=another_loop) for _ in range(3)]
    for t in threads:
        t.start()
    asyncio.run(main())
    for t in threads:
        t.join()
    batcher.close()
    assert sum(calls) == 160
    assert len(calls) < 160  # grouped: fewer transactions than events
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 160
    engine.dispose()


def test_on_a_writer_thread_a_failed_flush_fails_every_request_it_carried(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrated_engine(sqlite_url)
    batcher = AuditBatcher(engine, writer_thread=True)

    def broken(conn, entries):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "commit", broken)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(batcher.submit([entry(n)]) for n in range(3)), return_exceptions=True)

    outcomes = asyncio.run(main())
    batcher.close()
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    engine.dispose()


def test_a_flush_the_database_refuses_fails_its_requests_and_commits_none_of_it(db_url: str) -> None:
    """A failure in the database itself, not in Python: with the chain head set back, the
    batch's first insert reuses a stored event's id. On PostgreSQL that error comes back
    only with the pipelined COMMIT: it must still fail every request, commit no event of
    the batch, and leave the shelf's connection fit for the next flush."""
    from cache.connections import Shelf

    engine = migrated_engine(db_url)
    shelf = Shelf(engine)
    batcher = AuditBatcher(engine, shelf, writer_thread=True)

    async def batch(first: int) -> list[BaseException | None]:
        return await asyncio.gather(
            *(batcher.submit([entry(n)]) for n in range(first, first + 3)), return_exceptions=True
        )

    assert asyncio.run(batch(0)) == [None, None, None]
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_head SET last_id = 1 WHERE id = 1")
    outcomes = asyncio.run(batch(3))
    assert all(isinstance(o, Exception) for o in outcomes), outcomes
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 3
        conn.exec_driver_sql("UPDATE audit_head SET last_id = 3 WHERE id = 1")
    assert asyncio.run(batch(6)) == [None, None, None]  # the same connection, from the shelf
    batcher.close()
    shelf.close()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 6
    engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_a_flush_is_two_round_trips(pg_url: str, tmp_path: Path) -> None:
    """BEGIN and the chain head's lock, then the inserts, the head's update and COMMIT:
    two waits for the server in libpq's protocol trace, where one statement at a time
    made five."""
    import psycopg

    engine = migrated_engine(pg_url)
    audit.record(engine, [entry(0)])  # the head exists, the statements are known
    trace = tmp_path / "trace.txt"
    with engine.connect() as conn, trace.open("w") as out:
        pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
        audit.commit(conn, [entry(n) for n in range(1, 5)])
        pgconn.untrace()
    # A wait for the server: where the trace turns from what was sent (F) to what came back (B).
    sides = [line[0] for line in trace.read_text().splitlines() if line[:2] in ("F\t", "B\t")]
    waits = sum(a == "F" and b == "B" for a, b in zip(sides, sides[1:], strict=False))
    assert waits == 2, trace.read_text()
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 5
    engine.dispose()


@pytest.mark.postgres
def test_a_connection_whose_rollback_fails_after_a_refused_flush_is_taken_out_of_service(pg_url: str) -> None:
    """A refused batch whose ROLLBACK then fails leaves the connection in an unknown
    state (inside a failed transaction, in autocommit): it is invalidated, so the shelf
    closes it instead of serving the next request on it, and nothing of the batch is
    committed. The driver's ROLLBACK is made to fail: nothing real fails on demand there."""
    engine = migrated_engine(pg_url)
    audit.record(engine, [entry(0), entry(1)])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_head SET last_id = 0 WHERE id = 1")  # the next id is taken
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        real = driver.execute

        def execute(query: object, *args: object, **kwargs: object) -> object:
            if query == "ROLLBACK":
                raise OSError("the connection failed during ROLLBACK")
            return real(query, *args, **kwargs)  # type: ignore[arg-type]

        driver.execute = execute  # type: ignore[method-assign]
        with pytest.raises(Exception) as raised:
            audit.commit(conn, [entry(2)])
        assert not isinstance(raised.value, OSError)  # the refusal is what the requests see
        assert conn.invalidated
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 2
    engine.dispose()


@pytest.mark.postgres
def test_without_pipeline_mode_the_audit_commits_one_statement_at_a_time(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A libpq older than 14 has no pipeline mode (psycopg's binary wheel bundles a newer
    one, a system libpq may not): the audit then takes its transaction statement by
    statement instead of failing every request. The check is replaced: no older libpq is
    installed here."""
    monkeypatch.setattr(audit, "_pipelines", lambda: False)
    engine = migrated_engine(pg_url)
    audit.record(engine, [entry(n) for n in range(3)])
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        pipeline = driver.pipeline

        def refused() -> object:
            raise AssertionError("pipeline mode used without libpq support")

        driver.pipeline = refused  # type: ignore[method-assign]
        audit.commit(conn, [entry(3)])
        driver.pipeline = pipeline  # type: ignore[method-assign]
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 4
    engine.dispose()


def test_on_the_serving_loop_a_flush_chains_concurrent_events_and_a_refused_one_fails_them_all(
    pg_url: str,
) -> None:
    """The group commit of requests served on the loop (asyncpg, ``cache.loopreads``): the
    events submitted together share a transaction and extend the chain, interleaved with
    the writer thread's; a flush the database refuses fails every request it carried,
    commits none of it, and the next flush commits."""
    from cache.loopreads import LoopReads

    engine = migrated_engine(pg_url)
    batcher = AuditBatcher(engine, writer_thread=True)

    async def main() -> list[list[BaseException | None]]:
        reads = LoopReads(pg_url)
        await reads.start()

        async def batch(first: int, on_loop: bool = True) -> list[BaseException | None]:
            return await asyncio.gather(
                *(batcher.submit([entry(n)], reads if on_loop else None) for n in range(first, first + 3)),
                return_exceptions=True,
            )

        try:
            outcomes = [await batch(0), await batch(3, on_loop=False)]
            with engine.begin() as conn:
                conn.exec_driver_sql("UPDATE audit_head SET last_id = 4 WHERE id = 1")
            outcomes.append(await batch(6))
            with engine.begin() as conn:
                assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 6
                conn.exec_driver_sql("UPDATE audit_head SET last_id = 6 WHERE id = 1")
            outcomes.append(await batch(9))
            return outcomes
        finally:
            await reads.close()

    first, threaded, refused, after = asyncio.run(main())
    batcher.close()
    assert first == threaded == after == [None, None, None]
    assert all(isinstance(o, Exception) for o in refused), refused
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 9
        assert audit.verify(conn).ok
    engine.dispose()
