"""Sign-in throttling, no user enumeration, idle timeout, and session death while requests are in flight."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cache.types import utcnow
from gateway.access import accounts, credentials, holds, sessions, throttle
from gateway.api.routes import auth
from tests.support.clock import wait_until
from tests.support.net import serving
from tests.support.world import PASSWORD, World, build_world, cheap_hashing


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)


@pytest.fixture
def s(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    served = build_world(tmp_path, sqlite_url)
    yield served
    served.close()


def user_of(s: World) -> tuple[str, str]:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    return account.id, accounts.username_of(s.cache.keyring, account)


def attempt(s: World, username: str, password: str) -> httpx.Response:
    return s.client.post("/v1/auth/login", json={"username": username, "password": password})


def test_failures_grow_the_delay_up_to_a_cap_and_never_lock_out_for_good(s: World) -> None:
    _, user = user_of(s)
    waits = []
    for _ in range(22):
        r = attempt(s, user, "wrong password")
        if r.status_code == 429:
            wait = int(r.headers["retry-after"])
            waits.append(wait)
            assert attempt(s, user, PASSWORD).status_code == 429  # the right password waits too
            s.clock.at += dt.timedelta(seconds=wait)
            assert attempt(s, user, "wrong password").status_code == 401
        else:
            assert r.status_code == 401
    assert waits[:6] == [1, 2, 4, 8, 16, 32]
    assert max(waits) == throttle.MAX_DELAY.total_seconds() and len(waits) < 20
    s.clock.at += throttle.MAX_DELAY
    assert attempt(s, user, PASSWORD).status_code == 200  # no permanent lockout
    assert attempt(s, user, "wrong password").status_code == 401  # and the count starts again


def test_the_first_failures_are_free_and_the_delay_starts_well_under_100(s: World) -> None:
    _, user = user_of(s)
    statuses = [attempt(s, user, "wrong password").status_code for _ in range(7)]
    assert statuses == [401] * 6 + [429]


def test_unknown_users_and_wrong_passwords_look_the_same_in_status_body_headers_and_work(
    s: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, user = user_of(s)
    verifies: list[str] = []
    real = auth.verify_password

    def counting(stored: str | None, password: str) -> bool:
        verifies.append("x")
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    seen = []
    for name in (user, "nobody-here@example.org"):
        verifies.clear()
        rs = [attempt(s, name, "wrong password") for _ in range(7)]
        seen.append(
            [
                (
                    r.status_code,
                    r.content,
                    sorted((k, v) for k, v in r.headers.items() if k != "content-length"),
                )
                for r in rs
            ]
        )
        assert len(verifies) == 6  # one argon2 verification per non-throttled attempt, user or not
    assert seen[0] == seen[1]


def test_an_address_trying_many_usernames_is_throttled(s: World) -> None:
    statuses = [attempt(s, f"guess{i}@example.org", "123456").status_code for i in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[21] == 429


def test_an_idle_session_dies_and_the_lifetime_is_the_absolute_timeout(s: World) -> None:
    account_id, user = user_of(s)
    r = attempt(s, user, PASSWORD)
    assert r.json()["expires_in"] == int(s.cache.config.access.session_absolute_timeout.total_seconds())
    h = {"Authorization": "Bearer " + r.json()["access_token"]}
    assert s.get("/v1/me", h).status_code == 200
    with s.cache.engine.begin() as conn:
        conn.execute(
            sessions.SESSIONS.update()
            .where(sessions.SESSIONS.c.account_id == account_id)
            .values(
                last_seen_at=utcnow() - s.cache.config.access.session_idle_timeout - dt.timedelta(seconds=1)
            )
        )
    assert s.get("/v1/me", h).status_code == 401


def _revoke_hold(s: World, account_id: str) -> None:
    with s.cache.engine.begin() as conn:
        ref = s.ref("contact", s.district.cases.two_child_contact)
        holds.place(
            conn,
            s.cache.keyring,
            source="sis",
            subject="contact",
            ref=ref,
            kind="aup-breach",
            reason="r",
            by="t",
        )


def _disable(s: World, account_id: str) -> None:
    with s.cache.engine.begin() as conn:
        accounts.set_fields(conn, account_id, status="disabled")
        sessions.end_all(conn, account_id)


def _password_change(s: World, account_id: str) -> None:
    with s.cache.engine.begin() as conn:
        account = accounts.get(conn, account_id)
        assert account is not None
        credentials.set_password(conn, s.cache.config, account, "Quite new 5 words", utcnow())


@pytest.mark.parametrize(
    "revoke", [_revoke_hold, _disable, _password_change], ids=["hold", "disable", "password"]
)
def test_every_session_dies_at_once_on_revocation_while_requests_are_in_flight(
    s: World, revoke: Callable[[World, str], None]
) -> None:
    account_id, _ = user_of(s)
    tokens = [s.headers(account_id) for _ in range(3)]
    kid = sorted(
        ln.student_id
        for ln in s.district.iter("link")
        if ln.contact_id == s.district.cases.two_child_contact  # type: ignore[union-attr]
    )[0]
    path = f"/v1/students/{s.ref('student', kid)}/attendance"
    results: list[tuple[float, int]] = []
    stop = threading.Event()
    with serving(s.client.app, log_level="warning") as url:

        def hammer(h: dict[str, str]) -> None:
            with httpx.Client(base_url=url, headers=h) as c:
                while not stop.is_set():
                    started = time.monotonic()
                    results.append((started, c.get(path).status_code))

        workers = [threading.Thread(target=hammer, args=(h,)) for h in tokens]
        for w in workers:
            w.start()
        try:
            wait_until(lambda: [code for _, code in results].count(200) >= 20, what="20 requests served")
            revoke(s, account_id)
            revoked_at = time.monotonic()
            wait_until(
                lambda: sum(t > revoked_at for t, _ in results) >= 20, what="20 requests sent after revoking"
            )
        finally:
            stop.set()
            for w in workers:
                w.join()
    # Requests sent before the revocation got data, or a 401 if they were still queued when it
    # happened, or the uniform 404 if a hold landed between their session check and their
    # relationship check; every request sent after it is refused.
    before = [code for t, code in results if t < revoked_at]
    after = [code for t, code in results if t > revoked_at]
    assert 200 in before and set(before) <= {200, 401, 404}
    assert after and set(after) == {401}, (
        f"{len([c for c in after if c != 401])} requests got data after revocation"
    )


def test_login_response_never_offers_a_persistent_session(s: World) -> None:
    _, user = user_of(s)
    r = attempt(s, user, PASSWORD)
    body: dict[str, Any] = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"} and "set-cookie" not in r.headers
