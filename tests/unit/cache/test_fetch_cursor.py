"""cache.types.fetch: the hot reads on PostgreSQL share one driver cursor per connection, and
ask for binary results."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from cache.db import make_engine
from cache.types import fetch, fetch_in


def test_reads_on_one_connection_share_one_cursor_in_and_out_of_a_transaction(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Any] = []
    cursor = psycopg.Connection.cursor

    def counted(self: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> Any:
        cur = cursor(self, *args, **kwargs)
        made.append(cur)
        return cur

    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE fetch_cur_t (ref VARCHAR(8), n INTEGER, blob BYTEA)"))
            conn.execute(text("INSERT INTO fetch_cur_t VALUES ('a', 1, '\\x01'), ('b', 2, NULL)"))
        monkeypatch.setattr(psycopg.Connection, "cursor", counted)
        with engine.connect() as conn:
            made.clear()  # the pool's own (its pre-ping on checkout)
            # Outside a transaction (autocommit for the read), then in one, with rows of
            # different shapes: each read's own rows, as a new cursor would give them.
            assert fetch(conn, "SELECT ref, n FROM fetch_cur_t ORDER BY ref", {}) == [("a", 1), ("b", 2)]
            assert fetch(conn, "SELECT blob FROM fetch_cur_t WHERE ref = :r", {"r": "a"}) == [(b"\x01",)]
            listed = fetch_in(conn, "SELECT n FROM fetch_cur_t WHERE ref IN :values", {}, ["b"])
            assert list(listed) == [(2,)]
            with pytest.raises(psycopg.errors.UndefinedColumn):
                fetch(conn, "SELECT nothing FROM fetch_cur_t", {})
            assert fetch(conn, "SELECT count(*) FROM fetch_cur_t", {}) == [(2,)]
            conn.begin()
            assert fetch(conn, "SELECT n FROM fetch_cur_t WHERE ref = :r", {"r": "b"}) == [(2,)]
            conn.rollback()
            assert len(made) == 1
            # Results come in binary (bytea as bytes, not hex text for the server to write
            # and the driver to parse), with the same Python values as above.
            assert made[0].pgresult.fformat(0) == psycopg.pq.Format.BINARY
            # A cursor closed by someone else is replaced, not used.
            made[0].close()
            assert fetch(conn, "SELECT ref FROM fetch_cur_t WHERE n = :n", {"n": 1}) == [("a",)]
            assert len(made) == 2
            driver = conn.connection.driver_connection
            assert driver is not None and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    finally:
        monkeypatch.undo()
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS fetch_cur_t"))
        engine.dispose()
