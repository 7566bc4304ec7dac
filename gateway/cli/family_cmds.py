"""``portico accounts links``: an account's calendar feeds and family tokens, listed or revoked.

For the school or the district when a family reports a leaked feed address or token, or
cannot sign in to revoke one: the account's own page does the same (docs/feeds-and-tokens.md).
Only ids, dates, children's opaque ids and kinds are printed, never a secret (none is stored).
"""

from __future__ import annotations

import click

from gateway.access import accounts, family
from gateway.cli.access_cmds import CONNECTOR, _source, _subject
from gateway.cli.common import cache_of, fail


@click.command("links")
@CONNECTOR
@click.option("--contact", help="SIS id of the contact whose account it is.")
@click.option("--student", help="SIS id of the student whose account it is.")
@click.option("--revoke", is_flag=True, help="Revoke every calendar feed and family token of the account.")
@click.pass_context
def links_cmd(ctx: click.Context, source: str | None, contact: str | None, student: str | None, revoke: bool) -> None:
    """List an account's calendar feeds and family tokens, or revoke them all (--revoke)."""
    src = _source(ctx, source)
    _, ref = _subject(ctx, src, contact, student)
    with cache_of(ctx).engine.begin() as conn:
        found = accounts.find_by_subject(conn, src, ref)
        if found is None:
            fail("no account for that person")
        feeds, tokens = family.feeds_of(conn, found.id), family.tokens_of(conn, found.id)
        for f in feeds:
            used = f"{f.last_used_at:%Y-%m-%d %H:%M}" if f.last_used_at else "never"
            click.echo(f"feed {f.id}\tstudent {f.student_ref}\tmade {f.created_at:%Y-%m-%d}\tlast read {used}")
        for t in tokens:
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            click.echo(
                f"token {t.id}\tstudents {','.join(t.students)}\tkinds {','.join(t.kinds)}"
                f"\texpires {t.expires_at:%Y-%m-%d}\tlast used {used}"
            )
        if revoke:
            for f in feeds:
                family.revoke_feed(conn, found.id, f.id)
            for t in tokens:
                family.revoke_token(conn, found.id, t.id)
    click.echo(
        f"{len(feeds)} calendar feed(s) and {len(tokens)} family token(s)" + (" revoked" if revoke else "")
    )
