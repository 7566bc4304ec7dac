"""cache.types.fetch_in: a driver-level read of an IN list, bound by position, in chunks."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from cache.db import make_engine
from cache.types import fetch_in


def test_the_list_is_read_in_chunks_with_the_named_parameters_around_it_bound_by_position(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS fetch_in_t"))
            conn.execute(
                text("CREATE TABLE fetch_in_t (ref VARCHAR(8), kind VARCHAR(8), day DATE, note VARCHAR(8))")
            )
            rows = [
                {
                    "ref": f"r{i}",
                    "kind": "a" if i % 2 else "b",
                    "day": dt.date(2026, 9, 1 + i % 3),
                    "note": "50%",
                }
                for i in range(20)
            ]
            conn.execute(
                text("INSERT INTO fetch_in_t (ref, kind, day, note) VALUES (:ref, :kind, :day, :note)"), rows
            )
            sql = (
                "SELECT ref FROM fetch_in_t WHERE kind = :k AND ref IN :values "
                "AND day >= :d AND note LIKE '%\\%' ESCAPE '\\' AND day >= :d ORDER BY ref"
            )
            wanted = [f"r{i}" for i in range(0, 20, 1)] + ["nobody"]
            got = [ref for (ref,) in fetch_in(conn, sql, {"k": "a", "d": dt.date(2026, 9, 2)}, wanted, n=3)]
            expected = sorted(r["ref"] for r in rows if r["kind"] == "a" and r["day"] >= dt.date(2026, 9, 2))
            # Each chunk of 3 is its own statement: the rows come chunk by chunk, all of them.
            assert sorted(got) == expected
            assert len(got) == len(expected) > 3
            assert list(fetch_in(conn, sql, {"k": "a", "d": dt.date(2026, 9, 2)}, [])) == []
            conn.execute(text("DROP TABLE fetch_in_t"))
    finally:
        engine.dispose()


def test_a_statement_without_one_list_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn, pytest.raises(ValueError, match="values"):
            list(fetch_in(conn, "SELECT 1 WHERE 1 = :one", {"one": 1}, ["x"]))
    finally:
        engine.dispose()
