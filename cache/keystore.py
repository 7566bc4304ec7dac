"""Data keys, one per person (student or contact) plus shared and index keys, stored wrapped.

Destroying a person's data key erases that person everywhere, including in old copies
of the cache database, because the keystore is kept apart from the cache (its own
SQLite file by default, see :func:`cache.db.default_keystore_url`). Deleted key rows
are overwritten on disk (``secure_delete``) and the WAL is checkpointed.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable

from sqlalchemy import Column, DateTime, Engine, LargeBinary, MetaData, String, Table, select, text
from sqlalchemy.exc import IntegrityError

from cache.crypto import KEY_BYTES, BlindIndex, KekRing, Sealer
from cache.db import is_sqlite
from cache.types import utcnow

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


def shared_owner(source: str) -> str:
    """Owner of the key for a source's non-personal records (schools, sections, notices)."""
    return f"shared:{source}"


class Keyring:
    """Unwrapped data keys in memory, created on first use, destroyed on purge."""

    def __init__(self, engine: Engine, keks: KekRing) -> None:
        self.engine = engine
        self.keks = keks
        self._lock = threading.Lock()
        self._owner_key: dict[str, str] = {}
        self._sealers: dict[str, Sealer] = {}
        keystore_metadata.create_all(engine)
        if is_sqlite(str(engine.url)):
            with engine.begin() as conn:
                conn.execute(text("PRAGMA secure_delete=ON"))
        self.index = BlindIndex(self._raw_key(self.key_for(INDEX_OWNER)))

    # --- lookup and creation -------------------------------------------------------------

    def key_for(self, owner: str) -> str:
        key_id = self._owner_key.get(owner)
        if key_id is None:
            self.ensure([owner])
            key_id = self._owner_key[owner]
        return key_id

    def ensure(self, owners: Iterable[str]) -> None:
        """Make sure each owner has a data key (one transaction for all missing ones)."""
        missing = {o for o in owners if o not in self._owner_key}
        if not missing:
            return
        with self._lock:
            self._load(missing)
            missing -= self._owner_key.keys()
            if not missing:
                return
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

    def _load(self, owners: set[str]) -> None:
        owner_list = list(owners)
        with self.engine.connect() as conn:
            for i in range(0, len(owner_list), 500):
                chunk = owner_list[i : i + 500]
                for key_id, owner in conn.execute(
                    select(data_key.c.key_id, data_key.c.owner).where(data_key.c.owner.in_(chunk))
                ):
                    self._owner_key[owner] = key_id

    def _raw_key(self, key_id: str) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(data_key.c.kek_id, data_key.c.wrapped).where(data_key.c.key_id == key_id)
            ).first()
        if row is None:
            raise LookupError(key_id)
        return self.keks.unwrap(row.kek_id, row.wrapped, key_id)

    def sealer(self, key_id: str) -> Sealer:
        """The cipher for ``key_id``; LookupError once the key has been destroyed."""
        s = self._sealers.get(key_id)
        if s is None:
            s = Sealer(self._raw_key(key_id))
            self._sealers[key_id] = s
        return s

    def forget(self) -> None:
        """Drop unwrapped keys from memory (after a purge or rotation elsewhere)."""
        with self._lock:
            self._owner_key.clear()
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
            self._sealers.pop(key_id, None)
        if is_sqlite(str(self.engine.url)):
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return str(key_id)

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
