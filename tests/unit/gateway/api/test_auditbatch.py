"""Audit group commit: concurrent requests share one transaction, and no one proceeds on a failure."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from cache.types import PG_IDLE
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

    def counting(conn, entries, head=None):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        return real(conn, entries, head)

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

    def broken(conn, entries, head=None):  # type: ignore[no-untyped-def]
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

    def counting(conn, entries, head=None):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        return real(conn, entries, head)

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

    def broken(conn, entries, head=None):  # type: ignore[no-untyped-def]
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
    batch's first insert reuses a stored event's id (on PostgreSQL, inside the one statement
    that also moves the head). It must fail every request, commit no event of the batch,
    and leave the shelf's connection fit for the next flush."""
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


def _waits(trace: Path) -> int:
    """Waits for the server in a libpq protocol trace: where it turns from what was sent (F)
    to what came back (B)."""
    sides = [line[0] for line in trace.read_text().splitlines() if line[:2] in ("F\t", "B\t")]
    return sum(a == "F" and b == "B" for a, b in zip(sides, sides[1:], strict=False))


@pytest.mark.postgres
def test_on_postgresql_a_flush_is_one_statement_and_one_round_trip_where_the_head_is_known(
    pg_url: str, tmp_path: Path
) -> None:
    """The events chained to the head the last commit left, appended by one statement in a
    transaction of its own: one wait for the server in libpq's protocol trace (the
    transaction with the head locked took two in psycopg's pipeline, five on asyncpg).
    Where the head is not known, the events are appended under the head's lock
    (``audit.append`` in a transaction), one statement at a time: BEGIN, the head, the
    inserts, the head's update and COMMIT, five."""
    import psycopg

    engine = migrated_engine(pg_url)
    head = audit.record(engine, [entry(0)])  # the chain begun, the statements known
    waits = []
    for n, known in ((1, head), (5, None)):
        trace = tmp_path / f"trace-{n}.txt"
        with engine.connect() as conn, trace.open("w") as out:
            pgconn = conn.connection.driver_connection.pgconn  # type: ignore[union-attr]
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE)
            head = audit.commit(conn, [entry(n + k) for k in range(4)], known)
            pgconn.untrace()
            assert not conn.in_transaction() and not conn.connection.driver_connection.autocommit  # type: ignore[union-attr]
        waits.append(_waits(trace))
    assert waits == [1, 5]
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 9 and (result.last_id, result.last_hash) == head
    engine.dispose()


@pytest.mark.postgres
def test_a_head_another_process_moved_is_read_again_and_the_events_chained_to_it(pg_url: str) -> None:
    """Two processes that each last saw the chain end at the same event: the first to
    append moves the head; the second's statement then finds the head moved, inserts
    nothing, and chains its events again to where the head is now. Both the writer
    thread's statement (psycopg) and the serving loop's (asyncpg)."""
    from cache.loopreads import LoopReads

    engine = migrated_engine(pg_url)
    seen = audit.record(engine, [entry(0)])
    assert seen is not None
    with engine.connect() as conn:
        first = audit.commit(conn, [entry(1), entry(2)], seen)  # another process, say
        again = audit.commit(conn, [entry(3)], seen)  # this one, with what it last saw
    assert first is not None and again is not None and again[0] == first[0] + 1

    async def on_loop() -> audit.Head | None:
        reads = LoopReads(pg_url)
        await reads.start()
        try:
            conn = await reads.take()
            try:
                return await audit.commit_on_loop(conn, [entry(4), entry(5)], seen)
            finally:
                reads.give(conn)
        finally:
            await reads.close()

    last = asyncio.run(on_loop())
    with engine.connect() as conn:
        result = audit.verify(conn)
        actors = conn.exec_driver_sql("SELECT actor_id FROM audit_event ORDER BY id").scalars().all()
    assert result.ok and (result.last_id, result.last_hash) == last
    assert actors == [f"acc_{n}" for n in range(6)]  # each event once, in commit order
    engine.dispose()


@pytest.mark.postgres
def test_a_process_that_loses_every_race_for_the_head_waits_for_its_lock_and_never_fails(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process appends just before each of this one's appends from what it last saw
    (two busy replicas flushing back to back): this one's statement then finds the head
    moved every time. It takes the head's lock and appends under it, waiting instead of
    losing again, so no flush fails however the two interleave."""
    engine = migrated_engine(pg_url)
    other = engine.connect()
    heads = {"other": audit.record(engine, [entry(0)])}
    real = audit._append_values
    raced: list[int] = []  # the flushes raced

    racing: list[bool] = []
    mine_conn: list[Any] = []

    def raced_first(entries: list[audit.Entry], head: object, dialect: str) -> object:
        # Every try of this process's not under the head's lock: the other process wins it.
        idle = mine_conn[0].connection.driver_connection.info.transaction_status == PG_IDLE
        if idle and not racing:
            racing.append(True)
            raced.append(len(entries))
            heads["other"] = audit.commit(other, [entry(100 + len(raced))], heads["other"])
            racing.clear()
        return real(entries, head, dialect)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "_append_values", raced_first)
    mine = heads["other"]
    with engine.connect() as conn:
        mine_conn.append(conn)
        for n in range(1, 6):
            mine = audit.commit(conn, [entry(n), entry(n + 10)], mine)
    other.close()
    assert len(raced) == 5
    with engine.connect() as conn:
        result = audit.verify(conn)
        count = conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar()
    assert result.ok and count == 1 + 5 * 2 + 5 and (result.last_id, result.last_hash) == mine
    engine.dispose()


@pytest.mark.postgres
def test_a_refused_flush_commits_nothing_and_leaves_its_connection_in_service(pg_url: str) -> None:
    """An append the database refuses (the next id already taken) is raised to the requests
    it carried and commits none of its events; its connection is idle, back in psycopg's
    own transactions, and serves the next flush."""
    engine = migrated_engine(pg_url)
    audit.record(engine, [entry(0), entry(1)])
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_head SET last_id = 0 WHERE id = 1")  # the next id is taken
    with engine.connect() as conn:
        with pytest.raises(Exception, match="audit_event"):
            audit.commit(conn, [entry(2), entry(3)])
        assert not conn.invalidated and not conn.in_transaction()
        assert not conn.connection.driver_connection.autocommit  # type: ignore[union-attr]
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_event").scalar() == 2
        conn.rollback()
        with conn.begin():
            conn.exec_driver_sql("UPDATE audit_head SET last_id = 2 WHERE id = 1")
        audit.commit(conn, [entry(2)])
    with engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok and result.checked == 3
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
