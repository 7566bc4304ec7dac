"""Engines for the cache and the keystore: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, inspect
from sqlmodel import SQLModel


def _normalise(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver; a bare postgresql:// would ask for psycopg2.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(rest) if rest and rest != ":memory:" else None


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer and see the last committed snapshot.
    cur.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable across process crashes (kill -9); only an OS crash
    # may lose the last transactions, never corrupt the file.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # The API writes sessions and audit rows while a sync writes; wait, don't fail.
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = _normalise(url)
    # Statement parameters never reach logs or error messages (sqlalchemy.engine at INFO
    # logs every statement): they are blind indexes and ciphertext today, and a log is no
    # place to find out the day one is not.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def create_schema(engine: Engine, metadata: MetaData | None = None) -> None:
    """Create missing tables (idempotent)."""
    import cache.tables  # noqa: F401  (registers every table on the metadata)

    md = metadata or SQLModel.metadata
    md.create_all(engine)
    _add_missing_columns(engine, md)
    # create_all skips the indexes of tables that already exist: add any a newer
    # version introduced (e.g. ix_record_retired), so upgrades get them too.
    for table in md.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)


def _add_missing_columns(engine: Engine, md: MetaData) -> None:
    """create_all skips the columns a newer version added to existing tables (e.g.
    ``record.row_key``): add them. Only nullable columns are ever added this way, so
    rows written before the upgrade stay valid (NULL) without rewriting them."""
    existing = inspect(engine)
    for table in md.sorted_tables:
        if not existing.has_table(table.name):
            continue
        have = {c["name"] for c in existing.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                raise RuntimeError(f"cannot add NOT NULL column {table.name}.{column.name} to existing rows")
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')


def default_keystore_url(cache_url: str) -> str:
    """Keys live beside, not inside, the cache: ``cache.db`` → ``cache-keys.db``."""
    path = sqlite_path(cache_url)
    if path is not None:
        return f"sqlite:///{path.with_name(path.stem + '-keys' + path.suffix)}"
    return cache_url
