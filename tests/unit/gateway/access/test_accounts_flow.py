"""Invitation by real SMTP (aiosmtpd on loopback), activation, sign-in, reset, TOTP and expiry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from config.settings import MailSettings
from gateway.access import accounts, invitations, reminders, tokens
from gateway.ops.mail import OutboxMailer, SmtpMailer
from tests.support.mail import Inbox, smtp_server
from tests.support.world import PASSWORD, World, build_world, cheap_hashing

NEW = "Tulip garden 4 ever"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpMailer]]:
    with smtp_server() as (inbox, port):
        yield inbox, SmtpMailer(MailSettings(backend="smtp", smtp_host="127.0.0.1", smtp_port=port))


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)


@pytest.fixture
def s(tmp_path: Path, sqlite_url: str) -> Iterator[World]:
    served = build_world(tmp_path, sqlite_url, access={"password_policy": "school-aup"})
    yield served
    served.close()


def contact(s: World, cid: str) -> Any:
    return next(c for c in s.district.iter("contact") if c.source_id == cid)


def activate(s: World, inbox: Inbox, mailer: SmtpMailer, cid: str) -> str:
    account = s.account_of("guardian", cid)
    assert account is not None and account.status == "pending"
    out = invitations.invite(s.cache, s.cache.config, mailer, [account.id])
    assert out.sent == [account.id]
    to = contact(s, cid).email
    r = s.client.post("/v1/auth/activate", json={"token": inbox.token(to), "password": NEW})
    assert r.status_code == 204, r.text
    return str(to)


def login(s: World, user: str, password: str = NEW, **extra: str) -> Any:
    return s.client.post("/v1/auth/login", json={"username": user, "password": password, **extra})


def test_an_invitation_by_smtp_activates_once_and_the_token_is_single_use(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    cid = s.district.cases.two_child_contact
    account = s.account_of("guardian", cid)
    assert account is not None
    invitations.invite(s.cache, s.cache.config, mailer, [account.id])
    to = contact(s, cid).email
    token = inbox.token(to)
    assert len(token) >= 43  # 32 bytes from the CSPRNG, base64url: 256 bits
    weak = s.client.post("/v1/auth/activate", json={"token": token, "password": "short"})
    assert weak.status_code == 400
    assert {e["message"] for e in weak.json()["errors"]} >= {
        "at least 8 characters",
        "an upper-case letter",
        "a digit",
    }
    assert s.client.post("/v1/auth/activate", json={"token": token, "password": NEW}).status_code == 204
    again = s.client.post("/v1/auth/activate", json={"token": token, "password": NEW})
    assert again.status_code == 400 and again.json()["type"] == "invalid-token"
    assert login(s, to).status_code == 200
    assert login(s, to.upper()).status_code == 200  # usernames are case-insensitive


def test_an_expired_invitation_is_refused_like_an_unknown_one(s: World) -> None:
    account = s.account_of("guardian", s.district.cases.two_child_contact)
    assert account is not None
    with s.cache.engine.begin() as conn:
        token = tokens.issue(conn, account.id, "invite", dt.timedelta(seconds=-1))
    expired = s.client.post("/v1/auth/activate", json={"token": token, "password": NEW})
    unknown = s.client.post("/v1/auth/activate", json={"token": "x" * 43, "password": NEW})
    assert expired.status_code == unknown.status_code == 400 and expired.content == unknown.content


def test_contacts_without_a_usable_email_are_reported_not_invited(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    with s.cache.engine.connect() as conn:
        pending = invitations.pending_ids(conn, "sis")
    out = invitations.invite(s.cache, s.cache.config, mailer, pending)
    assert len(out.sent) == len(inbox.messages) and out.sent
    assert set(out.sent).isdisjoint(out.needs_email)
    assert len(out.sent) + len(out.needs_email) == len(pending)


def test_the_outbox_backend_writes_one_private_eml_per_message(tmp_path: Path, s: World) -> None:
    mailer = OutboxMailer(MailSettings(outbox_dir=str(tmp_path / "outbox")))
    account = s.account_of("guardian", s.district.cases.two_child_contact)
    assert account is not None
    assert invitations.invite(s.cache, s.cache.config, mailer, [account.id]).sent == [account.id]
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    assert "activation code" in files[0].read_text()


def test_password_reset_answers_202_for_anyone_and_mails_a_single_use_token(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    to = activate(s, inbox, mailer, s.district.cases.two_child_contact)
    s.client.app.state.portico.mailer = mailer
    known = s.client.post("/v1/auth/password-reset", json={"username": to})
    unknown = s.client.post("/v1/auth/password-reset", json={"username": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 202 and known.content == unknown.content
    token = inbox.token(to)
    session = {"Authorization": "Bearer " + login(s, to).json()["access_token"]}
    r = s.client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "Another day 7 in May"}
    )
    assert r.status_code == 204
    assert s.get("/v1/me", session).status_code == 401  # the reset ended every session
    assert (
        s.client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "Third time 3 lucky"}
        ).status_code
        == 400
    )
    assert login(s, to).status_code == 401 and login(s, to, "Another day 7 in May").status_code == 200


def test_password_change_refuses_the_previous_one_and_ends_every_session(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    to = activate(s, inbox, mailer, s.district.cases.two_child_contact)
    a, b = ({"Authorization": "Bearer " + login(s, to).json()["access_token"]} for _ in range(2))
    same = s.client.post("/v1/auth/password", json={"current_password": NEW, "new_password": NEW}, headers=a)
    assert same.status_code == 400 and "not a password you have used before" in same.text
    ok = s.client.post(
        "/v1/auth/password", json={"current_password": NEW, "new_password": "Bright 9 morning"}, headers=a
    )
    assert ok.status_code == 204
    assert s.get("/v1/me", a).status_code == 401 and s.get("/v1/me", b).status_code == 401


def test_mandatory_totp_blocks_data_until_enrolled_then_sign_in_needs_the_code(
    tmp_path: Path, sqlite_url: str, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    s = build_world(tmp_path, sqlite_url, access={"mfa": "required"})
    try:
        inbox, mailer = smtp
        to = activate(s, inbox, mailer, s.district.cases.two_child_contact)
        h = {"Authorization": "Bearer " + login(s, to).json()["access_token"]}
        assert s.get("/v1/students", h).json()["type"] == "mfa-required"
        secret = s.client.post("/v1/me/totp", headers=h).json()["data"]["secret"]
        wrong_code = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
        assert s.client.post("/v1/me/totp/confirm", json={"code": wrong_code}, headers=h).status_code == 400
        s.client.post("/v1/me/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=h)
        assert s.get("/v1/students", h).json()["type"] == "aup-not-accepted"  # the next gate, not MFA
        s.client.post("/v1/me/aup", json={"version": "1"}, headers=h)
        assert s.get("/v1/students", h).status_code == 200
        without, wrong = login(s, to), login(s, to, totp="000000")
        assert without.status_code == wrong.status_code == 401 and without.content == wrong.content
        assert login(s, to, totp=pyotp.TOTP(secret).now()).status_code == 200
    finally:
        s.close()


def test_reminders_go_out_at_day_80_then_daily_from_85_under_a_moved_clock(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    cid = s.district.cases.two_child_contact
    s.ensure_account("guardian", cid)  # active, password changed "now" on the app clock
    start = s.clock()
    sent_on = []
    for day in range(0, 95):
        before = len(inbox.messages)
        reminders.send_due(s.cache, s.cache.config, mailer, start + dt.timedelta(days=day, hours=1))
        if len(inbox.messages) > before:
            sent_on.append(day)
    assert sent_on == [80, 85, 86, 87, 88, 89]


def test_a_missed_day_80_reminder_goes_out_at_the_next_run_once(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    start = s.clock()
    for day in (79, 82, 83, 84):
        reminders.send_due(s.cache, s.cache.config, mailer, start + dt.timedelta(days=day, hours=1))
    assert len(inbox.messages) == 1


def test_an_expired_password_still_signs_in_then_forces_a_change_never_a_lockout(
    s: World, smtp: tuple[Inbox, SmtpMailer]
) -> None:
    inbox, mailer = smtp
    to = activate(s, inbox, mailer, s.district.cases.two_child_contact)
    s.clock.at = s.clock() + dt.timedelta(days=90, minutes=1)
    r = login(s, to)
    assert r.status_code == 200
    h = {"Authorization": "Bearer " + r.json()["access_token"]}
    assert s.get("/v1/students", h).json()["type"] == "password-expired"
    assert s.get("/v1/me", h).json()["data"]["password"]["expired"] is True
    change = {"current_password": NEW, "new_password": "Fresh start 2 go"}
    assert s.client.post("/v1/auth/password", json=change, headers=h).status_code == 204
    h = {"Authorization": "Bearer " + login(s, to, "Fresh start 2 go").json()["access_token"]}
    assert s.get("/v1/students", h).json()["type"] == "aup-not-accepted"  # no longer password-expired


def test_a_disabled_account_fails_sign_in_exactly_like_a_wrong_password(s: World) -> None:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    with s.cache.engine.begin() as conn:
        user = accounts.username_of(s.cache.keyring, account)
        accounts.set_fields(conn, account.id, status="disabled")
    disabled, wrong = login(s, user, PASSWORD), login(s, user, "not it at all")
    assert disabled.status_code == wrong.status_code == 401 and disabled.content == wrong.content
