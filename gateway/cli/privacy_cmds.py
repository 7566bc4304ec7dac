"""``portico audit verify``, ``portico purge`` and ``portico export`` (a subject-access request)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from cache.locks import job_lock
from cache.read.reader import Principal, Reader
from cache.snapshots.runs import load_state
from cache.store import Cache
from cache.tables.core import core_table
from cache.tables.records import RecordRow
from cache.types import utcnow
from gateway.cli.common import cache_of, config_of, fail
from gateway.privacy import audit, export
from gateway.privacy.audit import denied_by_caller
from gateway.privacy.audit_anchor import verify_anchored
from gateway.privacy.audit_retention import AuditBroken, prune
from gateway.privacy.leavers import purge_leavers
from gateway.privacy.purge import PurgeError, purge_students
from gateway.privacy.purge_district import purge_district

RECORDS = core_table(RecordRow)


def operator() -> str:
    return f"cli:{getpass.getuser()}"


def resolve_student(cache: Cache, student_id: str, source: str | None) -> tuple[str, str]:
    """(source, ref) from an opaque id, or from a SIS id with ``--source``."""
    if source is not None:
        if source not in {c.name for c in cache.config.connectors}:
            fail(f"no connector named {source!r}")
        return source, cache.keyring.index.ref(source, "student", student_id)
    with cache.engine.connect() as conn:
        found = conn.execute(
            select(RECORDS.c.source).where(RECORDS.c.kind == "student", RECORDS.c.ref == student_id).limit(1)
        ).scalar()
    if found is None:
        fail("no student with that id in the cache (give a SIS id with --source NAME)")
    return str(found), student_id


def write_private(path: Path, data: bytes) -> None:
    """Files holding personal data are readable by their owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


# --- audit ---------------------------------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The hash-chained access audit."""


@audit_group.command("verify")
@click.pass_context
def verify_cmd(ctx: click.Context) -> None:
    """Recompute the whole chain and check it against earlier anchors; then anchor its head.

    Any event changed, removed, reordered or inserted is reported, and so is a tail
    rewritten with recomputed hashes up to an anchored event (anchors live in the
    keystore database).
    """
    cache = cache_of(ctx)
    with cache.engine.connect() as conn:
        result = verify_anchored(conn, cache.keyring.engine)
    chain = result.chain
    if not chain.ok:
        fail(
            f"audit chain BROKEN at event {chain.first_bad_id}: {chain.problem} ({chain.checked} verified before it)",
            1,
        )
    if result.broken_anchor is not None:
        fail(f"audit chain REWRITTEN: event {result.broken_anchor} no longer matches its anchor", 1)
    if result.unsealed_checkpoint is not None:
        fail(
            f"audit checkpoint FORGED: the prune through event {result.unsealed_checkpoint} has no matching seal",
            1,
        )
    anchored = f"; anchored at event {result.new_anchor}" if result.new_anchor else ""
    click.echo(
        f"audit chain intact: {chain.checked} events, {result.anchors_checked} anchors match{anchored}"
    )


@audit_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.pass_context
def prune_cmd(ctx: click.Context, dry_run: bool) -> None:
    """Remove audit events older than privacy.audit_retention, keeping the chain verifiable.

    Records of disclosure (allowed reads and exports of a student's data) are kept for as
    long as the cache holds the student's records (privacy.keep_disclosures_while_record_held).
    The chain is verified first and nothing is removed from a broken one; a checkpoint,
    sealed in the keystore database, lets `portico audit verify` check what remains.
    Denied-read counts older than the retention go too.
    """
    loaded = config_of(ctx)
    cache = cache_of(ctx)

    def progress(done: int, total: int) -> None:
        click.echo(f"  removed {done:,} of {total:,} events")

    with job_lock(cache.engine, "audit-prune") as got:
        if not got:
            fail("another `portico audit prune` is running")
        try:
            result = prune(
                cache.engine,
                cache.keyring.engine,
                loaded.config.privacy,
                utcnow(),
                dry_run=dry_run,
                progress=progress,
            )
        except AuditBroken as exc:
            fail(str(exc), 1)
    verb = "would remove" if dry_run else "removed"
    if result.through_id is None:
        click.echo(f"no audit event is older than {result.cutoff:%Y-%m-%d %H:%M} UTC; nothing to prune")
    else:
        click.echo(
            f"{verb} {result.pruned:,} events up to event {result.through_id} "
            f"(older than {result.cutoff:%Y-%m-%d %H:%M} UTC); kept {result.kept:,} records of disclosure"
        )
    click.echo(f"{verb} {result.denied_counts_pruned:,} hourly denied-read counts")


@audit_group.command("denied")
@click.option(
    "--hours", default=24, show_default=True, type=click.IntRange(1, 24 * 366), help="How far back."
)
@click.option("--top", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many callers.")
@click.pass_context
def denied_cmd(ctx: click.Context, hours: int, top: int) -> None:
    """Callers with the most denied reads (uniform 404s for students not theirs), per hour counts summed.

    A guardian or student probing for other families' records shows up here."""
    cache = cache_of(ctx)
    since = utcnow() - dt.timedelta(hours=hours)
    rows = denied_by_caller(cache.engine, since, top)
    if not rows:
        click.echo(f"no denied reads in the last {hours} hours")
        return
    click.echo(f"{'caller':<24} {'role':<10} {'denied':>8}  {'first hour':<17} last hour")
    for r in rows:
        click.echo(
            f"{r.actor_id:<24} {r.actor_kind:<10} {r.total:>8}  {r.first:%Y-%m-%d %H:00}  {r.last:%Y-%m-%d %H:00}"
        )


# --- purge ---------------------------------------------------------------------------------


def _save_certificate(ctx: click.Context, cert: dict[str, Any], directory: str | None) -> Path:
    base = Path(directory) if directory else config_of(ctx).base_dir / "deletion-certificates"
    path = base / f"{cert['certificate']}.json"
    write_private(path, (json.dumps(cert, indent=2, sort_keys=True) + "\n").encode())
    return path


@click.command("purge")
@click.option(
    "--student", "students", multiple=True, help="Opaque student id, or SIS id with --source (repeatable)."
)
@click.option("--source", default=None, help="The connector whose SIS ids --student gives.")
@click.option("--all", "everything", is_flag=True, help="Contract end: delete the whole district, every key.")
@click.option("--leavers", is_flag=True, help="Students who left more than privacy.leaver_retention ago.")
@click.option("--reason", default=None, help="A short code: deletion-request, contract-end, ...")
@click.option(
    "--allow-return",
    is_flag=True,
    help="Let the student come back at a later sync while the SIS still enrols them (default: blocked).",
)
@click.option("--certificates", default=None, type=click.Path(file_okay=False), help="Where certificates go.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (--all).")
@click.pass_context
def purge_cmd(
    ctx: click.Context,
    students: tuple[str, ...],
    source: str | None,
    everything: bool,
    leavers: bool,
    reason: str | None,
    allow_return: bool,
    certificates: str | None,
    yes: bool,
) -> None:
    """Destroy students' data keys and rows, and write a deletion certificate for each purge."""
    if sum(bool(x) for x in (students, everything, leavers)) != 1:
        fail("give exactly one of --student, --all or --leavers")
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    try:
        if everything:
            if not yes:
                click.confirm("Delete every record and destroy every data key of the district?", abort=True)
            names = [c.name for c in loaded.config.connectors]
            certs = [
                purge_district(
                    cache.engine,
                    cache.keyring,
                    names,
                    operator=operator(),
                    reason_code=reason or "contract-end",
                )
            ]
        elif leavers:
            today = dt.datetime.now(dt.UTC).date()
            retention = loaded.config.privacy.leaver_retention
            certs = [
                c
                for c in (
                    purge_leavers(cache.engine, cache.keyring, cs.name, today, retention, operator())
                    for cs in loaded.config.connectors
                )
                if c is not None
            ]
        else:
            if reason is None:
                fail("a purge of students needs --reason (for example deletion-request)")
            by_source: dict[str, list[str]] = {}
            for sid in students:
                src, ref = resolve_student(cache, sid, source)
                by_source.setdefault(src, []).append(ref)
            certs = [
                purge_students(
                    cache.engine,
                    cache.keyring,
                    src,
                    refs,
                    reason_code=reason,
                    operator=operator(),
                    blocked=not allow_return,
                )
                for src, refs in by_source.items()
            ]
    except PurgeError as exc:
        fail(str(exc))
    if not certs:
        click.echo("nothing to purge")
    for cert in certs:
        path = _save_certificate(ctx, cert, certificates)
        rows = sum(cert.get("rows_deleted", {}).values())
        click.echo(f"purged ({cert['scope']}): {rows} rows deleted; certificate {path}")


# --- export ---------------------------------------------------------------------------------


@click.command("export")
@click.option("--student", "student_id", required=True, help="Opaque student id, or SIS id with --source.")
@click.option("--source", default=None, help="The connector whose SIS id --student gives.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write (mode 600).")
@click.pass_context
def export_cmd(ctx: click.Context, student_id: str, source: str | None, fmt: str, out: str) -> None:
    """Everything the cache holds about a student, every contact included (a subject-access request)."""
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    src, ref = resolve_student(cache, student_id, source)
    with cache.engine.connect() as conn:
        state = load_state(conn, src)
        if state is None or state.published_run is None:
            fail(f"{src}: nothing published yet")
        reader = Reader(conn, cache.keyring, loaded.config.attached())
        handle = reader.for_operator(src, state.published_run, ref)
        if handle is None:
            fail("no such student in the published snapshot")
        who = operator()
        audit.append(conn, [audit.Entry("operator", who, "export", "allowed", src, ref, action="export")])
        conn.commit()
        doc = export.build(
            reader,
            Principal(who, "operator", src, ""),
            handle,
            now=utcnow(),
            district_tz=ZoneInfo(loaded.config.district.timezone),
            visibility=loaded.config.visibility,
            apply_lag=False,
        )
    write_private(Path(out), export.to_zip(doc) if fmt == "csv" else export.to_json(doc))
    click.echo(f"wrote {sum(len(v) for v in doc['records'].values())} records to {out} (mode 600)")


COMMANDS = (audit_group, purge_cmd, export_cmd)
