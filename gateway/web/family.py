"""The account page's calendar feeds and family tokens: made, listed and revoked by form.

The same functions as ``/v1/account/feeds`` and ``/v1/account/tokens``
(:mod:`gateway.api.routes.family`): the same gates, the same check that each child is
the account's to see now, the same limits. A new feed's address and a new token are
shown once, on the page that answers the form, and never again.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from cache.read.reader import Reader
from cache.snapshots.runs import load_state
from cache.tables.accounts import Account
from gateway.access import family
from gateway.api.deps import principal_of
from gateway.api.problems import Problem
from gateway.api.routes import family as api_family
from gateway.web import reads
from gateway.web.forms import Errors
from gateway.web.render import N_, Ctx, route

KIND_LABELS = {
    "attendance": N_("Attendance"),
    "timetable": N_("Schedule"),
    "grades": N_("Grades"),
    "assignments": N_("Assignments"),
    "behaviour": N_("Behavior"),
    "notices": N_("Notices"),
    "reports": N_("Reports"),
}
# The expiries offered on the form, in days (those past the district's maximum are left out).
EXPIRIES = (7, 30, 90, 365)
DONE = {
    "feed-revoked": N_("The calendar feed has been revoked: its address no longer works."),
    "token-revoked": N_("The token has been revoked: it no longer works."),
}


def children(ctx: Ctx, account: Account) -> list[tuple[str, str]]:
    """(id, first name) of the children the account may see now; none until the data gates pass."""
    config = ctx.portico.config
    if account.aup_version != config.access.aup.version:
        return []
    state = load_state(ctx.conn, account.source)
    if state is None or state.published_run is None:
        return []
    reader = Reader(ctx.conn, ctx.portico.cache.keyring, ctx.portico.attached)
    found = reader.students(principal_of(account), state.published_run, ctx.portico.today())
    return [(s.ref, reads.first_name(s)) for s in found]


def section(ctx: Ctx, account: Account) -> dict[str, Any]:
    """What the account page shows of the account's feeds and tokens."""
    kids = children(ctx, account)
    names = dict(kids)
    now = ctx.portico.clock()
    most = ctx.portico.config.access.family_token_max_lifetime.days
    return {
        "children": kids,
        "feeds": [
            {**api_family.feed_listing(f), "name": names.get(f.student_ref)}
            for f in family.feeds_of(ctx.conn, account.id)
        ],
        "tokens": [
            {
                **api_family.token_listing(t, now),
                "names": [names[r] for r in t.students if r in names],
                "kind_names": [ctx._(KIND_LABELS[k]) for k in t.kinds if k in KIND_LABELS],
            }
            for t in family.tokens_of(ctx.conn, account.id)
        ],
        "kind_labels": KIND_LABELS,
        "expiries": [d for d in EXPIRIES if d <= most] or [most],
        "family_done": ctx._(DONE[d]) if (d := ctx.request.query_params.get("done")) in DONE else None,
    }


@route("/account/feeds", ("POST",))
async def create_feed(ctx: Ctx) -> Response:
    account = ctx.account()
    made = await api_family.new_feed(ctx.conn, ctx.portico, account, ctx.form.get("student_id", "")[:40])
    return ctx.render("link_created.html", status=201, kind="feed", url=made["url"], secret=None)


@route("/account/tokens", ("POST",))
async def create_token(ctx: Ctx) -> Response:
    account = ctx.account()
    kids = [ref for ref, _ in children(ctx, account)]
    chosen = [ref for ref in kids if ctx.form.get("student-" + ref) == "yes"]
    kinds = [k for k in family.KINDS if ctx.form.get("kind-" + k) == "yes"]
    raw_days = ctx.form.get("days", "")
    errors = Errors()
    if not chosen:
        errors.add("students", ctx._("Choose at least one child."))
    if not kinds:
        errors.add("kinds", ctx._("Choose at least one kind of information."))
    if (
        not raw_days.isdigit()
        or not 1 <= int(raw_days) <= ctx.portico.config.access.family_token_max_lifetime.days
    ):
        errors.add("days", ctx._("Choose when the token stops working."))
    if errors:
        values = section(ctx, account)
        return ctx.render("family_errors.html", status=400, errors=errors, **values)
    made = await api_family.new_token(ctx.conn, ctx.portico, account, chosen, kinds, int(raw_days))
    return ctx.render("link_created.html", status=201, kind="token", url=None, secret=made["token"])


def _revoked(ctx: Ctx, kind: family.LinkKind) -> Response:
    if not family.revoke(ctx.conn, kind, ctx.account().id, ctx.request.path_params["item_id"][:40]):
        raise Problem(404, "not-found", "Not found")
    ctx.conn.commit()
    return ctx.redirect(f"/account?done={kind}-revoked#{kind}s")


@route("/account/feeds/{item_id}/revoke", ("POST",))
async def revoke_feed(ctx: Ctx) -> Response:
    return _revoked(ctx, "feed")


@route("/account/tokens/{item_id}/revoke", ("POST",))
async def revoke_token(ctx: Ctx) -> Response:
    return _revoked(ctx, "token")
