"""Backups of the SQLite cache and keystore with SQLite's online backup API.

``sqlite3.Connection.backup`` copies a consistent snapshot page by page while syncs and
readers carry on (a write during the copy restarts the copy of the pages it changed; WAL
contents are included). The copy is written beside the destination, made readable by
its owner only, and renamed into place, so a half-written backup never has the final
name. A restore is a copy of the file back while no Portico process runs.

PostgreSQL is backed up with its own tool, ``pg_dump`` (``docs/deploy.md``): this module
refuses a PostgreSQL URL with that advice.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from cache.db import is_sqlite, sqlite_path
from config.errors import PorticoError

PAGES_PER_STEP = 1024  # 4 MiB at SQLite's default page size: progress a few times a second


class BackupError(PorticoError):
    """A backup could not be made; the message says why and what to do instead."""


@dataclass(frozen=True)
class BackupResult:
    source: Path
    out: Path
    pages: int
    bytes: int


def pg_dump_hint(url: str, what: str) -> str:
    """How to back up a PostgreSQL ``url`` (the password never shown)."""
    safe = make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)
    return (
        f"the {what} is on PostgreSQL: back it up with PostgreSQL's own tool, e.g. "
        f"pg_dump --format=custom --file=FILE '{safe}' (password from PGPASSWORD or ~/.pgpass); "
        "restore with pg_restore --clean --dbname=URL FILE (docs/deploy.md)"
    )


def backup_sqlite(
    url: str, out: Path, *, what: str, force: bool = False, progress: Callable[[int, int], None] | None = None
) -> BackupResult:
    """Copy the SQLite database at ``url`` to ``out`` with the online backup API."""
    if not is_sqlite(url):
        raise BackupError(pg_dump_hint(url, what))
    source = sqlite_path(url)
    if source is None:
        raise BackupError(f"the {what} is an in-memory database: there is nothing to back up")
    if not source.exists():
        raise BackupError(f"the {what} database {source} does not exist (run `portico db upgrade` first)")
    if out.exists() and out.resolve() == source.resolve():
        raise BackupError(f"{out} is the {what} database itself: name another file")
    if out.exists() and not force:
        raise BackupError(f"{out} exists; use --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    # Read-only: a backup never changes the database (and never creates a missing one).
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(partial)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=step)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            # A single file, like the source after a checkpoint: no -wal to carry around.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot back up the {what} database {source}: {exc}") from None
    finally:
        src.close()
    os.replace(partial, out)
    return BackupResult(source, out, pages, out.stat().st_size)
