"""A data request reads the clock once, and remembers the principal of an unchanged
account: a revoked link, a hold, an ended session or a changed account still takes effect
on the very next request."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cache.types import utcnow
from gateway.access import accounts, sessions
from gateway.api import deps
from gateway.api.app import create_app
from tests.support.connectors import ListConnector, streams
from tests.support.world import World, build_world, cheap_hashing


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    monkeypatch.setattr(deps, "_PRINCIPALS", {})  # only this test's accounts in it
    served = build_world(tmp_path, db_url)
    yield served
    served.close()


def remembered(account_id: str) -> list[Any]:
    return [p for a, p in deps._PRINCIPALS.values() if a.id == account_id]


def test_a_revoked_link_a_hold_an_ended_session_and_a_changed_account_take_effect_on_the_next_request(
    s: World,
) -> None:
    c = s.district.cases
    kid, mum, _ = c.split_household
    account = s.ensure_account("guardian", mum)
    h = s.headers(account.id)
    path = f"/v1/students/{s.ref('student', kid)}/attendance"
    nowhere = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", h)
    assert nowhere.status_code == 404
    assert s.get(path, h).status_code == 200
    first = remembered(account.id)
    assert s.get(path, h).status_code == 200
    assert len(first) == 1 and remembered(account.id)[0] is first[0]  # one principal, reused

    # The link revoked at the source (no portal access any more) and published.
    data = streams(s.district)
    data["link"] = [
        dataclasses.replace(ln, portal_access=False) if (ln.student_id, ln.contact_id) == (kid, mum) else ln
        for ln in data["link"]
    ]
    out = s.application().sync("sis", connector=ListConnector("sis", data, page_size=500), full=True)
    assert out.status == "published"
    gone = s.get(path, h)
    assert (gone.status_code, gone.content) == (404, nowhere.content)
    assert remembered(account.id)[0] is first[0]  # the principal was never the check

    # A hold on one of two children: that child at once, the other still.
    parent = s.ensure_account("guardian", c.two_child_contact)
    ph = s.headers(parent.id)
    kids = sorted(
        ln.student_id
        for ln in s.district.iter("link")
        if ln.contact_id == c.two_child_contact  # type: ignore[union-attr]
    )
    paths = [f"/v1/students/{s.ref('student', k)}/grades" for k in kids]
    assert [s.get(p, ph).status_code for p in paths] == [200, 200]
    s.hold("student", kids[0], "child-protection", "referral")
    assert [s.get(p, ph).status_code for p in paths] == [404, 200]

    # The account changed (a new AUP to accept): the next request is refused.
    with s.cache.engine.begin() as conn:
        accounts.set_fields(conn, parent.id, aup_version="an older one")
    refused = s.get(paths[1], ph)
    assert refused.status_code == 403 and refused.json()["type"] == "aup-not-accepted"

    # Every session ended: the next request is signed out.
    with s.cache.engine.begin() as conn:
        sessions.end_all(conn, account.id)
    assert s.get(f"/v1/students/{s.ref('student', kid)}", h).status_code == 401


def get(app: Any, path: str, headers: dict[str, str]) -> int:
    async def once() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portico.test") as client:
            return (await client.get(path, headers=headers)).status_code

    return asyncio.run(once())


def test_a_data_request_reads_the_clock_once(s: World, monkeypatch: pytest.MonkeyPatch) -> None:
    account = s.ensure_account("student", s.district.cases.student_login)
    h = s.headers(account.id)
    path = f"/v1/students/{s.ref('student', s.district.cases.student_login)}/attendance"
    reads = {"app": 0, "session": 0}

    def counted(name: str, clock: Any) -> Any:
        def read() -> Any:
            reads[name] += 1
            return clock()

        return read

    monkeypatch.setattr(sessions, "utcnow", counted("session", utcnow))
    # A moved clock (as tests move it): sessions still expire by the real time, read apart.
    assert get(create_app(s.config, s.cache, clock=counted("app", s.clock)), path, h) == 200
    assert reads == {"app": 1, "session": 1}
    # The real clock, as served: one reading for the request, the session's included.
    monkeypatch.setattr(deps, "utcnow", counted("app", utcnow))
    reads.update(app=0, session=0)
    assert get(create_app(s.config, s.cache, clock=deps.utcnow), path, h) == 200
    assert reads == {"app": 1, "session": 0}
