"""A valid Portico config for a test (its databases at the current schema, as ``portico db
upgrade`` leaves them): in memory, or as the YAML file the ``portico`` CLI reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from cache.db import keystore_url, make_engine
from cache.keys.crypto import new_kek_line
from cache.migrations import runner as migrations
from config.secrets import SecretResolver
from config.settings import PorticoConfig


def key_file(tmp_path: Path) -> Path:
    """``tmp_path/kek.key``, made once, readable by its owner only."""
    path = tmp_path / "kek.key"
    if not path.exists():
        path.write_text(new_kek_line("kek-test") + "\n")
        path.chmod(0o600)  # as `portico keys generate` makes it: config validate refuses other modes
    return path


def raw_config(tmp_path: Path, db_url: str, **overrides: Any) -> dict[str, Any]:
    """The config as YAML would hold it: one district, the cache at ``db_url`` with its
    keystore and key file in ``tmp_path``, one connector ``sis``; top-level sections replaced
    by ``overrides``."""
    raw: dict[str, Any] = {
        "district": {"name": "Test District", "timezone": "America/New_York"},
        "cache": {
            "url": db_url,
            "kek": {"file": str(key_file(tmp_path))},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
    }
    raw.update(overrides)
    return raw


def make_config(
    tmp_path: Path, db_url: str, *, migrate: bool = True, **overrides: Any
) -> tuple[PorticoConfig, SecretResolver]:
    """A config on ``db_url`` (keystore beside it in ``tmp_path``) and its secret resolver.

    Unless ``migrate`` is False, both databases are brought to the current schema by the
    same upgrade ``portico db upgrade`` runs (about 25 ms on a fresh SQLite file, 100 ms
    in a fresh PostgreSQL schema; a no-op on one already current).
    """
    config = PorticoConfig.model_validate(raw_config(tmp_path, db_url, **overrides))
    if migrate:
        upgrade_schema(config)
    return config, SecretResolver(base_dir=tmp_path)


def upgrade_schema(config: PorticoConfig) -> None:
    """The cache and keystore of ``config`` at the current schema revision, as in production."""
    migrations.upgrade(config.cache.url, keystore_url(config))


def migrated_engine(url: str, keystore: str | None = None) -> Engine:
    """An engine on ``url`` after the production upgrade (the keystore's tables in the same
    database unless ``keystore`` names another)."""
    migrations.upgrade(url, keystore or url)
    return make_engine(url)


def forget_migrations(conn: Connection) -> None:
    """Make a migrated cache look as a version before migrations left it: no version table,
    and none of the cache tables that revisions after the baseline added (that version
    never made them). Keystore tables sharing the database are left alone."""
    import cache.tables  # noqa: F401  (registers every table on SQLModel.metadata)
    from cache.migrations.versions import c0001_baseline

    later = set(SQLModel.metadata.tables) - set(c0001_baseline.metadata.tables)
    found = inspect(conn)
    present = set(found.get_table_names())
    for name in sorted(later & present):
        conn.execute(text(f'DROP TABLE "{name}"'))
    # Indexes later revisions added to the baseline's tables (ix_record_change): that version
    # had none of them either.
    for name, table in sorted(c0001_baseline.metadata.tables.items()):
        if name in present:
            declared = {i.name for i in table.indexes}
            for index in found.get_indexes(name):
                if index["name"] and index["name"].startswith("ix_") and index["name"] not in declared:
                    conn.execute(text(f'DROP INDEX "{index["name"]}"'))
    # Columns later revisions added to the baseline's tables.
    for name, table in sorted(c0001_baseline.metadata.tables.items()):
        if name in present:
            for column in found.get_columns(name):
                if column["name"] not in table.c:
                    conn.execute(text(f'ALTER TABLE "{name}" DROP COLUMN "{column["name"]}"'))
    conn.execute(text("DROP TABLE alembic_version"))


def write_yaml(path: Path, config: PorticoConfig | dict[str, Any]) -> Path:
    """``config`` written as YAML to ``path`` (a model as it would be written by hand)."""
    raw = config.model_dump(mode="json", exclude_none=True) if isinstance(config, PorticoConfig) else config
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
