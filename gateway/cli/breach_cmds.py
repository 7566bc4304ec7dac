"""``portico breach report`` (affected students, guardians, drafts) and ``portico keys rotate``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path

import click

from cache.keys.rotation import rotate
from cache.types import utcnow
from gateway.cli.common import cache_of, config_of, fail
from gateway.cli.config_cmds import keys_group
from gateway.cli.privacy_cmds import operator, write_private
from gateway.privacy import breach
from gateway.privacy.texts import district_summary, family_draft, student_name


def _when(value: str, name: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"--{name}: expected an ISO 8601 time like 2026-11-24T09:00 (UTC unless an offset is given)")
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@click.group("breach")
def breach_group() -> None:
    """Work out who a security incident affected, and draft the notifications."""


@breach_group.command("report")
@click.option("--from", "start", required=True, help="Start of the window (ISO 8601; UTC unless offset).")
@click.option("--to", "end", required=True, help="End of the window.")
@click.option("--account", default=None, help="Only reads by this account id (or operator name).")
@click.option("--address", default=None, help="Only reads from this network address.")
@click.option(
    "--out",
    default="breach-report",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output folder.",
)
@click.pass_context
def report_cmd(
    ctx: click.Context, start: str, end: str, account: str | None, address: str | None, out: str
) -> None:
    """List affected students, their guardians' contact details and the data read; write drafts.

    Writes (mode 600, they hold personal data): summary.txt for the district,
    affected.csv (one row per student and guardian), and families/<id>.txt, one email
    draft per family. Running the report is recorded in the audit log.
    """
    loaded = config_of(ctx)
    cache = cache_of(ctx)
    window = breach.Window(_when(start, "from"), _when(end, "to"), account, address)
    if window.end < window.start:
        fail("--to is before --from")
    t0 = time.monotonic()
    rep = breach.report(cache.engine, cache.keyring, window, operator=operator())
    families = write_report(rep, loaded.config.district.name, Path(out))
    click.echo(
        f"{len(rep.students)} students affected ({rep.reads} reads), {families} families to notify; "
        f"drafts in {out} ({time.monotonic() - t0:.1f}s)"
    )


def write_report(rep: breach.Report, district: str, base: Path) -> int:
    """summary.txt, affected.csv and families/<id>.txt (mode 600); returns the number of families."""
    write_private(base / "summary.txt", district_summary(rep, district, utcnow()).encode())
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(
        ["student_id", "student_name", "school_id", "grade", "categories", "reads", "first_read", "last_read"]
        + ["guardian_name", "relationship", "email", "phone"]
    )
    for a in rep.students:
        head = [
            a.ref,
            student_name(a.student),
            a.student.get("school_id"),
            a.student.get("grade_level"),
            ";".join(sorted(a.categories)),
            sum(a.categories.values()),
            a.first_at.isoformat() if a.first_at else "",
            a.last_at.isoformat() if a.last_at else "",
        ]
        for g in a.guardians or [{}]:
            name = " ".join(x for x in (g.get("first_name"), g.get("last_name")) if x)
            w.writerow(head + [name, g.get("relationship"), g.get("email"), g.get("phone")])
    write_private(base / "affected.csv", buf.getvalue().encode())
    families = rep.families()
    for ref, (guardian, children) in families.items():
        write_private(
            base / "families" / f"{ref}.txt", family_draft(guardian, children, rep, district).encode()
        )
    return len(families)


@keys_group.command("rotate")
@click.option(
    "--key-file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="The KEK file (default: cache.kek's file).",
)
@click.pass_context
def rotate_cmd(ctx: click.Context, key_file: str | None) -> None:
    """Add a new KEK, rewrap every data key under it, retire old KEKs nothing uses; online."""
    loaded = config_of(ctx)
    ref = loaded.config.cache.kek
    if ref.file is None:
        # Every process reads the KEKs from its environment: only the operator can change
        # it everywhere, so Portico cannot rotate it online.
        fail(
            "cache.kek comes from an environment variable; rotate online with a key file (cache.kek: {file: ...})"
        )
    configured = Path(ref.file) if Path(ref.file).is_absolute() else loaded.base_dir / ref.file
    if key_file is not None and Path(key_file).resolve() != configured.resolve():
        fail(
            f"--key-file must be the file cache.kek names ({ref.file}): that is the file every process re-reads"
        )
    key_file = str(configured)
    cache = cache_of(ctx)
    result = rotate(cache.keyring, Path(key_file))
    click.echo(f"new key-encryption key {result.new_kek}; {result.rewrapped} data keys rewrapped")
    if result.retired:
        click.echo(f"retired: {', '.join(result.retired)}")
    for kek, n in result.kept.items():
        click.echo(f"kept {kek}: still wraps {n} data keys; run rotate again", err=True)
