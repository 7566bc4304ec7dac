"""``portico accounts links``: an account's calendar feeds and family tokens, listed or revoked.

For the school or the district when a family reports a leaked feed address or token, or
cannot sign in to revoke one: the account's own page does the same (docs/feeds-and-tokens.md).
Only ids, dates, children's opaque ids and kinds are printed, never a secret (none is stored).
"""

from __future__ import annotations

import datetime as dt

import click

from cache.tables.family import CalendarFeed, FamilyToken
from gateway.access import family
from gateway.cli.access_cmds import account_of, person_options


def _used(at: dt.datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else "never"


def _line(link: CalendarFeed | FamilyToken) -> str:
    if isinstance(link, CalendarFeed):
        return f"feed {link.id}\tstudent {link.student_ref}\tmade {link.created_at:%Y-%m-%d}\tlast read {_used(link.last_used_at)}"
    return (
        f"token {link.id}\tstudents {','.join(link.students)}\tkinds {','.join(link.kinds)}"
        f"\texpires {link.expires_at:%Y-%m-%d}\tlast used {_used(link.last_used_at)}"
    )


@click.command("links")
@person_options
@click.option("--revoke", is_flag=True, help="Revoke every calendar feed and family token of the account.")
@click.pass_context
def links_cmd(
    ctx: click.Context, source: str | None, contact: str | None, student: str | None, revoke: bool
) -> None:
    """List an account's calendar feeds and family tokens, or revoke them all (--revoke)."""
    with account_of(ctx, source, contact, student) as (conn, found):
        feeds, tokens = family.feeds_of(conn, found.id), family.tokens_of(conn, found.id)
        links: list[tuple[family.LinkKind, CalendarFeed | FamilyToken]] = [
            *(("feed", f) for f in feeds),
            *(("token", t) for t in tokens),
        ]
        for _, link in links:
            click.echo(_line(link))
        if revoke:
            for kind, link in links:
                family.revoke(conn, kind, found.id, link.id)
    click.echo(
        f"{len(feeds)} calendar feed(s) and {len(tokens)} family token(s)" + (" revoked" if revoke else "")
    )
