"""The simulator's mutable view of the district: an overlay of changes, plus filtered paging.

The district itself is immutable and random-access (``iter(kind, start, stop)``); this
overlay records changed, inserted and deleted records so tests and benchmarks can
exercise incremental syncs. Every base record has a ``transaction_date`` that rises
with its position; changed and inserted records get a later one from the overlay clock.
Stamps are the server's local time without an offset, as PowerSchool sends them.
Filtered views (a school's students, a ``q=`` filter) are lists of positions, built
once per overlay version and cached, so paging never rebuilds the district.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import random
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from connectors.records import Record
from simulators.powerschool.query import Clause, comparable, matches, txn_instant


class Model(Protocol):
    """What the overlay needs of the district (``simulators.powerschool.model``)."""

    year_start: dt.date
    today: dt.date

    def count(self, kind: str) -> int: ...
    def iter(self, kind: str, start: int = 0, stop: int | None = None) -> Iterator[Any]: ...
    def row(self, table: str, record: Any, txn: str) -> dict[str, Any]: ...


Row = tuple[Record, str]  # a record and its transaction_date on the wire
_CHUNK = 2000
_MAX_VIEWS = 64


# Mutations applied by ``change`` when the test gives none: a visible edit per kind.
def _default_mutation(record: Any) -> Any:
    for name in ("homeroom", "room", "phone", "comment", "comments", "description", "title", "mark"):
        if hasattr(record, name):
            current = getattr(record, name)
            return dataclasses.replace(record, **{name: f"{current or ''}*"})
    if hasattr(record, "minutes_late"):
        return dataclasses.replace(record, minutes_late=(record.minutes_late or 0) + 1)
    return record


class SimState:
    """Overlay of changes over an immutable district, and filtered, paged reads of it."""

    def __init__(
        self,
        district: Model,
        *,
        seed: int = 0,
        bounds: dict[tuple[str, str], tuple[str, Any]] | None = None,
        subsets: dict[str, tuple[int, int, Callable[[Any], bool]]] | None = None,
    ) -> None:
        self.district = district
        # (table, column) -> ("ge", v): every base row's column is >= v; ("eq", v): all equal v.
        # A clause these bounds decide is not evaluated row by row on base rows.
        self.bounds = dict(bounds or {})
        # table -> (first, end, admits): its base positions, and which overlay records it holds.
        self.subsets = dict(subsets or {})
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.version = 0
        self._changed: dict[str, dict[int, Row]] = {}
        self._deleted: dict[str, list[int]] = {}
        self._inserted: dict[str, list[Row]] = {}
        self._views: dict[tuple[Any, ...], array[int]] = {}
        # Base rows were written in the week before the year began, a millisecond apart.
        self._epoch = dt.datetime.combine(district.year_start, dt.time()) - dt.timedelta(days=7)
        self._epoch_day = self._epoch.date().isoformat()
        self.epoch = self._epoch.isoformat(sep=" ")
        self._head = (-1, "")
        # Edits happen "today", and always after every base date (those span ms per row).
        self._clock = max(
            dt.datetime.combine(district.today, dt.time(12)), self._epoch + dt.timedelta(days=2)
        )

    # --- wire columns ----------------------------------------------------------------------

    def columns(self, table: str, record: Any, txn: str) -> dict[str, Any]:
        """A record's row in ``table``, stamped with its transaction_date."""
        return self.district.row(table, record, txn)

    # --- transaction dates ---------------------------------------------------------------

    def base_txn(self, index: int) -> str:
        """Base records were last changed long ago, in position order, a millisecond apart."""
        seconds, ms = divmod(index, 1000)
        if seconds >= 86400:
            return (self._epoch + dt.timedelta(milliseconds=index)).isoformat(
                sep=" ", timespec="microseconds"
            )
        if seconds != self._head[0]:  # formatted by hand, the head once per 1000 rows: runs per row
            minutes, sec = divmod(seconds, 60)
            self._head = (seconds, f"{self._epoch_day} {minutes // 60:02d}:{minutes % 60:02d}:{sec:02d}.")
        return f"{self._head[1]}{ms:03d}000"

    def _base_index_from(self, value: str) -> int:
        """The first base position whose transaction_date is >= ``value``."""
        delta = txn_instant(value) - self._epoch
        ms = delta / dt.timedelta(milliseconds=1)
        return max(0, int(ms) + (0 if ms == int(ms) else 1))

    def _tick(self) -> str:
        self._clock += dt.timedelta(milliseconds=1)
        return self._clock.isoformat(sep=" ", timespec="microseconds")

    # --- overlay mutations -----------------------------------------------------------------

    def _pick(self, kind: str, fraction: float | None, ids: Iterable[str] | None) -> list[int]:
        n = self.district.count(kind)
        if ids is not None:
            wanted = set(ids)
            return [i for i, rec in enumerate(self.district.iter(kind)) if rec.source_id in wanted]
        k = max(1, round(n * (fraction or 0.0))) if n else 0
        return sorted(self._rng.sample(range(n), k))

    def change(
        self,
        kind: str,
        fraction: float | None = None,
        ids: Iterable[str] | None = None,
        mutate: Callable[[Any], Any] = _default_mutation,
    ) -> list[str]:
        """Edit some records (a share or by source id); each gets a new transaction_date."""
        with self._lock:
            changed = self._changed.setdefault(kind, {})
            out = []
            for i in self._pick(kind, fraction, ids):
                base = changed[i][0] if i in changed else next(self.district.iter(kind, i, i + 1))
                changed[i] = (mutate(base), self._tick())
                out.append(base.source_id)
            self._bump()
            return out

    def insert(self, records: Iterable[Record]) -> None:
        with self._lock:
            note = getattr(self.district, "note", None)
            for rec in records:
                if note is not None:
                    note(rec)  # the model learns where a new student or section belongs
                self._inserted.setdefault(rec.kind, []).append((rec, self._tick()))
            self._bump()

    def delete(self, kind: str, fraction: float | None = None, ids: Iterable[str] | None = None) -> list[str]:
        """Remove records from the source (found later only by comparing full pulls)."""
        with self._lock:
            picked = self._pick(kind, fraction, ids)
            deleted = set(self._deleted.get(kind, [])) | set(picked)
            self._deleted[kind] = sorted(deleted)
            self._bump()
            return [next(self.district.iter(kind, i, i + 1)).source_id for i in picked]

    def _bump(self) -> None:
        self.version += 1
        self._views.clear()

    # --- reads -------------------------------------------------------------------------------

    def _rows(self, kind: str, refs: Iterable[int]) -> Iterator[tuple[int, Row]]:
        """(position, row) pairs: a position >= 0 is a base index, < 0 an inserted record."""
        changed = self._changed.get(kind, {})
        inserted = self._inserted.get(kind, [])
        if isinstance(refs, range) and refs.step == 1:  # an unfiltered page: one district range
            txn = self.base_txn
            for i, rec in enumerate(self.district.iter(kind, refs.start, refs.stop), refs.start):
                yield i, changed.get(i) or (rec, txn(i))
            return
        pending: list[int] = []

        def flush() -> Iterator[tuple[int, Row]]:
            # Consecutive base positions are generated in one district.iter call.
            start = pending[0]
            for i, rec in enumerate(self.district.iter(kind, start, pending[-1] + 1), start):
                yield i, changed.get(i) or (rec, self.base_txn(i))
            pending.clear()

        for ref in refs:
            if ref >= 0 and (not pending or (ref == pending[-1] + 1 and len(pending) < _CHUNK)):
                pending.append(ref)
                continue
            if pending:
                yield from flush()
            if ref >= 0:
                pending.append(ref)
            else:
                yield ref, inserted[-ref - 1]
        if pending:
            yield from flush()

    def _plain(self, kind: str) -> bool:
        return not self._deleted.get(kind) and not self._inserted.get(kind)

    def _overlay_row(self, kind: str, ref: int) -> Row | None:
        """The overlay's row at ``ref`` (inserted when negative, else changed), or None."""
        if ref < 0:
            return self._inserted[kind][-ref - 1]
        return self._changed.get(kind, {}).get(ref)

    def _decided(self, table: str, clause: Clause) -> bool:
        """Whether every base row passes ``clause`` by the table's bounds (not checked per row)."""
        field, op, value = clause
        bound = self.bounds.get((table, field))
        if bound is None or op not in ("ge", "eq"):
            return False
        kind, limit = bound
        if kind == "ge":
            return op == "ge" and comparable(value) <= comparable(limit)
        return op == "eq" and comparable(value) == comparable(limit)

    def view(
        self,
        kind: str,
        clauses: Sequence[Clause] = (),
        where: Callable[[Any], bool] | None = None,
        key: Any = None,
        table: str = "",
    ) -> Sequence[int]:
        """Positions of the rows of ``table`` (of ``kind``) that pass the filters, in a stable order.

        Base rows need no check for a stamp filter (their stamps rise with position) or for a
        clause the table's bounds decide; overlay rows are checked against every clause."""
        with self._lock:
            decided = [c for c in clauses if self._decided(table, c)]
            stamp = next((c for c in clauses if c[1] == "ge" and c[0] in _STAMPS), None)
            rest = [c for c in clauses if c not in decided and c is not stamp]
            n = self.district.count(kind)
            lo, hi, admits = self.subsets.get(table, (0, n, None))
            changed = self._changed.get(kind, {})
            if (
                not rest
                and where is None
                and stamp is None
                and self._plain(kind)
                and not (decided and changed)
            ):
                return range(lo, hi)
            cache_key = (kind, table, tuple(clauses), key)
            found = self._views.get(cache_key)
            if found is not None:
                return found
            first = lo if stamp is None else max(lo, self._base_index_from(stamp[2]))
            overlay_checks = [*([stamp] if stamp else []), *decided, *rest]
            deleted = self._deleted.get(kind, [])
            refs = array("q")
            # Changed rows below ``first`` may carry a later stamp: they are candidates too.
            refs.extend(i for i in sorted(changed) if lo <= i < first and not _is_deleted(deleted, i))
            if deleted:
                refs.extend(i for i in range(first, hi) if not _is_deleted(deleted, i))
            else:
                refs.extend(range(first, hi))
            refs.extend(-j - 1 for j in range(len(self._inserted.get(kind, []))))
            out = array("q")
            if rest or where is not None:
                for ref, (rec, txn) in self._rows(kind, refs):
                    if ref < 0 and admits is not None and not admits(rec):
                        continue
                    if where is not None and not where(rec):
                        continue
                    checks = overlay_checks if (ref < 0 or ref in changed) else rest
                    if checks and not matches(self.columns(table, rec, txn), checks):
                        continue
                    out.append(ref)
            else:
                for ref in refs:
                    row = self._overlay_row(kind, ref) if (ref < 0 or ref in changed) else None
                    if row is not None:
                        if ref < 0 and admits is not None and not admits(row[0]):
                            continue
                        if overlay_checks and not matches(
                            self.columns(table, row[0], row[1]), overlay_checks
                        ):
                            continue
                    out.append(ref)
            if len(self._views) >= _MAX_VIEWS:  # each incremental cursor is a new key: stay bounded
                self._views.pop(next(iter(self._views)))
            self._views[cache_key] = out
            return out

    def page(self, kind: str, view: Sequence[int], start: int, stop: int) -> Iterator[Row]:
        return (row for _, row in self._rows(kind, view[start:stop]))


_STAMPS = ("transaction_date", "whenmodified")


def _is_deleted(deleted: list[int], i: int) -> bool:
    if not deleted:
        return False
    j = bisect.bisect_left(deleted, i)
    return j < len(deleted) and deleted[j] == i
