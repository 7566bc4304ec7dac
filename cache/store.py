"""Open the cache described by a config: engine, keystore and keyring, after checking both schemas."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from cache.connections import Shelf, adapted
from cache.db import SERVING_CONNECTIONS, keystore_url, make_engine, make_serving_engine
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
    serving: Engine | None = None
    writer_shelf: Shelf | None = None

    @property
    def serving_engine(self) -> Engine:
        """The engine requests are served from: :attr:`engine` on SQLite (a statement is a
        library call), psycopg's async connections on a database server
        (:func:`cache.db.make_serving_engine`: usable only inside a request's bridge,
        ``gateway.api.offload``)."""
        if self.engine.dialect.name == "sqlite":
            return self.engine
        if self.serving is None:
            self.serving = make_serving_engine(self.engine.url.render_as_string(hide_password=False))
        return self.serving

    @property
    def connections(self) -> Shelf:
        """Connections the API's and the portal's requests reuse (:mod:`cache.connections`),
        from :attr:`serving_engine`."""
        if self.shelf is None:
            if self.serving_engine is self.engine:  # SQLite
                self.shelf = Shelf(self.engine)
            else:
                self.shelf = Shelf(self.serving_engine, SERVING_CONNECTIONS, capacity=2 * SERVING_CONNECTIONS)
        return self.shelf

    @property
    def writer_connections(self) -> Shelf:
        """Connections from :attr:`engine` kept for a writer outside the requests (the API's
        audit writer thread on a database server): :attr:`connections` on SQLite."""
        if self.engine.dialect.name == "sqlite":
            return self.connections
        if self.writer_shelf is None:
            self.writer_shelf = Shelf(self.engine, keep=1)
        return self.writer_shelf

    def close_serving(self) -> None:
        """Close the requests' connections (the shelves', and the serving pool's)."""
        for shelf in (self.shelf, self.writer_shelf):
            if shelf is not None:
                shelf.close()
        if self.serving is not None:
            serving = self.serving
            adapted(serving.dispose)

    def dispose(self) -> None:
        self.close_serving()
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
