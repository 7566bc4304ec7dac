"""``portico status [--json]``, ``portico doctor`` and ``portico backup``: what IT runs and scripts."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from cache.backup import BackupError, backup_sqlite
from cache.db import is_sqlite, keystore_url, make_engine, sqlite_path
from cache.keys.crypto import KekRing
from cache.keys.keystore import unwrap_problem
from cache.migrations import runner as migrations
from cache.snapshots.runs import all_states, is_stale, recent_runs
from cache.types import utcnow
from config.errors import PorticoError
from config.loader import LoadedConfig
from config.secrets import SecretResolver
from connectors import registry
from connectors.base import BuildContext, Prober
from gateway.cli import checks, sync_cmds
from gateway.cli.common import cache_of, config_of, fail, load_valid
from gateway.ops.mail import MailError, SmtpMailer
from gateway.sync import breaker

# --- status -------------------------------------------------------------------------------

STATUS_SHAPE = 1  # bumped only when a key is removed or changes meaning (docs/operations.md)


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def status_data(loaded: LoadedConfig, engine: Engine, n_runs: int) -> dict[str, Any]:
    """The ``status --json`` document (its shape is documented in docs/operations.md)."""
    config = loaded.config
    with engine.connect() as conn:
        states = {s.source: s for s in all_states(conn)}
        runs = {c.name: recent_runs(conn, c.name, n_runs) for c in config.connectors}
    sources = []
    for c in config.connectors:
        st = states.get(c.name)
        view = breaker.view(st, c.breaker)
        sources.append(
            {
                "name": c.name,
                "type": c.type,
                "enabled": c.enabled,
                "published_run": st.published_run if st else None,
                "synced_at": _iso(st.synced_at) if st else None,
                "as_of": _iso(st.as_of) if st else None,
                "last_attempt_at": _iso(st.last_attempt_at) if st else None,
                "stale": is_stale(st, config.cache.stale_after),
                "consecutive_failures": st.consecutive_failures if st else 0,
                "breaker": {"state": view.state, "open_until": _iso(view.open_until)},
                "runs": [
                    {
                        "id": r.id,
                        "status": r.status,
                        "full": r.full,
                        "started_at": _iso(r.started_at),
                        "finished_at": _iso(r.finished_at),
                        "records": sum(
                            v.get("added", 0) + v.get("changed", 0) + v.get("unchanged", 0)
                            for v in (r.counts or {}).values()
                        ),
                        "retries": r.retries,
                        "error_class": r.error_class,
                        "error": r.error,
                        "hold_reasons": list(r.hold_reasons or []),
                    }
                    for r in runs[c.name]
                ],
            }
        )
    return {
        "shape": STATUS_SHAPE,
        "generated_at": _iso(utcnow()),
        "district": config.district.name,
        "stale_after_seconds": int(config.cache.stale_after.total_seconds()),
        "sources": sources,
    }


@click.command("status", params=[p for p in sync_cmds.status_cmd.params])
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document for scripts (docs/operations.md)."
)
@click.pass_context
def status_cmd(ctx: click.Context, /, as_json: bool, **kwargs: Any) -> None:
    """Each connector's published snapshot, staleness, breaker, and its last runs.

    With --json: one JSON document of a stable shape (its "shape" number changes only
    when a key is removed or changes meaning), for monitoring scripts.
    """
    if not as_json:
        ctx.invoke(sync_cmds.status_cmd, **kwargs)
        return
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    n_runs = int(kwargs.get("n_runs", 5))
    click.echo(json.dumps(status_data(loaded, cache.engine, n_runs), indent=2))


# --- doctor -------------------------------------------------------------------------------

TIMEOUT = 5.0  # seconds for each network check
CLOCK_SKEW = dt.timedelta(seconds=60)


@dataclass
class Finding:
    check: str
    ok: bool | None  # None: skipped
    detail: str
    fix: str = ""


def _database(url: str, what: str) -> tuple[Engine | None, Finding]:
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None and not path.exists():
            return None, Finding(
                f"{what} database",
                False,
                f"{path} does not exist",
                "run `portico db upgrade` with this config",
            )
        engine = make_engine(url)
    else:
        engine = make_engine(url, connect_args={"connect_timeout": int(TIMEOUT)})
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        engine.dispose()
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return None, Finding(
            f"{what} database",
            False,
            f"cannot connect: {reason}",
            "check cache.url / cache.keystore_url, that the database server runs and this host may reach it",
        )
    shown = url if is_sqlite(url) else engine.url.render_as_string(hide_password=True)
    return engine, Finding(f"{what} database", True, f"reachable ({shown})")


def _schema(cache: Engine, keys: Engine) -> list[Finding]:
    out = []
    for s in migrations.states(cache, keys):
        if s.ok:
            out.append(Finding(f"{s.line.name} schema", True, f"at {s.current} (this version's head)"))
        else:
            out.append(
                Finding(
                    f"{s.line.name} schema",
                    False,
                    f"{s.state}: at {s.current or '(none)'}, this version needs {s.head}",
                    s.problem(),
                )
            )
    return out


def _key_file(loaded: LoadedConfig, keys: Engine | None) -> Finding:
    ref = loaded.config.cache.kek
    problem = checks.secret_problem(ref, SecretResolver(base_dir=loaded.base_dir), loaded.base_dir, kek=True)
    if problem is not None:
        fix = (
            "restore the key file from its own backup; with no copy, the cache cannot be read: "
            "make a new key (portico keys generate) and sync again from the SIS"
            if "does not exist" in problem
            else "see docs/deploy.md (the key file)"
        )
        if "readable by every user" in problem:
            fix = f"chmod 600 {ref.file}; chown it to Portico's user"
        return Finding("key file", False, problem, fix)
    if keys is None:
        return Finding(
            "key file", True, f"{ref.describe()} holds keys (keystore not reachable: unwrap not tried)"
        )
    keks = KekRing.parse(SecretResolver(base_dir=loaded.base_dir).resolve(ref), ref.describe())
    try:
        bad = unwrap_problem(keys, keks)
    except Exception as exc:  # noqa: BLE001 - a keystore at another schema: the schema finding says why
        return Finding("key file", None, f"unwrap not tried ({type(exc).__name__})")
    if bad is not None:
        return Finding(
            "key file",
            False,
            f"{ref.describe()} does not open the keystore: {bad}",
            "this key file is not the one the keystore was written with: restore the right one",
        )
    return Finding("key file", True, f"{ref.describe()} unwraps the keystore's keys")


def _sources(loaded: LoadedConfig) -> tuple[list[Finding], list[tuple[str, dt.datetime]]]:
    findings = []
    clocks = []
    ctx = BuildContext(secrets=SecretResolver(base_dir=loaded.base_dir), base_dir=loaded.base_dir)
    for cs in loaded.config.connectors:
        what = f"source {cs.name} ({cs.type})"
        if not cs.enabled:
            findings.append(Finding(what, None, "disabled in the config"))
            continue
        ct = registry.get(cs.type)
        try:
            connector = registry.build(cs.type, cs.name, cs.options, ctx)
        except PorticoError as exc:
            findings.append(Finding(what, False, str(exc), "see `portico config validate`"))
            continue
        try:
            if isinstance(connector, Prober):
                probe = connector.probe(TIMEOUT)
                if probe.server_time is not None:
                    clocks.append((cs.name, probe.server_time))
                problems = [probe.problem] if probe.problem else []
                reached = "token endpoint answered and accepted the client credentials"
                fix = (
                    "check options.base_url, that the SIS answers from this server (firewall, proxy), "
                    "and the client id and secret (the plugin: `portico powerschool plugin`)"
                )
            else:
                model = ct.options_model.model_validate(cs.options)
                problems = [m for _, m in ct.check_config(model, loaded.base_dir)]
                reached = "export readable"
                fix = "check options.path: the folder exists, Portico's user may read it, the export job writes there"
        except PorticoError as exc:
            problems, fix = [str(exc)], "see docs/operations.md"
        finally:
            connector.close()
        if problems:
            findings.append(Finding(what, False, "; ".join(problems), fix))
        else:
            findings.append(Finding(what, True, reached))
    return findings, clocks


def _mail(loaded: LoadedConfig) -> Finding:
    m = loaded.config.mail
    if m.backend != "smtp":
        out = Path(m.outbox_dir)
        out = out if out.is_absolute() else loaded.base_dir / out
        probe = out if out.exists() else out.parent
        writable = probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
        if not writable:
            return Finding("mail", False, f"outbox {out} cannot be written", "create it for Portico's user")
        return Finding("mail", True, f"outbox {out} (no SMTP configured)")
    try:
        SmtpMailer(m, SecretResolver(base_dir=loaded.base_dir), timeout=TIMEOUT).check()
    except (MailError, PorticoError) as exc:
        return Finding(
            "mail",
            False,
            str(exc),
            "check mail.smtp_host/smtp_port, that this server may reach it, and the SMTP login",
        )
    return Finding("mail", True, f"smtp {m.smtp_host}:{m.smtp_port} answered EHLO (no mail sent)")


def _clock(clocks: list[tuple[str, dt.datetime]]) -> Finding:
    if not clocks:
        return Finding("clock", None, "skipped: no source answered over HTTP with a Date header")
    name, theirs = clocks[0]
    skew = utcnow() - theirs
    text = f"{abs(skew.total_seconds()):.0f} s {'ahead of' if skew >= dt.timedelta(0) else 'behind'} {name}"
    if abs(skew) > CLOCK_SKEW:
        return Finding(
            "clock",
            False,
            text,
            "run time synchronisation (systemd-timesyncd or chrony): sessions, schedules and same-day rules use it",
        )
    return Finding("clock", True, text + " (a Date header counts whole seconds)")


def diagnose(path: str) -> list[Finding]:
    """Every check ``portico doctor`` makes, in order; later ones are skipped when what
    they need (a config the schema accepts, a database) is missing."""
    findings: list[Finding] = []
    _, problems = checks.check(path, world=True)
    if problems:
        findings.append(
            Finding(
                "config",
                False,
                f"{len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems),
                f"fix each line above (`portico config validate {path}` lists them)",
            )
        )
    else:
        findings.append(Finding("config", True, f"{path} is valid"))
    loaded, _ = checks.check(path, world=False)
    if loaded is None:
        findings.append(Finding("everything else", None, "skipped until the config's schema is valid"))
        return findings
    cache, f1 = _database(loaded.config.cache.url, "cache")
    findings.append(f1)
    ks_url = keystore_url(loaded.config)
    keys: Engine | None
    if ks_url == loaded.config.cache.url:
        keys = cache
    else:
        keys, f2 = _database(ks_url, "keystore")
        findings.append(f2)
    try:
        if cache is not None and keys is not None:
            try:
                findings.extend(_schema(cache, keys))
            except Exception as exc:  # noqa: BLE001 - a file that is no database, a server refusing reads
                findings.append(
                    Finding(
                        "schema",
                        False,
                        f"cannot read the schema revision ({type(exc).__name__})",
                        "check that cache.url and cache.keystore_url name Portico's databases",
                    )
                )
        findings.append(_key_file(loaded, keys))
    finally:
        for engine in {e for e in (cache, keys) if e is not None}:
            engine.dispose()
    sources, clocks = _sources(loaded)
    findings.extend(sources)
    findings.append(_mail(loaded))
    findings.append(_clock(clocks))
    return findings


@click.command("doctor")
@click.pass_context
def doctor_cmd(ctx: click.Context) -> None:
    """Check the installation and say what to fix: config, databases and their schema
    revision, key file, each source (SIS), SMTP, the clock.

    Network checks give up after 5 seconds each. Exit status 1 when anything is at fault.
    """
    path = ctx.find_root().obj["config_path"]
    findings = diagnose(path)
    for f in findings:
        mark = {True: "ok   ", False: "FAULT", None: "skip "}[f.ok]
        click.secho(f"{mark} {f.check}: {f.detail}", fg={True: None, False: "red", None: "yellow"}[f.ok])
        if f.ok is False and f.fix:
            click.echo(f"      fix: {f.fix}")
    faults = sum(1 for f in findings if f.ok is False)
    click.echo(f"{faults} fault{'s' if faults != 1 else ''}" if faults else "no faults")
    if faults:
        raise SystemExit(1)


# --- backup -------------------------------------------------------------------------------


@click.command("backup")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The cache's backup file.")
@click.option(
    "--keystore-out",
    type=click.Path(dir_okay=False),
    help="Also back up the keystore to this file; keep it apart from cache backups (docs/deploy.md).",
)
@click.option("--force", is_flag=True, help="Replace existing backup files.")
@click.pass_context
def backup_cmd(ctx: click.Context, out: str, keystore_out: str | None, force: bool) -> None:
    """Back up the SQLite cache (and, with --keystore-out, the keystore) while Portico runs.

    Uses SQLite's online backup API: a consistent copy while syncs and requests go on,
    written readable by its owner only. Restore by stopping Portico and copying the file
    back. On PostgreSQL, use pg_dump (this command says how and exits 2).

    A keystore backup holds every data key, including those of people purged since it was
    made: keep keystore backups no longer than the leaver purge promise, and apart from
    cache backups (docs/deploy.md, "Backups").
    """
    loaded = load_valid(ctx.find_root().obj["config_path"])
    jobs = [(loaded.config.cache.url, Path(out), "cache")]
    if keystore_out is not None:
        ks = keystore_url(loaded.config)
        if ks == loaded.config.cache.url and is_sqlite(ks):
            fail("the keystore is inside the cache database: give it its own file (cache.keystore_url)")
        jobs.append((ks, Path(keystore_out), "keystore"))
    for url, target, what in jobs:

        def progress(done: int, total: int, what: str = what) -> None:
            click.echo(f"\r{what}: {done}/{total} pages", nl=False, err=True)

        try:
            result = backup_sqlite(url, target, what=what, force=force, progress=progress)
        except BackupError as exc:
            click.echo("", err=True)
            fail(str(exc))
        click.echo("", err=True)
        click.echo(f"{what}: {result.source} -> {result.out} ({result.bytes:,} bytes, mode 600)")


COMMANDS = (status_cmd, doctor_cmd, backup_cmd)

__all__ = ["COMMANDS", "diagnose", "status_data"]
