"""One Portico, wired once: what ``serve``, ``api``, ``worker``, ``sync``, the demo and the benchmarks run.

An :class:`Application` holds the config, the cache and the mailer, and is the one place
that knows how the parts fit: how a connector is built from its YAML entry, which steps
run after every publish (leavers past retention, planner statistics, the access rule
in force recorded in the audit chain when it changed, account provisioning, alert detection), which jobs the scheduler runs and when (each connector's syncs, the
password-expiry reminders at ``access.reminder_time``, the alert sender every
``alerts.send_every``), and how the API app is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from fastapi import FastAPI

from cache import maintenance
from cache.locks import job_lock
from cache.store import Cache, open_cache
from cache.types import utcnow
from config.secrets import SecretResolver
from config.settings import PorticoConfig
from connectors import registry
from connectors.base import Connector
from gateway.access import provision, reminders, rule_record, throttle
from gateway.alerts import detect, prune, sender
from gateway.alerts.metrics import AlertCollector
from gateway.alerts.sender import Sender
from gateway.api.app import create_app
from gateway.ops.mail import CountingMailer, Mailer, mailer_from
from gateway.ops.metrics import GuardCounters, MailCollector, make_registry
from gateway.privacy import leavers
from gateway.sync.engine import Hook, Progress, SyncEngine, SyncOutcome
from gateway.sync.metrics import SyncCollector
from gateway.sync.scheduler import SyncScheduler
from gateway.web import alert_mail
from gateway.web import mount as portal

log = structlog.get_logger("portico.app")

REMINDERS_JOB = "password-reminders"
THROTTLE_TIDY_JOB = "throttle-tidy"
ALERTS_JOB = "alerts-send"
ALERTS_PRUNE_JOB = "alerts-prune"


@dataclass
class Application:
    """Config, cache and mailer, and how everything that runs on them is put together."""

    config: PorticoConfig
    cache: Cache
    mailer: Mailer
    secrets: SecretResolver = field(default_factory=SecretResolver)
    base_dir: Path = field(default_factory=Path.cwd)
    clock: Callable[[], dt.datetime] = utcnow

    # --- connectors and syncs -------------------------------------------------------------

    def connector(self, name: str, **context: Any) -> Connector:
        """A fresh connector (fresh clients) for the YAML entry ``name``; ``context``
        overrides :class:`connectors.registry.BuildContext` fields (tests: a transport)."""
        cs = self.config.connector(name)
        ctx = registry.BuildContext(secrets=self.secrets, base_dir=self.base_dir, **context)
        return registry.build(cs.type, cs.name, cs.options, ctx)

    def after_publish(self) -> list[Hook]:
        """What runs after every publish, in order, wherever the sync ran."""
        return [
            leavers.after_publish(self.cache.engine, self.cache.keyring, self.config, self.clock),
            maintenance.after_publish(self.cache.engine),
            # Before accounts are made from the links: the audit shows the rule first.
            rule_record.after_publish(self.cache.engine, self.config),
            provision.after_publish(self.cache, self.config, self.clock),
            # Last: the accounts and links it reads are the ones just provisioned.
            detect.after_publish(self.cache, self.config, self.clock),
        ]

    def sync_engine(self, name: str) -> SyncEngine:
        cs = self.config.connector(name)
        return SyncEngine(
            self.cache.engine, self.cache.keyring, self.config, cs, on_published=self.after_publish()
        )

    def sync(
        self,
        name: str,
        *,
        full: bool = False,
        progress: Progress | None = None,
        connector: Connector | None = None,
    ) -> SyncOutcome:
        """Sync one connector now (under its lock), with the after-publish hooks."""
        source = connector or self.connector(name)
        try:
            return self.sync_engine(name).run(source, full=full, progress=progress)
        finally:
            if connector is None:
                source.close()

    # --- scheduled work ---------------------------------------------------------------------

    def scheduler(self) -> SyncScheduler:
        """Each connector's syncs on its schedule, and the daily reminders (not started)."""
        scheduler = SyncScheduler(self.cache, lambda name: self.sync(name, progress=Progress.logged(name)))
        if not scheduler.job_ids:
            log.warning("scheduler.no_jobs", hint="no enabled connector has a schedule")
        zone = self.config.district.timezone
        at = self.config.access.reminder_time
        jobs: list[tuple[Callable[[], object], BaseTrigger, str]] = [
            (self.send_reminders, CronTrigger(hour=at.hour, minute=at.minute, timezone=zone), REMINDERS_JOB),
            (self.tidy_throttles, CronTrigger(hour=3, minute=17, timezone=zone), THROTTLE_TIDY_JOB),
        ]
        if self.config.alerts.enabled:
            every = self.config.alerts.send_every.total_seconds()
            jobs.append((self.send_alerts, IntervalTrigger(seconds=every), ALERTS_JOB))
            jobs.append((self.prune_alerts, CronTrigger(hour=3, minute=47, timezone=zone), ALERTS_PRUNE_JOB))
        for run, trigger, job_id in jobs:
            # One run at a time; a run missed by less than an hour (a restart) still happens once.
            scheduler.scheduler.add_job(
                run, trigger, id=job_id, coalesce=True, max_instances=1, misfire_grace_time=3600
            )
        return scheduler

    def alert_sender(self) -> Sender:
        """The outbox's sender, writing in each recipient's language (the portal's catalogs)."""
        return Sender(self.cache, self.config, self.mailer, alert_mail.render, self.clock)

    def send_alerts(self, limit: int | None = None) -> sender.Sent:
        """Send every alert and digest due now. Several processes may run it at once: each
        message is claimed by one (gateway.alerts.sender)."""
        sent = self.alert_sender().run(limit)
        if sent.messages or sent.retried or sent.failed or sent.queued:
            log.info(
                "alerts.sent",
                queued=sent.queued,
                messages=sent.messages,
                alerts=sent.alerts,
                dropped=sent.dropped,
                deferred=sent.deferred,
                retried=sent.retried,
                failed=sent.failed,
            )
        return sent

    def tidy_throttles(self) -> int | None:
        """Forget throttle counts that no longer hold anyone back (a daily job)."""
        with job_lock(self.cache.engine, THROTTLE_TIDY_JOB) as got:
            if not got:
                return None
            with self.cache.engine.begin() as conn:
                n = throttle.forget_expired(conn, self.clock())
            log.info("throttles.tidied", rows=n)
            return n

    def prune_alerts(self) -> int | None:
        """Forget finished alerts past alerts.keep_sent (a daily job; gateway.alerts.prune)."""
        with job_lock(self.cache.engine, ALERTS_PRUNE_JOB) as got:
            if not got:
                return None
            n = prune.prune(self.cache.engine, self.clock(), self.config.alerts.keep_sent)
            log.info("alerts.pruned", rows=n)
            return n

    def send_reminders(self) -> reminders.Sent | None:
        """Password-expiry reminders due now; None when another process is sending them."""
        with job_lock(self.cache.engine, REMINDERS_JOB) as got:
            if not got:
                return None
            sent = reminders.send_due(self.cache, self.config, self.mailer, self.clock())
            log.info("reminders.sent", sent=sent.sent, no_email=sent.no_email, failed=sent.failed)
            return sent

    # --- serving ----------------------------------------------------------------------------

    def api(self) -> FastAPI:
        """The API, with the web portal on the same app (same sessions, same reads)."""
        settings = self.config.api.metrics
        guards = GuardCounters()  # edge refusals and throttled answers, counted by this process
        app = create_app(
            self.config,
            self.cache,
            clock=self.clock,
            mailer=self.mailer,
            metrics_registry=make_registry(
                SyncCollector(self.cache.engine, self.config),
                MailCollector(self.cache.engine),
                AlertCollector(self.cache.engine, self.clock),
                guards,
            )
            if settings.enabled
            else None,
            metrics_token=self.secrets.resolve(settings.token) if settings.token else None,
            guards=guards,
        )
        portal.install(app)
        return app

    def dispose(self) -> None:
        self.cache.dispose()


def build_application(
    config: PorticoConfig,
    *,
    base_dir: Path | None = None,
    secrets: SecretResolver | None = None,
    cache: Cache | None = None,
    mailer: Mailer | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> Application:
    """Open the cache and the mailer a config describes (either may be handed in)."""
    base = base_dir or Path.cwd()
    resolver = secrets or SecretResolver(base_dir=base)
    opened = cache or open_cache(config, resolver)
    return Application(
        config=config,
        cache=opened,
        mailer=CountingMailer(mailer or mailer_from(config.mail, resolver, base), opened.engine),
        secrets=resolver,
        base_dir=base,
        clock=clock,
    )
