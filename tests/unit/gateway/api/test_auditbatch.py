"""Audit group commit: concurrent requests share one transaction, and no one proceeds on a failure."""

from __future__ import annotations

import asyncio
import threading

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
    real = audit.append

    def counting(conn, entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        real(conn, entries)

    monkeypatch.setattr(audit, "append", counting)

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

    monkeypatch.setattr(audit, "append", broken)

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
    real = audit.append

    def counting(conn, entries):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        real(conn, entries)

    monkeypatch.setattr(audit, "append", counting)

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

    monkeypatch.setattr(audit, "append", broken)

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(batcher.submit([entry(n)]) for n in range(3)), return_exceptions=True)

    outcomes = asyncio.run(main())
    batcher.close()
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    engine.dispose()
