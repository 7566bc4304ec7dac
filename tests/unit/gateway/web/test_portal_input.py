"""What the portal does with a NUL character in a request, on SQLite and PostgreSQL (whose
text cannot hold one): never a 500, never a change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.web import mount
from tests.support.web import Browser, csrf_of, signed_in_guardian
from tests.support.world import World, build_world, cheap_hashing


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, db_url)
    mount.install(served.client.app)  # type: ignore[arg-type]
    yield served
    served.close()


def test_a_nul_in_a_path_query_or_form_is_a_404_or_a_400_and_changes_nothing(s: World) -> None:
    b, _ = signed_in_guardian(s)
    page = b.get("/account")
    kid = re.findall(r'<option value="([\w-]{22})">', page.text)[0]
    assert b.post("/account/feeds", {"student_id": kid}, from_page="/account").status_code == 201
    account = b.get("/account").text
    feed_id = re.search(r'action="/account/feeds/(\w+)/revoke"', account).group(1)  # type: ignore[union-attr]
    csrf = csrf_of(account)

    def post(path: str, form: dict[str, str]) -> int:
        return b.client.post(path, data={"csrf": csrf, **form}, follow_redirects=False).status_code

    # Ids in the path (a revoke was a 500 on PostgreSQL): the uniform 404.
    for bad in ("%00", f"{feed_id}%00", f"{feed_id[:3]}%00{feed_id[3:]}"):
        assert post(f"/account/feeds/{bad}/revoke", {}) == 404
        assert post(f"/account/tokens/{bad}/revoke", {}) == 404
        assert b.get(f"/children/{bad}/attendance").status_code == 404
    # The query and the forms: a 400, signed in or not.
    assert b.get(f"/children/{kid}/attendance?from=%00").status_code == 400
    assert post("/account/feeds", {"student_id": kid + "\x00"}) == 400
    assert post(f"/children/{kid}/corrections", {"about": "name", "message": "spelt\x00wrong"}) == 400
    assert post("/language", {"locale": "es\x00", "next": "/"}) == 400
    anonymous = Browser(s)
    token = csrf_of(anonymous.get("/sign-in").text)
    r = anonymous.client.post("/sign-in", data={"csrf": token, "username": "a\x00", "password": "x"})
    assert r.status_code == 400
    # Nothing was revoked or made.
    b, _ = signed_in_guardian(s)
    assert re.findall(r'action="/account/feeds/(\w+)/revoke"', b.get("/account").text) == [feed_id]
