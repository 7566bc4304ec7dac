"""``portico sync`` (run now, with progress), ``sync show|approve|discard``, ``portico status``."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import TextIO

import click
from rich.console import Console
from rich.table import Table

from cache.snapshots.runs import all_states, get_run, is_stale, recent_runs
from cache.store import Cache
from cache.types import utcnow
from config.errors import PorticoError
from config.settings import PorticoConfig
from connectors.base import Page
from gateway.access import rule_record
from gateway.cli.alerts_cmds import print_status as print_alerts
from gateway.cli.common import app_of, cache_of, config_of, fail
from gateway.sync import breaker
from gateway.sync.engine import Progress, SyncOutcome, decide

# Below this, a rate says more about the clock than the source: show the count and time only.
RATE_AFTER_SECONDS = 0.5


def stream_line(stream: str, records: int, pages: int, seconds: float, total: int | None = None) -> str:
    """``students: 300 records, 3 pages in 1.2s (250 records/s)``; no rate for a blink."""
    of = f"/{total:,}" if total else ""
    page_part = f", {pages:,} page{'s' if pages != 1 else ''}" if pages else ""
    noun = "record" if records == 1 and not total else "records"
    line = f"{stream}: {records:,}{of} {noun}{page_part} in {seconds:.1f}s"
    if seconds >= RATE_AFTER_SECONDS:
        line += f" ({records / seconds:,.0f} records/s)"
    return line


def _progress(err: TextIO, live: bool) -> Progress:
    """One line per stream that stays. On a terminal (``live``) the current stream's line
    is rewritten as pages arrive and left in place when the stream ends; otherwise each
    stream prints one line when it ends."""
    last = {"t": 0.0}
    started: dict[str, float] = {}
    pages_of: dict[str, int] = {}

    def on_page(stream: str, page: Page, records: int, pages: int) -> None:
        now = time.monotonic()
        started.setdefault(stream, now)
        pages_of[stream] = pages
        if not live or now - last["t"] < 0.2:
            return
        last["t"] = now
        line = stream_line(stream, records, pages, now - started[stream], page.expected_total)
        err.write("\r" + line + "\x1b[K")
        err.flush()

    def on_done(stream: str, records: int, seconds: float) -> None:
        line = stream_line(stream, records, pages_of.get(stream, 0), seconds)
        err.write(("\r" + line + "\x1b[K\n") if live else line + "\n")
        err.flush()

    return Progress(on_page=on_page, on_stream_done=on_done)


def summary_table(outcomes: list[SyncOutcome]) -> Table:
    """One row per connector synced: what happened and what changed."""
    table = Table(
        "connector", "run", "status", "secs", "records", "added", "changed", "removed", "set aside",
        title="Sync summary",
    )  # fmt: skip
    for out in outcomes:
        total = {k: sum(c.get(k, 0) for c in out.counts.values()) for k in ("added", "changed", "deleted")}
        rejected = sum(c.get("rejected", 0) for c in out.counts.values())
        table.add_row(
            out.source, str(out.run_id or "-"), out.status, f"{out.seconds:.1f}", f"{out.records:,}",
            f"{total['added']:,}", f"{total['changed']:,}", f"{total['deleted']:,}", f"{rejected:,}",
        )  # fmt: skip
    return table


def print_outcome(out: SyncOutcome) -> None:
    click.echo(f"{out.source}: run {out.run_id} {out.status} in {out.seconds:.1f}s ({out.records} records)")
    for kind, c in sorted(out.counts.items()):
        click.echo(
            f"  {kind:<11} +{c['added']} ~{c['changed']} -{c['deleted']} ={c['unchanged']} set aside {c['rejected']}"
        )
    for reason in out.hold_reasons:
        click.echo(f"  held: {reason}")
    if out.error and out.status == "failed":
        click.echo(f"  error: {out.error_class}: {out.error}")


@click.group("sync", invoke_without_command=True)
@click.option("--connector", "names", multiple=True, help="Sync only this connector (repeatable).")
@click.option(
    "--full", is_flag=True, help="Pull everything (finds deletes) instead of changes since the last run."
)
@click.pass_context
def sync_group(ctx: click.Context, names: tuple[str, ...], full: bool) -> None:
    """Sync connectors now, showing progress per stream; or inspect and decide held runs."""
    if ctx.invoked_subcommand is not None:
        return
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    chosen = names or tuple(c.name for c in loaded.config.connectors if c.enabled)
    err = sys.stderr
    live = err.isatty()
    outcomes: list[SyncOutcome] = []
    worst = 0
    for name in chosen:
        try:
            cs = loaded.config.connector(name)
        except KeyError:
            fail(f"no connector named {name!r} in {loaded.file}")
        view = breaker.check(cache.engine, name, cs.breaker)
        if view.state != "closed":
            click.echo(
                f"note: {name}'s circuit breaker is {view.state} after {view.failures} failed runs; "
                "a manual sync runs anyway (scheduled runs respect it)"
            )
        err.write(f"Syncing {name} ...\n")  # its streams' lines follow
        try:
            out = app_of(ctx).sync(name, full=full, progress=_progress(err, live))
        except PorticoError as exc:
            fail(f"connector {name}: {exc}")
        print_outcome(out)
        outcomes.append(out)
        worst = max(worst, {"published": 0, "held": 3, "skipped": 4}.get(out.status, 1))
    if outcomes:
        click.echo()
        Console(highlight=False, width=max(100, Console().width)).print(summary_table(outcomes))
    sys.exit(worst)


@sync_group.command("show")
@click.argument("run_id", type=int)
@click.pass_context
def show_cmd(ctx: click.Context, run_id: int) -> None:
    """Summary of RUN: counts per entity, set-aside rows, hold reasons (no personal data)."""
    cache = cache_of(ctx)
    with cache.engine.connect() as conn:
        run = get_run(conn, run_id)
    if run is None:
        fail(f"no run {run_id}")
    click.echo(f"run {run.id} of {run.source}: {run.status} ({'full' if run.full else 'incremental'})")
    click.echo(
        f"  started {run.started_at:%Y-%m-%d %H:%M:%S}Z, finished {run.finished_at or '-'}; retries {run.retries}"
    )
    for kind, c in sorted((run.counts or {}).items()):
        click.echo(
            f"  {kind:<11} added {c['added']}, changed {c['changed']}, removed {c['deleted']}, "
            f"unchanged {c['unchanged']}, set aside {c['rejected']}"
        )
    for reason in run.hold_reasons or []:
        click.echo(f"  held because: {reason}")
    if run.error:
        click.echo(f"  error: {run.error_class}: {run.error}")
    for rej in (run.rejected or [])[:50]:
        click.echo(f"  set aside: {rej.get('where')} {rej.get('field') or ''} {rej.get('reason')}")


def _decide(ctx: click.Context, run_id: int, approve: bool) -> None:
    cache = cache_of(ctx)
    with cache.engine.connect() as conn:
        run = get_run(conn, run_id)
    if run is None:
        fail(f"no run {run_id}")
    import getpass

    try:
        status = decide(cache.engine, run.source, run_id, approve=approve, by=f"cli:{getpass.getuser()}")
    except PorticoError as exc:
        fail(str(exc))
    click.echo(f"run {run_id} {status}")


@sync_group.command("approve")
@click.argument("run_id", type=int)
@click.pass_context
def approve_cmd(ctx: click.Context, run_id: int) -> None:
    """Publish held RUN as the source's snapshot."""
    _decide(ctx, run_id, True)


@sync_group.command("discard")
@click.argument("run_id", type=int)
@click.pass_context
def discard_cmd(ctx: click.Context, run_id: int) -> None:
    """Throw away held RUN; the last published snapshot keeps serving."""
    _decide(ctx, run_id, False)


def _age(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    secs = int((utcnow() - when).total_seconds())
    return (
        f"{secs // 3600}h{secs % 3600 // 60:02d}m ago"
        if secs >= 3600
        else f"{secs // 60}m{secs % 60:02d}s ago"
    )


def _breaker_note(view: breaker.BreakerView) -> str:
    if view.state == "open" and view.open_until is not None:
        return f"; breaker open until {view.open_until:%H:%M:%S}Z"
    if view.state == "half-open":
        return "; breaker half-open (the next scheduled run is a probe)"
    return ""


@click.command("status")
@click.option("--runs", "n_runs", default=5, show_default=True, help="Recent runs to show per connector.")
@click.pass_context
def status_cmd(ctx: click.Context, n_runs: int) -> None:
    """Each connector's published snapshot, staleness, breaker, and its last runs."""
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    with cache.engine.connect() as conn:
        states = {s.source: s for s in all_states(conn)}
        runs = {c.name: recent_runs(conn, c.name, n_runs) for c in loaded.config.connectors}
    console = Console()
    for c in loaded.config.connectors:
        st = states.get(c.name)
        stale = is_stale(st, loaded.config.cache.stale_after)
        head = f"[bold]{c.name}[/bold] ({c.type})"
        if st is None or st.published_run is None:
            console.print(f"{head}: nothing published yet")
        else:
            console.print(
                f"{head}: snapshot of run {st.published_run}, synced {_age(st.synced_at)}"
                f"{' [red]STALE[/red]' if stale else ''}; failures in a row: {st.consecutive_failures}"
                + _breaker_note(breaker.view(st, c.breaker))
            )
        _print_rule(console, cache, loaded.config, c.name)
        table = Table("run", "status", "started (UTC)", "secs", "records", "retries", "why")
        for r in runs[c.name]:
            secs = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "-"
            recs = sum(
                v.get("added", 0) + v.get("changed", 0) + v.get("unchanged", 0)
                for v in (r.counts or {}).values()
            )
            why = "; ".join(r.hold_reasons or []) or (f"{r.error_class}: {r.error}" if r.error else "")
            table.add_row(
                str(r.id), r.status, f"{r.started_at:%Y-%m-%d %H:%M:%S}", secs, str(recs), str(r.retries), why
            )
        console.print(table)
    print_alerts(console, cache)


def _print_rule(console: Console, cache: Cache, config: PorticoConfig, source: str) -> None:
    """The access rule in force for ``source``, and when the audit chain last recorded it."""
    policy = rule_record.policy_of(config, source)
    if policy is None:
        console.print(f"  access: {rule_record.FLAGS_TEXT}", highlight=False)
        return
    fingerprint = policy.fingerprint()
    with cache.engine.connect() as conn:
        last = rule_record.last_recorded(conn, source)
    if last is not None and last.fingerprint == fingerprint:
        when = f"recorded in the audit chain {last.at:%Y-%m-%d %H:%M}Z"
    else:
        when = "not yet recorded: it is recorded at the next published sync"
    console.print(f"  access rule {fingerprint} ({when}):", highlight=False)
    for line in policy.describe():
        console.print(f"    {line}", highlight=False, markup=False)
