"""Request dependencies: the database connection, the signed-in account, the principal."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from cache.connections import Shelf
from cache.keys.crypto import BlindIndex
from cache.loopreads import LoopReads, WouldBlock
from cache.memo import remember
from cache.read.reader import FirstRead, Principal, Reader, StudentHandle
from cache.snapshots.runs import STATE
from cache.store import Cache
from cache.tables.accounts import Account
from cache.tables.records import SourceState
from cache.types import typed, utcnow
from config.errors import SnapshotUnavailableError
from config.settings import MailSettings, PorticoConfig
from gateway.access import family, passwords, sessions, throttle
from gateway.api.auditbatch import AuditBatcher
from gateway.api.offload import Workers
from gateway.api.params import is_ref
from gateway.api.problems import Problem
from gateway.ops.mail import Mailer, OutboxMailer
from gateway.ops.metrics import GuardCounters
from gateway.privacy import audit
from gateway.privacy.audit import Entry as AuditEntry


@dataclass
class Portico:
    """What the app serves from: set once at start-up on ``app.state.portico``."""

    config: PorticoConfig
    cache: Cache
    # What "now" is for visibility, coming of age and enrolment: tests move it.
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    mailer: Mailer = field(default_factory=lambda: OutboxMailer(MailSettings()))
    # What ``/metrics`` serves (chosen by the bootstrap), and the token it asks for.
    metrics: CollectorRegistry | None = None
    metrics_token: str | None = None
    # Refusals at the edge and throttled answers (registered in ``metrics`` by the bootstrap).
    guards: GuardCounters = field(default_factory=GuardCounters)
    # On PostgreSQL, the serving loop's connections for the parent data routes (started
    # and closed by the app's lifespan: gateway.api.app); None elsewhere.
    loop_reads: LoopReads | None = None
    _batcher: AuditBatcher | None = None

    @property
    def audit_batcher(self) -> AuditBatcher:
        if self._batcher is None:
            # On a database server the commit runs on a thread of its own (see the module).
            self._batcher = AuditBatcher(
                self.cache.engine, self.cache.connections, writer_thread=self.workers is not None
            )
        return self._batcher

    @functools.cached_property
    def workers(self) -> Workers | None:
        """Where data requests run their database work (:mod:`gateway.api.offload`): worker
        threads on a database server, None on SQLite (the event loop itself)."""
        return None if self.cache.engine.dialect.name == "sqlite" else Workers()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.district.timezone)

    @functools.cached_property
    def attached(self) -> dict[str, tuple[str, ...]]:
        """Source -> the sources attached to its students (``students_of``): read with it."""
        return self.config.attached()

    def today(self) -> dt.date:
        return self.clock().astimezone(self.tz).date()


def portico_of(request: Request) -> Portico:
    return request.app.state.portico  # type: ignore[no-any-return]


async def portico(request: Request) -> Portico:
    # async: a plain ``def`` dependency would cost a thread-pool hop on every request.
    return portico_of(request)


async def connection(request: Request) -> AsyncIterator[Connection]:
    # Handlers are async with short synchronous queries: on two cores, plain ``def``
    # handlers in the default thread pool collapse under concurrency (GIL contention),
    # where these do not (scripts/bench_api measures the served path).
    with portico_of(request).cache.engine.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(connection)]
App = Annotated[Portico, Depends(portico)]


def unauthorized() -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", "Sign in to continue.", headers={"WWW-Authenticate": "Bearer"}
    )


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise unauthorized()
    return token.strip()


def family_token_refused() -> Problem:
    """Account and write routes with a family token: it is read-only, for data routes only."""
    return Problem(
        403,
        "family-token-read-only",
        "Not allowed with a family token",
        "A family token reads data only: sign in to manage the account.",
    )


async def current_account(request: Request, conn: Conn, app: App) -> Account:
    token = bearer(request)
    if family.is_family_token(token):
        raise family_token_refused()
    account = sessions.resolve(conn, token, app.config.access)
    if account is None:
        raise unauthorized()
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


# Principals by account object: an account's object is reused while its row is unchanged
# (gateway.access.sessions), so its principal is too; a changed row is a new object and a
# new principal. A principal holds who is asking, nothing of what they may see: the
# links, holds, sessions and the account's status are checked in SQL on every request.
_PRINCIPALS: dict[int, tuple[Account, Principal]] = {}


def principal_of(account: Account, only: frozenset[str] | None = None) -> Principal:
    if only is not None:  # a family token's: its students, never remembered
        return Principal(account.id, account.role, account.source, account.subject_ref, only)
    found = _PRINCIPALS.get(id(account))
    if found is not None and found[0] is account:  # the object itself, kept alive here
        return found[1]
    principal = Principal(account.id, account.role, account.source, account.subject_ref)
    remember(_PRINCIPALS, id(account), (account, principal), 4096)
    return principal


# What a family token's kinds let it read, by the audit categories the routes check
# (``gateway.api.routes.students.checked``); the student list and profiles come with any.
CATEGORIES_OF_KIND = {
    "attendance": ("attendance",),
    "timetable": ("timetable",),
    "grades": ("grades",),
    "assignments": ("assignments",),
    "behaviour": ("behaviour",),
    "notices": ("notices",),
    "reports": ("reports",),
}
ALWAYS = ("directory", "profile")


def categories_of(kinds: frozenset[str]) -> frozenset[str]:
    return frozenset([*ALWAYS, *(c for k in kinds for c in CATEGORIES_OF_KIND.get(k, ()))])


async def data_principal(account: CurrentAccount, app: App) -> Principal:
    """A principal allowed to read data now: AUP accepted, password not expired, MFA as required."""
    return data_principal_at(account, app, app.clock())


def data_principal_at(account: Account, app: Portico, now: dt.datetime) -> Principal:
    """:func:`data_principal` at ``now`` (the request's one reading of the clock)."""
    if passwords.preset(app.config.access.password_policy).expired(account.password_changed_at, now):
        # Expiry never locks out: sign-in works, then only a password change is allowed.
        raise Problem(
            403,
            "password-expired",
            "Password expired",
            "Your password has expired: choose a new one (POST /v1/auth/password) to continue.",
        )
    if app.config.access.mfa == "required" and account.totp_confirmed_at is None:
        raise Problem(
            403,
            "mfa-required",
            "Two-step sign-in required",
            "Set up an authenticator app (POST /v1/me/totp) to continue.",
        )
    if account.aup_version != app.config.access.aup.version:
        raise Problem(
            403,
            "aup-not-accepted",
            "Acceptable-use policy not accepted",
            "Accept the current acceptable-use policy (POST /v1/me/aup) to see data.",
            extra={"aup_version": app.config.access.aup.version},
        )
    return principal_of(account)


DataPrincipal = Annotated[Principal, Depends(data_principal)]


class _GivenBack:
    """Where a view's connection was, once given back: any further use is a bug, loudly."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("this request's connection was already given back")


_GIVEN_BACK: Any = _GivenBack()


class FamilyTokenOnWorker(WouldBlock):
    """A request with a family token, begun on the serving loop: always served on a worker
    thread (counted apart from other handovers, being expected for every one)."""


class _NoConnection:
    """The synchronous connection of a request served on the loop: there is none. Its
    dialect answers (statements are written for it); anything else raises :class:`WouldBlock`."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def __getattr__(self, name: str) -> Any:
        raise WouldBlock(name)


@dataclass
class View:
    """A principal's view of its source: the published run and when it was synced."""

    reader: Reader
    principal: Principal
    state: SourceState
    today: dt.date
    now: dt.datetime
    request_id: str
    address_index: str | None
    batcher: AuditBatcher | None = None
    pending: list[asyncio.Future[None]] = field(default_factory=list)
    portico: Portico | None = None
    # Where the connection goes back to: the shelf it came from (open_view), or, for a
    # view made by FastAPI's dependency, None: that dependency closes it.
    shelf: Shelf | None = None
    # The student the request's path names, found with the session (one statement):
    # (ref, the handle if the caller may see it now, else None).
    prefetched: tuple[str, StudentHandle | None] | None = None
    # Audit commits the loop serving the request awaits before answering, when the
    # request runs on a worker thread (UNSETTLED in the request's scope).
    unsettled: list[asyncio.Future[None]] = field(default_factory=list)
    # A family token's reach: the audit categories it may read (None: a session's, all).
    # Its students are in ``principal.only``, inside the relationship query.
    categories: frozenset[str] | None = None
    # A request served on the loop (open_loop_view): its connection of the loop's pool,
    # given back before the audit wait, and its audit events, submitted by settle().
    loop_reads: LoopReads | None = None
    held: list[AuditEntry] = field(default_factory=list)

    def allows(self, category: str | None) -> bool:
        """Whether this caller may read ``category`` at all (deny by default for a token)."""
        return self.categories is None or (category is not None and category in self.categories)

    @property
    def app(self) -> Portico:
        # Carried here so data routes need no second dependency (each costs per request).
        assert self.portico is not None
        return self.portico

    @property
    def published(self) -> int:
        assert self.state.published_run is not None
        return self.state.published_run

    def student(self, ref: str) -> StudentHandle | None:
        """The student ``ref`` if the caller may see it now (:meth:`Reader.student`)."""
        if self.prefetched is not None and self.prefetched[0] == ref:
            return self.prefetched[1]
        return self.reader.student(self.principal, self.published, self.today, ref)

    def audit(self, category: str, student_refs: list[str], action: str = "read") -> None:
        """Record this disclosure in the hash-chained audit log, durably, before data is returned."""
        audit.append(self.reader.conn, self._entries(category, student_refs, "allowed", action))
        self.reader.conn.commit()

    def audit_later(self, category: str, student_refs: list[str]) -> None:
        """Queue the disclosure for the next group commit; :meth:`settle` before returning data."""
        entries = self._entries(category, student_refs, "allowed", "read")
        if self.loop_reads is not None:
            self.held += entries  # submitted by settle(): a request handed over submits none
            return
        if self.batcher is None:
            audit.append(self.reader.conn, entries)
            self.reader.conn.commit()
            return
        fut = self.batcher.submit(entries)
        if fut.get_loop() is asyncio.get_running_loop():
            self.pending.append(fut)
        else:
            # On a worker thread: the loop serving the request awaits the commit before
            # any answer leaves, this one's or an error's (gateway.api.routing.offloaded).
            self.unsettled.append(fut)

    def denied(self) -> None:
        """A read of a student the caller may not see: counted for the caller and the hour.

        Nothing else is kept: the id asked for is the caller's own string, and the
        answer (the uniform 404) disclosed nothing."""
        audit.count_denied(self.reader.conn, self.principal.role, self.principal.account_id)
        self.reader.conn.commit()

    def close(self) -> None:
        """Give the connection back (again is harmless): after the response or an error."""
        conn = self.reader.conn
        if conn is _GIVEN_BACK:
            return
        self.reader.conn = _GIVEN_BACK
        if isinstance(conn, _NoConnection):
            self._give_loop_conn()
        elif self.shelf is None:
            conn.close()
        else:
            self.shelf.give(conn)

    def _give_loop_conn(self) -> None:
        loop_conn, self.reader.loop_conn = self.reader.loop_conn, None
        if loop_conn is not None:
            assert self.loop_reads is not None
            self.loop_reads.give(loop_conn)

    async def settle(self) -> None:
        """Give the connection back, then wait until this request's audit events are committed.

        On a worker thread (:mod:`gateway.api.offload`) there is nothing to wait for here:
        see :meth:`audit_later`."""
        if self.held:
            assert self.batcher is not None and self.loop_reads is not None
            self.pending.append(self.batcher.submit(self.held, self.loop_reads))
            self.held = []
        self.close()
        for fut in self.pending:
            await fut
        self.pending.clear()

    def _entries(self, category: str, student_refs: list[str], outcome: str, action: str) -> list[AuditEntry]:
        p = self.principal
        return [
            AuditEntry(
                actor_kind=p.role,
                actor_id=p.account_id,
                category=category,
                outcome=outcome,
                source=p.source,
                student_ref=ref,
                action=action,
                request_id=self.request_id,
                address_index=self.address_index,
            )
            for ref in student_refs
        ]


# Where a request's scope keeps the audit commits its serving loop must await (View.settle).
UNSETTLED = "portico.unsettled"


def request_id(request: Request) -> str:
    """This request's id in the audit log: random, the same for every event of the request."""
    scope = request.scope
    rid = scope.get("portico.request_id")
    if rid is None:
        rid = scope["portico.request_id"] = os.urandom(16).hex()
    return str(rid)


_ADDRESSES: dict[tuple[BlindIndex, str], str] = {}


def address_index(request: Request, app: Portico) -> str | None:
    """The caller's address as a keyed index (remembered: a client sends many requests)."""
    host = request.client.host if request.client else None
    if not host:
        return None
    index = app.cache.keyring.index
    key = (index, host)  # the index itself, not its id: a new key never meets an old ref
    ref = _ADDRESSES.get(key)
    if ref is None:
        ref = remember(_ADDRESSES, key, index.ref("address", host), 10_000)
    return ref


@functools.lru_cache(maxsize=64)
def _published_state(
    dialect: Dialect, source: str, run: int | None, as_of: Any, synced_at: Any
) -> SourceState:
    # Built once per published snapshot, not per request: SQLModel construction is costly.
    as_of, synced_at = typed(dialect, (STATE.c.as_of, STATE.c.synced_at), (as_of, synced_at))
    return SourceState(source=source, published_run=run, as_of=as_of, synced_at=synced_at)


async def view(request: Request, conn: Conn) -> View:
    return await view_for(request, conn, bearer(request), family_ok=True)


# A data route's first read of the student its path names, planned from the request's
# reading of the clock and its day in the district, before the session is read
# (``DataRouter.get(first=...)``): read in the session's statement on the serving loop.
Planned = Callable[[dt.datetime, dt.date], FirstRead | None]


async def view_for(
    request: Request,
    conn: Connection,
    token: str,
    *,
    family_ok: bool = False,
    loop_conn: Any = None,
    loop_reads: LoopReads | None = None,
    first: Planned | None = None,
) -> View:
    """The view of the session ``token`` (a bearer token, or the web portal's cookie), or,
    with ``family_ok`` (a bearer token), of a family token: read-only, its students inside
    the relationship query and its kinds checked by every route. ``first``: the route's
    first read, planned (on the serving loop: read with the session, :class:`FirstRead`)."""
    # The session, the account and the source's published state come from one query
    # (sessions.resolve_with_state); the principal checks are called, not declared as
    # sub-dependencies: each declared dependency costs FastAPI work on every request.
    # A request about one student (``{student_id}`` in its path) has that student checked
    # in the same statement: the relationship check of Reader.student, not a second one.
    app = portico_of(request)
    # The request's one reading of the clock. Sessions expire by the real clock, which is
    # the app's too but where tests move the app's (then the session reads its own).
    now = app.clock()
    real_now = now if app.clock is utcnow else None
    today = now.astimezone(app.tz).date()
    reader = Reader(conn, app.cache.keyring, app.attached)
    reader.loop_conn, reader.on_loop, reader.loop_reads = loop_conn, loop_conn is not None, loop_reads
    categories = None
    prefetched = None
    if family_ok and family.is_family_token(token):
        used = family.resolve_token(conn, token, now)
        if used is None:
            conn.commit()
            raise unauthorized()
        if request.method not in ("GET", "HEAD"):
            conn.commit()
            raise family_token_refused()
        wait = throttle.spend_each_request(
            conn, "pft:" + used.token_id, app.config.api.throttles.requests_per_family_token, now
        )
        conn.commit()
        if wait is not None:
            raise Problem(
                429,
                "too-many-requests",
                "Too many requests",
                "This family token made too many requests: wait before trying again.",
                headers={"Retry-After": str(wait)},
            )
        data_principal_at(used.account, app, now)  # the same gates as a session's
        principal = principal_of(used.account, used.students)
        categories = categories_of(used.kinds)
        found_state = used.state
    else:
        asked = request.path_params.get("student_id")
        if not (isinstance(asked, str) and is_ref(asked)):
            asked = None
        # On the serving loop's connection when the request has one (open_loop_view), with
        # the route's first read of the student asked for.
        planned = first(now, today) if first is not None and asked is not None and reader.on_loop else None
        found = await sessions.aresolve_with_state(
            reader, token, app.config.access, asked, today, real_now, planned
        )
        if found is None:
            raise unauthorized()
        principal = data_principal_at(found.account, app, now)
        found_state = found.state
        if reader.on_loop:  # the attached sources' runs, awaited here (Reader.afeeds)
            await reader.afeeds(principal.source)
        if asked is not None and found_state[0] is not None:
            row = found.student
            if row is not None and reader.on_loop:  # its data key, if not in memory yet
                await reader.ahold([row[1]])
            if row is not None and planned is not None and found.first is not None:
                reader.read_first(planned, asked, principal.source, found_state[0], found.first)
            prefetched = (
                asked,
                None if row is None else reader.found_student(principal, found_state[0], row),
            )
    return make_view(request, conn, app, principal, found_state, categories, prefetched, reader, (now, today))


def make_view(
    request: Request,
    conn: Connection,
    app: Portico,
    principal: Principal,
    state: tuple[Any, Any, Any],
    categories: frozenset[str] | None = None,
    prefetched: tuple[str, StudentHandle | None] | None = None,
    reader: Reader | None = None,
    at: tuple[dt.datetime, dt.date] | None = None,
) -> View:
    """The view of an authenticated principal over its source's published state (as
    ``sessions.resolve_with_state`` returns it): also a calendar feed's. ``at``: the
    request's reading of the clock and its day in the district, if already taken."""
    run, as_of, synced_at = state
    if run is None:
        raise SnapshotUnavailableError("nothing published yet")
    published = _published_state(conn.dialect, principal.source, run, as_of, synced_at)
    if at is None:
        now = app.clock()
        at = (now, now.astimezone(app.tz).date())
    return View(
        reader or Reader(conn, app.cache.keyring, app.attached),
        principal,
        published,
        at[1],
        at[0],
        request_id(request),
        address_index(request, app),
        app.audit_batcher,
        portico=app,
        prefetched=prefetched,
        unsettled=request.scope.setdefault(UNSETTLED, []),
        categories=categories,
    )


async def open_view(request: Request, token: str | None = None) -> View:
    """:func:`view` for routes served without FastAPI's dependencies (``gateway.api.routing``,
    the web portal with its cookie's ``token``): the caller closes the view when done."""
    shelf = portico_of(request).cache.connections
    conn = shelf.take()
    try:
        if token is None:
            opened = await view_for(request, conn, bearer(request), family_ok=True)
        else:  # the portal's cookie: a session only, never a family token
            opened = await view_for(request, conn, token)
        opened.shelf = shelf
        return opened
    except BaseException:
        shelf.give(conn)
        raise


async def open_loop_view(request: Request, reads: LoopReads, first: Planned | None = None) -> View:
    """:func:`open_view` for a data route served on the loop (PostgreSQL): its reads awaited on
    a connection of ``reads``, and no synchronous connection at all (:class:`WouldBlock`);
    ``first``: the route's first read, read with the session (:func:`view_for`)."""
    app = portico_of(request)
    token = bearer(request)
    if family.is_family_token(token):  # resolved and throttled on a synchronous connection
        raise FamilyTokenOnWorker("a family token")  # before waiting for a connection it would not use
    loop_conn = await reads.take()
    try:
        # No synchronous connection: anything that would use one raises WouldBlock.
        none = cast(Connection, _NoConnection(app.cache.engine.dialect))
        opened = await view_for(
            request, none, token, family_ok=True, loop_conn=loop_conn, loop_reads=reads, first=first
        )
    except BaseException:
        reads.give(loop_conn)
        raise
    opened.loop_reads = reads
    return opened


ViewDep = Annotated[View, Depends(view)]
