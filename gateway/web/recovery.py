"""The emailed links: activate an invitation, ask for a password reset, choose the new password.

Each is the API's flow (``/v1/auth/activate``, ``/password-reset``, ``/confirm``) as a
page: the token is single-use and checked the same way, every unmet password rule is
listed at once and the link stays usable until a password is accepted, and asking for a
reset always gets the same answer, the lookup and the email happening after it is sent.
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.responses import Response

from cache.tables.accounts import Account
from gateway.access import accounts, credentials, passwords, sessions, throttle, tokens
from gateway.api.deps import address_index
from gateway.api.problems import Problem
from gateway.api.routes.recovery import send_reset
from gateway.web import browser
from gateway.web.forms import Errors
from gateway.web.passwords import rules, unmet_messages
from gateway.web.render import Ctx, route
from gateway.web.texts import district_text

PURPOSE = {"activate": "invite", "reset": "reset"}


def _token(ctx: Ctx) -> str:
    raw = ctx.form.get("token") if ctx.request.method == "POST" else ctx.request.query_params.get("token")
    return (raw or "").strip()[:200]


def _holder(ctx: Ctx, token: str, purpose: str) -> Account | None:
    account_id = tokens.peek(ctx.conn, token, purpose) if token else None
    account = accounts.get(ctx.conn, account_id) if account_id else None
    return None if account is None or account.status == "disabled" else account


def _invalid(ctx: Ctx) -> Response:
    # One page for unknown, expired and used links.
    return ctx.error(
        400,
        ctx._("This link is not valid any more"),
        ctx._("Ask the school for a new invitation, or ask for a new password reset link."),
    )


def _choose(ctx: Ctx, kind: str) -> Response:
    token = _token(ctx)
    account = _holder(ctx, token, PURPOSE[kind])
    if account is None:
        return _invalid(ctx)
    config = ctx.portico.config
    errors = Errors()
    if ctx.request.method == "POST":
        password = ctx.form.get("password", "")
        if not password:
            errors.add("password", ctx._("Enter a password."))
        else:
            unmet = credentials.problems(ctx.conn, ctx.portico.cache.keyring, config, account, password)
            for message in unmet_messages(ctx, unmet):
                errors.add("password", ctx._("The password needs: %(rule)s", rule=message))
        if not errors and tokens.consume(ctx.conn, token, PURPOSE[kind]) != account.id:
            return _invalid(ctx)
        if not errors:
            credentials.set_password(ctx.conn, config, account, password, ctx.portico.clock())
            if kind == "reset":
                ctx.conn.commit()
                return ctx.redirect("/sign-in?done=reset")
            # A new account: the invitation proved the address; start its first session.
            session, _ = sessions.create(ctx.conn, account.id, config.access)
            ctx.conn.commit()
            response = ctx.redirect("/aup")
            browser.start_session(response, ctx.request, session)
            return response
    preset = passwords.preset(config.access.password_policy)
    return ctx.render(
        "choose_password.html",
        status=400 if errors else 200,
        kind=kind,
        token=token,
        errors=errors,
        username=accounts.username_of(ctx.portico.cache.keyring, account),
        rules=rules(ctx, preset, account.totp_confirmed_at is not None),
        password_notice=district_text(ctx, "password_notice"),
    )


@route("/activate", ("GET", "POST"))
async def activate(ctx: Ctx) -> Response:
    return _choose(ctx, "activate")


@route("/password-reset/confirm", ("GET", "POST"))
async def reset_confirm(ctx: Ctx) -> Response:
    return _choose(ctx, "reset")


@route("/password-reset", ("GET", "POST"))
async def reset_request(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        return ctx.render("reset_request.html", errors=Errors(), username="")
    username = ctx.form.get("username", "").strip()
    if not username or len(username) > 320:
        errors = Errors()
        errors.add("username", ctx._("Enter your username."))
        return ctx.render("reset_request.html", status=400, errors=errors, username=username[:320])
    # Limited per address and per username, as POST /v1/auth/password-reset is.
    portico = ctx.portico
    wait = throttle.reset_wait(
        ctx.conn,
        portico.config.api.throttles,
        accounts.username_index(portico.cache.keyring, username),
        address_index(ctx.request, portico),
        portico.clock(),
    )
    ctx.conn.commit()
    if wait is not None:
        raise Problem(429, "too-many-requests", "Too many requests", headers={"Retry-After": str(wait)})
    response = ctx.render("reset_sent.html")
    # After the answer: the same page, and the same time, whether or not the account exists.
    response.background = BackgroundTask(send_reset, ctx.portico, username)
    return response
