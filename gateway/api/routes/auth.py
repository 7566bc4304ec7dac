"""Sign in and out, and change a password: the same 401 for an unknown user and a wrong password.

Sign-in is throttled per username and per address before any password is checked
(429 with ``Retry-After``); an unknown username costs one argon2 verification like a
known one, and is counted and throttled the same way, so neither the message, the
status nor the timing tells whether an account exists.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from gateway.access import accounts, credentials, sessions, throttle
from gateway.access.security import hash_password, needs_rehash, verify_password
from gateway.api.deps import App, Conn, CurrentAccount, address_index, bearer, current_account
from gateway.api.envelope import json_response
from gateway.api.problems import Problem
from gateway.api.routing import DatabaseRoute

router = APIRouter(prefix="/v1/auth", tags=["auth"], route_class=DatabaseRoute)


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=320)
    # No maximum below 64: long passphrases are welcome; 4096 only bounds hashing work.
    password: str = Field(min_length=1, max_length=4096)
    totp: str | None = Field(default=None, max_length=10)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)


def login_failed() -> Problem:
    return Problem(
        401,
        "login-failed",
        "Sign-in failed",
        "The username or password is not right.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def too_many(seconds: int, detail: str = "Too many sign-in attempts: wait before trying again.") -> Problem:
    return Problem(
        429, "too-many-attempts", "Too many attempts", detail, headers={"Retry-After": str(seconds)}
    )


def password_rejected(unmet: list[str]) -> Problem:
    return Problem(
        400,
        "password-rejected",
        "Password not accepted",
        "The new password needs: " + "; ".join(unmet) + ".",
        extra={"errors": [{"field": "new_password", "message": m} for m in unmet]},
    )


@router.post("/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, conn: Conn, app: App) -> Response:
    keyring = app.cache.keyring
    now = app.clock()
    free = throttle.free_failures(app.config.api.throttles)
    keys = ["u:" + accounts.username_index(keyring, body.username)]
    addr = address_index(request, app)
    if addr:
        keys.append("a:" + addr)
    wait = throttle.retry_after(conn, keys, now)
    if wait is not None:
        app.guards.sign_in_throttle("api", "too-many-failures")
        raise too_many(wait)
    account = accounts.find_by_username(conn, keyring, body.username)
    codes = None
    if account is not None and account.totp_confirmed_at is not None and app.config.access.mfa != "off":
        # Checked before the password, so a wait here never says the password was right.
        # Every wrong code also counts against the username, so this reveals nothing more.
        codes = throttle.Guesses(conn, app.config.api.throttles, "t", account.id, now)
        wait = codes.wait()
        if wait is not None:
            app.guards.sign_in_throttle("api", "too-many-codes")
            raise too_many(wait)
    ok = verify_password(account.password_hash if account else None, body.password)
    reason = "unknown-user" if account is None else "wrong-password"
    if ok and account is not None and codes is not None:
        ok = credentials.totp_ok(keyring, account, body.totp)
        if not ok:
            codes.failed()
            reason = "wrong-code"
    if not ok or account is None or account.status != "active":
        app.guards.sign_in_failure("api", reason if not ok or account is None else "inactive")
        throttle.failed(conn, keys, now, free)
        conn.commit()
        raise login_failed()
    throttle.succeeded(conn, keys[0])
    if codes is not None:
        codes.succeeded()
    if account.password_hash and needs_rehash(account.password_hash):
        accounts.set_fields(conn, account.id, password_hash=hash_password(body.password))
    accounts.set_fields(conn, account.id, last_login_at=now)
    token, expires_in = sessions.create(conn, account.id, app.config.access)
    conn.commit()
    return json_response({"access_token": token, "token_type": "bearer", "expires_in": expires_in})


@router.post("/logout", status_code=204)
async def logout(request: Request, conn: Conn, app: App) -> Response:
    await current_account(request, conn, app)
    sessions.end(conn, bearer(request))
    conn.commit()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@router.post("/password", status_code=204)
async def change_password(body: PasswordChange, account: CurrentAccount, conn: Conn, app: App) -> Response:
    """Allowed even with an expired password (that is how expiry is resolved); ends every session.

    The current password is a guess like a sign-in: a stolen session may not try it
    freely. Failures are counted per account (429 with ``Retry-After`` after
    ``api.throttles.password_check_free``)."""
    now = app.clock()
    guesses = throttle.Guesses(conn, app.config.api.throttles, "c", account.id, now)
    wait = guesses.wait()
    if wait is not None:
        raise too_many(wait, "Too many wrong current passwords: wait before trying again.")
    if not verify_password(account.password_hash, body.current_password):
        guesses.failed()
        conn.commit()
        raise Problem(
            400, "wrong-password", "Current password not right", "The current password is not right."
        )
    guesses.succeeded()
    unmet = credentials.problems(conn, app.cache.keyring, app.config, account, body.new_password)
    if unmet:
        conn.commit()
        raise password_rejected(unmet)
    credentials.set_password(conn, app.config, account, body.new_password, now)
    conn.commit()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
