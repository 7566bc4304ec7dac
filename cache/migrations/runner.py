"""Upgrade, inspect and check the schema: what ``portico db`` and every process's start use.

Each line (cache, keystore) is in one of these states, and only ``current`` may run:

    empty     no Portico table and no version: ``portico db upgrade`` creates the schema
    legacy    Portico tables but no version (made before migrations): ``upgrade`` adopts them
    behind    an older revision of this line: ``upgrade`` brings it to head
    current   at this code's head
    ahead     a revision this code does not know: a newer Portico upgraded it
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Connection, Engine, event, inspect
from sqlalchemy.pool import NullPool

from cache.db import is_sqlite, make_engine
from cache.locks import migration_lock
from config.errors import SchemaVersionError

HERE = Path(__file__).resolve().parent
UPGRADE_HINT = "run `portico db upgrade` with this config"
LOCK_WAIT = 600.0  # seconds an upgrade waits for another process's upgrade to finish


@dataclass(frozen=True)
class Line:
    name: str
    folder: str
    version_table: str
    marker: str  # a table every pre-migration database of this line has


CACHE = Line("cache", "versions", "alembic_version", "source_state")
KEYSTORE = Line("keystore", "keystore", "alembic_version_keystore", "data_key")
LINES = (CACHE, KEYSTORE)


@dataclass(frozen=True)
class LineState:
    line: Line
    current: str | None
    head: str
    state: str  # empty | legacy | behind | current | ahead

    @property
    def ok(self) -> bool:
        return self.state == "current"

    def problem(self) -> str:
        """What is wrong and what to do, in plain words (only when not ``ok``)."""
        db = f"the {self.line.name} database"
        if self.state == "empty":
            return f"{db} has no Portico schema yet: {UPGRADE_HINT}"
        if self.state == "legacy":
            return f"{db} was made before schema versions existed: {UPGRADE_HINT} (it keeps every record)"
        if self.state == "behind":
            return (
                f"{db} is at schema revision {self.current}, this Portico needs {self.head}: {UPGRADE_HINT}"
            )
        return (
            f"{db} is at schema revision {self.current}, which this Portico (head {self.head}) does not "
            "know: a newer Portico upgraded it. Run that version, or restore the backup taken before the upgrade"
        )


def alembic_config(line: Line, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(HERE / line.folder))
    cfg.attributes["version_table"] = line.version_table
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def scripts(line: Line) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(line))


def head(line: Line) -> str:
    found = scripts(line).get_heads()
    if len(found) != 1:
        raise RuntimeError(f"the {line.name} migrations have {len(found)} heads {found}: merge them")
    return found[0]


def history(line: Line) -> list[Script]:
    """Every revision of ``line``, newest first."""
    return list(scripts(line).walk_revisions())


def state_of(conn: Connection, line: Line) -> LineState:
    context = MigrationContext.configure(conn, opts={"version_table": line.version_table})
    current = context.get_current_revision()
    top = head(line)
    if current is None:
        legacy = inspect(conn).has_table(line.marker)
        return LineState(line, None, top, "legacy" if legacy else "empty")
    if current == top:
        return LineState(line, current, top, "current")
    known = {s.revision for s in scripts(line).walk_revisions()}
    return LineState(line, current, top, "behind" if current in known else "ahead")


def states(cache: Engine, keystore: Engine) -> list[LineState]:
    out = []
    for line, engine in ((CACHE, cache), (KEYSTORE, keystore)):
        with engine.connect() as conn:
            out.append(state_of(conn, line))
    return out


def check(cache: Engine, keystore: Engine) -> None:
    """Refuse (SchemaVersionError) unless both databases are at this code's head."""
    problems = [s.problem() for s in states(cache, keystore) if not s.ok]
    if problems:
        raise SchemaVersionError(problems)


@dataclass(frozen=True)
class Upgraded:
    line: Line
    before: str | None
    after: str


def upgrade(
    cache_url: str, keystore_url: str, *, wait: float = LOCK_WAIT, lines: tuple[Line, Line] = LINES
) -> list[Upgraded]:
    """Bring both lines to head under the migration lock; each line in one transaction.

    Safe to run from several processes at once (replicas starting together): the others
    wait for the lock, then find nothing left to do. ``lines`` is for tests that bring
    revisions of their own.
    """
    lock_engine = make_engine(cache_url, poolclass=NullPool)
    try:
        with migration_lock(lock_engine, wait) as got:
            if not got:
                raise SchemaVersionError(
                    [f"another process has held the schema upgrade lock for {wait:.0f} s; try again later"]
                )
            done = []
            for line, url in zip(lines, (cache_url, keystore_url), strict=True):
                with _migration_connection(url) as conn:
                    before = state_of(conn, line)
                    if before.state == "ahead":
                        raise SchemaVersionError([before.problem()])
                    command.upgrade(alembic_config(line, conn), "head")
                done.append(Upgraded(line, before.current, before.head))
            return done
    finally:
        lock_engine.dispose()


@contextmanager
def _migration_connection(url: str) -> Iterator[Connection]:
    """One connection, one transaction around the whole upgrade, committed at the end.

    PostgreSQL's DDL is transactional as it is. SQLite's driver would commit before each
    DDL statement; here it is told to leave transactions to us and BEGIN IMMEDIATE takes
    the write lock up front, so a failed upgrade leaves the file as it was.
    """
    engine = make_engine(url, poolclass=NullPool)
    if is_sqlite(url):

        @event.listens_for(engine, "connect")
        def _manual(dbapi_conn: object, _record: object) -> None:
            dbapi_conn.isolation_level = None  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()
