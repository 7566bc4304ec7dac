"""Activation from an invitation, and password reset by an emailed single-use token.

``password-reset`` answers 202 whatever the username: the lookup, the token and the
mail happen after the response is sent, so neither the answer nor its timing says
whether an account exists. Requests are limited per address and per username (429),
and a new link does not cancel the earlier ones: whichever is used first retires the rest.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from gateway.access import accounts, credentials, throttle, tokens
from gateway.api.deps import App, Conn, Portico, address_index
from gateway.api.problems import Problem, too_many_requests
from gateway.api.routes.auth import password_rejected
from gateway.api.routing import DatabaseRoute
from gateway.ops.mail import MailError, Message

router = APIRouter(prefix="/v1/auth", tags=["auth"], route_class=DatabaseRoute)
log = structlog.get_logger("portico.api")
NO_STORE = {"Cache-Control": "no-store"}


class Activate(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=4096)


class ResetRequest(BaseModel):
    username: str = Field(min_length=1, max_length=320)


class ResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=4096)


def bad_token() -> Problem:
    # One answer for unknown, expired and already-used tokens.
    return Problem(
        400, "invalid-token", "Link not valid", "This link is not valid any more: ask for a new one."
    )


def _use_token(conn: Conn, app: Portico, token: str, purpose: str, password: str) -> None:
    account_id = tokens.peek(conn, token, purpose)
    account = accounts.get(conn, account_id) if account_id else None
    if account is None or account.status == "disabled":
        raise bad_token()
    unmet = credentials.problems(conn, app.cache.keyring, app.config, account, password)
    if unmet:
        raise password_rejected(unmet)  # the token stays usable: the form can be corrected
    if tokens.consume(conn, token, purpose) != account.id:
        raise bad_token()
    credentials.set_password(conn, app.config, account, password, app.clock())
    conn.commit()


@router.post("/activate", status_code=204)
async def activate(body: Activate, conn: Conn, app: App) -> Response:
    """Set the first password from an invitation; 400 lists every unmet password rule."""
    _use_token(conn, app, body.token, "invite", body.password)
    return Response(status_code=204, headers=NO_STORE)


def send_reset(app: Portico, username: str) -> None:
    with app.cache.engine.begin() as conn:
        account = accounts.find_by_username(conn, app.cache.keyring, username)
        if account is None or account.status != "active":
            return
        email = credentials.holder(conn, app.cache.keyring, account).email
        if not email:
            return
        token = tokens.issue(conn, account.id, "reset", app.config.access.reset_ttl)
    minutes = int(app.config.access.reset_ttl.total_seconds() // 60)
    try:
        app.mailer.send(
            Message(
                email,
                "Reset your parent portal password",
                f"Someone asked to reset the password of your {app.config.district.name} parent portal "
                f"account. If it was you, open this link within {minutes} minutes to choose a new password:\n"
                f"{app.config.portal_url('/password-reset/confirm?token=' + token)}\n\n"
                f"An app that signs in for you asks for this code instead:\n\n{token}\n\n"
                "If it was not you, ignore this message: your password has not changed.",
                kind="password-reset",
            )
        )
    except MailError as exc:
        # Nothing to tell the anonymous caller; the operator sees the backend's error (no address).
        log.warning("mail.failed", purpose="reset", error=str(exc))


@router.post("/password-reset", status_code=202)
async def password_reset(
    body: ResetRequest, request: Request, background: BackgroundTasks, conn: Conn, app: App
) -> Response:
    """202 whatever the username; 429 with ``Retry-After`` past ``api.throttles.reset_per_address``
    from one address or ``reset_per_account`` for one username (known or not: the count is
    on the username's blind index, so a 429 says nothing about whether the account exists)."""
    user = accounts.username_index(app.cache.keyring, body.username)
    wait = throttle.reset_wait(conn, app.config.api.throttles, user, address_index(request, app), app.clock())
    conn.commit()
    if wait is not None:
        raise too_many_requests(
            wait, "Too many password reset requests: use a link already sent, or wait before asking again."
        )
    background.add_task(send_reset, app, body.username)
    return Response(status_code=202, headers=NO_STORE)


@router.post("/password-reset/confirm", status_code=204)
async def password_reset_confirm(body: ResetConfirm, conn: Conn, app: App) -> Response:
    _use_token(conn, app, body.token, "reset", body.new_password)
    return Response(status_code=204, headers=NO_STORE)
