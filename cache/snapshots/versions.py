"""The current versions of one kind in memory: how a full pull finds unchanged rows and deletes."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from sqlalchemy import Connection


class _Counts(Protocol):
    unchanged: int


class VersionIndex:
    """The current versions of one kind: by row key where they have one, else by digest.

    Two sorted parts: versions stored with a row key (:class:`connectors.base.KnownRows`)
    by that key, read from ``ix_record_row_key`` alone (no payload is touched), and the
    others by the first 8 bytes of their digest. 16 bytes and a seen flag per
    row (4 million rows: 68 MB) replace a lookup per record; rows never taken by the end
    of the stream are the deletes. A 64-bit key makes an accidental match about one in
    10^13 per record at district sizes.
    """

    def __init__(self, conn: Connection, ph: str, source: str, kind: str) -> None:
        self.dkeys, self.dids = array("Q"), array("q")
        self.rkeys, self.rids = array("q"), array("q")
        where = f"FROM record WHERE source={ph} AND kind={ph} AND valid_to IS NULL AND row_key IS"
        # Straight from the driver, rows transposed in C (zip) rather than unpacked one by one.
        for part in _partitions(
            conn, f"SELECT row_key, id {where} NOT NULL ORDER BY row_key", (source, kind)
        ):
            keys, ids = zip(*part, strict=True)
            self.rkeys.extend(keys)
            self.rids.extend(ids)
        for part in _partitions(conn, f"SELECT digest, id {where} NULL ORDER BY digest", (source, kind)):
            self.dkeys.extend([int.from_bytes(bytes(d[:8]), "big") for d, _ in part])
            self.dids.extend([i for _, i in part])
        self.dseen = bytearray(len(self.dkeys))
        self.rseen = bytearray(len(self.rkeys))
        # Buckets of ~16 keys by their top bits: a lookup bisects 16 keys, not millions.
        self._shift = 64 - max(1, len(self.rkeys).bit_length() - 4)
        self._starts = array("q", [bisect_left(self.rkeys, b << self._shift) for b in range(
            -(1 << (63 - self._shift)), 1 << (63 - self._shift))])  # fmt: skip
        self._starts.append(len(self.rkeys))

    def take(self, digest: bytes) -> int:
        """Mark the keyless current version with this digest as seen: its id, 0 if none is left."""
        return self._take(self.dkeys, self.dseen, self.dids, int.from_bytes(digest[:8], "big"))

    def take_version(self, row_key: int | None, digest: bytes) -> None:
        """Mark a current version found by other means (its ref) as seen."""
        if row_key is None:
            self.take(digest)
        else:
            self._take(self.rkeys, self.rseen, self.rids, row_key)

    def row_taker(self, counts: _Counts) -> Callable[[int], bool]:
        """``take(row_key)`` for a connector's rows (KnownRows.taker): a hit counts as unchanged."""
        keys, seen, n, starts, shift = self.rkeys, self.rseen, len(self.rkeys), self._starts, self._shift
        offset = 1 << (63 - shift)  # signed keys: the lowest bucket is 0

        def take(key: int) -> bool:
            b = (key >> shift) + offset
            i = bisect_left(keys, key, starts[b], starts[b + 1])
            while i < n and keys[i] == key:
                if not seen[i]:
                    seen[i] = 1
                    counts.unchanged += 1
                    return True
                i += 1
            return False

        return take

    @staticmethod
    def _take(keys: array[int], seen: bytearray, ids: array[int], key: int) -> int:
        i = bisect_left(keys, key)
        while i < len(keys) and keys[i] == key:
            if not seen[i]:
                seen[i] = 1
                return ids[i]
            i += 1
        return 0

    def unseen_count(self) -> int:
        return self.dseen.count(0) + self.rseen.count(0)

    def unseen_ids(self) -> list[int]:
        return _unseen(self.dseen, self.dids) + _unseen(self.rseen, self.rids)


def _partitions(conn: Connection, sql: str, params: tuple[str, str]) -> Iterator[list[Any]]:
    """Rows of ``sql`` in batches; a server-side cursor on PostgreSQL, so memory stays flat."""
    dbapi: Any = conn.connection.dbapi_connection
    cur = dbapi.cursor() if conn.dialect.name == "sqlite" else dbapi.cursor(name="portico_versions")
    try:
        cur.execute(sql, params)
        while part := cur.fetchmany(20_000):
            yield part
    finally:
        cur.close()


def _unseen(seen: bytearray, ids: array[int]) -> list[int]:
    # find() scans in C: cheap when, as usual, nearly every row was seen.
    out, i = [], seen.find(0)
    while i != -1:
        out.append(ids[i])
        i = seen.find(0, i + 1)
    return out
