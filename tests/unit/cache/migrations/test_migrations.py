"""Schema migrations: a pre-migration database upgrades in place, processes refuse any other
revision, concurrent upgrades take turns, and a failed upgrade changes nothing."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, MetaData, inspect, text
from sqlmodel import SQLModel

import cache.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from cache.db import make_engine
from cache.keys.keystore import Keyring, keystore_metadata
from cache.locks import migration_lock
from cache.migrations import runner as migrations
from cache.snapshots.encode import aad
from cache.store import Cache, load_keks, open_cache
from config.errors import SchemaVersionError
from gateway.bootstrap import build_application
from gateway.cli import main
from gateway.privacy import audit
from gateway.privacy.audit_anchor import ANCHORS, anchor_metadata
from gateway.sync import engine as sync_engine
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.fake_source import install, write_config

FIXTURES = Path(__file__).parent / "pre_migrations"
VERSION_TABLES = {"alembic_version", "alembic_version_keystore"}
# The revisions this code ships (what an upgrade ends at), and the one a later version adds.
CACHE_HEAD, KS_HEAD = migrations.head(migrations.CACHE), migrations.head(migrations.KEYSTORE)
NEXT_ID = f"c{int(CACHE_HEAD[1:]) + 1:04d}"


def run_ddl(engine: Engine, file: Path) -> None:
    sql = "\n".join(line for line in file.read_text().splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in sql.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)


def urls(tmp_path: Path, db_url: str) -> tuple[str, str]:
    """(cache, keystore): a keystore file beside SQLite; the cache's own database on PostgreSQL
    (each a default the config can produce)."""
    return db_url, db_url if db_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'keys.db'}"


def columns_of(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        found = inspect(conn)
        return {t: [c["name"] for c in found.get_columns(t)] for t in found.get_table_names()}


def rows_of(engine: Engine, only: dict[str, list[str]] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table; of ``only``'s columns where it names the table (columns a
    later revision added are left out, so old rows compare with themselves)."""
    columns = columns_of(engine)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in sorted(set(columns) - VERSION_TABLES):
            names = ", ".join(f'"{c}"' for c in (only or {}).get(table, columns[table]))
            rows = conn.execute(text(f'SELECT {names} FROM "{table}"'))
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def decrypted(engine: Engine, keyring: Keyring) -> dict[int, bytes]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, source, kind, ref, key_id, payload FROM record")).all()
    return {
        r.id: keyring.sealer(r.key_id).open(bytes(r.payload), aad(r.source, r.kind, r.ref, r.key_id))
        for r in rows
    }


def test_a_database_made_before_migrations_upgrades_in_place_and_reads_the_same_records(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    dialect = "sqlite" if cache_url.startswith("sqlite") else "postgresql"
    config, secrets = make_config(
        tmp_path,
        cache_url,
        migrate=False,
        cache={"url": cache_url, "keystore_url": ks_url, "kek": {"file": str(tmp_path / "kek.key")}},
        mail={"backend": "outbox", "outbox_dir": str(tmp_path / "outbox")},
    )
    # The databases as Portico 0.1 made them (its frozen DDL), then filled by its write paths:
    # a sync with its after-publish hooks (accounts provisioned), audit events and an anchor.
    engine, ks_engine = make_engine(cache_url), make_engine(ks_url)
    run_ddl(engine, FIXTURES / f"cache_{dialect}.sql")
    run_ddl(ks_engine, FIXTURES / f"keystore_{dialect}.sql")
    old = Cache(engine, Keyring(ks_engine, load_keks(config, secrets)), config)
    district = SyntheticDistrict(DistrictSpec(seed=3, students=12, schools=2))
    app = build_application(config, base_dir=tmp_path, secrets=secrets, cache=old)
    monkeypatch.setattr(sync_engine, "record_stages", lambda *_: None)  # 0.1 kept no stage timings
    streams = {kind: list(district.iter(kind)) for kind in district.kinds()}
    assert (
        app.sync("sis", connector=ListConnector("sis", streams, page_size=100), full=True).status
        == "published"
    )
    with engine.begin() as conn:
        audit.append(conn, [audit.Entry("operator", "it", "export", "allowed") for _ in range(3)])
    with engine.connect() as conn:  # the anchor 0.1's `portico audit verify` left
        head_hash = conn.execute(text("SELECT hash FROM audit_event WHERE id = 3")).scalar()
    with ks_engine.begin() as ks:
        ks.execute(ANCHORS.insert().values(event_id=3, hash=head_hash, anchored_at=dt.datetime(2026, 11, 1)))
    before = rows_of(engine), rows_of(ks_engine)
    old_columns = columns_of(engine), columns_of(ks_engine)
    clear_before = decrypted(engine, old.keyring)
    assert len(before[0]["record"]) > 100 and before[0]["account"] and before[1]["audit_anchor"]
    with pytest.raises(SchemaVersionError, match="made before schema versions existed"):
        open_cache(config, secrets)

    done = migrations.upgrade(cache_url, ks_url)

    assert [(d.line.name, d.before, d.after) for d in done] == [
        ("cache", None, CACHE_HEAD),
        ("keystore", None, KS_HEAD),
    ]
    upgraded = open_cache(config, secrets)
    try:
        after = rows_of(upgraded.engine, old_columns[0]), rows_of(upgraded.keyring.engine, old_columns[1])
        assert (
            tuple({t: r for t, r in a.items() if t in b} for a, b in zip(after, before, strict=True))
            == before
        )
        # Tables later revisions added start empty.
        assert not any(r for a, b in zip(after, before, strict=True) for t, r in a.items() if t not in b)
        assert decrypted(upgraded.engine, upgraded.keyring) == clear_before
    finally:
        upgraded.dispose()
        engine.dispose()
        ks_engine.dispose()


def _drift(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    return [d for d in diffs if not (d[0] == "remove_table" and d[1].name in VERSION_TABLES)]


def test_the_migrations_build_exactly_the_schema_the_code_declares(tmp_path: Path, db_url: str) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    migrations.upgrade(cache_url, ks_url)
    keystore_tables = MetaData()
    for table in (*keystore_metadata.sorted_tables, *anchor_metadata.sorted_tables):
        table.to_metadata(keystore_tables)
    engine, ks_engine = make_engine(cache_url), make_engine(ks_url)
    try:
        cache_tables = MetaData()
        for table in SQLModel.metadata.sorted_tables:
            table.to_metadata(cache_tables)
        if ks_url == cache_url:  # one database holds both: each comparison ignores the other's tables
            for table in keystore_tables.sorted_tables:
                table.to_metadata(cache_tables)
            keystore_tables = cache_tables
        assert _drift(engine, cache_tables) == []
        assert _drift(ks_engine, keystore_tables) == []
    finally:
        engine.dispose()
        ks_engine.dispose()


def test_opening_an_empty_database_refuses_naming_the_command_and_creates_nothing(tmp_path: Path) -> None:
    install()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", migrate=False)
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 2
    assert "the cache database has no Portico schema yet: run `portico db upgrade`" in result.output
    assert "the keystore database has no Portico schema yet" in result.output
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_db_upgrade_current_and_history_from_the_command_line(tmp_path: Path) -> None:
    install()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", migrate=False)

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    code, out = run("db", "current")
    assert (
        code == 1 and f"cache: (none) (head {CACHE_HEAD}) empty" in out and "run `portico db upgrade`" in out
    )
    assert run("db", "upgrade") == (
        0,
        f"cache: upgraded (no schema) -> {CACHE_HEAD}\nkeystore: upgraded (no schema) -> {KS_HEAD}\n",
    )
    assert run("db", "upgrade") == (0, f"cache: already at {CACHE_HEAD}\nkeystore: already at {KS_HEAD}\n")
    assert run("db", "current") == (
        0,
        f"cache: {CACHE_HEAD} (head {CACHE_HEAD}) current\nkeystore: {KS_HEAD} (head {KS_HEAD}) current\n",
    )
    code, out = run("db", "history")
    assert (
        code == 0
        and "c0001    Baseline: the cache's schema" in out
        and "k0001    Baseline: the keystore's" in out
    )
    code, out = run("status")
    assert code == 0, out


def test_replicas_upgrading_at_once_take_turns_and_all_succeed(tmp_path: Path, db_url: str) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    results: list[list[migrations.Upgraded]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def replica() -> None:
        start.wait()
        try:
            results.append(migrations.upgrade(cache_url, ks_url))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    # Exactly one replica created the schema; the others found it done when the lock let them in.
    assert sorted(r[0].before or "-" for r in results) == ["-", CACHE_HEAD, CACHE_HEAD, CACHE_HEAD]
    engine = make_engine(cache_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [CACHE_HEAD]
    engine.dispose()


def test_an_upgrade_waits_for_the_lock_and_gives_up_with_a_reason(tmp_path: Path, db_url: str) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    holder = make_engine(cache_url)
    with migration_lock(holder, 0) as got:
        assert got
        with pytest.raises(SchemaVersionError, match="held the schema upgrade lock"):
            migrations.upgrade(cache_url, ks_url, wait=0.5)
    holder.dispose()
    assert migrations.upgrade(cache_url, ks_url)[0].after == CACHE_HEAD


NEXT = '''"""A later version's change (test revision).

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("example_next", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("source_state", sa.Column("note", sa.String(20)))
    {fail}


def downgrade() -> None:
    op.drop_column("source_state", "note")
    op.drop_table("example_next")
'''


def next_version(tmp_path: Path, fail: bool = False) -> migrations.Line:
    """The cache line of a later Portico: the shipped revisions plus one more."""
    folder = tmp_path / "next_versions"
    folder.mkdir()
    for script in (migrations.HERE / "versions").glob("c*.py"):
        shutil.copy(script, folder)
    body = 'raise RuntimeError("this step fails")' if fail else "pass"
    script = NEXT.replace("{fail}", body).replace("{rev}", NEXT_ID).replace("{down}", CACHE_HEAD)
    (folder / f"{NEXT_ID}_next.py").write_text(script)
    return migrations.Line("cache", str(folder), "alembic_version", "source_state")


def test_each_version_refuses_the_other_s_schema_and_the_older_is_told_to_upgrade(
    tmp_path: Path, db_url: str
) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    later = next_version(tmp_path)
    migrations.upgrade(cache_url, ks_url)
    engine = make_engine(cache_url)
    with engine.connect() as conn:
        behind = migrations.state_of(conn, later)
    assert behind.state == "behind"
    assert behind.problem() == (
        f"the cache database is at schema revision {CACHE_HEAD}, this Portico needs {NEXT_ID}: "
        "run `portico db upgrade` with this config"
    )
    done = migrations.upgrade(cache_url, ks_url, lines=(later, migrations.KEYSTORE))
    assert (done[0].before, done[0].after) == (CACHE_HEAD, NEXT_ID)
    with engine.connect() as conn:
        assert "note" in {c["name"] for c in inspect(conn).get_columns("source_state")}
        ahead = migrations.state_of(conn, migrations.CACHE)
    assert ahead.state == "ahead" and "a newer Portico upgraded it" in ahead.problem()
    with pytest.raises(SchemaVersionError, match="does not know"):
        migrations.upgrade(cache_url, ks_url)  # the older code will not touch it either
    engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(tmp_path: Path, db_url: str) -> None:
    cache_url, ks_url = urls(tmp_path, db_url)
    migrations.upgrade(cache_url, ks_url)
    broken = next_version(tmp_path, fail=True)
    with pytest.raises(RuntimeError, match="this step fails"):
        migrations.upgrade(cache_url, ks_url, lines=(broken, migrations.KEYSTORE))
    engine = make_engine(cache_url)
    with engine.connect() as conn:
        assert "example_next" not in inspect(conn).get_table_names()
        assert "note" not in {c["name"] for c in inspect(conn).get_columns("source_state")}
        assert migrations.state_of(conn, migrations.CACHE).state == "current"
    engine.dispose()
