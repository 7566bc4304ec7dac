"""``portico accounts links``: an account's calendar feeds and family tokens, listed and revoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import cli_world, run
from tests.support.world import World


@pytest.fixture
def s(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    served = cli_world(tmp_path, sqlite_url, monkeypatch)
    yield served
    served.close()


def test_an_operator_lists_and_revokes_every_feed_and_token_of_an_account(s: World, tmp_path: Path) -> None:
    contact = s.district.cases.two_child_contact
    account = s.ensure_account("guardian", contact)
    h = s.headers(account.id)
    kid = sorted(s.visible(account.id))[0]
    feed = s.client.post("/v1/account/feeds", json={"student_id": kid}, headers=h).json()["data"]
    tok = s.client.post(
        "/v1/account/tokens", json={"students": [kid], "kinds": ["grades"], "expires_in_days": 9}, headers=h
    ).json()["data"]
    code, out = run(tmp_path, "accounts", "links", "--contact", contact)
    assert code == 0, out
    assert f"feed {feed['id']}" in out and f"token {tok['id']}" in out and "kinds grades" in out
    secret = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert secret not in out and tok["token"] not in out
    assert "1 calendar feed(s) and 1 family token(s)" in out
    code, out = run(tmp_path, "accounts", "links", "--contact", contact, "--revoke")
    assert code == 0 and "revoked" in out
    assert s.get(feed["url"].removeprefix("http://127.0.0.1:8000"), {}).status_code == 404
    assert s.get(f"/v1/students/{kid}/grades", {"Authorization": f"Bearer {tok['token']}"}).status_code == 401
    code, out = run(tmp_path, "accounts", "links", "--contact", "no-such-contact")
    assert code != 0 and "no account" in out
