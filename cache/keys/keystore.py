"""Data keys, one per person (student or contact) plus shared and index keys, stored wrapped.

Destroying a person's data key erases that person everywhere, including in old copies
of the cache database, because the keystore is kept apart from the cache (its own
SQLite file by default, see :func:`cache.db.default_keystore_url`). Deleted key rows
are overwritten on disk (``secure_delete``) and the WAL is checkpointed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from sqlalchemy import Column, DateTime, Engine, LargeBinary, MetaData, String, Table, event, select, text
from sqlalchemy.exc import IntegrityError

from cache.db import is_sqlite
from cache.keys.crypto import KEY_BYTES, BlindIndex, KekRing, Sealer
from cache.types import placeholder, utcnow
from config.errors import PorticoError

# The keystore's tables as the code uses them; created and changed only by the keystore
# line of migrations (cache/migrations/keystore/).
keystore_metadata = MetaData()

data_key = Table(
    "data_key",
    keystore_metadata,
    Column("key_id", String(40), primary_key=True),
    Column("owner", String(64), nullable=False, unique=True),
    Column("kek_id", String(40), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

INDEX_OWNER = "system:index"
# Data keys by id, as :meth:`Keyring.hold` takes them (``:ids`` a list: ``cache.types.expanded``).
KEY_ROWS = "SELECT key_id, kek_id, wrapped FROM data_key WHERE key_id IN :ids"
SEALERS = 4096
# Owners whose key id and unwrapped data key are kept (about 282 B each with the owner's
# name, so at most some 18 MB besides the two dicts' tables): a district of up to about
# 30,000 students (2.2 owners each) in full, so a sync reads each key once; past that,
# the least recently used are dropped and read again from the keystore, a batch's at
# once (:meth:`Keyring.ensure`), at about 8 µs of CPU an owner more than a kept key
# (docs/PERFORMANCE-scale.md). A long-running API process stays bounded too.
OWNER_KEYS = 65_536


def _keep(cache: dict[str, Any], key: str, value: Any, cap: int) -> None:
    """Put ``key`` last in a least-recently-used ``cache`` of at most ``cap`` entries.

    A plain dict in use order (a use moves the key to the end) rather than an
    OrderedDict: the OrderedDict's linked list costs some 45 B an entry on top of the
    dict's, 90 B an owner for the two maps (measured with tracemalloc), and nothing
    here needs more than "oldest first". Past ``cap`` the oldest sixteenth is dropped
    at once, so dropping is not paid key by key."""
    cache.pop(key, None)
    cache[key] = value
    if len(cache) > cap:
        try:  # list(islice(...)) runs in C: no other thread changes the dict meanwhile
            oldest = list(islice(cache, len(cache) - cap + cap // 16))
        except RuntimeError:  # changed by another thread all the same: drop next time
            return
        for k in oldest:
            cache.pop(k, None)


def _touch(cache: dict[str, Any], key: str) -> None:
    """Mark ``key`` used now (a key dropped meanwhile by another thread is read again on use)."""
    value = cache.pop(key, None)
    if value is not None:
        cache[key] = value


def _secure_delete(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


def shared_owner(source: str) -> str:
    """Owner of the key for a source's non-personal records (schools, sections, notices)."""
    return f"shared:{source}"


class Keyring:
    """Unwrapped data keys in memory, created on first use, destroyed on purge."""

    def __init__(self, engine: Engine, keks: KekRing, reload: Callable[[], KekRing] | None = None) -> None:
        self.engine = engine
        self.keks = keks
        # Re-reads the key file: ``portico keys rotate`` in another process adds a KEK,
        # rewraps every data key under it and retires the old one while we keep serving.
        self._reload = reload
        self._lock = threading.Lock()
        # owner -> key id and key id -> unwrapped key (32 bytes), the OWNER_KEYS most recently
        # used of each; a cipher object is ~2.7 KB, so only the most recent SEALERS of those
        # are kept. Memory stays flat as districts grow; the keystore holds every key.
        self._owner_key: dict[str, str] = {}
        self._raw: dict[str, bytes] = {}
        self._sealers: dict[str, Sealer] = {}
        if is_sqlite(str(engine.url)):
            # secure_delete is per connection: set it on every one, so a destroyed key's
            # bytes are overwritten in the file whichever pooled connection deletes it.
            event.listen(engine, "connect", _secure_delete)
            with engine.begin() as conn:
                conn.execute(text("PRAGMA secure_delete=ON"))
        self.index = BlindIndex(self._raw_key(self.key_for(INDEX_OWNER)))

    # --- lookup and creation -------------------------------------------------------------

    def key_for(self, owner: str) -> str:
        key_id = self._owner_key.get(owner)
        if key_id is None:
            self.ensure([owner])
            key_id = self._owner_key.get(owner)
            if key_id is None:  # dropped again by other threads' owners: ask the keystore
                key_id = self.key_for_uncached(owner)
        return key_id

    def fresh_key_for(self, owner: str) -> str:
        """:meth:`key_for`, checked against the keystore first: for rare writes (a correction
        request) in a process that may have cached a key another process has since destroyed."""
        stored = self.key_ids_of([owner]).get(owner)
        if stored != self._owner_key.get(owner):
            self._owner_key.pop(owner, None)
        return self.key_for(owner)

    def ensure(self, owners: Iterable[str]) -> None:
        """Make sure each owner has a data key (one transaction for all missing ones), its id
        and its unwrapped key in memory: up to OWNER_KEYS owners, :meth:`key_for` then
        answers each without a query."""
        known, raw, missing = self._owner_key, self._raw, set()
        for o in owners:
            k = known.get(o)
            if k is None or k not in raw:
                missing.add(o)
            else:
                _touch(known, o)
                _touch(raw, k)
        if not missing:
            return
        with self._lock:
            missing -= self._load(missing)
            if not missing:
                return
            self.reload_keks()  # wrap new keys under the newest KEK, never a retired one
            rows = []
            for owner in sorted(missing):
                key_id = "dk_" + secrets.token_hex(8)
                kek_id, wrapped = self.keks.wrap(os.urandom(KEY_BYTES), key_id)
                rows.append(
                    {
                        "key_id": key_id,
                        "owner": owner,
                        "kek_id": kek_id,
                        "wrapped": wrapped,
                        "created_at": utcnow().replace(tzinfo=None),
                    }
                )
            try:
                with self.engine.begin() as conn:
                    conn.execute(data_key.insert(), rows)
            except IntegrityError:
                pass  # another process created some of them first: load theirs below
            self._load(missing)

    def _load(self, owners: set[str]) -> set[str]:
        """Owners' key ids and unwrapped keys, one query per 500 owners; returns the owners
        that have a key."""
        owner_list, found = list(owners), set()
        with self.engine.connect() as conn:
            for i in range(0, len(owner_list), 500):
                chunk = owner_list[i : i + 500]
                for key_id, owner, kek_id, wrapped in conn.execute(
                    select(data_key.c.key_id, data_key.c.owner, data_key.c.kek_id, data_key.c.wrapped).where(
                        data_key.c.owner.in_(chunk)
                    )
                ):
                    if key_id not in self._raw:
                        if kek_id not in self.keks.ids:
                            self.reload_keks()
                        _keep(self._raw, key_id, self.keks.unwrap(kek_id, wrapped, key_id), OWNER_KEYS)
                    else:
                        _touch(self._raw, key_id)
                    _keep(self._owner_key, owner, key_id, OWNER_KEYS)
                    found.add(owner)
        return found

    def _raw_key(self, key_id: str) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_key.c.kek_id, data_key.c.wrapped).where(data_key.c.key_id == key_id)
            ).first()
        if row is None:
            raise LookupError(key_id)
        if row.kek_id not in self.keks.ids:
            self.reload_keks()
        return self.keks.unwrap(row.kek_id, row.wrapped, key_id)

    def reload_keks(self) -> None:
        """Pick up a rotated key file (no-op when the KEKs came from elsewhere)."""
        if self._reload is None:
            return
        # The file is replaced by an atomic rename, never half-written; should it be
        # unreadable anyway, keep serving with the ring we have.
        with contextlib.suppress(PorticoError):
            self.keks = self._reload()

    def preload(self, key_ids: Iterable[str]) -> None:
        """Unwrap many data keys with one query per 500 (bulk readers: breach report, export).
        All are kept, past OWNER_KEYS, until a key is next read from the keystore."""
        wanted = [k for k in dict.fromkeys(key_ids) if k not in self._raw]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(data_key.c.key_id, data_key.c.kek_id, data_key.c.wrapped).where(
                        data_key.c.key_id.in_(chunk)
                    )
                ).all()
            for r in rows:
                if r.kek_id not in self.keks.ids:
                    self.reload_keks()
                self._raw[r.key_id] = self.keks.unwrap(r.kek_id, r.wrapped, r.key_id)

    def sealer(self, key_id: str) -> Sealer:
        """The cipher for ``key_id``; LookupError once the key has been destroyed."""
        s = self._sealers.get(key_id)
        if s is None:
            s = self._kept_sealer(key_id, self._raw_of(key_id))
        return s

    def hold(self, key_id: str, kek_id: str, wrapped: bytes) -> bool:
        """Keep ``key_id``'s data key, unwrapped from its keystore row (:data:`KEY_ROWS`)
        read elsewhere: awaited on the serving loop (``cache.loopreads``), which must not
        wait for this keystore's engine. False, and nothing kept, when the row names a KEK
        this process has not loaded (a rotation not yet picked up): :meth:`sealer` reads
        the key file again, on a worker thread."""
        keks = self.keks  # once: a worker thread may load a rotated ring meanwhile
        if kek_id not in keks.ids:
            return False
        _keep(self._raw, key_id, keks.unwrap(kek_id, wrapped, key_id), OWNER_KEYS)
        return True

    def sealer_held(self, key_id: str) -> Sealer | None:
        """:meth:`sealer` if the key is in memory already, else None: no database read (for
        a request on the serving loop, which must not wait for one: ``cache.loopreads``)."""
        s = self._sealers.get(key_id)
        if s is None:
            # The bytes found here, not a second lookup: a worker thread may drop the key
            # from memory in between, and sealer() would then read it from the keystore.
            raw = self._raw.get(key_id)
            if raw is None:
                return None
            s = self._kept_sealer(key_id, raw)
        return s

    def _kept_sealer(self, key_id: str, raw: bytes) -> Sealer:
        s = Sealer(raw)
        if len(self._sealers) >= SEALERS:
            self._sealers.pop(next(iter(self._sealers)))  # oldest first
        self._sealers[key_id] = s
        return s

    def sealer_uncached(self, key_id: str) -> Sealer:
        """:meth:`sealer` without keeping the cipher: for a bulk writer (a sync) that seals
        each owner's records of a batch together, so the cache stays the readers' and a
        district's worth of cipher objects is never held."""
        s = self._sealers.get(key_id)
        if s is not None:
            return s
        return Sealer(self._raw_of(key_id))

    def _raw_of(self, key_id: str) -> bytes:
        raw = self._raw.get(key_id)
        if raw is None:
            raw = self._raw_key(key_id)
            _keep(self._raw, key_id, raw, OWNER_KEYS)
        return raw

    def forget(self) -> None:
        """Drop unwrapped keys from memory (after a purge or rotation elsewhere)."""
        with self._lock:
            self._owner_key.clear()
            self._raw.clear()
            self._sealers.clear()
            self._owner_key[INDEX_OWNER] = self.key_for_uncached(INDEX_OWNER)

    def key_for_uncached(self, owner: str) -> str:
        with self.engine.connect() as conn:
            key_id = conn.execute(select(data_key.c.key_id).where(data_key.c.owner == owner)).scalar()
        if key_id is None:
            raise LookupError(owner)
        return str(key_id)

    # --- destruction and rotation --------------------------------------------------------

    def destroy(self, owner: str) -> str | None:
        """Destroy ``owner``'s data key; returns its id, or None if it had none."""
        with self._lock, self.engine.begin() as conn:
            key_id = conn.execute(select(data_key.c.key_id).where(data_key.c.owner == owner)).scalar()
            if key_id is None:
                return None
            conn.execute(data_key.delete().where(data_key.c.key_id == key_id))
            self._owner_key.pop(owner, None)
            self._raw.pop(key_id, None)
            self._sealers.pop(key_id, None)
        self._scrub()
        return str(key_id)

    def destroy_many(self, owners: Iterable[str]) -> dict[str, str]:
        """Destroy many owners' data keys at once; returns owner -> destroyed key id."""
        owner_list = list(dict.fromkeys(owners))
        destroyed: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(owner_list), 500):
                chunk = owner_list[i : i + 500]
                with self.engine.begin() as conn:
                    rows = conn.execute(
                        select(data_key.c.key_id, data_key.c.owner).where(data_key.c.owner.in_(chunk))
                    ).all()
                    conn.execute(data_key.delete().where(data_key.c.key_id.in_([r.key_id for r in rows])))
                for r in rows:
                    destroyed[str(r.owner)] = str(r.key_id)
                    self._owner_key.pop(r.owner, None)
                    self._raw.pop(r.key_id, None)
                    self._sealers.pop(r.key_id, None)
        if destroyed:
            self._scrub()
        return destroyed

    def _scrub(self) -> None:
        """After deleting keys, get their bytes off the live files, not just out of the table."""
        if is_sqlite(str(self.engine.url)):
            # secure_delete zeroed the pages; the checkpoint moves them out of the WAL.
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            return
        # PostgreSQL keeps deleted rows as dead tuples until vacuumed; VACUUM FULL rewrites
        # the (small) table without them. It cannot run inside a transaction.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM FULL data_key"))

    def key_ids_of(self, owners: Iterable[str]) -> dict[str, str]:
        """owner -> key id for the owners that have a data key (no unwrapping)."""
        owner_list = list(dict.fromkeys(owners))
        out: dict[str, str] = {}
        # Driver-level, bound by position: SQLAlchemy's in_() would process each owner at
        # every execution (alert detection asks for thousands of children's keys at once).
        ph = placeholder(self.engine.dialect.name)
        with self.engine.connect() as conn:
            for i in range(0, len(owner_list), 500):
                chunk = owner_list[i : i + 500]
                sql = f"SELECT key_id, owner FROM data_key WHERE owner IN ({', '.join([ph] * len(chunk))})"  # noqa: S608
                for key_id, owner in conn.exec_driver_sql(sql, tuple(chunk)):
                    out[str(owner)] = str(key_id)
        return out

    def rewrap_all(self, batch: int = 500) -> int:
        """Rewrap every data key not yet under the active KEK; returns how many changed."""
        active = self.keks.active.kek_id
        changed = 0
        while True:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(data_key.c.key_id, data_key.c.kek_id, data_key.c.wrapped)
                    .where(data_key.c.kek_id != active)
                    .limit(batch)
                ).all()
                for r in rows:
                    raw = self.keks.unwrap(r.kek_id, r.wrapped, r.key_id)
                    kek_id, wrapped = self.keks.wrap(raw, r.key_id)
                    conn.execute(
                        data_key.update()
                        .where(data_key.c.key_id == r.key_id, data_key.c.kek_id == r.kek_id)
                        .values(kek_id=kek_id, wrapped=wrapped)
                    )
            changed += len(rows)
            if len(rows) < batch:
                return changed

    def kek_usage(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT kek_id, count(*) FROM data_key GROUP BY kek_id")).all()
        return {str(k): int(n) for k, n in rows}


def unwrap_problem(engine: Engine, keks: KekRing) -> str | None:
    """Whether the key file opens the keystore: one stored data key (the blind-index key,
    else any) unwrapped under it, read only. None when it does, or when the keystore holds
    no key yet (nothing synced)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(data_key.c.key_id, data_key.c.kek_id, data_key.c.wrapped)
            .order_by((data_key.c.owner == INDEX_OWNER).desc(), data_key.c.key_id)
            .limit(1)
        ).first()
    if row is None:
        return None
    try:
        keks.unwrap(row.kek_id, row.wrapped, row.key_id)
    except PorticoError as exc:
        return str(exc)
    return None
