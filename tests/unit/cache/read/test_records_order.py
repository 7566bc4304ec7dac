"""A short range of dated records is sorted in one pass on SQLite: the same rows, in the
same order, as the index's day order gives, page by page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from cache.read import reader as reader_module
from cache.read.reader import ONE_PASS_DAYS, Reader, sorts_in_one_pass
from cache.read.visibility import Window
from tests.support.clock import TODAY
from tests.support.connectors import streams
from tests.support.district import district
from tests.unit.cache.read.test_snapshot_reads import NOON, synced


def test_only_a_short_range_on_sqlite_is_sorted_in_one_pass() -> None:
    month = TODAY - dt.timedelta(days=ONE_PASS_DAYS - 1)  # 31 days, both ends counted
    assert sorts_in_one_pass("sqlite", month, TODAY)
    assert not sorts_in_one_pass("sqlite", month - dt.timedelta(days=1), TODAY)
    assert not sorts_in_one_pass("sqlite", None, TODAY) and not sorts_in_one_pass("sqlite", month, None)
    assert not sorts_in_one_pass("postgresql", month, TODAY)


def test_one_pass_gives_the_index_orders_rows_and_pages(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = streams(district(16, schools=1, seed=5))
    with synced(tmp_path, db_url, data) as (cache, out):
        assert out.run_id is not None
        with cache.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("ANALYZE")
            reader = Reader(conn, cache.keyring)
            ran: list[tuple[str, list[Any]]] = []
            query_in = reader.query_in

            def recorded(sql: str, params: dict[str, Any], lists: dict[str, list[Any]]) -> list[Any]:
                ran.append((sql, dict(params)))  # type: ignore[arg-type]
                return query_in(sql, params, lists)

            reader.query_in = recorded  # type: ignore[method-assign]
            window = Window(dt.timedelta(0), NOON, None)
            compared = 0

            def read_all(days: int) -> list[list[Any]]:
                start = TODAY - dt.timedelta(days=days - 1)
                pages = []
                for st in data["student"]:
                    s = reader.for_operator(
                        "sis", out.run_id, cache.keyring.index.ref("sis", "student", st.source_id)
                    )
                    assert s is not None
                    for kind in ("attendance", "behaviour"):
                        pages.append(reader.records(s, kind, day_from=start, day_to=TODAY, window=window))
                        after = None  # and page by page, five rows a page
                        while True:
                            page = reader.records(
                                s, kind, day_from=start, day_to=TODAY, window=window, after=after, limit=5
                            )
                            pages.append(page)
                            if len(page) < 5:
                                break
                            after = (
                                page[-1][1]["date" if kind == "attendance" else "occurred_at"][:10],
                                page[-1][0],
                            )
                return pages

            for days in (7, 30, ONE_PASS_DAYS, ONE_PASS_DAYS + 1, 90):
                ran.clear()
                sorted_once = read_all(days)
                statements = list(ran)
                with monkeypatch.context() as m:
                    m.setattr(reader_module, "sorts_in_one_pass", lambda *_: False)
                    by_index = read_all(days)
                assert sorted_once == by_index
                compared += sum(len(p) for p in by_index)
                short = conn.dialect.name == "sqlite" and days <= ONE_PASS_DAYS
                assert all(("+r.day DESC" in sql) == short for sql, _ in statements)
                if conn.dialect.name == "sqlite":
                    sql, params = statements[0]
                    plan = [r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
                    assert any("ix_record_student" in step for step in plan), plan
                    # One sort of the range, or the index's order with each day's rows sorted.
                    assert ("USE TEMP B-TREE FOR ORDER BY" in plan) == short, plan
        assert compared > 1000
