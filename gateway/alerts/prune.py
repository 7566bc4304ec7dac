"""Forget finished outbox rows after ``alerts.keep_sent``, except those still guarding a key.

An outbox row's key is what makes an alert exactly-once: while it exists, however often a
record version is detected (a run detected again by ``portico alerts detect``, two workers),
nothing is queued twice. A finished row (sent, dropped, failed) older than ``keep_sent`` is
deleted only once the record version it announced is no longer current in its source's
published snapshot (``record_run``: the run that wrote it): that version can then never be
detected again, so its key has nothing left to guard. A later version that is news again
(an absence corrected away and back) is a new event and is announced. Pending rows are
never pruned. The worker runs this daily; ``portico alerts prune`` runs it now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine, text

from cache.types import binder

BATCH = 5_000

# Finished, old, and no longer guarding a current version (rows from before record_run was
# kept guard any current version of their record).
_PRUNABLE = """
SELECT o.id FROM alert_outbox o
WHERE o.status IN ('sent', 'dropped', 'failed')
  AND COALESCE(o.sent_at, o.created_at) < :cutoff
  AND NOT EXISTS (
    SELECT 1 FROM record r
    WHERE r.source = o.source AND r.kind = o.record_kind AND r.ref = o.record_ref
      AND (o.record_run IS NULL OR r.valid_from = o.record_run)
      AND (r.valid_to IS NULL OR r.valid_to > COALESCE(
        (SELECT s.published_run FROM source_state s WHERE s.source = o.source), 0))
  )
LIMIT :lim
"""


def prune(
    engine: Engine,
    now: dt.datetime,
    keep: dt.timedelta,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Delete the prunable rows in batches of ``batch`` (a short transaction each): the count."""
    cutoff = binder(engine.dialect.name)(now - keep)
    total = 0
    while True:
        with engine.begin() as conn:
            ids = [int(i) for i in conn.execute(text(_PRUNABLE), {"cutoff": cutoff, "lim": batch}).scalars()]
            if not ids:
                break
            conn.execute(text(f"DELETE FROM alert_outbox WHERE id IN ({','.join(map(str, ids))})"))  # noqa: S608
        total += len(ids)
        if progress is not None:
            progress(total)
        if len(ids) < batch:
            break
    return total
