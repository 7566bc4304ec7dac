"""The account: the acceptable-use policy, password (and its forced change on expiry),
the authenticator app, signing out everywhere, and the page language.

These pages need a session but not the data gates: they are where the gates send people
(an expired password, a policy not yet accepted, an authenticator the district requires).
"""

from __future__ import annotations

import pyotp
from starlette.responses import Response

from gateway.access import accounts, credentials, passwords, sessions, throttle
from gateway.access.security import verify_password
from gateway.api.problems import Problem
from gateway.web import browser, family, i18n
from gateway.web.forms import Errors
from gateway.web.passwords import rules, unmet_messages
from gateway.web.render import N_, Ctx, next_path, route
from gateway.web.texts import district_text

DONE = {
    "password": N_("Your password has been changed, and every other device signed out."),
    "totp": N_("Two-step sign-in is set up: you will be asked for a code from your app when you sign in."),
}


@route("/account")
async def account_page(ctx: Ctx) -> Response:
    account = ctx.account()
    config = ctx.portico.config
    preset = passwords.preset(config.access.password_policy)
    done = ctx.request.query_params.get("done")
    return ctx.render(
        "account.html",
        account=account,
        username=accounts.username_of(ctx.portico.cache.keyring, account),
        mfa=config.access.mfa,
        expires_at=preset.expires_at(account.password_changed_at),
        done=ctx._(DONE[done]) if done in DONE else None,
        security_notice=district_text(ctx, "security_notice"),
        password_notice=district_text(ctx, "password_notice"),
        family_errors=Errors(),
        **family.section(ctx, account),  # calendar feeds and family tokens
    )


@route("/account/password", ("GET", "POST"))
async def change_password(ctx: Ctx) -> Response:
    account = ctx.account()
    config = ctx.portico.config
    preset = passwords.preset(config.access.password_policy)
    errors = Errors()
    if ctx.request.method == "POST":
        current, new = ctx.form.get("current_password", ""), ctx.form.get("new_password", "")
        # A guess like a sign-in, counted per account as POST /v1/auth/password counts it.
        guesses = throttle.Guesses(ctx.conn, config.api.throttles, "c", account.id, ctx.portico.clock())
        wait = guesses.wait()
        if wait is not None:
            raise Problem(429, "too-many-attempts", "Too many attempts", headers={"Retry-After": str(wait)})
        if not current or len(current) > 4096 or not verify_password(account.password_hash, current):
            guesses.failed()
            ctx.conn.commit()
            errors.add("current_password", ctx._("The current password is not right."))
        else:
            guesses.succeeded()
        if not new:
            errors.add("new_password", ctx._("Enter a new password."))
        elif not errors:
            unmet = credentials.problems(ctx.conn, ctx.portico.cache.keyring, config, account, new)
            for message in unmet_messages(ctx, unmet):
                errors.add("new_password", ctx._("The password needs: %(rule)s", rule=message))
        if not errors:
            # Every session ends (as in the API); this browser gets a fresh one.
            credentials.set_password(ctx.conn, config, account, new, ctx.portico.clock())
            token, _ = sessions.create(ctx.conn, account.id, config.access)
            ctx.conn.commit()
            response = ctx.redirect("/account?done=password")
            browser.start_session(response, ctx.request, token)
            return response
    return ctx.render(
        "password.html",
        status=400 if errors else 200,
        errors=errors,
        expired=preset.expired(account.password_changed_at, ctx.portico.clock()),
        rules=rules(ctx, preset, account.totp_confirmed_at is not None),
        password_notice=district_text(ctx, "password_notice"),
    )


@route("/account/totp", ("GET", "POST"))
async def totp(ctx: Ctx) -> Response:
    account = ctx.account()
    config = ctx.portico.config
    if config.access.mfa == "off":
        raise Problem(404, "not-found", "Not found")
    keyring = ctx.portico.cache.keyring
    errors = Errors()
    if ctx.request.method == "POST" and account.totp_confirmed_at is None:
        if ctx.form.get("action") == "start":
            secret = pyotp.random_base32()
            accounts.set_fields(
                ctx.conn, account.id, totp_secret_enc=credentials.seal_totp(keyring, account, secret)
            )
            ctx.conn.commit()
            return ctx.redirect("/account/totp")
        code = ctx.form.get("code", "").replace(" ", "")[:10]
        codes = throttle.Guesses(ctx.conn, config.api.throttles, "t", account.id, ctx.portico.clock())
        wait = codes.wait()
        if wait is not None:
            raise Problem(429, "too-many-attempts", "Too many attempts", headers={"Retry-After": str(wait)})
        if credentials.totp_ok(keyring, account, code):
            codes.succeeded()
            accounts.set_fields(ctx.conn, account.id, totp_confirmed_at=ctx.portico.clock())
            ctx.conn.commit()
            return ctx.redirect("/account?done=totp")
        codes.failed()
        ctx.conn.commit()
        errors.add("code", ctx._("That code is not right. Enter the 6-digit code your app shows now."))
    pending = credentials.totp_secret(keyring, account) if account.totp_confirmed_at is None else None
    uri = (
        pyotp.TOTP(pending).provisioning_uri(name=account.id, issuer_name=config.district.name)
        if pending
        else None
    )
    return ctx.render(
        "totp.html",
        status=400 if errors else 200,
        errors=errors,
        enrolled=account.totp_confirmed_at,
        required=config.access.mfa == "required",
        secret=" ".join(pending[i : i + 4] for i in range(0, len(pending), 4)) if pending else None,
        uri=uri,
    )


@route("/account/sign-out-everywhere", ("POST",))
async def sign_out_everywhere(ctx: Ctx) -> Response:
    account = ctx.account()
    sessions.end_all(ctx.conn, account.id)
    ctx.conn.commit()
    response = ctx.redirect("/sign-in?done=everywhere")
    browser.end_session(response, ctx.request)
    return response


@route("/aup", ("GET", "POST"))
async def aup(ctx: Ctx) -> Response:
    account = ctx.account()
    policy = ctx.portico.config.access.aup
    errors = Errors()
    if ctx.request.method == "POST":
        if ctx.form.get("version") == policy.version and ctx.form.get("agree") == "yes":
            accounts.set_fields(
                ctx.conn, account.id, aup_version=policy.version, aup_accepted_at=ctx.portico.clock()
            )
            ctx.conn.commit()
            return ctx.redirect("/")
        errors.add("agree", ctx._("Tick the box to say you agree to the policy."))
    return ctx.render(
        "aup.html",
        status=400 if errors else 200,
        errors=errors,
        text=policy.text or "",
        version=policy.version,
        accepted=account.aup_version == policy.version,
        accepted_at=account.aup_accepted_at,
        security_notice=district_text(ctx, "security_notice"),
        password_notice=district_text(ctx, "password_notice"),
    )


@route("/language", ("POST",))
async def language(ctx: Ctx) -> Response:
    chosen = ctx.form.get("locale", "")
    response = ctx.redirect(next_path(ctx.form.get("next")))
    if chosen in i18n.LOCALES:
        browser.set_language(response, ctx.request, chosen)
    return response
