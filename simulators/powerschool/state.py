"""The simulator's mutable view of the district: an overlay of changes, plus filtered paging.

The district itself is immutable and random-access (``iter(kind, start, stop)``); this
overlay records changed, inserted and deleted records so tests and benchmarks can
exercise incremental syncs. Every base record has a ``transaction_date`` that rises
with its position; changed and inserted records get a later one from the overlay clock.
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
from functools import cached_property
from typing import Any, Protocol

from connectors.records import Record
from simulators.powerschool.query import Clause, matches, txn_instant
from simulators.powerschool.wire import to_wire


class District(Protocol):
    year_start: dt.date
    today: dt.date

    def count(self, kind: str) -> int: ...
    def iter(self, kind: str, start: int = 0, stop: int | None = None) -> Iterator[Any]: ...


# Kinds whose rows carry a schoolid, and through which reference it is found.
_SCHOOL_VIA = {
    "link": ("student", "student_id"),
    "enrollment": ("section", "section_id"),
    "timetable": ("section", "section_id"),
    "attendance": ("student", "student_id"),
    "assignment": ("section", "section_id"),
    "result": ("assignment", "assignment_id"),
    "grade": ("section", "section_id"),
    "behaviour": ("student", "student_id"),
    "report": ("student", "student_id"),
}
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

    def __init__(self, district: District, *, seed: int = 0) -> None:
        self.district = district
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self.version = 0
        self._changed: dict[str, dict[int, Row]] = {}
        self._deleted: dict[str, list[int]] = {}
        self._inserted: dict[str, list[Row]] = {}
        self._views: dict[tuple[Any, ...], array[int]] = {}
        self._epoch = dt.datetime.combine(district.year_start, dt.time(), dt.UTC) - dt.timedelta(days=60)
        self._epoch_day = self._epoch.date().isoformat()
        self._head = (-1, "")
        # Edits happen "today", and always after every base date (those span ms per row).
        self._clock = max(
            dt.datetime.combine(district.today, dt.time(12), dt.UTC), self._epoch + dt.timedelta(days=2)
        )

    # --- wire columns ----------------------------------------------------------------------

    @cached_property
    def _schools(self) -> dict[str, dict[str, str]]:
        """Which school a student, section or assignment belongs to (structural kinds: small)."""
        d = self.district
        sections = {s.source_id: s.school_id for s in d.iter("section")}
        return {
            "student": {s.source_id: s.school_id for s in d.iter("student")},
            "section": sections,
            "assignment": {a.source_id: sections.get(a.section_id, "") for a in d.iter("assignment")},
        }

    def school_of(self, record: Any) -> str | None:
        """The school a schema-table row belongs to (PowerSchool tables carry ``schoolid``)."""
        via = _SCHOOL_VIA.get(record.kind)
        if via is None:
            return None
        owner, attr = via
        return self._schools[owner].get(getattr(record, attr))

    def columns(self, record: Any, txn: str) -> dict[str, Any]:
        """A record's schema-table columns, with its schoolid and transaction_date."""
        cols = to_wire(record)
        school = self.school_of(record)
        if school:
            cols["schoolid"] = school
        cols["transaction_date"] = txn
        return cols

    # --- transaction dates ---------------------------------------------------------------

    def base_txn(self, index: int) -> str:
        """Base records were last changed long ago, in position order, a millisecond apart."""
        seconds, ms = divmod(index, 1000)
        if seconds >= 86400:
            return (self._epoch + dt.timedelta(milliseconds=index)).isoformat(timespec="microseconds")
        if seconds != self._head[0]:  # formatted by hand, the head once per 1000 rows: runs per row
            minutes, sec = divmod(seconds, 60)
            self._head = (seconds, f"{self._epoch_day}T{minutes // 60:02d}:{minutes % 60:02d}:{sec:02d}.")
        return f"{self._head[1]}{ms:03d}000+00:00"

    def _base_index_from(self, value: str) -> int:
        """The first base position whose transaction_date is >= ``value``."""
        delta = txn_instant(value) - self._epoch
        ms = delta / dt.timedelta(milliseconds=1)
        return max(0, int(ms) + (0 if ms == int(ms) else 1))

    def _tick(self) -> str:
        self._clock += dt.timedelta(milliseconds=1)
        return self._clock.isoformat(timespec="microseconds")

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
            for rec in records:
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

    def _candidates(self, kind: str, first: int) -> Iterator[int]:
        deleted = self._deleted.get(kind, [])
        n = self.district.count(kind)
        changed = self._changed.get(kind, {})
        # Changed records sit at their base position but carry an overlay date.
        for i in sorted(i for i in changed if i < first):
            if not _is_deleted(deleted, i):
                yield i
        for i in range(first, n):
            if not _is_deleted(deleted, i):
                yield i
        for j in range(len(self._inserted.get(kind, []))):
            yield -j - 1

    def _overlay_txn(self, kind: str, ref: int) -> str | None:
        if ref < 0:
            return self._inserted[kind][-ref - 1][1]
        row = self._changed.get(kind, {}).get(ref)
        return row[1] if row else None

    def _trivial(self, kind: str, clause: Clause) -> bool:
        """Clauses every record passes: the connector's "this school year" attendance filter."""
        field, op, value = clause
        return (
            kind == "attendance"
            and field == "att_date"
            and op == "ge"
            and (value <= self.district.year_start.isoformat())
        )

    def view(
        self,
        kind: str,
        clauses: Sequence[Clause] = (),
        where: Callable[[Any], bool] | None = None,
        key: Any = None,
    ) -> Sequence[int]:
        """Positions of the rows that pass the filters, in a stable order."""
        with self._lock:
            clauses = [c for c in clauses if not self._trivial(kind, c)]
            if not clauses and where is None and self._plain(kind):
                return range(self.district.count(kind))
            cache_key = (kind, tuple(clauses), key)
            found = self._views.get(cache_key)
            if found is not None:
                return found
            since = max((v for f, op, v in clauses if f == "transaction_date" and op == "ge"), default=None)
            rest = [c for c in clauses if not (c[0] == "transaction_date" and c[1] == "ge")]
            first = 0 if since is None else self._base_index_from(since)
            out = array("q")
            for ref in self._candidates(kind, first):
                # Base rows from ``first`` on pass the date by construction; overlay rows are checked.
                txn = self._overlay_txn(kind, ref) if since is not None else None
                if txn is not None and txn_instant(txn) < txn_instant(since or txn):
                    continue
                out.append(ref)
            if rest or where is not None:
                kept = array("q")
                for ref, (rec, txn) in self._rows(kind, out):
                    if where is not None and not where(rec):
                        continue
                    if rest:
                        cols = self.columns(rec, txn)
                        if not matches(cols, rest):
                            continue
                    kept.append(ref)
                out = kept
            if len(self._views) >= _MAX_VIEWS:  # each incremental cursor is a new key: stay bounded
                self._views.pop(next(iter(self._views)))
            self._views[cache_key] = out
            return out

    def page(self, kind: str, view: Sequence[int], start: int, stop: int) -> Iterator[Row]:
        return (row for _, row in self._rows(kind, view[start:stop]))


def _is_deleted(deleted: list[int], i: int) -> bool:
    if not deleted:
        return False
    j = bisect.bisect_left(deleted, i)
    return j < len(deleted) and deleted[j] == i
