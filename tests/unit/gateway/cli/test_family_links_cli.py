"""``portico accounts links``: an account's calendar feeds and family tokens, listed and revoked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from connectors import registry
from gateway.cli import main
from tests.support.config import raw_config, write_yaml
from tests.support.world import World, build_world, cheap_hashing


class NoOptions(BaseModel):
    pass


def _never_built(name: str, options: object, ctx: object) -> object:
    raise AssertionError("this command never builds a connector")


FAKE_TYPE = registry.ConnectorType("fake", NoOptions, _never_built)  # type: ignore[arg-type]


@pytest.fixture
def s(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    monkeypatch.setitem(registry._BUILTINS, "fake", f"{__name__}:FAKE_TYPE")
    served = build_world(tmp_path, sqlite_url)
    config = raw_config(
        tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", connectors=[{"name": "sis", "type": "fake"}]
    )
    write_yaml(tmp_path / "portico.yaml", config)
    yield served
    served.close()


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "portico.yaml"), *args])
    return result.exit_code, result.output


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
