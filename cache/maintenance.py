"""Planner statistics after each publish, so lookups use the index that fits (run as a sync hook).

Without statistics SQLite picks between ``ix_record_ref (source, kind, ...)`` and the
per-student or per-section indexes by guesswork and can scan every enrollment of the
district for one student's classes; one bounded ``ANALYZE`` per publish fixes that.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text

from cache.db import is_sqlite


def refresh_statistics(engine: Engine) -> None:
    with engine.begin() as conn:
        if is_sqlite(str(engine.url)):
            # Sample at most this many index entries per index: milliseconds at any size.
            conn.execute(text("PRAGMA analysis_limit=1000"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE record"))


def after_publish(engine: Engine) -> Callable[[str, int], None]:
    """A SyncEngine ``on_published`` callback."""

    def hook(source: str, run_id: int) -> None:
        refresh_statistics(engine)

    return hook
