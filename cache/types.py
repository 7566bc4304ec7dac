"""Column types shared by every table: aware-UTC datetimes on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import DateTime
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
        return v.replace(tzinfo=None).isoformat(" ", "microseconds")
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
    return {k: conv(v) for k, v in params.items()}
