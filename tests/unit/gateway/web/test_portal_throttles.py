"""The portal's costly and guessable actions use the API's throttles, and count with the API:
reset requests, the current password, authenticator codes, exports and correction requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from gateway.access import accounts, credentials
from tests.support.web import Browser, Inbox, cheap_portal, signed_in_guardian
from tests.support.world import World


@pytest.fixture
def s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for served in cheap_portal(tmp_path, monkeypatch):
        served.client.app.state.portico.mailer = Inbox()  # type: ignore[attr-defined]
        yield served


def signed_in(s: World) -> tuple[Browser, str, dict[str, str]]:
    b, account = signed_in_guardian(s)
    return b, account.id, s.headers(account.id)


def waits(r: object) -> bool:
    return r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "<html" in r.text  # type: ignore[attr-defined]


def test_reset_requests_are_limited_the_same_for_known_and_unknown_usernames(s: World) -> None:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    for name in (accounts.username_of(s.cache.keyring, account), "nobody-here@example.org"):
        b = Browser(s)
        statuses = [b.post("/password-reset", {"username": name}).status_code for _ in range(3)]
        assert statuses == [200] * 3
        assert waits(b.post("/password-reset", {"username": name}))
    assert len(s.client.app.state.portico.mailer.messages) == 3  # type: ignore[attr-defined]


def test_the_current_password_and_authenticator_codes_are_guesses_counted_per_account(s: World) -> None:
    b, _, _ = signed_in(s)
    change = {"current_password": "not mine", "new_password": "A much longer passphrase 42"}
    assert [b.post("/account/password", change).status_code for _ in range(6)] == [400] * 6
    assert waits(b.post("/account/password", change))
    b.post("/account/totp", {"action": "start"})
    account = s.account_of("guardian", s.district.cases.two_child_contact)
    assert account is not None
    secret = credentials.totp_secret(s.cache.keyring, account)
    assert secret is not None
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    assert [b.post("/account/totp", {"code": wrong}).status_code for _ in range(6)] == [400] * 6
    assert waits(b.post("/account/totp", {"code": wrong}))


def test_exports_and_corrections_count_together_with_the_api(s: World) -> None:
    b, _, h = signed_in(s)
    contact = s.district.cases.two_child_contact
    sid = sorted(
        s.ref("student", ln.student_id) for ln in s.district.iter("link") if ln.contact_id == contact
    )[0]
    for _ in range(19):
        assert s.get(f"/v1/students/{sid}/export", h).status_code == 200
    assert b.post(f"/children/{sid}/export", {"format": "json"}).status_code == 200
    assert waits(b.post(f"/children/{sid}/export", {"format": "csv"}))
    body = {"about": "attendance", "message": "Monday should be present."}
    for _ in range(10):
        assert s.client.post(f"/v1/students/{sid}/corrections", json=body, headers=h).status_code == 201
    form = {"about": "attendance", "message": "Tuesday too."}
    assert waits(b.post(f"/children/{sid}/corrections", form))
