"""The access audit: every read of student data, append-only and hash-chained.

Each event's hash covers its fields and the previous event's hash, so changing,
removing, reordering or inserting a row breaks the chain at that point
(:func:`verify`). Appends are serialised by a one-row ``audit_head`` table, so several
API processes extend one chain: an append inside a caller's transaction locks it first
(:func:`append`); the API's group commit on PostgreSQL moves it in the same statement as
its inserts, only from the head its events were chained to (:func:`commit`). Events carry ids and blind
indexes only: the caller's address is stored as a keyed index (for breach reports),
never in clear.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from cache.tables.audit import CHECKPOINTS, DENIED, EVENTS, GENESIS, HEAD
from cache.types import PG_IDLE, binder, expanded, pg_value, placeholder, utcnow

_FIELDS = (
    "at",
    "actor_kind",
    "actor_id",
    "source",
    "student_ref",
    "category",
    "action",
    "outcome",
    "request_id",
    "address_index",
)


class Entry(NamedTuple):
    """One event to chain (immutable). A named tuple, not a frozen dataclass: every data
    request makes one, and a frozen dataclass sets each field through ``object.__setattr__``."""

    actor_kind: str
    actor_id: str
    category: str
    outcome: str
    source: str | None = None
    student_ref: str | None = None
    action: str = "read"
    request_id: str | None = None
    address_index: str | None = None


# An entry's values in the order of _FIELDS after "at" (its columns and its hashed body).
_STORED_ORDER = operator.itemgetter(*(Entry._fields.index(k) for k in _FIELDS[1:]))


def chain_hash(prev_hash: str, event_id: int, values: dict[str, object]) -> str:
    body = {k: values.get(k) for k in _FIELDS}
    at = body["at"]
    if isinstance(at, dt.datetime):
        body["at"] = _hashed_time(at)
    return _hash(prev_hash, event_id, body)


def _hashed_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(prev_hash: str, event_id: int, body: dict[str, object]) -> str:
    """The chain link over ``body``: every field of ``_FIELDS``, ``at`` as hashed text."""
    return hashlib.sha256(
        prev_hash.encode() + str(event_id).encode() + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()


_INSERT = f"INSERT INTO audit_event (id, {', '.join(_FIELDS)}, prev_hash, hash) VALUES ({{}})"
_HEAD = "SELECT last_id, last_hash FROM audit_head WHERE id = 1"


@functools.cache
def _writes(ph: str) -> tuple[str, str]:
    """The events' insert and the chain head's update, in the driver's placeholder style."""
    marks = ", ".join([ph] * (len(_FIELDS) + 3))
    return (
        _INSERT.format(marks),
        f"UPDATE audit_head SET last_id = {ph}, last_hash = {ph} WHERE id = 1",
    )


def append(conn: Connection, entries: list[Entry]) -> Head | None:
    """Append events to the chain inside the caller's transaction (commit to make them
    durable), the chain's head locked first; the head after them (None: no events).

    On the driver's own cursor: this runs for every API read, and SQLAlchemy's statement
    machinery cost more than the work itself (see scripts/bench_audit). The statements
    join the connection's transaction as SQLAlchemy's would.
    """
    if not entries:
        return None
    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's own execute would: the caller's commit() commits it
    sqlite = conn.dialect.name == "sqlite"
    ph = placeholder(conn.dialect.name)
    driver = conn.connection.driver_connection
    assert driver is not None
    cur = driver.cursor()
    if sqlite:
        # Take the write lock before reading the head: the head read and the inserts must
        # be one transaction, or two processes could both extend the same last event.
        cur.execute("UPDATE audit_head SET last_id = last_id WHERE id = 1")
    cur.execute(_HEAD + ("" if sqlite else " FOR UPDATE"))
    head = cur.fetchone()
    if head is None:
        conn.execute(insert(HEAD).values(id=1, last_id=0, last_hash=GENESIS))
    rows, last_id, last_hash = _linked(entries, head, binder(conn.dialect.name))
    insert_events, update_head = _writes(ph)
    cur.executemany(insert_events, rows)
    cur.execute(update_head, (last_id, last_hash))
    cur.close()
    return last_id, last_hash


def _linked(entries: list[Entry], head: Any, bind: Any) -> tuple[list[tuple[Any, ...]], int, str]:
    """The rows that extend the chain from ``head`` (its ``last_id, last_hash``, or None for
    an empty chain), with the new head's id and hash."""
    last_id, last_hash = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
    rows = []
    now = utcnow()
    stored_now, hashed_now = bind(now), _hashed_time(now)
    for e in entries:
        last_id += 1
        fields = _STORED_ORDER(e)  # the entry's values in _FIELDS order, after "at"
        h = _hash(last_hash, last_id, dict(zip(_FIELDS, (hashed_now, *fields), strict=True)))
        rows.append((last_id, stored_now, *fields, last_hash, h))
        last_hash = h
    return rows, last_id, last_hash


Head = tuple[int, str]  # the chain's last event: its id and hash

# The group commit on PostgreSQL, in one statement and so one transaction of its own: the
# head moved on from ``head_id``/``head_hash``, the one the events were chained to, and
# the events inserted, both only if the head is still that one. If another process moved
# it meanwhile, the head's row lock makes this statement wait for that commit, then find
# no row to update: nothing is inserted, and the append is made again under the head's lock
# (commit). Every column is sent as one array (``unnest``): one statement however many events.
_COLUMNS = ("id", *_FIELDS, "prev_hash", "hash")
_APPEND = (
    "WITH moved AS (UPDATE audit_head SET last_id = :last_id, last_hash = :last_hash "
    "WHERE id = 1 AND last_id = :head_id AND last_hash = :head_hash RETURNING 1) "
    f"INSERT INTO audit_event ({', '.join(_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(
        f"CAST(:{c} AS {'bigint' if c == 'id' else 'timestamp' if c == 'at' else 'text'}[])" for c in _COLUMNS
    )
    + ") WHERE EXISTS (SELECT 1 FROM moved)"
)
_GENESIS_HEAD = (
    "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 0, :genesis) ON CONFLICT (id) DO NOTHING"
)
_LOCKED_HEAD = _HEAD + " FOR UPDATE"


class HeadMovedWhileLocked(RuntimeError):
    """The append found the head moved while this transaction held its lock: never expected."""


def _append_values(entries: list[Entry], head: Any, dialect: str) -> tuple[list[Any], Head]:
    """The values of :data:`_APPEND` in ``dialect``'s order (``expanded``), chained to ``head``,
    and the head they move it to."""
    rows, last_id, last_hash = _linked(entries, head, pg_value)
    named: dict[str, Any] = dict(zip(_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    named.update(last_id=last_id, last_hash=last_hash, head_id=int(head[0]), head_hash=str(head[1]))
    return [named[name] for name in expanded(_APPEND, (), dialect)[1]], (last_id, last_hash)


def _statement(sql: str, dialect: str) -> str:
    return expanded(sql, (), dialect)[0]


def commit(conn: Connection, entries: list[Entry], head: Head | None = None) -> Head | None:
    """Append ``entries`` in a transaction of their own and commit it (``conn`` has none
    open); the chain's head after them (None on SQLite, where no hint is needed).

    On PostgreSQL ``head`` is where this process last saw the chain end (the group
    commit's own last commit): one statement, one round trip, appends there
    (:data:`_APPEND`). Where it is not known, or another process has moved the head since,
    the events are appended under the head's lock (:func:`append`, in a transaction): the
    append waits for other processes, and never loses to them. An error is raised here
    and nothing of the batch is committed.
    """
    if not entries:
        return head
    if conn.dialect.name == "postgresql" and head is not None:
        moved = _append_from(conn, entries, head)
        if moved is not None:
            return moved
    with conn.begin():
        moved = append(conn, entries)
    return moved if conn.dialect.name == "postgresql" else None


def _append_from(conn: Connection, entries: list[Entry], head: Head) -> Head | None:
    """:data:`_APPEND` from ``head`` in a transaction of its own: the head after the events,
    or None if another process had moved it (nothing appended)."""
    assert not conn.in_transaction()
    driver = conn.connection.driver_connection
    assert driver is not None
    # The statement its own transaction: a failed one is rolled back by the server.
    driver.autocommit = True
    try:
        values, moved = _append_values(entries, head, "postgresql")
        with driver.cursor() as cur:
            done = cur.execute(_statement(_APPEND, "postgresql"), values).rowcount == len(entries)
        return moved if done else None
    finally:
        # Back to psycopg's own transactions, or out of service: a connection left in
        # autocommit, or inside a transaction, must not reach the next request.
        if not driver.closed and not conn.invalidated:
            if driver.info.transaction_status == PG_IDLE:
                driver.autocommit = False
            else:
                conn.invalidate()


def _inserted(status: str) -> int:
    """The rows an asyncpg ``INSERT`` status (``INSERT 0 n``) counts."""
    return int(status.rsplit(" ", 1)[1])


async def commit_on_loop(conn: Any, entries: list[Entry], head: Head | None = None) -> Head | None:
    """:func:`commit` on a connection of the serving loop (``cache.loopreads``, asyncpg),
    outside any transaction: the same statement, the same head, the same answer. (asyncpg
    has no SQLAlchemy connection for :func:`append`: its locked append is written here.)"""
    if not entries:
        return head
    if head is not None:
        values, moved = _append_values(entries, head, "asyncpg")
        if _inserted(await conn.execute(_statement(_APPEND, "asyncpg"), *values)) == len(entries):
            return moved
    async with conn.transaction():
        found = await conn.fetchrow(_LOCKED_HEAD)
        if found is None:
            await conn.execute(_statement(_GENESIS_HEAD, "asyncpg"), GENESIS)
            found = await conn.fetchrow(_LOCKED_HEAD)
        values, moved = _append_values(entries, found, "asyncpg")
        inserted = _inserted(await conn.execute(_statement(_APPEND, "asyncpg"), *values))
        if inserted != len(entries):
            raise HeadMovedWhileLocked(
                f"{inserted} of {len(entries)} audit events inserted under the head's lock"
            )
    return moved


def count_denied(conn: Connection, actor_kind: str, actor_id: str, now: dt.datetime | None = None) -> None:
    """One more denied read for the caller this hour (inside the caller's transaction).

    Denied reads disclose nothing and name what the caller typed, so they are counted,
    not chained: the count per caller and hour is what an investigation needs (who
    probed, when, how hard), and it cannot be grown by varying the request."""
    hour = (now or utcnow()).astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    insert_ = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert_(DENIED).values(hour=hour, actor_id=actor_id, actor_kind=actor_kind, count=1)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[DENIED.c.hour, DENIED.c.actor_id], set_={"count": stmt.table.c.count + 1}
        )
    )


def denied_by_caller(engine: Engine, since: dt.datetime, top: int) -> list[Any]:
    """Callers with the most denied reads since ``since``: actor, role, total, first and last hour."""
    q = (
        select(
            DENIED.c.actor_id,
            DENIED.c.actor_kind,
            func.sum(DENIED.c.count).label("total"),
            func.min(DENIED.c.hour).label("first"),
            func.max(DENIED.c.hour).label("last"),
        )
        .where(DENIED.c.hour >= since.replace(minute=0, second=0, microsecond=0))
        .group_by(DENIED.c.actor_id, DENIED.c.actor_kind)
        .order_by(func.sum(DENIED.c.count).desc(), DENIED.c.actor_id)
        .limit(top)
    )
    with engine.connect() as conn:
        return list(conn.execute(q))


def record(engine: Engine, entries: list[Entry]) -> Head | None:
    """:func:`commit` on a connection of its own; the chain's head after it (PostgreSQL)."""
    with engine.connect() as conn:
        return commit(conn, entries)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    # The chain's last event (its id and hash): what ``audit verify`` anchors.
    last_id: int = 0
    last_hash: str = GENESIS


class KeptDigest:
    """The digest of the events a prune kept (records of disclosure), by id and hash, in id order."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.count = 0

    def add(self, event_id: int, event_hash: str) -> None:
        self._h.update(f"{event_id}:{event_hash}\n".encode())
        self.count += 1

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def latest_checkpoint(conn: Connection) -> Any:
    """The newest prune checkpoint (a row of ``audit_checkpoint``), or None."""
    return conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.through_id.desc()).limit(1)).first()


def verify(conn: Connection, batch: int = 5000) -> VerifyResult:
    """Walk the chain: ids consecutive, each hash recomputed, head matches the end.

    After ``portico audit prune`` the chain starts at the newest checkpoint: the events it
    kept before that point must each match their own hash and together the checkpoint's
    digest, and the first event after it must link to the checkpoint's hash.
    """
    expected_id, prev = 1, GENESIS
    checked = 0
    last_seen = 0
    cp = latest_checkpoint(conn)
    if cp is not None:
        kept = KeptDigest()
        for row in conn.execute(
            select(EVENTS).where(EVENTS.c.id <= cp.through_id).order_by(EVENTS.c.id)
        ).mappings():
            if chain_hash(row["prev_hash"], row["id"], dict(row)) != row["hash"]:
                return VerifyResult(False, kept.count, row["id"], f"event {row['id']} was altered")
            kept.add(row["id"], row["hash"])
        if kept.count != cp.kept_count or kept.hexdigest() != cp.kept_digest:
            return VerifyResult(
                False,
                0,
                cp.through_id,
                f"events kept at the checkpoint through {cp.through_id} were removed or changed",
            )
        checked = kept.count
        expected_id, prev, last_seen = cp.through_id + 1, cp.through_hash, cp.through_id
    while True:
        rows = (
            conn.execute(select(EVENTS).where(EVENTS.c.id > last_seen).order_by(EVENTS.c.id).limit(batch))
            .mappings()
            .all()
        )
        for row in rows:
            if row["id"] != expected_id:
                return VerifyResult(
                    False, checked, expected_id, f"event {expected_id} is missing or out of order"
                )
            if row["prev_hash"] != prev or chain_hash(prev, row["id"], dict(row)) != row["hash"]:
                return VerifyResult(False, checked, row["id"], f"event {row['id']} was altered or inserted")
            prev = row["hash"]
            expected_id += 1
            checked += 1
            last_seen = row["id"]
        if len(rows) < batch:
            break
    last_id = expected_id - 1
    head = conn.execute(select(HEAD.c.last_id, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
    if head is not None and (int(head.last_id) != last_id or head.last_hash != prev):
        return VerifyResult(False, checked, last_id + 1, "events after the last one shown were removed")
    if head is None and last_id:
        return VerifyResult(False, checked, None, "the chain head is missing")
    return VerifyResult(True, checked, last_id=last_id, last_hash=prev)
