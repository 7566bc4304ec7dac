"""Every costly or guessable action is throttled in the database (shared by replicas), with
``Retry-After``, metrics, and the same answer whether or not an account exists."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gateway.access import accounts, credentials
from gateway.api.app import create_app
from gateway.bootstrap import build_application
from gateway.ops.mail import Message
from tests.support.world import PASSWORD, World, build_world, cheap_hashing


class Mailbag:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> None:
        self.sent.append(message)

    def tokens(self, to: str) -> list[str]:
        return [re.findall(r"^([A-Za-z0-9_-]{40,})$", m.body, re.M)[-1] for m in self.sent if m.to == to]


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, db_url, privacy={"district_data_contact": "records@district.example.org"})
    served.client.app.state.portico.mailer = Mailbag()
    yield served
    served.close()


def guardian(s: World) -> tuple[str, str, dict[str, str]]:
    """The two-child guardian: account id, username (their email), a session's headers."""
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    return account.id, accounts.username_of(s.cache.keyring, account), s.headers(account.id)


def children(s: World) -> list[str]:
    contact = s.district.cases.two_child_contact
    return sorted(
        {s.ref("student", ln.student_id) for ln in s.district.iter("link") if ln.contact_id == contact}
    )


def retry_after(r: object) -> int:
    assert r.status_code == 429, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    return int(r.headers["retry-after"])  # type: ignore[attr-defined]


def test_a_stolen_session_cannot_guess_the_current_password_freely(s: World) -> None:
    _, _, h = guardian(s)

    def change(current: str) -> object:
        body = {"current_password": current, "new_password": "A much longer passphrase 42"}
        return s.client.post("/v1/auth/password", json=body, headers=h)

    # Five free failures (a parent mistyping is never slowed), then waits from 1 s, doubling.
    assert [change(f"guess {i}").status_code for i in range(6)] == [400] * 6
    wait = retry_after(change("guess 7"))
    assert wait == 1 and retry_after(change(PASSWORD)) == 1  # the right one waits too
    s.clock.at += dt.timedelta(seconds=wait)
    assert change("guess 8").status_code == 400
    assert retry_after(change("guess 9")) == 2  # and the waits grow
    s.clock.at += dt.timedelta(minutes=15)
    assert change(PASSWORD).status_code == 204


def test_password_resets_are_limited_per_username_the_same_for_unknown_ones(s: World) -> None:
    _, user, _ = guardian(s)
    mail: Mailbag = s.client.app.state.portico.mailer

    def ask(name: str) -> list[tuple[int, bytes, list[tuple[str, str]]]]:
        rs = [s.client.post("/v1/auth/password-reset", json={"username": name}) for _ in range(5)]
        return [(r.status_code, r.content, sorted(r.headers.items())) for r in rs]

    known, unknown = ask(user), ask("nobody-here@example.org")
    assert [x[0] for x in known] == [202, 202, 202, 429, 429]
    assert known == unknown  # status, body and headers: nothing says which account exists
    assert len(mail.sent) == 3  # one mail per allowed request, none once throttled
    s.clock.at += dt.timedelta(hours=1)
    assert s.client.post("/v1/auth/password-reset", json={"username": user}).status_code == 202


def test_password_resets_are_limited_per_address(s: World) -> None:
    statuses = [
        s.client.post("/v1/auth/password-reset", json={"username": f"guess{i}@example.org"}).status_code
        for i in range(21)
    ]
    assert statuses == [202] * 20 + [429]


def test_an_earlier_reset_link_keeps_working_until_one_of_them_is_used(s: World) -> None:
    _, user, _ = guardian(s)
    mail: Mailbag = s.client.app.state.portico.mailer
    for _ in range(2):
        assert s.client.post("/v1/auth/password-reset", json={"username": user}).status_code == 202
    first, second = mail.tokens(user)
    new = {"new_password": "Another long passphrase 7"}
    assert s.client.post("/v1/auth/password-reset/confirm", json={"token": first, **new}).status_code == 204
    r = s.client.post("/v1/auth/password-reset/confirm", json={"token": second, **new})
    assert r.status_code == 400 and r.json()["type"] == "invalid-token"  # used: the others are retired


def test_correction_requests_are_limited_per_account(s: World) -> None:
    _, _, h = guardian(s)
    sid = children(s)[0]
    body = {"about": "attendance", "message": "The mark on Monday should be present."}
    statuses = [
        s.client.post(f"/v1/students/{sid}/corrections", json=body, headers=h).status_code for _ in range(11)
    ]
    assert statuses == [201] * 10 + [429]
    r = s.client.post(f"/v1/students/{children(s)[1]}/corrections", json=body, headers=h)
    assert 23 * 3600 < retry_after(r) <= 24 * 3600  # per account, whichever child


def test_exports_are_limited_per_account(s: World) -> None:
    _, _, h = guardian(s)
    sid = children(s)[0]
    statuses = [s.get(f"/v1/students/{sid}/export", h).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    s.clock.at += dt.timedelta(hours=1)
    assert s.get(f"/v1/students/{sid}/export?format=csv", h).status_code == 200


def test_totp_codes_are_throttled_at_sign_in_and_at_enrolment(s: World) -> None:
    account_id, user, h = guardian(s)
    secret = s.client.post("/v1/me/totp", headers=h).json()["data"]["secret"]
    totp = pyotp.TOTP(secret)
    wrong = f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"
    tries = [
        s.client.post("/v1/me/totp/confirm", json={"code": wrong}, headers=h).status_code for _ in range(7)
    ]
    assert tries == [400] * 6 + [429]
    s.clock.at += dt.timedelta(minutes=15)
    assert s.client.post("/v1/me/totp/confirm", json={"code": totp.now()}, headers=h).status_code == 204

    def login(code: str) -> object:
        return s.client.post("/v1/auth/login", json={"username": user, "password": PASSWORD, "totp": code})

    s.clock.at += dt.timedelta(minutes=15)
    assert [login(wrong).status_code for _ in range(6)] == [401] * 6
    assert retry_after(login(wrong)) >= 1
    assert retry_after(login(totp.now())) >= 1  # the right code waits too
    s.clock.at += dt.timedelta(minutes=15)
    assert login(totp.now()).status_code == 200


def test_throttles_are_shared_by_every_replica(s: World) -> None:
    """Two app instances on one database: what one counts, the other enforces."""
    _, _, h = guardian(s)
    other = TestClient(create_app(s.cache.config, s.cache, clock=s.clock, mailer=Mailbag()))
    body = {"current_password": "wrong", "new_password": "A much longer passphrase 42"}
    for i in range(6):
        client = (s.client, other)[i % 2]
        assert client.post("/v1/auth/password", json=body, headers=h).status_code == 400
    assert other.post("/v1/auth/password", json=body, headers=h).status_code == 429
    assert s.client.post("/v1/auth/password", json=body, headers=h).status_code == 429
    other.close()


def test_refusals_and_throttled_answers_are_counted_for_prometheus(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hashing(monkeypatch)
    s = build_world(tmp_path, sqlite_url)
    try:
        app = build_application(s.cache.config, cache=s.cache).api()
        with TestClient(app, client=("127.0.0.1", 50000)) as c:
            for i in range(21):
                c.post("/v1/auth/password-reset", json={"username": f"u{i}@example.org"})
            c.post("/v1/auth/login", content=b"x" * 10_000, headers={"content-type": "application/json"})
            text = c.get("/metrics").text
        assert 'portico_throttled_total{route="/v1/auth/password-reset"} 1.0' in text
        assert 'portico_requests_refused_total{reason="body"} 1.0' in text
    finally:
        s.close()


def test_a_new_password_retires_every_reset_link(s: World) -> None:
    account_id, user, _ = guardian(s)
    mail: Mailbag = s.client.app.state.portico.mailer
    s.client.post("/v1/auth/password-reset", json={"username": user})
    (token,) = mail.tokens(user)
    with s.cache.engine.begin() as conn:
        account = accounts.get(conn, account_id)
        assert account is not None
        credentials.set_password(conn, s.cache.config, account, "Chosen by the holder 99", s.clock())
    r = s.client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "Another one 77 long"}
    )
    assert r.status_code == 400


def test_the_daily_tidy_forgets_counts_that_hold_nobody_back(s: World) -> None:
    from gateway.bootstrap import THROTTLE_TIDY_JOB

    _, user, _ = guardian(s)
    for i in range(3):
        s.client.post("/v1/auth/login", json={"username": f"guess{i}@example.org", "password": "x"})
        s.client.post("/v1/auth/password-reset", json={"username": user})
    app = build_application(s.cache.config, cache=s.cache, clock=s.clock)
    assert THROTTLE_TIDY_JOB in app.scheduler().job_ids

    def rows() -> tuple[int, int]:
        with s.cache.engine.connect() as conn:
            a = conn.execute(text("SELECT count(*) FROM login_throttle")).scalar()
            b = conn.execute(text("SELECT count(*) FROM rate_counter")).scalar()
        return int(a or 0), int(b or 0)

    assert rows() == (4, 2)  # three usernames and the address; a reset count per address and username
    assert app.tidy_throttles() == 0  # nothing has lapsed yet
    s.clock.at += dt.timedelta(days=2)
    assert app.tidy_throttles() == 6 and rows() == (0, 0)
