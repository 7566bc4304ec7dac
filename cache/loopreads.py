"""PostgreSQL reads awaited on the serving event loop (asyncpg), for the parent data routes.

On PostgreSQL the API's data requests run on worker threads (``gateway.api.offload``) so
that no round trip stops the event loop. The hand-offs cost more than the work: a served
dashboard request took 16–24 context switches and about twice SQLite's CPU. The
dashboard's routes, and since the other parent data routes (``DataRouter.get(...,
on_loop=True)``), instead await their few statements here, on the loop that serves them,
through asyncpg (its protocol is compiled, and a connection's socket stays registered with
the loop, where psycopg's async connection adds a lock, a future and a reader registration
per wait: 25% more instructions per request, measured). See docs/PERFORMANCE-api-notes.md.

One :class:`LoopReads` per process serves the loop that started it (the app's lifespan):
asyncpg's own pool, a few autocommit connections that only read and append to the audit
chain. Requests on any other loop (a worker thread's, a test client's without its
lifespan) never see it.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import orjson

from cache.types import expanded, pg_value
from config.pgurl import check_loop_url, session_options

# Connections per serving loop: as many as the worker threads hold (gateway.api.offload),
# and the audit's group commit takes one of them while it writes.
CONNECTIONS = 4
# Connections per serving loop to a keystore in a database of its own: read only for a
# student's first request in the process (its data key not yet in memory).
KEY_CONNECTIONS = 2


class WouldBlock(BaseException):
    """A request begun on the serving loop reached work that needs a synchronous connection
    (a round trip that would stop the loop) or a data key not yet in memory. Nothing has
    left and nothing was written (its audit events wait for the request's settle), so it
    is served again from the start on a worker thread (``gateway.api.routing``). A
    ``BaseException``, so that no ``except Exception`` on the way can take it for an error."""


# A connection lost or refused (the server restarted, a backend was terminated, the
# network broke, the server is full): the request that met it before submitting its audit
# events has written nothing, and is served again on a worker thread, whose psycopg pool
# checks its connections before use (``pool_pre_ping``); this loop's broken connection
# goes back to asyncpg's pool, which replaces it. (Not OSError: TimeoutError is one.)
LOST: tuple[type[BaseException], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


# Query parameters of a libpq URL that asyncpg's DSN takes as libpq does.
_DSN_PARAMETERS = frozenset(
    {
        "host", "port", "dbname", "database", "user", "password", "passfile", "service",
        "sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "sslnegotiation",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "target_session_attrs",
        "krbsrvname", "gsslib",
    }
)  # fmt: skip
# Those that are the server's session settings (asyncpg's ``server_settings``).
_SESSION_PARAMETERS = frozenset({"application_name", "client_encoding"})


class ConnectArguments(NamedTuple):
    dsn: str
    server_settings: dict[str, str]
    timeout: float | None  # libpq's connect_timeout
    # Client-side options libpq knows and asyncpg has no equivalent for (TCP keepalives,
    # say): the loop's connections are made without them (named in the log at start).
    ignored: tuple[str, ...]


def connect_arguments(url: str) -> ConnectArguments:
    """asyncpg's arguments for a SQLAlchemy PostgreSQL URL (libpq's parameters, as psycopg
    reads them): the same server, database and role, the same session settings (``options``,
    ``config.pgurl.session_options``; the ``application_name`` parameter, or libpq's
    fallback name, over one set there, as the server applies them), which asyncpg takes as
    ``server_settings``, not in its DSN, and ``connect_timeout`` as its timeout. asyncpg
    would send any other parameter to the server as a setting, which the server refuses:
    client-side ones are left out and named in ``ignored``; those that change where or how
    securely it connects are refused (``config.pgurl.LOOP_REFUSED``, checked with the config)."""
    check_loop_url(url)
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    kept: list[tuple[str, str]] = []
    options: dict[str, str] = {}
    params: dict[str, str] = {}
    timeout: float | None = None
    ignored: list[str] = []
    fallback_name = None
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "options":
            options.update(session_options(value))
        elif name in _SESSION_PARAMETERS:
            params[name] = value
        elif name == "fallback_application_name":
            fallback_name = value
        elif name == "connect_timeout":
            timeout = float(value) if value and float(value) > 0 else None
        elif name in _DSN_PARAMETERS:
            kept.append((name, value))
        else:
            ignored.append(name)
    if fallback_name is not None and "application_name" not in params:
        params["application_name"] = fallback_name
    dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))
    return ConnectArguments(dsn, {**options, **params}, timeout, tuple(ignored))


async def _json_codecs(conn: asyncpg.Connection) -> None:
    # As psycopg gives them: JSON columns as Python lists and dicts.
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _keep(conn: asyncpg.Connection) -> None:
    """No reset on release (asyncpg's default is a round trip): these connections change no
    session state; a transaction left open by an error is rolled back by the pool itself."""


class LoopReads:
    """asyncpg's pool for the loop that called :meth:`start`, and a shelf in front of it.

    asyncpg's pool makes, checks and replaces the connections; a request takes one from
    the shelf and gives it back without a round trip or a task (as ``cache.connections``
    keeps SQLAlchemy's between requests): at most :attr:`connections` are out at once, and
    a request that finds none waits for the next one given back."""

    def __init__(self, url: str, connections: int = CONNECTIONS, *, keys: str | None = None) -> None:
        self.url = url
        self.connections = connections
        # Where a request here reads a data key not yet in memory (``key_rows``): ``keys``
        # is the keystore's URL when it is PostgreSQL (None: a keystore this loop cannot
        # read, whose keys are read on a worker thread). The cache's own database is read
        # on the request's connection; another database (as docs/scale.md advises) on a
        # pool of its own.
        self.reads_keys = keys is not None
        self.keys = LoopReads(keys, KEY_CONNECTIONS) if keys is not None and keys != url else None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pool: asyncpg.Pool | None = None
        self._idle: list[asyncpg.Connection] = []
        self._waiting: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._out = 0  # acquired from the pool: idle here or in a request's hands
        self._releasing: set[asyncio.Task[None]] = set()
        self.ignored: tuple[str, ...] = ()  # the URL's parameters asyncpg has no use for
        # Requests begun here that needed a worker thread's connection (a session that ended,
        # a denied read, a family token) or lost this loop's:
        # served there instead (on /metrics by reason: GuardCounters.hand_over).
        self.handed_over = 0

    async def start(self) -> None:
        dsn, settings, timeout, self.ignored = connect_arguments(self.url)
        self.pool = await asyncpg.create_pool(
            dsn,
            **({} if timeout is None else {"timeout": timeout}),
            min_size=0,  # nothing opened before the first request: starting needs no server
            max_size=self.connections,
            init=_json_codecs,
            reset=_keep,
            server_settings=settings,
        )
        self.loop = asyncio.get_running_loop()
        if self.keys is not None:
            await self.keys.start()

    def here(self) -> bool:
        """Whether the current request runs on the loop these connections belong to."""
        return self.pool is not None and self.loop is asyncio.get_running_loop()

    async def take(self) -> asyncpg.Connection:
        while True:
            if self.pool is None or self.loop is None:
                raise ConnectionError("the loop's connections are closed")
            while self._idle:
                conn = self._idle.pop()
                if not self._lost(conn):  # one the server ended while it was idle: replaced
                    return conn
            if self._out < self.connections:
                self._out += 1
                try:
                    return await self.pool.acquire()
                except BaseException:
                    self._out -= 1
                    self._wake_one()  # the room is free again: the next taker tries
                    raise
            fut: asyncio.Future[asyncpg.Connection | None] = self.loop.create_future()
            self._waiting.append(fut)
            try:
                conn = await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    given = fut.result()
                    if given is not None:
                        self.give(given)  # handed over just as the request was cancelled
                    else:
                        self._wake_one()
                raise
            if conn is not None:
                return conn
            # None: a connection was lost, and there is room to acquire another

    def give(self, conn: asyncpg.Connection) -> None:
        if self.pool is None:  # closed meanwhile: its pool terminates what is still out
            return
        if self._lost(conn):  # asyncpg's pool replaces it; the others lost with it go too
            self._idle = [c for c in self._idle if not self._lost(c)]
            self._wake_one()
            return
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        self._idle.append(conn)

    def _wake_all(self) -> None:
        """Every waiting taker told to look again (after a close: to find it closed)."""
        while self._waiting:
            self._wake_one()

    def _wake_one(self) -> None:
        """A waiting taker, if any, told to acquire a connection of its own."""
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _lost(self, conn: asyncpg.Connection) -> bool:
        """Whether ``conn`` is closed; if so it is given back to asyncpg's pool, which
        replaces it (a connection whose server went away is given back by asyncpg itself)."""
        try:
            if not conn.is_closed():
                return False
        except asyncpg.InterfaceError:  # already back in the pool: released on its close
            self._out -= 1
            return True
        self._out -= 1
        assert self.loop is not None and self.pool is not None
        task = self.loop.create_task(self.pool.release(conn))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)
        return True

    async def key_rows(self, conn: asyncpg.Connection, sql: str, key_ids: list[str]) -> list[Any]:
        """The keystore's rows of ``key_ids`` (``sql`` binds them as ``:ids``), awaited: on
        ``conn``, the request's, when the keys sit in the cache's database, else on a
        connection of the keystore's pool (only when :attr:`reads_keys`)."""
        try:
            if self.keys is None:
                return await fetch(conn, sql, {}, {"ids": key_ids})
            own = await self.keys.take()
            try:
                return await fetch(own, sql, {}, {"ids": key_ids})
            finally:
                self.keys.give(own)
        except LOST:
            raise
        except asyncpg.PostgresError as exc:
            # The keystore refused the read here (a schema or a setting asyncpg's
            # connection does not have, say): a worker thread reads it as it always did.
            raise WouldBlock(f"data keys not read on the loop: {type(exc).__name__}") from exc

    async def close(self) -> None:
        try:
            if self.keys is not None:
                await self.keys.close()
        finally:
            await self._close()

    async def _close(self) -> None:
        pool, self.pool, self.loop = self.pool, None, None
        if pool is None:
            return
        self._wake_all()
        idle, self._idle = self._idle, []
        for conn in idle:
            await pool.release(conn)
        self._out -= len(idle)
        try:
            await asyncio.wait_for(pool.close(), 5)
        except TimeoutError:
            pool.terminate()


async def fetch(
    conn: asyncpg.Connection,
    sql: str,
    params: Mapping[str, Any],
    lists: Mapping[str, Sequence[Any]] | None = None,
) -> list[Any]:
    """The rows of ``sql`` (``:name`` placeholders; each of ``lists`` a list of values, as
    :func:`cache.types.fetch_bound` takes them) on ``conn``, outside any transaction."""
    shape = () if not lists else tuple((k, len(v)) for k, v in lists.items())
    text, order = expanded(sql, shape, "asyncpg")
    args: list[Any] = []
    for name in order:
        values = lists.get(name) if lists else None
        if values is not None:
            args += values
        else:
            args.append(pg_value(params[name]))
    try:
        return await conn.fetch(text, *args)  # type: ignore[no-any-return]
    except asyncpg.InterfaceError as exc:
        # Ended by the server and seen to go before this read was sent: asyncpg refuses it
        # as an interface error (the connection closed, or already back in its pool).
        if _gone(conn):
            raise ConnectionResetError("the server closed this connection") from exc
        raise


def _gone(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # given back to asyncpg's pool on its close
        return True
