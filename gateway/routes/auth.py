"""Sign in and out: the same 401 for an unknown user and a wrong password."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from cache.types import utcnow
from gateway import accounts, sessions
from gateway.deps import App, Conn, bearer, current_account
from gateway.envelope import json_response
from gateway.problems import Problem
from gateway.security import hash_password, needs_rehash, verify_password

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=320)
    # No maximum below 64: long passphrases are welcome; 4096 only bounds hashing work.
    password: str = Field(min_length=1, max_length=4096)
    totp: str | None = Field(default=None, max_length=10)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


def login_failed() -> Problem:
    return Problem(
        401,
        "login-failed",
        "Sign-in failed",
        "The username or password is not right.",
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.post("/login", response_model=TokenResponse)
async def login(body: LoginRequest, conn: Conn, app: App) -> Response:
    account = accounts.find_by_username(conn, app.cache.keyring, body.username)
    ok = verify_password(account.password_hash if account else None, body.password)
    if not ok or account is None or account.status != "active":
        raise login_failed()
    if account.password_hash and needs_rehash(account.password_hash):
        accounts.set_fields(conn, account.id, password_hash=hash_password(body.password))
    accounts.set_fields(conn, account.id, last_login_at=utcnow())
    token, expires_in = sessions.create(conn, account.id, app.config.access)
    conn.commit()
    return json_response({"access_token": token, "token_type": "bearer", "expires_in": expires_in})


@router.post("/logout", status_code=204)
async def logout(request: Request, conn: Conn, app: App) -> Response:
    await current_account(request, conn, app)
    sessions.end(conn, bearer(request))
    conn.commit()
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
