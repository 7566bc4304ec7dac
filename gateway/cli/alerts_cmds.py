"""``portico alerts ...``: send what is due now, show the outbox, detect a published run again,
prune finished rows."""

from __future__ import annotations

import click
from rich.console import Console

from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.types import utcnow
from gateway.alerts import detect, prune
from gateway.alerts.sender import stats
from gateway.cli.common import app_of, cache_of, fail


@click.group("alerts")
def alerts_group() -> None:
    """Alerts and digests to families (docs/alerts.md)."""


@alerts_group.command("send")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many messages.")
@click.pass_context
def send_cmd(ctx: click.Context, limit: int | None) -> None:
    """Send every alert and digest due now (the scheduler does this every alerts.send_every).

    Safe beside a running scheduler or another sender: each message is claimed by one."""
    app = app_of(ctx)
    n = 0

    def progress() -> None:
        nonlocal n
        n += 1
        if n % 100 == 0:
            click.echo(f"  {n} claims handled", err=True)

    sent = app.alert_sender().run(limit, on_message=progress)
    click.echo(
        f"sent {sent.messages} messages ({sent.alerts} alerts); dropped {sent.dropped}; "
        f"waiting {sent.deferred}; to retry {sent.retried}; failed {sent.failed}"
    )
    if sent.failed or sent.retried:
        raise SystemExit(1)


@alerts_group.command("detect")
@click.option("--connector", "source", default=None, help="Connector (default: the first).")
@click.pass_context
def detect_cmd(ctx: click.Context, source: str | None) -> None:
    """Detect the published snapshot's own changes again and queue their alerts (idempotent:
    nothing already queued or sent is queued twice)."""
    app = app_of(ctx)
    name = source or app.config.connectors[0].name
    with app.cache.engine.connect() as conn:
        state = load_state(conn, name)
    if state is None or state.published_run is None:
        fail(f"{name}: nothing published yet")
    found = detect.detect(app.cache, app.config, name, state.published_run, app.clock())
    # What the sender's next run would do first: the news to one row per recipient.
    expanded = detect.expand(app.cache, app.config, app.clock())
    click.echo(
        f"{name} run {state.published_run}: {found.changed} changed records, {found.queued} news, "
        f"{expanded.queued} alerts queued"
    )


@alerts_group.command("prune")
@click.pass_context
def prune_cmd(ctx: click.Context) -> None:
    """Delete finished alerts (sent, dropped, failed) older than alerts.keep_sent, except those
    whose record version is still current (their key stops it being announced twice). The
    worker does this daily; pending alerts are never touched."""
    app = app_of(ctx)
    keep = app.config.alerts.keep_sent

    def progress(n: int) -> None:
        click.echo(f"  {n} rows pruned so far", err=True)

    n = prune.prune(app.cache.engine, app.clock(), keep, progress=progress)
    click.echo(f"pruned {n} finished alerts older than {keep.days} days")


@alerts_group.command("status")
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """The outbox: alerts by status, those waiting to be retried, and the oldest due."""
    print_status(Console(), cache_of(ctx))


def print_status(console: Console, cache: Cache) -> None:
    """One line for ``portico status`` and ``portico alerts status``."""
    now = utcnow()
    with cache.engine.connect() as conn:
        found = stats(conn, now)
    counts = ", ".join(f"{k} {found.by_status.get(k, 0)}" for k in ("pending", "sent", "failed", "dropped"))
    late = (
        ""
        if found.oldest_due is None
        else f"; oldest due {int((now - found.oldest_due).total_seconds())} s ago"
    )
    warn = " [red]FAILURES[/red]" if found.by_status.get("failed") else ""
    news = f"; news to expand {found.news}" if found.news else ""
    console.print(f"[bold]alerts[/bold]: {counts}; retrying {found.retrying}{late}{news}{warn}")
