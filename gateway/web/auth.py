"""Signing in and out: the password step, the authenticator-code step, and sign-out.

The same checks, throttles and answers as ``POST /v1/auth/login``: throttled per
username and per address before any password is checked, one argon2 verification for
an unknown username as for a known one, and one message for every failure. A person
with an authenticator enrolled gets a second page, carried by a single-use step token
valid five minutes; only after the code does the browser get its session cookie.
"""

from __future__ import annotations

import datetime as dt

from starlette.responses import Response

from gateway.access import accounts, credentials, sessions, throttle, tokens
from gateway.access.security import hash_password, needs_rehash, verify_password
from gateway.api.deps import address_index
from gateway.api.problems import Problem
from gateway.web import browser
from gateway.web.forms import Errors
from gateway.web.render import N_, Ctx, next_path, route
from gateway.web.texts import district_text

STEP = "sign-in"
STEP_TTL = dt.timedelta(minutes=5)
DONE = {
    "signed-out": N_("You have signed out."),
    "everywhere": N_("You have signed out on every device."),
    "reset": N_("Your password has been changed. Sign in with the new one."),
}


def _keys(ctx: Ctx, username_index: str) -> list[str]:
    keys = ["u:" + username_index]
    addr = address_index(ctx.request, ctx.portico)
    if addr:
        keys.append("a:" + addr)
    return keys


def _throttled(ctx: Ctx, keys: list[str]) -> None:
    wait = throttle.retry_after(ctx.conn, keys, ctx.portico.clock())
    if wait is not None:
        ctx.portico.guards.sign_in_throttle("web", "too-many-failures")
        raise Problem(429, "too-many-attempts", "Too many attempts", headers={"Retry-After": str(wait)})


def _failed_page(ctx: Ctx, keys: list[str], username: str, reason: str) -> Response:
    ctx.portico.guards.sign_in_failure("web", reason)
    throttle.failed(ctx.conn, keys, ctx.portico.clock())
    ctx.conn.commit()
    errors = Errors()
    errors.add("username", ctx._("The username or password is not right."))
    return _page(ctx, errors, username, status=400)


def _page(ctx: Ctx, errors: Errors | None = None, username: str = "", status: int = 200) -> Response:
    done = ctx.request.query_params.get("done")
    return ctx.render(
        "sign_in.html",
        status=status,
        errors=errors or Errors(),
        username=username,
        next=next_path(ctx.form.get("next") or ctx.request.query_params.get("next")),
        done=ctx._(DONE[done]) if done in DONE else None,
        password_notice=district_text(ctx, "password_notice"),
    )


def _signed_in(ctx: Ctx, account_id: str, keys: list[str], password: str | None) -> Response:
    now = ctx.portico.clock()
    throttle.succeeded(ctx.conn, keys[0])
    account = accounts.get(ctx.conn, account_id)
    assert account is not None
    if password is not None and account.password_hash and needs_rehash(account.password_hash):
        accounts.set_fields(ctx.conn, account.id, password_hash=hash_password(password))
    accounts.set_fields(ctx.conn, account.id, last_login_at=now)
    token, _ = sessions.create(ctx.conn, account.id, ctx.portico.config.access)
    ctx.conn.commit()
    response = ctx.redirect(next_path(ctx.form.get("next")))
    browser.start_session(response, ctx.request, token)
    return response


@route("/sign-in", ("GET", "POST"))
async def sign_in(ctx: Ctx) -> Response:
    if ctx.request.method == "GET":
        # Arriving from another site (an email's link), a browser holds back the session's
        # SameSite=Strict cookie; here, on the portal itself, it sends it: go straight on.
        if ctx.token and sessions.resolve(ctx.conn, ctx.token, ctx.portico.config.access) is not None:
            return ctx.redirect(next_path(ctx.request.query_params.get("next")))
        return _page(ctx)
    username = ctx.form.get("username", "").strip()[:320]
    password = ctx.form.get("password", "")
    errors = Errors()
    if not username:
        errors.add("username", ctx._("Enter your username."))
    if not password:
        errors.add("password", ctx._("Enter your password."))
    elif len(password) > 4096:
        errors.add("password", ctx._("The password is too long."))
    if errors:
        return _page(ctx, errors, username, status=400)
    keyring = ctx.portico.cache.keyring
    keys = _keys(ctx, accounts.username_index(keyring, username))
    _throttled(ctx, keys)
    account = accounts.find_by_username(ctx.conn, keyring, username)
    ok = verify_password(account.password_hash if account else None, password)
    if not ok or account is None or account.status != "active":
        reason = "unknown-user" if account is None else "wrong-password" if not ok else "inactive"
        return _failed_page(ctx, keys, username, reason)
    if account.totp_confirmed_at is not None and ctx.portico.config.access.mfa != "off":
        step = tokens.issue(ctx.conn, account.id, STEP, STEP_TTL)
        ctx.conn.commit()
        return ctx.render(
            "sign_in_code.html", errors=Errors(), step=step, next=next_path(ctx.form.get("next"))
        )
    return _signed_in(ctx, account.id, keys, password)


@route("/sign-in/code", ("POST",))
async def sign_in_code(ctx: Ctx) -> Response:
    step = ctx.form.get("step", "")[:200]
    code = ctx.form.get("code", "").replace(" ", "")[:10]
    account_id = tokens.peek(ctx.conn, step, STEP) if step else None
    account = accounts.get(ctx.conn, account_id) if account_id else None
    if account is None or account.status != "active":
        return ctx.redirect("/sign-in")
    keys = _keys(ctx, account.username_index)
    _throttled(ctx, keys)
    # Codes are counted per account too, as POST /v1/auth/login counts them.
    limits = ctx.portico.config.api.throttles
    codes = throttle.Guesses(ctx.conn, limits, "t", account.id, ctx.portico.clock())
    wait = codes.wait()
    if wait is not None:
        ctx.portico.guards.sign_in_throttle("web", "too-many-codes")
        raise Problem(429, "too-many-attempts", "Too many attempts", headers={"Retry-After": str(wait)})
    if not credentials.totp_ok(ctx.portico.cache.keyring, account, code):
        ctx.portico.guards.sign_in_failure("web", "wrong-code")
        throttle.failed(ctx.conn, keys, ctx.portico.clock())
        codes.failed()
        ctx.conn.commit()
        errors = Errors()
        errors.add("code", ctx._("That code is not right. Enter the 6-digit code your app shows now."))
        return ctx.render(
            "sign_in_code.html", status=400, errors=errors, step=step, next=next_path(ctx.form.get("next"))
        )
    if tokens.consume(ctx.conn, step, STEP) != account.id:
        return ctx.redirect("/sign-in")
    codes.succeeded()
    return _signed_in(ctx, account.id, keys, None)


@route("/sign-out", ("POST",))
async def sign_out(ctx: Ctx) -> Response:
    if ctx.token:
        sessions.end(ctx.conn, ctx.token)
        ctx.conn.commit()
    response = ctx.redirect("/sign-in?done=signed-out")
    browser.end_session(response, ctx.request)
    return response
