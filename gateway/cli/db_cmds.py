"""``portico db upgrade | current | history``: the cache's and keystore's schema revisions."""

from __future__ import annotations

import click

from cache.db import keystore_url, make_engine
from cache.migrations import runner as migrations
from config.errors import PorticoError
from config.loader import LoadedConfig
from gateway.cli.common import config_of, fail


@click.group("db")
def db_group() -> None:
    """The schema of the cache and keystore databases (Alembic migrations shipped with Portico).

    Every other command refuses to run until both databases are at this version's
    revision; after installing a new version, run `portico db upgrade` once.
    """


def upgrade_databases(loaded: LoadedConfig) -> list[migrations.Upgraded]:
    """Both databases at this code's head; exits with the reason when that is impossible."""
    try:
        return migrations.upgrade(loaded.config.cache.url, keystore_url(loaded.config))
    except PorticoError as exc:
        fail(f"cannot upgrade the schema: {exc}")


@db_group.command("upgrade")
@click.pass_context
def upgrade_cmd(ctx: click.Context) -> None:
    """Create or upgrade both schemas to this version (safe to run again, and from several
    machines at once: a database lock makes the others wait, then find nothing to do).

    Take a backup first (`portico backup`): the way back from an upgrade is a restore.
    """
    for step in upgrade_databases(config_of(ctx)):
        if step.before == step.after:
            click.echo(f"{step.line.name}: already at {step.after}")
        else:
            click.echo(f"{step.line.name}: upgraded {step.before or '(no schema)'} -> {step.after}")


@db_group.command("current")
@click.pass_context
def current_cmd(ctx: click.Context) -> None:
    """Show each database's revision and whether this version can run on it (exit 1 if not)."""
    loaded = config_of(ctx)
    cache = make_engine(loaded.config.cache.url)
    keys = make_engine(keystore_url(loaded.config))
    try:
        states = migrations.states(cache, keys)
    finally:
        cache.dispose()
        keys.dispose()
    for s in states:
        click.echo(f"{s.line.name}: {s.current or '(none)'} (head {s.head}) {s.state}")
        if not s.ok:
            click.echo(f"  {s.problem()}")
    if not all(s.ok for s in states):
        raise SystemExit(1)


@db_group.command("history")
def history_cmd() -> None:
    """List every revision this version knows, newest first, with what it changes."""
    for line in migrations.LINES:
        click.echo(f"{line.name}:")
        for script in migrations.history(line):
            title = (script.doc or "").strip().splitlines()[0] if script.doc else ""
            click.echo(f"  {script.revision:<8} {title}")
