"""Engines for the cache and the keystore: SQLite (WAL) by default, PostgreSQL by URL.

Opening an engine never changes a table: the schema is made and changed only by
migrations (:mod:`cache.migrations`, ``portico db upgrade``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from config.settings import PorticoConfig


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


def private_database_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), before SQLite does.

    SQLite gives its ``-wal`` and ``-shm`` files the main file's permissions, so they
    follow. A file an older version created with the process's umask is tightened too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if f.stat().st_mode & 0o077:
                f.chmod(0o600)
        except FileNotFoundError:
            continue


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = _normalise(url)
    # Statement parameters never reach logs or error messages (sqlalchemy.engine at INFO
    # logs every statement): they are blind indexes and ciphertext today, and a log is no
    # place to find out the day one is not.
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            private_database_file(path)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def keystore_url(config: PorticoConfig) -> str:
    """Where the config keeps its data keys (``cache.keystore_url``, or the default beside the cache)."""
    return config.cache.keystore_url or default_keystore_url(config.cache.url)


def default_keystore_url(cache_url: str) -> str:
    """Keys live beside, not inside, the cache: ``cache.db`` → ``cache-keys.db``."""
    path = sqlite_path(cache_url)
    if path is not None:
        return f"sqlite:///{path.with_name(path.stem + '-keys' + path.suffix)}"
    return cache_url
