"""Authorised reads of the published snapshot: deny by default, the check inside the query.

Every read starts from a :class:`Principal` and the source's published run. The only
way to a student's records is :meth:`Reader.student`, whose query returns the student
only through the caller's live link (guardian) or identity (student); everything else
is "not found", the same for a stranger's child as for a child that does not exist.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import Connection

from cache import loopreads
from cache.keys.crypto import Sealer
from cache.keys.keystore import KEY_ROWS, Keyring
from cache.read.predicates import CURRENT, ON_ROLL, current_as
from cache.snapshots.encode import aad
from cache.snapshots.runs import load_state
from cache.tables.records import SourceState
from cache.types import fetch_bound, fetch_on, renamed_params

if TYPE_CHECKING:
    from cache.read.visibility import Window


_HOLDS = """NOT EXISTS (SELECT 1 FROM access_hold h WHERE h.source = st.source AND h.released_at IS NULL
  AND ((h.subject = 'student' AND h.ref = st.ref) OR (h.subject = 'contact' AND h.ref = :me)))"""

# A guardian's live link to a student: parental responsibility, portal access and no
# court order (ln.access), current in the snapshot. Found through the contact's index
# (the IS NOT NULL lets SQLite use that partial index).
_LIVE_LINK = f"""ln.source = :src AND ln.kind = 'link'
    AND ln.contact_ref = :me AND ln.contact_ref IS NOT NULL AND ln.access = :yes AND {CURRENT.format(t="ln")}"""


def _guardian_sees(linked: str) -> str:
    """A guardian sees student ``st`` only through a live link (``linked``), the student on
    roll today, the coming-of-age rule, and no hold on the contact or the student."""
    return f"""st.source = :src AND st.kind = 'student' AND {CURRENT.format(t="st")}
  AND {linked}
  AND {ON_ROLL.format(t="st")}
  AND (st.guardian_until IS NULL OR st.guardian_until >= :today)
  AND {_HOLDS}"""


# Every student of a guardian: the contact's links first, then the students by their
# refs: microseconds whatever the size of the district, not a scan of it.
_GUARDIAN_SEES = _guardian_sees(f"st.ref IN (SELECT ln.student_ref FROM record ln WHERE {_LIVE_LINK})")
# One student: whether a live link to it exists, without listing the contact's linked
# students first (the session's statement, and a page about one child).
_GUARDIAN_SEES_ONE = _guardian_sees(
    f"EXISTS (SELECT 1 FROM record ln WHERE {_LIVE_LINK} AND ln.student_ref = st.ref)"
)
_SELF_SEES = f"""st.source = :src AND st.kind = 'student' AND st.ref = :me AND {CURRENT.format(t="st")}
  AND {ON_ROLL.format(t="st")}"""

GUARDIAN_STUDENTS = f"\nSELECT st.ref, st.key_id, st.payload FROM record st\nWHERE {_GUARDIAN_SEES}\n"
GUARDIAN_STUDENT = f"\nSELECT st.ref, st.key_id, st.payload FROM record st\nWHERE {_GUARDIAN_SEES_ONE}\n"
STUDENT_SELF = f"\nSELECT st.ref, st.key_id, st.payload FROM record st\nWHERE {_SELF_SEES}\n"


def sees_student(role: str, source: str, me: str, run: str) -> str:
    """Who may see student row ``st``, for a principal given as SQL expressions (``role``,
    ``source``, ``me`` its subject ref, ``run`` its source's published run) instead of
    bound values: the very predicates of :data:`GUARDIAN_STUDENTS` (for one student: its
    link found by ``EXISTS``) and :data:`STUDENT_SELF`, for a query that finds the caller
    and the student at once (``gateway.access.sessions.resolve_with_state``). ``:today``
    and ``:yes`` stay bound."""
    names = {"src": source, "me": me, "p": run}

    def spliced(sql: str) -> str:
        return renamed_params(sql, lambda name: names.get(name, ":" + name))

    return (
        f"(({role} = 'guardian' AND {spliced(_GUARDIAN_SEES_ONE)}) "
        f"OR ({role} <> 'guardian' AND {spliced(_SELF_SEES)}))"
    )


def newest_first(
    sql: str,
    params: dict[str, Any],
    *,
    window: Window | None = None,
    after: tuple[str, str] | None = None,
    limit: int,
) -> str:
    """Append the visibility window (:mod:`cache.read.visibility`), the cursor and the
    newest-first order to a query over ``record r`` (filling ``params``)."""
    _newest_params(params, window, after, limit)
    return sql + _newest_sql(
        window is not None, window is not None and window.hidden_day is not None, after is not None
    )


# A range of at most this many days is sorted in one pass on SQLite (see _newest_sql).
ONE_PASS_DAYS = 31


def sorts_in_one_pass(dialect_name: str, day_from: dt.date | None, day_to: dt.date | None) -> bool:
    """Whether a dated read from ``day_from`` to ``day_to`` sorts its rows in one pass."""
    return (
        dialect_name == "sqlite"
        and day_from is not None
        and day_to is not None
        and (day_to - day_from).days < ONE_PASS_DAYS
    )


@functools.lru_cache(maxsize=32)
def _newest_sql(window: bool, hidden: bool, after: bool, one_pass: bool = False) -> str:
    """The visibility window, the cursor and the newest-first order of a read of ``record r``.

    ``one_pass`` (SQLite, a range of at most :data:`ONE_PASS_DAYS` days: a month's
    attendance is a few dozen rows): the rows are sorted together in one temporary
    B-tree (``+r.day`` keeps SQLite from ordering by the index), which costs less than
    the index's day order with a sort of each day's rows by ref. A longer range keeps
    the index's order, which stops at the page's last row instead of sorting the range."""
    sql = ""
    if window:
        sql += " AND (r.stamp IS NULL OR r.stamp <= :vb)"
        if hidden:
            sql += " AND (r.day IS NULL OR r.day <> :hd)"
    if after:
        sql += " AND (r.day < :ad OR (r.day = :ad AND r.ref > :ar))"
    return sql + (
        " ORDER BY +r.day DESC, r.ref LIMIT :lim" if one_pass else " ORDER BY r.day DESC, r.ref LIMIT :lim"
    )


def _newest_params(
    params: dict[str, Any], window: Window | None, after: tuple[str, str] | None, limit: int
) -> None:
    if window is not None:
        params["vb"] = window.visible_before
        if window.hidden_day is not None:
            params["hd"] = window.hidden_day
    if after is not None:
        params["ad"], params["ar"] = dt.date.fromisoformat(after[0]), after[1]
    params["lim"] = limit


# What a read of records returns, each row (Reader._opened_records).
RECORD_COLUMNS = ("ref", "key_id", "payload", "day", "source")
_RECORD_COLUMNS = ", ".join(RECORD_COLUMNS)


@functools.lru_cache(maxsize=64)
def _records_sql(
    feeds: int, day_from: bool, day_to: bool, window: bool, hidden: bool, after: bool, one_pass: bool
) -> str:
    """The statement of :meth:`Reader.records`, made once for each shape of the read."""
    if feeds:
        # One query over every feed, each source with its own published run.
        terms = [f"(r.source = :src AND {CURRENT.format(t='r')})"]
        terms += [f"(r.source = :src{i} AND {current_as('r', f'p{i}')})" for i in range(feeds)]
        sql = (
            f"SELECT {_RECORD_COLUMNS} FROM record r WHERE r.student_ref = :sref "
            f"AND r.kind = :k AND ({' OR '.join(terms)})"
        )
    else:
        sql = (
            f"SELECT {_RECORD_COLUMNS} FROM record r WHERE r.student_ref = :sref "
            f"AND r.kind = :k AND r.source = :src AND {CURRENT.format(t='r')}"
        )
    if day_from:
        sql += " AND r.day >= :df"
    if day_to:
        sql += " AND r.day <= :dt"
    return sql + _newest_sql(window, hidden, after, one_pass)


class RecordsRead(NamedTuple):
    """A read of one student's records of ``kind`` (:meth:`Reader.aread`), newest day first."""

    kind: str
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    window: Window | None = None
    after: tuple[str, str] | None = None
    limit: int = 1000


class FirstRead(NamedTuple):
    """A route's first read of the one student its path names, planned before the student is
    known and sent in the session's own statement (``gateway.access.sessions``): ``sql``
    binds the student's ref as ``:sref``, its source as ``:src`` and its published run as
    ``:p``, and ``params`` the rest; ``columns``: what it selects, in order; ``order``: its
    rows' order over those columns as ``x.<column>`` (None: any).
    The route's own read is answered from those rows only if it is the very same statement
    with the very same values (:meth:`Reader.read_first`): a plan that guessed wrong (a
    school in another time zone, say) costs the read it would have saved, nothing else."""

    sql: str
    params: dict[str, Any]
    columns: tuple[str, ...]
    order: str | None = None


def records_first(read: RecordsRead, dialect_name: str) -> FirstRead:
    """``read`` as a :class:`FirstRead`, for a student of no attached sources (``feeds``): a
    student with some reads another statement, and the first read is not used."""
    sql, params = _records_shape(dialect_name, 0, read)
    return FirstRead(sql, params, RECORD_COLUMNS, "x.day DESC, x.ref")


def _records_shape(dialect_name: str, feeds: int, read: RecordsRead) -> tuple[str, dict[str, Any]]:
    """The statement of :meth:`Reader.aread` for a student with ``feeds`` attached sources, and
    its parameters but the student's (``sref``, ``src``, ``p`` and each feed's)."""
    kind, day_from, day_to, window, after, limit = read
    params: dict[str, Any] = {"k": kind}
    if day_from is not None:
        params["df"] = day_from
    if day_to is not None:
        params["dt"] = day_to
    _newest_params(params, window, after, limit)
    sql = _records_sql(
        feeds,
        day_from is not None,
        day_to is not None,
        window is not None,
        window is not None and window.hidden_day is not None,
        after is not None,
        sorts_in_one_pass(dialect_name, day_from, day_to),
    )
    return sql, params


# The published runs of the sources attached to a source's students (Reader.afeeds).
_FEED_RUNS = "SELECT source, published_run FROM source_state WHERE source IN :sources"


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account, its role and the SIS person it stands for."""

    account_id: str
    role: str  # guardian | student
    source: str
    subject_ref: str
    # A family token's students: only these, and only while the check above still passes.
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class StudentHandle:
    """A student the principal may see now, with its decrypted canonical fields.

    ``feeds`` are the other sources whose records belong to this student (YAML
    ``students_of``), each with its published run: their rows carry this student's ref,
    so the student's records are read from every feed by that one authorised ref."""

    ref: str
    source: str
    published_run: int
    data: dict[str, Any]
    feeds: tuple[tuple[str, int], ...] = ()

    def sources(self) -> tuple[tuple[str, int], ...]:
        return ((self.source, self.published_run), *self.feeds)


def _feed_runs(others: tuple[str, ...], rows: list[Any]) -> tuple[tuple[str, int], ...]:
    """The attached sources that have published, in their configured order, with their runs
    (the rows of ``_FEED_RUNS``)."""
    runs = dict(rows)
    return tuple((o, int(runs[o])) for o in others if runs.get(o) is not None)


def _every_student(principal: Principal, published: int, today: dt.date) -> tuple[Any, ...]:
    """Where a request keeps :meth:`Reader.students`'s answer (``Reader.memo``)."""
    return ("students", principal, published, today)


class Reader:
    def __init__(
        self, conn: Connection, keyring: Keyring, attached: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        self.conn = conn
        self.keyring = keyring
        # Source -> the sources attached to its students (PorticoConfig.attached()).
        self.attached = attached or {}
        self._driver: Any = None
        # What one request has already read, by the read's own key (a student's
        # enrolments, say): a reader lives for one request, so nothing here outlives it.
        self.memo: dict[tuple[Any, ...], Any] = {}
        # On PostgreSQL, a connection of the serving loop (cache.loopreads) for the reads a
        # route awaits (aquery, aquery_in, aread); None: they run as query does.
        self.loop_conn: Any = None
        # Set with loop_conn, and kept after it is given back: a request on the serving
        # loop never reads a data key from the database there (WouldBlock instead), but
        # for the keys awaited first (:meth:`ahold`, through these loop reads).
        self.on_loop = False
        self.loop_reads: loopreads.LoopReads | None = None
        # A route's first read, read with the session (:class:`FirstRead`): its statement,
        # its values with the student's, and its rows (:meth:`read_first`).
        self.first: tuple[str, dict[str, Any], list[Any]] | None = None

    def state(self, source: str) -> SourceState | None:
        return load_state(self.conn, source)

    def _driver_of(self) -> Any:
        if self._driver is None:  # looked up once: a request runs several reads
            self._driver = self.conn.connection.driver_connection
        return self._driver

    def _exec(self, sql: str, params: dict[str, Any]) -> list[Any]:
        conn = self.conn
        return fetch_on(self._driver_of(), conn.dialect.name, sql, params, conn.in_transaction())

    query = _exec  # for the other authorised readers in cache.read.queries

    async def aquery(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """:meth:`query`, awaited on the serving loop's connection when the request has one
        (answered from the first read when it is that read: :meth:`read_first`)."""
        if self.first is not None and (kept := self._kept_first(sql, params)) is not None:
            return kept
        if self.loop_conn is None:
            return self._exec(sql, params)
        return await loopreads.fetch(self.loop_conn, sql, params)

    async def aquery_in(self, sql: str, params: dict[str, Any], lists: dict[str, list[Any]]) -> list[Any]:
        """:meth:`query_in`, awaited as :meth:`aquery` is."""
        if self.first is not None and not lists and (kept := self._kept_first(sql, params)) is not None:
            return kept
        if self.loop_conn is None:
            return self.query_in(sql, params, lists)
        return await loopreads.fetch(self.loop_conn, sql, params, lists)

    def read_first(
        self, first: FirstRead, student: str, source: str, published: int, rows: list[Any]
    ) -> None:
        """Keep ``rows``, what ``first`` read with the session for ``student`` (a ref the caller
        may see now, of ``source`` and its ``published`` run): the request's next read that
        is the same statement with the same values is answered from them, once."""
        self.first = (first.sql, {**first.params, "sref": student, "src": source, "p": published}, rows)

    def _kept_first(self, sql: str, params: dict[str, Any]) -> list[Any] | None:
        """The first read's rows if ``sql`` with ``params`` is that very read (then given once)."""
        first = self.first
        if first is None or first[0] != sql or first[1] != params:
            return None
        self.first = None
        return first[2]

    def query_in(self, sql: str, params: dict[str, Any], lists: dict[str, list[Any]]) -> list[Any]:
        """:meth:`query` for ``sql`` whose ``:name`` of each of ``lists`` is a list of values
        (``x IN :name``), bound by position (:func:`cache.types.fetch_bound`)."""
        conn = self.conn
        return fetch_bound(self._driver_of(), conn.dialect.name, sql, params, lists, conn.in_transaction())

    def open(self, source: str, kind: str, ref: str, key_id: str, payload: bytes) -> dict[str, Any]:
        blob = self._sealer(key_id).open(bytes(payload), aad(source, kind, ref, key_id))
        return orjson.loads(blob)  # type: ignore[no-any-return]

    def open_rows(self, kind: str, rows: Iterable[tuple[str, str, str, bytes]]) -> list[dict[str, Any]]:
        """:meth:`open` for many rows of ``kind``, each (source, ref, key_id, payload): a
        page decrypts a hundred records, each key's cipher looked up once."""
        return [orjson.loads(blob) for blob in self.open_blobs(kind, rows)]

    def open_blobs(self, kind: str, rows: Iterable[tuple[str, str, str, bytes]]) -> list[bytes]:
        """:meth:`open_rows` without parsing: each record authenticated and decrypted, its
        JSON left as bytes (for a reader that parses only the records it needs)."""
        sealers: dict[str, Sealer] = {}
        out = []
        for source, ref, key_id, payload in rows:
            sealer = sealers.get(key_id)
            if sealer is None:
                sealer = sealers[key_id] = self._sealer(key_id)
            out.append(sealer.open(bytes(payload), aad(source, kind, ref, key_id)))
        return out

    async def ahold(self, key_ids: Iterable[str]) -> None:
        """The data keys of ``key_ids`` not yet in memory read from the keystore, awaited on
        the serving loop, and kept (a student's first request in this process): opening
        their records then needs no worker thread. Where the keystore is not read on the
        loop, or a key's KEK is not loaded here, nothing is kept and :meth:`_sealer` hands
        the request over, as for any key not in memory."""
        reads, conn = self.loop_reads, self.loop_conn
        if reads is None or conn is None or not reads.reads_keys:
            return
        missing = [k for k in dict.fromkeys(key_ids) if self.keyring.sealer_held(k) is None]
        if missing:
            for key_id, kek_id, wrapped in await reads.key_rows(conn, KEY_ROWS, missing):
                self.keyring.hold(key_id, kek_id, bytes(wrapped))

    def _sealer(self, key_id: str) -> Sealer:
        if not self.on_loop:
            return self.keyring.sealer(key_id)
        held = self.keyring.sealer_held(key_id)
        if held is None:  # reading it is a round trip: the request goes to a worker thread
            raise loopreads.WouldBlock(f"data key {key_id} not in memory")
        return held

    def _students(
        self, principal: Principal, published: int, today: dt.date, only: str | None
    ) -> list[StudentHandle]:
        sql, params = self._students_read(principal, published, today, only)
        return self._students_found(principal, published, self._exec(sql, params))

    def _students_read(
        self, principal: Principal, published: int, today: dt.date, only: str | None
    ) -> tuple[str, dict[str, Any]]:
        """The statement of :meth:`_students` and its parameters (awaited by :meth:`astudents`)."""
        if principal.role != "guardian":
            sql = STUDENT_SELF
        else:
            sql = GUARDIAN_STUDENTS if only is None else GUARDIAN_STUDENT
        params: dict[str, Any] = {
            "src": principal.source,
            "p": published,
            "me": principal.subject_ref,
            "today": today,
            "yes": True,
        }
        if only is not None:
            sql += " AND st.ref = :only"
            params["only"] = only
        if principal.only is not None:
            names = [f"o{i}" for i in range(len(principal.only))]
            params.update(zip(names, sorted(principal.only), strict=True))
            sql += f" AND st.ref IN ({', '.join(':' + n for n in names) or 'NULL'})"
        return sql + " ORDER BY st.ref", params

    def _students_found(self, principal: Principal, published: int, rows: list[Any]) -> list[StudentHandle]:
        """The handles for the rows of :meth:`_students_read` (decrypted; with the attached
        sources' runs, which a request on the serving loop read first: :meth:`afeeds`)."""
        feeds = self._feeds(principal.source) if rows else ()
        return [self._handle(principal, published, row, feeds) for row in rows]

    def _handle(
        self, principal: Principal, published: int, row: tuple[Any, ...], feeds: tuple[tuple[str, int], ...]
    ) -> StudentHandle:
        ref, key_id, payload = row
        return StudentHandle(
            ref,
            principal.source,
            published,
            self.open(principal.source, "student", ref, key_id, payload),
            feeds,
        )

    def found_student(self, principal: Principal, published: int, row: tuple[Any, ...]) -> StudentHandle:
        """The handle for a student row a query filtered by :func:`sees_student` returned
        (``ref, key_id, payload``) for this principal and published run."""
        return self._handle(principal, published, row, self._feeds(principal.source))

    def _feeds(self, source: str) -> tuple[tuple[str, int], ...]:
        """The attached sources that have published, with their runs."""
        known: tuple[tuple[str, int], ...] | None = self.memo.get(("feeds", source))
        if known is not None:  # read by afeeds for this request
            return known
        others = self.attached.get(source, ())
        return _feed_runs(others, self.query_in(_FEED_RUNS, {}, {"sources": list(others)}) if others else [])

    async def afeeds(self, source: str) -> None:
        """:meth:`_feeds` for ``source``, read now (awaited as :meth:`aquery` is) and kept
        for this request: a request on the serving loop reads it before any handle is made."""
        others = self.attached.get(source, ())
        if not others or ("feeds", source) in self.memo:
            return
        rows = await self.aquery_in(_FEED_RUNS, {}, {"sources": list(others)})
        self.memo[("feeds", source)] = _feed_runs(others, rows)

    def students(self, principal: Principal, published: int, today: dt.date) -> list[StudentHandle]:
        """Every student the principal may see now (read once per request: a page shows
        the child asked for and the switcher to the others)."""
        key = _every_student(principal, published, today)
        found: list[StudentHandle] | None = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self._students(principal, published, today, None)
        return list(found)

    async def astudents(self, principal: Principal, published: int, today: dt.date) -> list[StudentHandle]:
        """:meth:`students`, the read awaited as :meth:`aquery` is (and kept for the request
        as :meth:`students` keeps it)."""
        key = _every_student(principal, published, today)
        found: list[StudentHandle] | None = self.memo.get(key)
        if found is None:
            sql, params = self._students_read(principal, published, today, None)
            rows = await self.aquery(sql, params)
            await self.ahold(row[1] for row in rows)  # each row: ref, key_id, payload
            found = self.memo[key] = self._students_found(principal, published, rows)
        return list(found)

    def student(self, principal: Principal, published: int, today: dt.date, ref: str) -> StudentHandle | None:
        """The one student ``ref`` if, and only if, the principal may see it now."""
        every: list[StudentHandle] | None = self.memo.get(_every_student(principal, published, today))
        if every is not None:  # this request's answer to the same check, for every student
            return next((s for s in every if s.ref == ref), None)
        found = self._students(principal, published, today, ref)
        return found[0] if found else None

    def for_operator(self, source: str, published: int, ref: str) -> StudentHandle | None:
        """Any student of the snapshot, with no relationship check: for operator commands
        (a subject-access export, a purge), never for a request from a family."""
        found = self.shared(source, "student", ref, published)
        return None if found is None else StudentHandle(ref, source, published, found, self._feeds(source))

    def records(
        self,
        student: StudentHandle,
        kind: str,
        *,
        day_from: dt.date | None = None,
        day_to: dt.date | None = None,
        window: Window | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 1000,
    ) -> list[tuple[str, dict[str, Any]]]:
        """A student's records of ``kind`` (newest day first), already authorised by ``student``:
        from the student's own source and from every source attached to its students."""
        sql, params = self._records_read(student, RecordsRead(kind, day_from, day_to, window, after, limit))
        return self._opened_records(kind, self.query_in(sql, params, {}))

    async def aread(self, student: StudentHandle, read: RecordsRead) -> list[tuple[str, dict[str, Any]]]:
        """:meth:`records` for ``read``, the read awaited as :meth:`aquery` is: a route that
        plans its first read (:class:`FirstRead`, :func:`records_first`) reads the same plan here."""
        sql, params = self._records_read(student, read)
        return self._opened_records(read.kind, await self.aquery_in(sql, params, {}))

    def _records_read(self, student: StudentHandle, read: RecordsRead) -> tuple[str, dict[str, Any]]:
        sql, params = _records_shape(self.conn.dialect.name, len(student.feeds), read)
        params["sref"], params["src"], params["p"] = student.ref, student.source, student.published_run
        for i, (src, run) in enumerate(student.feeds):
            params[f"src{i}"], params[f"p{i}"] = src, run
        return sql, params

    def _opened_records(self, kind: str, rows: list[Any]) -> list[tuple[str, dict[str, Any]]]:
        opened = self.open_rows(kind, [(src, ref, key_id, payload) for ref, key_id, payload, _, src in rows])
        return [(row[0], record) for row, record in zip(rows, opened, strict=True)]

    def shared(self, source: str, kind: str, ref: str, published: int) -> dict[str, Any] | None:
        """A record by its ref in the published snapshot, unchecked: for non-personal records
        (school, section, notice) and :meth:`for_operator`."""
        rows = self._exec(
            f"SELECT ref, key_id, payload FROM record r WHERE r.source = :src AND r.kind = :k AND r.ref = :ref "
            f"AND {CURRENT.format(t='r')}",
            {"src": source, "k": kind, "ref": ref, "p": published},
        )
        return self.open(source, kind, rows[0][0], rows[0][1], rows[0][2]) if rows else None
