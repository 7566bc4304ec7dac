"""Stage a run's rows, detect changes and deletes, then publish or discard atomically.

Staged rows are invisible until :meth:`Staging.publish` moves the source's
``published_run`` in one transaction (with the stream cursors that describe them).
Writes are committed in short batches so a long sync never blocks the API's own
writes (sessions, audit) for long; a crash leaves only unpublished rows, which the
next run discards. Unchanged records are neither re-encrypted nor rewritten.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson
from sqlalchemy import Connection, Engine, text

from cache.keys.crypto import Sealer
from cache.keys.keystore import Keyring
from cache.snapshots.changes import ChangeSet, StagedVersion
from cache.snapshots.encode import CONFIG_SHAPED_KINDS, Encoded, Encoder, aad
from cache.snapshots.purge_filter import PurgeFilter
from cache.snapshots.runs import save_state, update_run
from cache.snapshots.versions import VersionIndex
from cache.tables.records import CURRENT
from cache.types import binder, placeholder, utcnow
from config.errors import RecordError
from connectors.records import Record

COMMIT_EVERY_S = 0.5
# Records staged together (encoded, sealed and written in one batch): a page larger than
# this is staged in slices, so staging's memory does not grow with the source's page size
# (docs/PERFORMANCE-scale.md, peak RSS). Large enough that a batch still takes COPY and
# its per-statement costs are spread thin.
WRITE_BATCH = 1_000
# On PostgreSQL a batch of at least this many rows is staged through COPY (a temporary
# table, then one INSERT ... SELECT that keeps ON CONFLICT); smaller ones through the
# driver's executemany, whose single round trip costs less than the extra pass.
COPY_MIN_ROWS = 64
_COPY_TABLE = "portico_record_copy"
# The binary COPY wire types of _INSERT_COLS, in order.
_COPY_TYPES = (
    "text", "text", "text", "text", "text", "text", "date", "timestamp", "date", "date",
    "date", "bool", "text", "text", "bytea", "bytea", "int4", "int8",
)  # fmt: skip
_INSERT_COLS = (
    "source, kind, ref, student_ref, contact_ref, parent_ref, day, stamp, active_from, active_to, "
    "guardian_until, access, audience, key_id, digest, payload, valid_from, row_key"
)


def _date_sqlite(v: object) -> object:
    return v.isoformat() if isinstance(v, dt.date) else v


def _date_pg(v: object) -> object:
    return v


# A current version as the staging finds it (Staging._existing): id, digest, run, row key,
# and for a watched kind its key id and sealed payload.
_Current: TypeAlias = tuple[int, bytes, int, int | None, tuple[str, bytes] | None]


@dataclass
class KindCounts:
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class StageResult:
    counts: dict[str, KindCounts] = field(default_factory=lambda: defaultdict(KindCounts))
    rejected: list[dict[str, str]] = field(default_factory=list)


class Staging:
    """Writes one run of one source into the cache, invisibly until published."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        encoder: Encoder,
        run_id: int,
        published: int | None,
        changes: Sequence[ChangeSet] = (),
    ):
        self.engine = engine
        self.keyring = keyring
        self.encoder = encoder
        self.source = encoder.source
        self.run_id = run_id
        self.published = published if published is not None else 0
        self.result = StageResult()
        # What the after-publish watchers asked to be kept (cache.snapshots.changes). A first
        # snapshot is the district as it stands, never a change: nothing is collected.
        self.changes = [c for c in changes if published is not None]
        self.conn: Connection = engine.connect()
        self.sqlite = engine.dialect.name == "sqlite"
        self._stamp = binder(engine.dialect.name)
        self._date = _date_sqlite if self.sqlite else _date_pg
        self._ph = ph = placeholder(engine.dialect.name)
        self._copy_ready = False
        self._tracking: dict[str, VersionIndex] = {}
        self._rekey_sql = f"UPDATE record SET row_key={ph} WHERE id={ph}"
        self._rekey: list[tuple[int, int]] = []  # (row key, id): unchanged versions keyed afresh
        self._had_rows: dict[str, bool] = {}
        self._last_commit = time.monotonic()
        # Purged students stay out unless the re-import rule lets them back (cache.snapshots.purge_filter).
        self.purged = PurgeFilter(self.conn, encoder, utcnow().astimezone(encoder.tz).date())

    # --- writing -------------------------------------------------------------------------

    def start_stream(self, kinds: Sequence[str], full: bool) -> None:
        """Before a full stream: index the current versions of its kinds (change and delete detection)."""
        if not full:
            return
        for kind in kinds:
            if kind not in self._tracking and self._current_exists(kind):
                self._tracking[kind] = VersionIndex(self.conn, self._ph, self.source, kind)

    def known_rows(self, kinds: Sequence[str]) -> _KnownRows:
        """For a stream whose records carry row keys: index its kinds now (it is read whole)."""
        shaped = CONFIG_SHAPED_KINDS.intersection(kinds)
        if shaped:  # their digest mixes in config, which a row key does not see
            raise ValueError(f"row keys cannot stand for {', '.join(sorted(shaped))} records")
        self.start_stream(kinds, True)
        return _KnownRows(self)

    def reject(self, err: RecordError, kind: str = "unknown") -> None:
        self.result.counts[kind].rejected += 1
        if len(self.result.rejected) < 500:
            self.result.rejected.append({"where": err.where, "field": err.field, "reason": err.reason})

    def write(self, records: Sequence[Record], row_keys: Sequence[int | None] = ()) -> None:
        """Stage a page of records: insert new and changed ones, note unchanged ones.
        ``row_keys``, when given, are aligned with ``records`` (connectors.base.Page).

        A page is staged ``WRITE_BATCH`` records at a time, so what staging holds for it (the
        encoded and sealed rows, the new owners' keys, the driver's parameters) is bounded
        by the batch, not by the page a source sends (up to its page cap)."""
        for i in range(0, len(records), WRITE_BATCH):
            self._write(records[i : i + WRITE_BATCH], row_keys[i : i + WRITE_BATCH] if row_keys else ())

    def _write(self, records: Sequence[Record], row_keys: Sequence[int | None]) -> None:
        by_kind: dict[str, list[Encoded]] = defaultdict(list)
        encoder, tracking, purged = self.encoder, self._tracking, self.purged
        keyed: Iterable[tuple[Record, int | None]] = (
            zip(records, row_keys, strict=True) if row_keys else ((rec, None) for rec in records)
        )
        if purged.active:
            keyed = [(rec, key) for rec, key in keyed if purged.admits(rec)]
        for rec, key in keyed:
            index = tracking.get(rec.kind)
            if index is None:
                enc = encoder.encode(rec)
            else:
                # Full pull of a kind we hold: an identical version is found by its digest
                # alone, with no blind index, lookup, encryption or write.
                payload, digest = encoder.digest_of(rec)
                row_id = index.take(digest)
                if row_id:
                    self.result.counts[rec.kind].unchanged += 1
                    if key is not None:
                        self._rekey.append((key, row_id))
                    continue
                enc = encoder.encode(rec, payload, digest)
            enc.row_key = key
            by_kind[enc.kind].append(enc)
        for kind, encs in by_kind.items():
            self._write_kind(kind, encs)
        if self._rekey:
            self.conn.exec_driver_sql(self._rekey_sql, self._rekey)
            self._rekey = []
        if time.monotonic() - self._last_commit > COMMIT_EVERY_S:
            self.conn.commit()
            self._last_commit = time.monotonic()

    def _write_kind(self, kind: str, encs: list[Encoded]) -> None:
        counts = self.result.counts[kind]
        had_rows = self._had_rows.get(kind)
        if had_rows is None:
            had_rows = self._had_rows[kind] = self._current_exists(kind)
        # Watched kinds read the current versions' payloads with them (the retired ones are
        # opened for the watchers, see _kept and _collect). A kind with no rows before this
        # run has nothing to compare against.
        watched = any(kind in c.kinds and not c.overflow for c in self.changes)
        existing = self._existing(kind, [e.ref for e in encs], watched) if had_rows else {}
        to_insert: list[Encoded] = []
        retire: list[int] = []
        index = self._tracking.get(kind)
        batch_refs: set[str] = set()
        for e in encs:
            if e.ref in batch_refs:
                self.reject(
                    RecordError(
                        "duplicate source id in this run; the first was kept", where=f"{kind} record"
                    ),
                    kind,
                )
                continue
            batch_refs.add(e.ref)
            hit = existing.get(e.ref)
            if hit is None:
                to_insert.append(e)
                counts.added += 1
                continue
            row_id, digest, valid_from, old_key, _ = hit
            if valid_from == self.run_id:
                self.reject(
                    RecordError(
                        "duplicate source id in this run; the first was kept", where=f"{kind} record"
                    ),
                    kind,
                )
                continue
            if index is not None:  # the old version is accounted for: changed, not deleted
                index.take_version(old_key, digest)
            if digest == e.digest:
                counts.unchanged += 1
                if e.row_key is not None and e.row_key != old_key:
                    # Same record from a row keyed afresh (new salt): key it, so the next pull skips it.
                    self._rekey.append((e.row_key, row_id))
            else:
                counts.changed += 1
                retire.append(row_id)
                to_insert.append(e)
        if retire:
            self.conn.execute(
                text(f"UPDATE record SET valid_to=:r WHERE id IN ({','.join(str(i) for i in retire)})"),
                {"r": self.run_id},
            )
        if to_insert:
            key_ids = self._key_ids(to_insert)
            kept = self._kept(kind, to_insert, existing) if self.changes else None
            opening = self._insert(to_insert, key_ids, kept.retired if kept is not None else {})
            if kept is not None:
                self._collect(kind, kept, key_ids, opening)

    def _kept(self, kind: str, encs: list[Encoded], existing: dict[str, _Current]) -> _Kept | None:
        """What the watchers of ``kind`` keep of a batch's new versions: each one's summaries
        (made from the records in place; an empty one is not kept), and the retired
        versions (still sealed, read with the current ones: ``existing``) to open for those
        kept. None when nobody watches ``kind``."""
        watchers = [c for c in self.changes if kind in c.kinds and not c.overflow]
        if not watchers:
            return None
        began = time.process_time()
        versions: list[tuple[ChangeSet, list[int], list[dict[str, Any]]]] = []
        for c in watchers:
            summarise = c.summarise
            # Two lists, not a pair per version: nothing the collector counts is made for
            # a version here (its summary may be one shared by many: detect.summarise).
            at: list[int] = []
            summaries: list[dict[str, Any]] = []
            for i, e in enumerate(encs):
                if summary := summarise(kind, e.record.__getattribute__):
                    at.append(i)
                    summaries.append(summary)
            versions.append((c, at, summaries))
            c.seen += len(encs)
        retired = {
            ref: sealed
            for _, at, _ in versions
            for i in at
            if (hit := existing.get(ref := encs[i].ref)) is not None and (sealed := hit[4]) is not None
        }
        kept = _Kept(watchers, encs, versions, retired)
        kept.cpu = time.process_time() - began
        return kept

    def _collect(self, kind: str, kept: _Kept, key_ids: list[str], opening: list[_Retired]) -> None:
        """Hand the watchers the versions they keep, each with the summary of the version it
        retires: opened here (``opening``, from the sealing of the batch), then decoded and
        summarised alike as each watcher's version is staged. ``key_ids``: the batch's, as
        it was sealed.

        A retired version is decoded where it is summarised, and its dict dropped at once:
        decoded all first, a batch's dicts were alive together, and the collector's passes
        they brought on walked the batch's objects (a sixth of these steps' instructions).
        A version kept by two watchers is decoded twice (alerts is the one watcher)."""
        began = time.process_time()
        keyring, source, loads = self.keyring, self.source, orjson.loads
        opened: dict[str, bytes] = {}
        for ref, key_id, payload, sealer in opening:
            # Opened with the cipher that sealed its owner's new version, or (the record
            # moved to another owner) one made for its own key and dropped.
            cipher = keyring.sealer_uncached(key_id) if sealer is None else sealer
            opened[ref] = cipher.open(payload, aad(source, kind, ref, key_id))
        encs = kept.encs
        for c, at, summaries in kept.versions:
            summarise = c.summarise
            staged = []
            for i, summary in zip(at, summaries, strict=True):
                e = encs[i]
                g = e.cols.get
                old = opened.get(e.ref)
                staged.append(
                    StagedVersion(
                        kind,
                        e.ref,
                        g("student_ref"),  # type: ignore[arg-type]
                        g("parent_ref"),  # type: ignore[arg-type]
                        g("stamp"),
                        g("day"),
                        g("audience"),  # type: ignore[arg-type]
                        key_ids[i],
                        summary,
                        None if old is None else summarise(kind, loads(old).get),
                    )
                )
            c.extend(staged)
        spent = kept.cpu + time.process_time() - began
        for c in kept.watchers:
            c.cpu += spent

    def _current_exists(self, kind: str) -> bool:
        return bool(
            self.conn.execute(
                text("SELECT 1 FROM record WHERE source=:s AND kind=:k AND valid_to IS NULL LIMIT 1"),
                {"s": self.source, "k": kind},
            ).first()
        )

    def _existing(self, kind: str, refs: list[str], sealed: bool = False) -> dict[str, _Current]:
        return current_versions(self.conn, self.source, kind, refs, sealed)

    def _key_ids(self, encs: list[Encoded]) -> list[str]:
        """Each record's data key id (its owner's), in ``encs`` order, the owners' keys made
        ready (created where missing) in one go."""
        keyring = self.keyring
        keyring.ensure({e.owner for e in encs})
        key_for = keyring.key_for
        return [key_for(e.owner) for e in encs]

    def _insert(
        self, encs: list[Encoded], key_ids: list[str], retired: dict[str, tuple[str, bytes]]
    ) -> list[_Retired]:
        """Seal ``encs`` under ``key_ids`` and write them; the ``retired`` versions (ref -> key
        id and sealed payload) are returned to be opened, each with its owner's cipher
        (:func:`_sealed`)."""
        source, run, d, t = self.source, self.run_id, self._date, self._stamp
        opening: list[_Retired] = []
        blobs = _sealed(self.keyring, source, encs, key_ids, retired, opening)
        rows = []
        for e, key_id, blob in zip(encs, key_ids, blobs, strict=True):
            g = e.cols.get
            stamp = g("stamp")
            rows.append(
                (
                    source,
                    e.kind,
                    e.ref,
                    g("student_ref"),
                    g("contact_ref"),
                    g("parent_ref"),
                    d(g("day")),
                    None if stamp is None else t(stamp),
                    d(g("active_from")),
                    d(g("active_to")),
                    d(g("guardian_until")),
                    g("access"),
                    g("audience"),
                    key_id,
                    e.digest,
                    blob,
                    run,
                    e.row_key,
                )
            )
        inserted = self._write_rows(rows)
        if inserted is not None and 0 <= inserted < len(rows):
            dups = len(rows) - inserted
            kind = encs[0].kind
            self.result.counts[kind].added -= dups
            for _ in range(min(dups, 5)):
                self.reject(
                    RecordError(
                        "duplicate source id in this run; the first was kept", where=f"{kind} record"
                    ),
                    kind,
                )
            self.result.counts[kind].rejected += max(0, dups - 5)
        return opening

    def _write_rows(self, rows: Sequence[tuple[object, ...]]) -> int | None:
        """Insert staged rows (duplicates of (source, kind, ref, run) skipped): the count inserted."""
        if self.sqlite or len(rows) < COPY_MIN_ROWS:
            return insert_rows(self.conn, rows)
        return self._copy_rows(rows)

    def _copy_rows(self, rows: Sequence[tuple[object, ...]]) -> int:
        inserted = copy_rows(self.conn, rows, create=not self._copy_ready)
        self._copy_ready = True
        return inserted

    def finish_full_stream(self, kinds: Sequence[str]) -> None:
        """After a complete full read: published rows not seen this run are deletes."""
        for kind in kinds:
            index = self._tracking.pop(kind, None)
            if index is None:
                continue
            gone = index.unseen_ids()
            for i in range(0, len(gone), 500):
                chunk = gone[i : i + 500]
                self.conn.execute(
                    text(
                        f"UPDATE record SET valid_to=:r WHERE id IN ({','.join(str(int(x)) for x in chunk)})"
                    ),
                    {"r": self.run_id},
                )
            self.result.counts[kind].deleted += len(gone)
        self.conn.commit()
        self._last_commit = time.monotonic()

    def pending_deletes(self, kinds: Sequence[str]) -> int:
        """Published rows of ``kinds`` a full stream has not seen (so far): would-be deletes."""
        return sum(self._tracking[k].unseen_count() for k in kinds if k in self._tracking)

    def published_counts(self, kinds: Sequence[str]) -> dict[str, int]:
        out = {}
        for kind in kinds:
            out[kind] = int(
                self.conn.execute(
                    text(
                        "SELECT count(*) FROM record r WHERE r.source=:s AND r.kind=:k AND "
                        + CURRENT.format(t="r")
                    ),
                    {"s": self.source, "k": kind, "p": self.published},
                ).scalar()
                or 0
            )
        return out

    def close(self) -> None:
        self._tracking.clear()
        self.conn.close()


def current_versions(
    conn: Connection, source: str, kind: str, refs: list[str], sealed: bool = False
) -> dict[str, _Current]:
    """The current versions of ``refs`` (by ref) as the staging finds them: id, digest, run,
    row key, and when ``sealed`` (a watched kind) their key id and payload, still sealed."""
    out: dict[str, _Current] = {}
    ph = placeholder(conn.dialect.name)
    extra = "key_id, payload" if sealed else "NULL, NULL"
    for i in range(0, len(refs), 900):
        chunk = refs[i : i + 900]
        sql = (
            f"SELECT id, ref, digest, valid_from, row_key, {extra} FROM record WHERE source={ph} "
            f"AND kind={ph} AND valid_to IS NULL AND ref IN ({','.join([ph] * len(chunk))})"
        )
        for row_id, ref, digest, valid_from, row_key, key_id, payload in conn.exec_driver_sql(
            sql, (source, kind, *chunk)
        ):
            old = None if key_id is None else (key_id, bytes(payload))
            out[ref] = (row_id, bytes(digest), valid_from, row_key, old)
    return out


# A retired version to open for the watchers: its ref, key id and sealed payload, and the
# cipher its owner's new versions were sealed with (None when the key ids differ: the
# record moved to another owner). A plain tuple: one is made per kept change, in the
# sealing loop.
_Retired: TypeAlias = tuple[str, str, bytes, Sealer | None]


@dataclass(slots=True)
class _Kept:
    """A batch's new versions its watchers keep (:meth:`Staging._kept`)."""

    watchers: list[ChangeSet]
    encs: list[Encoded]  # the batch's new versions, in the order they are sealed and written
    # Each watcher's versions it keeps: their indexes in ``encs``, and their summaries.
    versions: list[tuple[ChangeSet, list[int], list[dict[str, Any]]]]
    retired: dict[str, tuple[str, bytes]]  # ref -> key id and sealed payload, for those kept
    cpu: float = 0.0


def _sealed(
    keyring: Keyring,
    source: str,
    encs: Sequence[Encoded],
    key_ids: Sequence[str],
    retired: dict[str, tuple[str, bytes]],
    opening: list[_Retired],
) -> list[bytes]:
    """Each record's payload sealed under its owner's key, in ``encs`` order.

    An owner's records are sealed together with one cipher object (about 2.5 KB each,
    outside Python's heap) that is dropped afterwards: the keyring's cache is left to the
    readers, so a sync holds one cipher at a time however many people the district has.
    The ``retired`` versions of the records (by ref) are put in ``opening`` with that
    cipher, to be opened after the batch: the watchers' openings make no cipher of their
    own, and those of a batch are held until then (at most one an owner in the batch)."""
    blobs: list[bytes] = [b""] * len(encs)
    current, sealer = "", None
    for i in sorted(range(len(encs)), key=key_ids.__getitem__):
        key_id, e = key_ids[i], encs[i]
        if key_id != current or sealer is None:
            current, sealer = key_id, keyring.sealer_uncached(key_id)
        blobs[i] = sealer.seal(e.payload, aad(source, e.kind, e.ref, key_id))
        if retired:
            old = retired.get(e.ref)
            if old is not None:
                opening.append((e.ref, old[0], old[1], sealer if old[0] == key_id else None))
    return blobs


class _KnownRows:
    """What a connector sees of a Staging for a stream with row keys (connectors.base.KnownRows).

    A key found among the current versions stands for the record its row gave when that
    version was staged, so the version is counted unchanged and kept. The purge filter
    needs no say: purging deletes a subject's rows, keys included (gateway.privacy.purge), so only
    admitted versions can be found."""

    def __init__(self, staging: Staging) -> None:
        self._staging = staging

    def keyer(self, salt: bytes) -> Callable[[bytes], int]:
        return self._staging.encoder.index.row_keyer(salt)

    def taker(self, kind: str) -> Callable[[int], bool]:
        index = self._staging._tracking.get(kind)
        if index is None:  # nothing held yet: every row is new
            return lambda key: False
        return index.row_taker(self._staging.result.counts[kind])


def copy_rows(conn: Connection, rows: Sequence[tuple[object, ...]], *, create: bool = True) -> int:
    """PostgreSQL: stage ``rows`` (in ``_INSERT_COLS`` order) by binary COPY into a
    session-local temporary table (made first when ``create``), then move them into
    ``record`` in one statement with the same ON CONFLICT as the insert path. Returns
    the count inserted. Measured per row, client and server CPU together, COPY costs
    less than executemany from batches of about 64 rows (``COPY_MIN_ROWS``):
    ``scripts/bench_sync --copy-batches``."""
    if not conn.in_transaction():
        conn.begin()
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:  # type: ignore[union-attr]
        if create:
            cur.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_COPY_TABLE} ON COMMIT DELETE ROWS AS "
                f"SELECT {_INSERT_COLS} FROM record WITH NO DATA"
            )
        with cur.copy(f"COPY {_COPY_TABLE} ({_INSERT_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(_COPY_TYPES))
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"WITH moved AS (DELETE FROM {_COPY_TABLE} RETURNING {_INSERT_COLS}) "
            f"INSERT INTO record ({_INSERT_COLS}) SELECT {_INSERT_COLS} FROM moved "
            "ON CONFLICT (source, kind, ref, valid_from) DO NOTHING"
        )
        return int(cur.rowcount)


def insert_rows(conn: Connection, rows: Sequence[tuple[object, ...]]) -> int | None:
    """Stage ``rows`` (in ``_INSERT_COLS`` order) with the driver's executemany: the count
    inserted, when the driver reports it. ON CONFLICT: a record repeated within one run is
    kept once (the unique index)."""
    ph = placeholder(conn.dialect.name)
    sql = (
        f"INSERT INTO record ({_INSERT_COLS}) VALUES ({', '.join([ph] * 18)}) "
        "ON CONFLICT (source, kind, ref, valid_from) DO NOTHING"
    )
    return conn.exec_driver_sql(sql, rows).rowcount


def discard_run(conn: Connection, source: str, run_id: int) -> None:
    """Remove everything a run staged (its rows, and its retirements of older rows)."""
    conn.execute(text("DELETE FROM record WHERE source=:s AND valid_from=:r"), {"s": source, "r": run_id})
    conn.execute(
        text("UPDATE record SET valid_to=NULL WHERE source=:s AND valid_to=:r"), {"s": source, "r": run_id}
    )


def publish_run(
    conn: Connection, source: str, run_id: int, cursors: dict[str, str], as_of: dt.datetime, full: bool
) -> None:
    """Make ``run_id`` the source's visible snapshot: one transaction, with its cursors."""
    now = utcnow()
    prev = conn.execute(
        text("SELECT published_run FROM source_state WHERE source=:s"), {"s": source}
    ).scalar()
    # Rows retired before the previous snapshot are unreachable by any reader now.
    if prev is not None:
        conn.execute(
            text("DELETE FROM record WHERE source=:s AND valid_to IS NOT NULL AND valid_to <= :p"),
            {"s": source, "p": prev},
        )
    extra = {"last_full_at": now} if full else {}
    save_state(
        conn,
        source,
        published_run=run_id,
        previous_run=prev,
        as_of=as_of,
        synced_at=now,
        cursors=cursors,
        consecutive_failures=0,
        breaker_open_until=None,
        **extra,
    )
    update_run(conn, run_id, status="published", finished_at=now)
