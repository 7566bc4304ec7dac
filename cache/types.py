"""Column types shared by every table: aware-UTC datetimes on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from cache.memo import remember


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


_ISO_DAYS: dict[dt.date, str] = {}


def iso_day(day: dt.date) -> str:
    """``day.isoformat()``, remembered: a request binds and compares the same few days
    (today, a month ago) a few dozen times, and each ``isoformat`` formats anew."""
    found = _ISO_DAYS.get(day)
    if found is None:
        found = remember(_ISO_DAYS, day, day.isoformat(), 4096)
    return found


def sqlite_value(v: object) -> object:
    """Dates as the text SQLAlchemy's SQLite dialect stores (sqlite3's own adapters are deprecated)."""
    if isinstance(v, dt.datetime):
        if v.tzinfo is not dt.UTC:
            v = v.astimezone(dt.UTC)
        # "YYYY-MM-DD HH:MM:SS.ffffff", naive UTC: what isoformat(" ", "microseconds") gives
        # without its offset, at half its cost (a data request binds four of these).
        return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031 - cheaper than an f-string here
            v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond
        )  # fmt: skip
    if isinstance(v, dt.date):
        return iso_day(v)
    return v


def pg_value(v: object) -> object:
    """Aware datetimes as naive UTC for ``timestamp without time zone`` columns."""
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).replace(tzinfo=None)
    return v


def placeholder(dialect_name: str) -> str:
    """The driver's positional parameter mark for raw SQL: sqlite3's ``?``, psycopg's ``%s``."""
    return "?" if dialect_name == "sqlite" else "%s"


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


PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection


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
    return _fetch_driver(driver, dialect_name, driver_sql(sql, dialect_name), bound, in_transaction)


# One cursor per psycopg connection, kept on it and reused by every read on it (a
# connection serves one thread at a time, and each read fetches all its rows before the
# next). A new psycopg cursor per statement builds its adapters and finds each column's
# loader again: about 15 µs of CPU a statement, measured alone, a quarter of a short
# read's (docs/PERFORMANCE-api-notes.md). It goes with its connection.
_CURSOR = "_portico_cursor"


def _cursor(driver: Any) -> Any:
    cur = getattr(driver, _CURSOR, None)
    if cur is None or cur.closed:
        cur = driver.cursor()
        setattr(driver, _CURSOR, cur)
    return cur


def _fetch_driver(
    driver: Any, dialect_name: str, sql: str, bound: Any, in_transaction: bool
) -> list[tuple[Any, ...]]:
    """Run ``sql``, already in the driver's placeholder style, with ``bound`` values."""
    if dialect_name == "sqlite":
        # sqlite3 begins no transaction for a SELECT: the read joins one only if there is one.
        # (Its cursors are cheap C objects, and its connections cannot be weakly referenced.)
        return driver.execute(sql, bound).fetchall()  # type: ignore[no-any-return]
    cur = _cursor(driver)
    # Binary results: a bytea payload comes as its bytes, not as hex text the server
    # writes and psycopg parses; every other column type Portico reads gives the same
    # Python value either way (callgrind: about 2% of a dashboard request's instructions).
    if in_transaction or driver.info.transaction_status != PG_IDLE:
        return cur.execute(sql, bound, binary=True).fetchall()  # type: ignore[no-any-return]
    # psycopg would send BEGIN first (a round trip), and the connection would need a
    # ROLLBACK (another) before its next user: a read alone needs neither. Switching
    # autocommit on an idle connection costs no round trip.
    driver.autocommit = True
    try:
        return cur.execute(sql, bound, binary=True).fetchall()  # type: ignore[no-any-return]
    finally:
        driver.autocommit = False


def fetch_in(
    conn: Connection, sql: str, params: dict[str, Any], values: Sequence[Any], n: int = 500
) -> Iterator[tuple[Any, ...]]:
    """The rows of :func:`fetch` for ``sql`` whose ``:values`` is a list of ``values``
    (``x IN :values``), read ``n`` values at a time: each chunk a :func:`fetch_bound`.
    ``params`` are bound as by :func:`fetch`; ``values`` (refs, ids) as they are, unconverted.

    SQLAlchemy's ``in_()`` processes each value of an expanding list at every execution
    (about 10 µs a value), and sqlite3 binds named parameters by looking each name up in
    the statement's list of names (quadratic in a list of 500): so the statement is
    bound by position, its ``:name`` placeholders and the list alike."""
    driver = conn.connection.driver_connection
    dialect = conn.dialect.name
    for i in range(0, len(values), n):
        chunk = values[i : i + n]
        yield from fetch_bound(driver, dialect, sql, params, {"values": chunk}, conn.in_transaction())


_NAMED_PARAM = re.compile(r"(?<![:\w]):(\w+)")


def renamed_params(sql: str, rename: Callable[[str], str]) -> str:
    """``sql`` with each ``:name`` placeholder replaced by ``rename(name)`` (another
    placeholder, or a column's expression), as :func:`expanded` finds them."""
    return _NAMED_PARAM.sub(lambda m: rename(m.group(1)), sql)


@functools.lru_cache(maxsize=512)
def expanded(sql: str, lists: tuple[tuple[str, int], ...], dialect: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with each ``:name`` made positional in the driver's style, each ``:name`` of
    ``lists`` (name, length) as a parenthesised list of that many (``(NULL)`` for none:
    ``IN ()`` is not SQL everywhere); and the names in the order to bind them. A list
    the statement does not name is refused: its values would silently filter nothing.

    Bound by position (:func:`fetch_bound`), a statement skips what named binding costs
    per value: bind_all's pass, and sqlite3 looking each name up (twenty refs a list).
    ``dialect`` "asyncpg": numbered marks (``$1``, ``$2``, ...), as asyncpg takes them."""
    sizes = dict(lists)
    order: list[str] = []
    if dialect == "asyncpg":
        numbers = itertools.count(1)

        def mark() -> str:
            return f"${next(numbers)}"
    else:
        fixed = placeholder(dialect)

        def mark() -> str:
            return fixed

    def place(m: re.Match[str]) -> str:
        name = m.group(1)
        order.append(name)
        n = sizes.get(name)
        return mark() if n is None else "(" + (", ".join(mark() for _ in range(n)) or "NULL") + ")"

    # psycopg's marks are %-formats: a literal % is written %%.
    text = _NAMED_PARAM.sub(place, sql if dialect in ("sqlite", "asyncpg") else sql.replace("%", "%%"))
    missing = sizes.keys() - set(order)
    if missing:
        raise ValueError(f"no :{', :'.join(sorted(missing))} in the statement for its list")
    return text, tuple(order)


def fetch_bound(
    driver: Any,
    dialect_name: str,
    sql: str,
    params: dict[str, Any],
    lists: Mapping[str, Sequence[Any]],
    in_transaction: bool = True,
) -> list[tuple[Any, ...]]:
    """:func:`fetch_on` for ``sql`` whose ``:name`` of each of ``lists`` stands for a list
    (``x IN :name``): ``params`` are bound as by :func:`fetch`; the lists' values (refs,
    audiences) as they are, unconverted."""
    text, order = expanded(sql, tuple((k, len(v)) for k, v in lists.items()), dialect_name)
    conv = binder(dialect_name)
    bound: list[Any] = []
    for name in order:
        values = lists.get(name)
        if values is not None:
            bound += values
        else:
            v = params[name]
            bound.append(conv(v) if isinstance(v, dt.date) else v)
    return _fetch_driver(driver, dialect_name, text, bound, in_transaction)


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
