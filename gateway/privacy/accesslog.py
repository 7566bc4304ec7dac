"""The parent-visible access log: who read a student's data and when, from the audit chain.

Shown: allowed reads and exports by school staff and district operators (named by
role and operator id), the student, and the caller's own sessions ("you"). Other
guardians appear as "another guardian", without identity. Never shown: denied
attempts, purges, hold changes and investigations (breach reports), because any of
those could reveal that a hold or an investigation exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from cache.tables.audit import EVENTS

VISIBLE_ACTIONS = ("read", "export")
# Categories recorded for the caller's own bookkeeping that never reveal anything.
HIDDEN_CATEGORIES = ("breach-report", "hold", "deletion")


@dataclass(frozen=True)
class Viewer:
    account_id: str
    role: str  # guardian | student


def who(event: Any, viewer: Viewer) -> dict[str, str | None]:
    """How one event's actor is shown to ``viewer``."""
    kind, actor = event.actor_kind, event.actor_id
    if actor == viewer.account_id:
        return {"kind": "you", "id": None}
    if kind == "guardian":
        return {"kind": "guardian", "id": None}  # another guardian: never identified
    if kind == "student":
        return {"kind": "student", "id": None}
    if kind in ("operator", "staff"):
        return {"kind": kind, "id": actor}
    return {"kind": "system", "id": None}


def entries(
    conn: Connection,
    source: str,
    student_ref: str,
    viewer: Viewer,
    *,
    limit: int,
    before_id: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; returns the page and the id to continue before (None at the end)."""
    q = (
        select(
            EVENTS.c.id,
            EVENTS.c.at,
            EVENTS.c.actor_kind,
            EVENTS.c.actor_id,
            EVENTS.c.category,
            EVENTS.c.action,
        )
        .where(
            EVENTS.c.student_ref == student_ref,
            EVENTS.c.source == source,
            EVENTS.c.outcome == "allowed",
            EVENTS.c.action.in_(VISIBLE_ACTIONS),
            EVENTS.c.category.not_in(HIDDEN_CATEGORIES),
        )
        .order_by(EVENTS.c.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        q = q.where(EVENTS.c.id < before_id)
    rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    page = [
        {"at": r.at, "accessed_by": who(r, viewer), "category": r.category, "action": r.action} for r in rows
    ]
    return page, (rows[-1].id if more and rows else None)
