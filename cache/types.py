"""Column types shared by every table: aware-UTC datetimes on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Connection, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive datetimes on the way in."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Portico stores aware UTC datetimes only")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sqlite_value(v: object) -> object:
    """Dates as the text SQLAlchemy's SQLite dialect stores (sqlite3's own adapters are deprecated)."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not dt.UTC:
            v = v.astimezone(dt.UTC)
        # "YYYY-MM-DD HH:MM:SS.ffffff" without the "+00:00" (cheaper than replace(tzinfo=None))
        return v.isoformat(" ", "microseconds")[:26]
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def pg_value(v: object) -> object:
    """Aware datetimes as naive UTC for ``timestamp without time zone`` columns."""
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).replace(tzinfo=None)
    return v


def binder(dialect_name: str) -> Callable[[object], object]:
    return sqlite_value if dialect_name == "sqlite" else pg_value


def bind_all(dialect_name: str, params: dict[str, Any]) -> dict[str, Any]:
    conv = binder(dialect_name)
    # Only dates and datetimes need converting: most values pass straight through.
    return {k: conv(v) if isinstance(v, dt.date) else v for k, v in params.items()}


def driver_sql(sql: str, dialect: str) -> str:
    """``:name`` placeholders in the driver's own style: sqlite3 takes them as they are,
    psycopg wants ``%(name)s``. Values are always bound, never formatted into the SQL."""
    return sql if dialect == "sqlite" else _pyformat(sql)


_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection


@functools.lru_cache(maxsize=512)
def _pyformat(sql: str) -> str:
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql.replace("%", "%%"))


def fetch(conn: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows of a read run on the driver's own cursor: the API's hot path, without
    SQLAlchemy's statement and result handling (together, 150 µs of a dashboard
    request's CPU in process; docs/PERFORMANCE-api.md).

    Values come back as the driver gives them (on SQLite, datetimes are text): use
    :func:`typed` for columns that need SQLAlchemy's conversions. The read joins the
    connection's transaction, if any; outside one it is a statement of its own (on
    PostgreSQL no BEGIN before it and no ROLLBACK after: two round trips fewer).
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    return fetch_on(driver, conn.dialect.name, sql, params, conn.in_transaction())


def fetch_on(
    driver: Any, dialect_name: str, sql: str, params: dict[str, Any], in_transaction: bool = True
) -> list[tuple[Any, ...]]:
    """:func:`fetch` on a driver connection already looked up (a request runs several reads);
    ``in_transaction``: whether the SQLAlchemy connection has begun one (see :func:`fetch`)."""
    bound = bind_all(dialect_name, params)
    if dialect_name == "sqlite":
        # sqlite3 begins no transaction for a SELECT: the read joins one only if there is one.
        return driver.execute(sql, bound).fetchall()  # type: ignore[no-any-return]
    if in_transaction or driver.info.transaction_status != _PG_IDLE:
        return driver.execute(_pyformat(sql), bound).fetchall()  # type: ignore[no-any-return]
    # psycopg would send BEGIN first (a round trip), and the connection would need a
    # ROLLBACK (another) before its next user: a read alone needs neither. Switching
    # autocommit on an idle connection costs no round trip.
    driver.autocommit = True
    try:
        return driver.execute(_pyformat(sql), bound).fetchall()  # type: ignore[no-any-return]
    finally:
        driver.autocommit = False


def fetch_in(
    conn: Connection, sql: str, params: dict[str, Any], values: Sequence[Any], n: int = 500
) -> Iterator[tuple[Any, ...]]:
    """The rows of :func:`fetch` for ``sql`` whose ``{values}`` is a list of ``values``, read
    ``n`` at a time (``x IN ({values})``). SQLAlchemy's ``in_()`` processes each value of
    an expanding list at every execution: about 10 µs a value, which for the thousands of
    refs alert detection looks up cost more than the reads themselves."""
    for i in range(0, len(values), n):
        chunk = values[i : i + n]
        names = [f"v{j}" for j in range(len(chunk))]
        yield from fetch(
            conn,
            sql.format(values=", ".join(f":{name}" for name in names)),
            {**params, **dict(zip(names, chunk, strict=True))},
        )


@functools.lru_cache(maxsize=64)
def _processors(
    dialect: Dialect, columns: tuple[Column[Any], ...]
) -> tuple[Callable[[Any], Any] | None, ...]:
    return tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)


def typed(dialect: Dialect, columns: Sequence[Column[Any]], values: Sequence[Any]) -> list[Any]:
    """``values`` read by :func:`fetch` for ``columns``, converted as SQLAlchemy would."""
    return [
        v if proc is None or v is None else proc(v)
        for proc, v in zip(_processors(dialect, tuple(columns)), values, strict=True)
    ]
