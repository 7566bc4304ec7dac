"""``portico serve`` (API + scheduler), ``portico worker`` (scheduler only), ``portico api``."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

import click
import structlog
from fastapi import FastAPI

from gateway.bootstrap import Application
from gateway.cli.common import app_of, config_of
from gateway.ops.logging import configure_logging

log = structlog.get_logger("portico.serve")


def _serve_api(
    portico: Application,
    host: str | None,
    port: int | None,
    processes: int = 1,
    after_fork: Callable[[], None] | None = None,
) -> None:
    from gateway.api.app import settle_before_serving
    from gateway.api.server import serve, serve_processes

    def build() -> FastAPI:
        app = portico.api()
        settle_before_serving()
        return app

    if processes == 1:
        if after_fork is not None:
            after_fork()
        serve(build(), portico.config.api, host, port)
        return
    log.info("serve.processes", processes=processes)
    status = serve_processes(build, portico.dispose, portico.config.api, processes, host, port, after_fork)
    if status:
        raise SystemExit(status)


HOST = click.option("--host", default=None, help="Listen address (default: api.host).")
PORT = click.option("--port", default=None, type=int, help="Listen port (default: api.port).")
PROCESSES = click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the listening socket: one per core uses every core "
    "(sessions, throttles and the audit are in the database, shared by all).",
)


@click.command("worker")
@click.pass_context
def worker_cmd(ctx: click.Context) -> None:
    """Run the sync scheduler only, until SIGTERM or SIGINT (finishing a running sync first).

    Safe to run on several machines against one PostgreSQL cache: a database lock
    makes each connector sync in one place at a time.
    """
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    portico = app_of(ctx)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("worker.stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler = portico.scheduler()
    scheduler.start()
    log.info("worker.started", jobs=scheduler.job_ids)
    while not stop.wait(1.0):
        pass
    # wait=True: a sync in progress finishes (or fails cleanly) before the process exits.
    scheduler.shutdown(wait=True)
    log.info("worker.stopped")


@click.command("serve")
@HOST
@PORT
@PROCESSES
@click.pass_context
def serve_cmd(ctx: click.Context, host: str | None, port: int | None, processes: int) -> None:
    """Run the API and the sync scheduler in one process (the single-machine set-up)."""
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    portico = app_of(ctx)
    # uvicorn handles SIGTERM/SIGINT itself, then raises the signal again once it has
    # stopped; these handlers catch that so the scheduler can finish its run and stop.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: log.info("serve.stopping", signal=signal.Signals(s).name))
    scheduler = portico.scheduler()
    try:
        # Started once the servers are forked (no fork with its threads running), in this
        # process only: one scheduler however many servers.
        _serve_api(portico, host, port, processes, after_fork=scheduler.start)
    finally:
        scheduler.shutdown(wait=True)
        log.info("serve.stopped")


@click.command("api")
@HOST
@PORT
@PROCESSES
@click.pass_context
def api_cmd(ctx: click.Context, host: str | None, port: int | None, processes: int) -> None:
    """Run the API only (replicas beside one or more `portico worker`)."""
    loaded = config_of(ctx)
    configure_logging(loaded.config.logging)
    _serve_api(app_of(ctx), host, port, processes)


COMMANDS = [serve_cmd, worker_cmd, api_cmd]
