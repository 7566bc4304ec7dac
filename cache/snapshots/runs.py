"""Sync runs and per-source state: small helpers over the ``sync_run``/``source_state`` tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select, update

from cache.tables.core import core_table
from cache.tables.records import SourceState, SyncRun
from cache.types import utcnow

RUNS = core_table(SyncRun)
STATE = core_table(SourceState)


def create_run(conn: Connection, source: str, full: bool) -> int:
    res = conn.execute(
        insert(RUNS).values(
            source=source,
            status="running",
            full=full,
            started_at=utcnow(),
            counts={},
            rejected=[],
            hold_reasons=[],
            cursors={},
            retries=0,
        )
    )
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def update_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))


def get_run(conn: Connection, run_id: int) -> SyncRun | None:
    row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).mappings().first()
    return SyncRun(**row) if row else None


def recent_runs(conn: Connection, source: str | None = None, limit: int = 10) -> list[SyncRun]:
    q = select(RUNS).order_by(RUNS.c.id.desc()).limit(limit)
    if source:
        q = q.where(RUNS.c.source == source)
    return [SyncRun(**row) for row in conn.execute(q).mappings()]


def runs_with_status(conn: Connection, source: str, statuses: tuple[str, ...]) -> list[int]:
    q = select(RUNS.c.id).where(RUNS.c.source == source, RUNS.c.status.in_(statuses))
    return [int(r) for r in conn.execute(q).scalars()]


def load_state(conn: Connection, source: str) -> SourceState | None:
    row = conn.execute(select(STATE).where(STATE.c.source == source)).mappings().first()
    return SourceState(**row) if row else None


def all_states(conn: Connection) -> list[SourceState]:
    return [SourceState(**row) for row in conn.execute(select(STATE)).mappings()]


def save_state(conn: Connection, source: str, **values: Any) -> None:
    """Upsert ``source``'s state with ``values`` (portable: update, else insert)."""
    res = conn.execute(update(STATE).where(STATE.c.source == source).values(**values))
    if not res.rowcount:
        conn.execute(
            insert(STATE).values(**{"source": source, "cursors": {}, "consecutive_failures": 0, **values})
        )


def is_stale(state: SourceState | None, stale_after: dt.timedelta, now: dt.datetime | None = None) -> bool:
    if state is None or state.synced_at is None:
        return True
    return (now or utcnow()) - state.synced_at > stale_after
