"""Circuit breaker per connector, kept in ``source_state`` so every process sees the same one.

closed     fewer than ``failures`` failed runs in a row: scheduled runs go ahead.
open       that many or more, and the cool-down has not passed: scheduled runs are skipped.
half-open  the cool-down has passed: the next run is a probe. It succeeds (the engine's
           publish resets the count: closed) or fails (open again, for twice as long,
           up to ``max_cooldown``). Only one probe runs at a time because only one run of
           a source can hold its lock.

A manual ``portico sync`` ignores the breaker (an operator asked for it) but its outcome
counts all the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine

from cache.snapshots.runs import load_state, save_state
from cache.tables.records import SourceState
from cache.types import utcnow
from config.settings import Breaker

BreakerState = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class BreakerView:
    state: BreakerState
    failures: int
    open_until: dt.datetime | None

    @property
    def allows_run(self) -> bool:
        return self.state != "open"


def view(state: SourceState | None, settings: Breaker, now: dt.datetime | None = None) -> BreakerView:
    """The breaker's state as read from a source's stored state."""
    failures = state.consecutive_failures if state else 0
    open_until = state.breaker_open_until if state else None
    if failures < settings.failures:
        return BreakerView("closed", failures, None)
    if open_until is not None and (now or utcnow()) < open_until:
        return BreakerView("open", failures, open_until)
    return BreakerView("half-open", failures, open_until)


def check(engine: Engine, source: str, settings: Breaker, now: dt.datetime | None = None) -> BreakerView:
    with engine.connect() as conn:
        return view(load_state(conn, source), settings, now)


def cooldown_for(failures: int, settings: Breaker) -> dt.timedelta:
    """Rest after the ``failures``-th failure in a row: doubles per failed probe, capped."""
    extra = min(max(failures - settings.failures, 0), 30)
    rest: dt.timedelta = settings.cooldown * (2**extra)
    return min(rest, settings.max_cooldown)


def record_failure(
    conn: Connection, source: str, settings: Breaker, now: dt.datetime | None = None
) -> BreakerView:
    """Count one more failed run; open the breaker once the threshold is reached."""
    st = load_state(conn, source)
    failures = (st.consecutive_failures if st else 0) + 1
    values: dict[str, object] = {"consecutive_failures": failures}
    if failures >= settings.failures:
        values["breaker_open_until"] = (now or utcnow()) + cooldown_for(failures, settings)
    save_state(conn, source, **values)
    return view(load_state(conn, source), settings, now)


def record_success(conn: Connection, source: str) -> None:
    """The source answered (published or held): close the breaker."""
    save_state(conn, source, consecutive_failures=0, breaker_open_until=None)
