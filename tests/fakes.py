"""Small in-memory helpers for cache tests: a list-backed connector and a config builder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from cache.db import keystore_url, make_engine
from cache.keys.crypto import new_kek_line
from cache.migrations import runner as migrations
from config.errors import SourceUnavailableError
from config.secrets import SecretResolver
from config.settings import PorticoConfig
from connectors.base import CheckResult, Page, StreamInfo
from connectors.records import Record


class ListConnector:
    """Serves fixed lists of records per stream; can be told to fail mid-stream."""

    def __init__(self, name: str, streams: dict[str, list[Record]], page_size: int = 50) -> None:
        self.name = name
        self.data = streams
        self.page_size = page_size
        self.fail_in: str | None = None

    def streams(self) -> list[StreamInfo]:
        out = []
        for stream, recs in self.data.items():
            kinds = tuple(dict.fromkeys(r.kind for r in recs)) or (stream,)
            out.append(StreamInfo(stream, kinds))
        return out

    def check(self) -> CheckResult:
        return CheckResult()

    def read(self, stream: str, state: str | None, *, full: bool = False) -> Iterator[Page]:
        recs = self.data[stream]
        for i in range(0, len(recs), self.page_size):
            if self.fail_in == stream and i > 0:
                raise SourceUnavailableError(f"stream {stream}: connection reset")
            yield Page(records=recs[i : i + self.page_size], full=True, expected_total=len(recs))

    def close(self) -> None:
        pass


def make_config(
    tmp_path: Path, db_url: str, *, migrate: bool = True, **overrides: object
) -> tuple[PorticoConfig, SecretResolver]:
    """A config on ``db_url`` (keystore beside it in ``tmp_path``) and its secret resolver.

    Unless ``migrate`` is False, both databases are brought to the current schema by the
    same upgrade ``portico db upgrade`` runs (about 25 ms on a fresh SQLite file, 100 ms
    in a fresh PostgreSQL schema; a no-op on one already current).
    """
    key_file = tmp_path / "kek.key"
    if not key_file.exists():
        key_file.write_text(new_kek_line("kek-test") + "\n")
    raw: dict[str, object] = {
        "district": {"name": "Test District", "timezone": "America/New_York"},
        "cache": {
            "url": db_url,
            "kek": {"file": str(key_file)},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [{"name": "sis", "type": "powerschool", "options": {}}],
    }
    raw.update(overrides)
    config = PorticoConfig.model_validate(raw)
    if migrate:
        upgrade_schema(config)
    return config, SecretResolver(base_dir=tmp_path)


def migrated_engine(url: str, keystore_url: str | None = None) -> Engine:
    """An engine on ``url`` after the production upgrade (the keystore's tables in the same
    database unless ``keystore_url`` names another)."""
    migrations.upgrade(url, keystore_url or url)
    return make_engine(url)


def upgrade_schema(config: PorticoConfig) -> None:
    """The cache and keystore of ``config`` at the current schema revision, as in production."""
    migrations.upgrade(config.cache.url, keystore_url(config))


def utc(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=dt.UTC)
