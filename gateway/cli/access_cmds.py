"""``portico accounts ...`` (provision, invite, disable, enable, remind) and ``portico access ...`` (holds).

People are named by their SIS ids (``--contact``, ``--student``, ``--school``), as the
school's staff know them; Portico turns them into its blind-indexed refs.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from sqlalchemy import Connection

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from cache.tables.accounts import Account
from cache.types import utcnow
from gateway.access import accounts, holds, invitations, provision, reminders, sessions
from gateway.access.entitlement import person
from gateway.cli.common import cache_of, config_of, fail, secrets_of
from gateway.ops.mail import CountingMailer, Mailer, mailer_from

CONNECTOR = click.option(
    "--connector", "source", default=None, help="Connector the ids belong to (default: the first)."
)


def _source(ctx: click.Context, source: str | None) -> str:
    return source or config_of(ctx).config.connectors[0].name


def _mailer(ctx: click.Context) -> Mailer:
    loaded = config_of(ctx)
    return CountingMailer(
        mailer_from(loaded.config.mail, secrets_of(loaded), loaded.base_dir), cache_of(ctx).engine
    )


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


def _subject(ctx: click.Context, source: str, contact: str | None, student: str | None) -> tuple[str, str]:
    if (contact is None) == (student is None):
        fail("name exactly one of --contact or --student")
    kind, sis_id = ("contact", contact) if contact is not None else ("student", student)
    assert sis_id is not None
    return kind, cache_of(ctx).keyring.index.ref(source, kind, sis_id)


@contextmanager
def account_of(
    ctx: click.Context, source: str | None, contact: str | None, student: str | None
) -> Iterator[tuple[Connection, Account]]:
    """The account of the person named by ``--contact`` or ``--student``, in a transaction."""
    src = _source(ctx, source)
    _, ref = _subject(ctx, src, contact, student)
    with cache_of(ctx).engine.begin() as conn:
        found = accounts.find_by_subject(conn, src, ref)
        if found is None:
            fail("no account for that person")
        yield conn, found


def person_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--connector``, ``--contact`` and ``--student``: whose account a command acts on."""
    command = click.option("--student", help="SIS id of the student whose account it is.")(command)
    command = click.option("--contact", help="SIS id of the contact whose account it is.")(command)
    return CONNECTOR(command)


@click.group("accounts")
def accounts_group() -> None:
    """Provision, invite, disable and remind portal accounts."""


@accounts_group.command("provision")
@CONNECTOR
@click.pass_context
def provision_cmd(ctx: click.Context, source: str | None) -> None:
    """Create pending accounts for entitled guardians and enrolled students (runs after every sync)."""
    src = _source(ctx, source)
    out = provision.provision(cache_of(ctx), config_of(ctx).config, src)
    click.echo(f"{src}: {out.guardians_created} guardian and {out.students_created} student accounts created")
    if out.needs_email:
        click.echo(f"  {len(out.needs_email)} have no usable email in the SIS (missing or shared)")


@accounts_group.command("invite")
@CONNECTOR
@click.option("--contact", help="SIS id of one contact.")
@click.option("--student", help="SIS id of one student (student portal).")
@click.option("--school", help="SIS id of a school: its pending students and their guardians.")
@click.option("--all-pending", is_flag=True, help="Every pending account.")
@click.pass_context
def invite_cmd(
    ctx: click.Context,
    source: str | None,
    contact: str | None,
    student: str | None,
    school: str | None,
    all_pending: bool,
) -> None:
    """Email single-use activation codes to pending accounts."""
    src = _source(ctx, source)
    cache = cache_of(ctx)
    if sum(x is not None and x is not False for x in (contact, student, school, all_pending)) != 1:
        fail("choose exactly one of --contact, --student, --school or --all-pending")
    with cache.engine.connect() as conn:
        if all_pending:
            ids = invitations.pending_ids(conn, src)
        elif school is not None:
            ids = invitations.school_account_ids(
                conn, cache, src, cache.keyring.index.ref(src, "school", school)
            )
        else:
            _, ref = _subject(ctx, src, contact, student)
            found = accounts.find_by_subject(conn, src, ref)
            if found is None:
                fail("no account for that person: not entitled in the published data, or not provisioned yet")
            ids = [found.id]
    out = invitations.invite(cache, config_of(ctx).config, _mailer(ctx), ids)
    click.echo(f"invitations sent: {len(out.sent)}")
    for label, items in (
        ("need an email in the SIS", out.needs_email),
        ("failed to send", out.failed),
        ("not pending", out.not_pending),
    ):
        if items:
            click.echo(f"{label}: {len(items)}")
            for account_id in items:
                click.echo(f"  {account_id}")


def _set_status(
    ctx: click.Context, source: str | None, contact: str | None, student: str | None, status: str
) -> None:
    with account_of(ctx, source, contact, student) as (conn, found):
        accounts.set_fields(conn, found.id, status=status)
        ended = sessions.end_all(conn, found.id) if status == "disabled" else 0
    click.echo(f"account {found.id} {status}" + (f"; {ended} sessions ended" if ended else ""))


@accounts_group.command("disable")
@person_options
@click.pass_context
def disable_cmd(ctx: click.Context, source: str | None, contact: str | None, student: str | None) -> None:
    """Disable an account: every session ends at once; sign-in fails like a wrong password."""
    _set_status(ctx, source, contact, student, "disabled")


@accounts_group.command("enable")
@person_options
@click.pass_context
def enable_cmd(ctx: click.Context, source: str | None, contact: str | None, student: str | None) -> None:
    """Re-enable a disabled account."""
    _set_status(ctx, source, contact, student, "active")


@accounts_group.command("remind")
@click.pass_context
def remind_cmd(ctx: click.Context) -> None:
    """Send the password-expiry reminders due today (run daily)."""
    out = reminders.send_due(cache_of(ctx), config_of(ctx).config, _mailer(ctx), utcnow())
    click.echo(f"reminders sent: {out.sent}; without email: {out.no_email}; failed: {out.failed}")


@click.group("access")
def access_group() -> None:
    """Revoke and restore access: holds that survive every sync until released."""


@access_group.command("hold")
@CONNECTOR
@click.option("--contact", help="SIS id of the contact to revoke.")
@click.option("--student", help="SIS id of the student: every party loses access.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice([*holds.CONTACT_KINDS, "child-protection"]),
    help="court-order, aup-breach, responsibility-questioned (contact); child-protection (student).",
)
@click.option("--reason", required=True, help="Why (stored encrypted; never shown to parents).")
@click.pass_context
def hold_cmd(
    ctx: click.Context, source: str | None, contact: str | None, student: str | None, kind: str, reason: str
) -> None:
    """Place a hold; the parent sees only that access is unavailable."""
    src = _source(ctx, source)
    subject, ref = _subject(ctx, src, contact, student)
    cache = cache_of(ctx)
    try:
        with cache.engine.begin() as conn:
            hold_id = holds.place(
                conn,
                cache.keyring,
                source=src,
                subject=subject,
                ref=ref,
                kind=kind,
                reason=reason,
                by=_operator(),
            )
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"hold {hold_id} placed ({kind})")


@access_group.command("release")
@CONNECTOR
@click.option("--contact")
@click.option("--student")
@click.option("--kind", default=None, help="Release only holds of this kind.")
@click.pass_context
def release_cmd(
    ctx: click.Context, source: str | None, contact: str | None, student: str | None, kind: str | None
) -> None:
    """Release a person's holds (access returns if the SIS data still grants it)."""
    src = _source(ctx, source)
    subject, ref = _subject(ctx, src, contact, student)
    with cache_of(ctx).engine.begin() as conn:
        n = holds.release(conn, source=src, subject=subject, ref=ref, kind=kind, by=_operator())
    click.echo(f"{n} hold{'s' if n != 1 else ''} released")


@access_group.command("student-request")
@CONNECTOR
@click.option("--student", required=True, help="SIS id of the adult student.")
@click.option("--reason", default="written request from the student", show_default=True)
@click.pass_context
def student_request_cmd(ctx: click.Context, source: str | None, student: str, reason: str) -> None:
    """Record an adult student's written request to end parent access: it ends at once."""
    src = _source(ctx, source)
    cache = cache_of(ctx)
    config = config_of(ctx).config
    ref = cache.keyring.index.ref(src, "student", student)
    with cache.engine.begin() as conn:
        state = load_state(conn, src)
        rec = (
            person(Reader(conn, cache.keyring), src, state.published_run, "student", ref)
            if state and state.published_run
            else None
        )
        if rec is None:
            fail("no such student in the published data")
        if not rec.get("date_of_birth"):
            fail("the SIS holds no date of birth for this student: their age cannot be checked")
        dob = dt.date.fromisoformat(rec["date_of_birth"])
        today = dt.datetime.now(dt.UTC).date()
        age = today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))
        if age < config.access.adult_age:
            fail(
                f"the student is under {config.access.adult_age}: parents' access cannot be ended on their request"
            )
        hold_id = holds.place(
            conn,
            cache.keyring,
            source=src,
            subject="student",
            ref=ref,
            kind="student-request",
            reason=reason,
            by=_operator(),
        )
    click.echo(f"recorded (hold {hold_id}): parents' access to this student has ended")


@access_group.command("list")
@CONNECTOR
@click.pass_context
def list_cmd(ctx: click.Context, source: str | None) -> None:
    """Active holds (ids and kinds; reasons stay encrypted)."""
    with cache_of(ctx).engine.connect() as conn:
        found = holds.active(conn, _source(ctx, source))
    for h in found:
        click.echo(f"{h.id}\t{h.subject}\t{h.kind}\tsince {h.created_at:%Y-%m-%d}\tby {h.created_by}")
    click.echo(f"{len(found)} active hold{'s' if len(found) != 1 else ''}")
