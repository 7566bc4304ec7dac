"""Breach report: from the audit chain, who was affected, whom to notify, and drafts to send.

Given a window (and optionally the account or network address that misbehaved), the
allowed reads in the audit log name the affected students and the data categories
read. Guardians to notify are the contacts with parental responsibility and no court
order, from the published snapshot. Running the report is itself audited (action
``investigate``), which the parent-visible access log never shows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from cache.keys.keystore import Keyring
from cache.read.predicates import current_in
from cache.snapshots.encode import aad
from cache.snapshots.runs import load_state
from cache.tables.audit import EVENTS
from cache.tables.core import core_table
from cache.tables.records import RecordRow
from gateway.privacy import audit
from gateway.privacy.purge import unindexed

RECORDS = core_table(RecordRow)


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime
    account: str | None = None
    address: str | None = None  # the network address as given; matched through its keyed index


@dataclass
class Affected:
    source: str
    ref: str
    categories: dict[str, int] = field(default_factory=dict)
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None
    student: dict[str, Any] = field(default_factory=dict)
    guardians: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Report:
    window: Window
    students: list[Affected]
    reads: int

    def families(self) -> dict[str, tuple[dict[str, Any], list[Affected]]]:
        """contact ref -> (contact details, their affected children)."""
        out: dict[str, tuple[dict[str, Any], list[Affected]]] = {}
        for s in self.students:
            for g in s.guardians:
                out.setdefault(g["ref"], (g, []))[1].append(s)
        return out


def _chunks(items: list[str], n: int = 500) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def affected(engine: Engine, keyring: Keyring, w: Window) -> tuple[dict[tuple[str, str], Affected], int]:
    """Students whose data was read (allowed) in the window, with categories and counts."""
    q = (
        select(
            EVENTS.c.source,
            EVENTS.c.student_ref,
            EVENTS.c.category,
            func.count().label("n"),
            func.min(EVENTS.c.at).label("first"),
            func.max(EVENTS.c.at).label("last"),
        )
        .where(
            EVENTS.c.at >= w.start,
            EVENTS.c.at <= w.end,
            EVENTS.c.outcome == "allowed",
            EVENTS.c.student_ref.isnot(None),
            EVENTS.c.action.in_(("read", "export")),
        )
        .group_by(EVENTS.c.source, EVENTS.c.student_ref, EVENTS.c.category)
    )
    if w.account is not None:
        q = q.where(EVENTS.c.actor_id == w.account)
    if w.address is not None:
        q = q.where(EVENTS.c.address_index == keyring.index.ref("address", w.address))
    found: dict[tuple[str, str], Affected] = {}
    reads = 0
    with engine.connect() as conn:
        for source, ref, category, n, first, last in conn.execute(q):
            a = found.setdefault((source, ref), Affected(source, ref))
            a.categories[category] = a.categories.get(category, 0) + int(n)
            first, last = _aware(first), _aware(last)
            a.first_at = first if a.first_at is None else min(a.first_at, first)
            a.last_at = last if a.last_at is None else max(a.last_at, last)
            reads += int(n)
    return found, reads


def _aware(v: Any) -> dt.datetime:
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]


def _open(keyring: Keyring, source: str, row: Any) -> dict[str, Any]:
    blob = keyring.sealer(row.key_id).open(bytes(row.payload), aad(source, row.kind, row.ref, row.key_id))
    return orjson.loads(blob)  # type: ignore[no-any-return]


def _current(source: str, published: int) -> Any:
    return (RECORDS.c.source == source) & current_in(published)


def enrich(engine: Engine, keyring: Keyring, found: dict[tuple[str, str], Affected]) -> None:
    """Decrypt each affected student and the guardians to notify (responsibility, no court order)."""
    cols = (RECORDS.c.kind, RECORDS.c.ref, RECORDS.c.key_id, RECORDS.c.payload, RECORDS.c.student_ref)
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, ref in found:
        by_source[source].append(ref)
    with engine.connect() as conn:
        for source, refs in by_source.items():
            state = load_state(conn, source)
            if state is None or state.published_run is None:
                continue
            cur = _current(source, state.published_run)
            students: list[Any] = []
            links: list[Any] = []
            for chunk in _chunks(sorted(refs)):
                students += conn.execute(
                    select(*cols).where(cur, RECORDS.c.kind == "student", RECORDS.c.ref.in_(chunk))
                ).all()
                links += conn.execute(
                    select(*cols).where(
                        unindexed(RECORDS.c.source) == source,
                        unindexed(RECORDS.c.kind) == "link",
                        RECORDS.c.student_ref.in_(chunk),
                        current_in(state.published_run),
                    )
                ).all()
            keyring.preload([r.key_id for r in students] + [r.key_id for r in links])
            for r in students:
                found[(source, r.ref)].student = _open(keyring, source, r)
            notify: dict[str, list[tuple[str, str]]] = defaultdict(
                list
            )  # contact ref -> (student, relationship)
            for r in links:
                link = _open(keyring, source, r)
                # Families to tell: the district's access rule where one decided the link,
                # else parental responsibility without a court order.
                decided = link.get("entitled")
                family = link["parental_responsibility"] and not link["court_order"]
                if decided if decided is not None else family:
                    cref = keyring.index.ref(source, "contact", link["contact_id"])
                    notify[cref].append((r.student_ref, link["relationship"]))
            contacts: list[Any] = []
            for chunk in _chunks(sorted(notify)):
                contacts += conn.execute(
                    select(*cols).where(cur, RECORDS.c.kind == "contact", RECORDS.c.ref.in_(chunk))
                ).all()
            keyring.preload(r.key_id for r in contacts)
            for r in contacts:
                c = _open(keyring, source, r)
                for sref, relationship in notify[r.ref]:
                    found[(source, sref)].guardians.append(
                        {
                            "ref": r.ref,
                            "first_name": c.get("first_name"),
                            "last_name": c.get("last_name"),
                            "email": c.get("email"),
                            "phone": c.get("phone"),
                            "relationship": relationship,
                        }
                    )


def report(engine: Engine, keyring: Keyring, w: Window, *, operator: str) -> Report:
    """Run the report, recording the investigation (never shown to parents) in the audit chain."""
    found, reads = affected(engine, keyring, w)
    enrich(engine, keyring, found)
    entries = [
        audit.Entry("operator", operator, "breach-report", "allowed", s, r, action="investigate")
        for (s, r) in sorted(found)
    ]
    with engine.begin() as conn:
        for i in range(0, len(entries), 5000):
            audit.append(conn, entries[i : i + 5000])
    students = sorted(found.values(), key=lambda a: (a.source, a.ref))
    return Report(w, students, reads)
