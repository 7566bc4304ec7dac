"""Leavers: purged automatically once they left more than ``privacy.leaver_retention`` ago."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine, select

from cache.keys.keystore import Keyring
from cache.read.predicates import current_in
from cache.snapshots.runs import load_state
from cache.types import utcnow
from config.errors import PorticoError
from config.settings import PorticoConfig
from gateway.privacy.purge import RECORDS, purge_students

log = structlog.get_logger("portico.privacy")


def leavers(engine: Engine, source: str, today: dt.date, retention: dt.timedelta) -> list[str]:
    """Students of the published snapshot who left at least ``retention`` ago."""
    with engine.connect() as conn:
        state = load_state(conn, source)
        if state is None or state.published_run is None:
            return []
        p = state.published_run
        return sorted(
            r
            for (r,) in conn.execute(
                select(RECORDS.c.ref).where(
                    RECORDS.c.source == source,
                    RECORDS.c.kind == "student",
                    current_in(p),
                    RECORDS.c.active_to.isnot(None),
                    RECORDS.c.active_to <= today - retention,
                )
            )
        )


def purge_leavers(
    engine: Engine,
    keyring: Keyring,
    source: str,
    today: dt.date,
    retention: dt.timedelta,
    operator: str = "system",
) -> dict[str, Any] | None:
    """The automatic purge after the retention period; None when nobody is due."""
    refs = leavers(engine, source, today, retention)
    if not refs:
        return None
    # Not blocked: a leaver who re-enrols comes back (the SIS enrols them again).
    return purge_students(
        engine,
        keyring,
        source,
        refs,
        reason_code="leaver-retention",
        operator=operator,
        blocked=False,
        scope="leavers",
    )


def purge_due_leavers(
    engine: Engine,
    keyring: Keyring,
    config: PorticoConfig,
    source: str,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Run after every published sync: leavers go once past ``privacy.leaver_retention``."""
    today = clock().astimezone(ZoneInfo(config.district.timezone)).date()
    try:
        cert = purge_leavers(engine, keyring, source, today, config.privacy.leaver_retention)
    except PorticoError as exc:
        log.warning("privacy.leaver_purge_failed", source=source, error=str(exc))
        return
    if cert is not None:
        log.info(
            "privacy.leavers_purged",
            source=source,
            certificate=cert["certificate"],
            students=cert["students"],
        )


def after_publish(
    engine: Engine, keyring: Keyring, config: PorticoConfig, clock: Callable[[], dt.datetime] = utcnow
) -> Callable[[str, int], None]:
    """A sync's after-publish hook: the source's leavers past the retention go now."""

    def hook(source: str, run_id: int) -> None:
        purge_due_leavers(engine, keyring, config, source, clock)

    return hook
