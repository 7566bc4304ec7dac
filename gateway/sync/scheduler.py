"""Scheduled syncs: one APScheduler job per connector, breaker- and blackout-aware.

Each job calls ``run_connector(name)``; the bootstrap gives the usual one (build the
connector, :meth:`SyncEngine.run` under the source lock, the after-publish hooks). The lock, not the
scheduler, makes runs exclusive: in one process ``max_instances=1`` stops a run from
overlapping itself, and across processes and machines the PostgreSQL advisory lock
(or SQLite's lock file) turns the second attempt into a quick ``skipped``. Missed runs
(process down, previous run long) coalesce into one if at most ``misfire_grace`` late.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from cache.store import Cache
from cache.types import utcnow
from config.settings import PorticoConfig
from gateway.sync import breaker
from gateway.sync.engine import SyncOutcome
from gateway.sync.triggers import in_blackout, make_trigger

log = structlog.get_logger("portico.scheduler")

RunConnector = Callable[[str], SyncOutcome]


class SyncScheduler:
    """Runs every enabled connector that has a schedule, on that schedule."""

    def __init__(
        self,
        cache: Cache,
        run_connector: RunConnector,
        *,
        scheduler: BaseScheduler | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.cache = cache
        self.config: PorticoConfig = cache.config
        self.run_connector = run_connector
        self.clock = clock
        self.scheduler = scheduler or BackgroundScheduler(timezone=ZoneInfo(self.config.district.timezone))
        self._add_jobs()

    def _add_jobs(self) -> None:
        for i, cs in enumerate(self.config.connectors):
            if not cs.enabled or cs.schedule is None:
                continue
            trigger = make_trigger(
                cs.schedule, self.config.district.timezone, where=f"connectors[{i}].schedule"
            )
            self.scheduler.add_job(
                self.tick,
                trigger,
                args=[cs.name],
                id=f"sync:{cs.name}",
                name=f"sync {cs.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=max(int(cs.schedule.misfire_grace.total_seconds()), 1),
                replace_existing=True,
            )

    @property
    def job_ids(self) -> list[str]:
        return [job.id for job in self.scheduler.get_jobs()]

    def next_runs(self) -> dict[str, dt.datetime | None]:
        """Each scheduled connector's next fire time (None before the scheduler starts)."""
        return {
            job.id.removeprefix("sync:"): getattr(job, "next_run_time", None)
            for job in self.scheduler.get_jobs()
        }

    def tick(self, name: str) -> str:
        """One scheduled firing: skip in a blackout or while the breaker is open, else sync."""
        cs = self.config.connector(name)
        assert cs.schedule is not None
        now = self.clock()
        local = now.astimezone(ZoneInfo(cs.schedule.timezone or self.config.district.timezone))
        if in_blackout(cs.schedule.blackout, local) is not None:
            log.info("sync.skipped", source=name, reason="blackout", local_time=local.isoformat())
            return "blackout"
        view = breaker.check(self.cache.engine, name, cs.breaker, now)
        if not view.allows_run:
            log.info(
                "sync.skipped",
                source=name,
                reason="breaker-open",
                failures=view.failures,
                open_until=view.open_until.isoformat() if view.open_until else None,
            )
            return "breaker-open"
        if view.state == "half-open":
            log.info("sync.probe", source=name, failures=view.failures)
        try:
            outcome = self.run_connector(name)
        except Exception:
            # A job that raises would only be logged by APScheduler; keep the scheduler
            # alive and say which connector failed, without any record content.
            log.exception("sync.job_crashed", source=name)
            return "error"
        if outcome.status == "skipped":
            log.info("sync.skipped", source=name, reason="locked", detail=outcome.error)
        return outcome.status

    def start(self) -> None:
        self.scheduler.start()
        for name, when in self.next_runs().items():
            log.info("scheduler.job", source=name, next_run=when.isoformat() if when else None)

    def shutdown(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
