"""Open the cache described by a config: engine, keystore and keyring, after checking both schemas."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from cache.connections import Shelf
from cache.db import keystore_url, make_engine
from cache.keys.crypto import KekRing
from cache.keys.keystore import Keyring
from cache.migrations import runner as migrations
from config.secrets import SecretResolver
from config.settings import PorticoConfig


@dataclass
class Cache:
    engine: Engine
    keyring: Keyring
    config: PorticoConfig
    shelf: Shelf | None = None

    @property
    def connections(self) -> Shelf:
        """Connections the API's data reads reuse (:mod:`cache.connections`)."""
        if self.shelf is None:
            self.shelf = Shelf(self.engine)
        return self.shelf

    def dispose(self) -> None:
        if self.shelf is not None:
            self.shelf.close()
        self.engine.dispose()
        self.keyring.engine.dispose()


def load_keks(config: PorticoConfig, secrets: SecretResolver) -> KekRing:
    return KekRing.parse(secrets.resolve(config.cache.kek), config.cache.kek.describe())


def open_cache(config: PorticoConfig, secrets: SecretResolver | None = None) -> Cache:
    """The cache, once both databases are at this code's schema revision.

    Raises SchemaVersionError (saying which command to run) otherwise: no process runs
    on a schema older or newer than its code, and none changes it as a side effect.
    """
    secrets = secrets or SecretResolver()
    keks = load_keks(config, secrets)
    engine = make_engine(config.cache.url)
    ks_url = keystore_url(config)
    ks_engine = engine if ks_url == config.cache.url else make_engine(ks_url)
    try:
        migrations.check(engine, ks_engine)
    except Exception:
        engine.dispose()
        ks_engine.dispose()
        raise
    keyring = Keyring(ks_engine, keks, reload=lambda: load_keks(config, secrets))
    return Cache(engine=engine, keyring=keyring, config=config)
