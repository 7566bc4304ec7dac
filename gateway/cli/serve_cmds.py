"""``portico serve`` (API + scheduler), ``portico worker`` (scheduler only), ``portico api``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

import click
import structlog

from cache.store import Cache
from config.loader import LoadedConfig
from connectors import registry
from connectors.base import Connector
from gateway.cli.common import cache_of, config_of, publish_hooks, secrets_of
from gateway.ops.logging import configure_logging
from gateway.sync.scheduler import SyncScheduler, make_runner

log = structlog.get_logger("portico.serve")


def connector_factory(loaded: LoadedConfig) -> Callable[[str], Connector]:
    """Build a connector by name from the config (a fresh one, with fresh clients, per run)."""

    def build(name: str) -> Connector:
        cs = loaded.config.connector(name)
        ctx = registry.BuildContext(secrets=secrets_of(loaded), base_dir=loaded.base_dir)
        return registry.build(cs.type, cs.name, cs.options, ctx)

    return build


def add_reminder_job(scheduler: SyncScheduler, loaded: LoadedConfig, cache: Cache) -> None:
    """Password-expiry reminders (school-aup preset: day 80, then daily from day 85), each
    morning in the district's time; one process sends them even when several run workers."""
    from apscheduler.triggers.cron import CronTrigger

    from cache.locks import source_lock
    from cache.types import utcnow
    from gateway.access import reminders
    from gateway.ops.mail import mailer_from

    mailer = mailer_from(loaded.config.mail, secrets_of(loaded), loaded.base_dir)

    def send() -> None:
        with source_lock(cache.engine, "password-reminders") as got:
            if got:
                sent = reminders.send_due(cache, loaded.config, mailer, utcnow())
                log.info("reminders.sent", sent=sent.sent, no_email=sent.no_email, failed=sent.failed)

    scheduler.scheduler.add_job(
        send,
        CronTrigger(hour=7, minute=30, timezone=loaded.config.district.timezone),
        id="password-reminders",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )


def start_scheduler(loaded: LoadedConfig, cache: Cache) -> SyncScheduler:
    runner = make_runner(cache, connector_factory(loaded), on_published=publish_hooks(cache, loaded.config))
    scheduler = SyncScheduler(cache, runner)
    if not scheduler.job_ids:
        log.warning("scheduler.no_jobs", hint="no enabled connector has a schedule")
    add_reminder_job(scheduler, loaded, cache)
    scheduler.start()
    return scheduler


def _serve_api(loaded: LoadedConfig, cache: Cache, host: str | None, port: int | None) -> None:
    import uvicorn

    from gateway.api.app import create_app, settle_before_serving
    from gateway.ops.mail import mailer_from

    api = loaded.config.api
    # The mailer resolves its SMTP password reference relative to the config file.
    mailer = mailer_from(loaded.config.mail, secrets_of(loaded), loaded.base_dir)
    app = create_app(loaded.config, cache, mailer=mailer)
    settle_before_serving()
    uvicorn.run(
        app,
        host=host or api.host,
        port=port or api.port,
        log_config=None,
    )


HOST = click.option("--host", default=None, help="Listen address (default: api.host).")
PORT = click.option("--port", default=None, type=int, help="Listen port (default: api.port).")


@click.command("worker")
@click.pass_context
def worker_cmd(ctx: click.Context) -> None:
    """Run the sync scheduler only, until SIGTERM or SIGINT (finishing a running sync first).

    Safe to run on several machines against one PostgreSQL cache: a database lock
    makes each connector sync in one place at a time.
    """
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    cache = cache_of(ctx)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("worker.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler = start_scheduler(loaded, cache)
    log.info("worker.started", jobs=scheduler.job_ids)
    while not stop.wait(1.0):
        pass
    # wait=True: a sync in progress finishes (or fails cleanly) before the process exits.
    scheduler.shutdown(wait=True)
    log.info("worker.stopped")


@click.command("serve")
@HOST
@PORT
@click.pass_context
def serve_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the API and the sync scheduler in one process (the single-machine set-up)."""
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    cache = cache_of(ctx)
    # uvicorn handles SIGTERM/SIGINT itself, then raises the signal again once it has
    # stopped; these handlers catch that so the scheduler can finish its run and stop.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: log.info("serve.stopping", signal=signal.Signals(s).name))
    scheduler = start_scheduler(loaded, cache)
    try:
        _serve_api(loaded, cache, host, port)
    finally:
        scheduler.shutdown(wait=True)
        log.info("serve.stopped")


@click.command("api")
@HOST
@PORT
@click.pass_context
def api_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the API only (replicas beside one or more `portico worker`)."""
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    _serve_api(loaded, cache_of(ctx), host, port)


COMMANDS = [serve_cmd, worker_cmd, api_cmd]
