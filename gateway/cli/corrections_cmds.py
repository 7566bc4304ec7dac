"""``portico corrections list|resolve|notify``: correction requests from families, never sent to the SIS."""

from __future__ import annotations

import click

from gateway.api.routes.privacy import correction_mail
from gateway.cli.common import app_of, cache_of, config_of, fail
from gateway.cli.privacy_cmds import operator
from gateway.ops.mail import MailError, Message
from gateway.privacy import audit, corrections


@click.group("corrections")
def corrections_group() -> None:
    """Correction requests from families: list, resolve, re-send to the school."""


@corrections_group.command("list")
@click.option("--status", type=click.Choice(corrections.STATUSES), default=None)
@click.option("--show-text", is_flag=True, help="Print each request's text (personal data).")
@click.pass_context
def list_cmd(ctx: click.Context, status: str | None, show_text: bool) -> None:
    """Every request, oldest first: id, status, when, whether the school was emailed."""
    cache = cache_of(ctx)
    with cache.engine.connect() as conn:
        items = corrections.listing(conn, cache.keyring, status)
    for c in items:
        mailed = "emailed" if c.notified_at else "NOT EMAILED"
        click.echo(
            f"{c.id}  {c.status:<8} {c.created_at:%Y-%m-%d %H:%M}Z  {mailed:<11} student {c.student_ref}"
        )
        if show_text:
            click.echo(f"    about: {c.about}\n    {c.message}")
    if show_text and items:
        # The text is about the student: an operator read like any other, in the audit chain.
        with cache.engine.begin() as conn:
            audit.append(
                conn,
                [
                    audit.Entry("operator", operator(), "corrections", "allowed", c.source, c.student_ref)
                    for c in items
                ],
            )
    if not items:
        click.echo("no correction requests")


@corrections_group.command("resolve")
@click.argument("request_id")
@click.option("--status", type=click.Choice(["resolved", "rejected"]), default="resolved", show_default=True)
@click.option("--note", default=None, help="What the school did; shown to the family.")
@click.pass_context
def resolve_cmd(ctx: click.Context, request_id: str, status: str, note: str | None) -> None:
    """Close a request; the family sees the new status and the note."""
    cache = cache_of(ctx)
    with cache.engine.begin() as conn:
        ok = corrections.resolve(conn, cache.keyring, request_id, status=status, by=operator(), note=note)
    if not ok:
        fail(f"no correction request {request_id}")
    click.echo(f"{request_id} {status}")


@corrections_group.command("notify")
@click.pass_context
def notify_cmd(ctx: click.Context) -> None:
    """Re-send requests whose email to the school's data contact did not go out."""
    loaded = config_of(ctx)
    portico = app_of(ctx)
    cache = portico.cache
    sent = failed = 0
    with cache.engine.connect() as conn:
        for c in corrections.listing(conn, cache.keyring, "open"):
            if c.notified_at is not None:
                continue
            mail = correction_mail(conn, cache.keyring, loaded.config, c)
            if mail is None:
                failed += 1
                continue
            try:
                portico.mailer.send(Message(*mail, kind="correction"))
            except MailError as exc:
                click.echo(f"{c.id}: {exc}", err=True)
                failed += 1
                continue
            corrections.mark_notified(conn, c.id)
            audit.append(
                conn, [audit.Entry("operator", operator(), "corrections", "allowed", c.source, c.student_ref)]
            )
            conn.commit()
            sent += 1
    click.echo(f"sent {sent}, not sent {failed}")
