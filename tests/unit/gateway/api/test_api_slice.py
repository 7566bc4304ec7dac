"""A guardian sees exactly their linked children and their attendance, with meta; others get the one 404."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache.store import open_cache
from connectors.records import AttendanceCategory, AttendanceMark
from gateway.api.app import create_app
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import contact, link, school, student
from tests.support.world import add_guardian

TODAY = dt.datetime.now(dt.UTC).date()


def district() -> dict[str, list]:
    kids = [student(i) for i in range(4)]
    kids[3] = dataclasses.replace(kids[3], exit_date=TODAY - dt.timedelta(days=3))  # a leaver
    parent = contact("c1", "Ada", "Parent", "ada@example.org")
    other = contact("c2", "Bo", "Other", "bo@example.org")
    links = [
        link("00000", "c1"),
        link("00001", "c1"),
        link("00002", "c1", parental_responsibility=False),  # no responsibility: not visible
        link("00003", "c1"),  # leaver: not visible
        link("00002", "c2"),
    ]
    marks = []
    for k in kids:
        for d in range(10):
            day = TODAY - dt.timedelta(days=d + 1)
            marks.append(
                AttendanceMark(
                    source_id=f"{k.source_id}-{day}",
                    student_id=k.source_id,
                    date=day,
                    session="day",
                    source_code="P",
                    category=AttendanceCategory.PRESENT,
                    minutes_late=None,
                    recorded_at=dt.datetime.combine(day, dt.time(13, 0), dt.UTC),
                )
            )
    # Recorded a minute ago: inside the 30-minute lag, so not shown yet.
    marks.append(
        AttendanceMark(
            source_id="00000-fresh",
            student_id="00000",
            date=TODAY - dt.timedelta(days=11),
            session="day",
            source_code="A",
            category=AttendanceCategory.UNAUTHORISED_ABSENCE,
            minutes_late=None,
            recorded_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        )
    )
    return {
        "schools": [school("100", "Hill Middle", "America/New_York")],
        "students": kids,
        "contacts": [parent, other, *links],
        "attendance": marks,
    }


@pytest.fixture
def client(tmp_path: Path, db_url: str):
    config, secrets = make_config(tmp_path, db_url)
    cache = open_cache(config, secrets)
    out = SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(
        ListConnector("sis", district())
    )
    assert out.status == "published"
    idx = cache.keyring.index
    for cid, user in (("c1", "ada@example.org"), ("c2", "bo@example.org")):
        add_guardian(cache, cid, user)
    with TestClient(create_app(config, cache)) as c:
        c.refs = {f"{i:05d}": idx.ref("sis", "student", f"{i:05d}") for i in range(4)}  # type: ignore[attr-defined]
        yield c
    cache.dispose()


def login(c: TestClient, user: str) -> dict[str, str]:
    r = c.post("/v1/auth/login", json={"username": user, "password": "Correct horse battery 9"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_guardian_sees_exactly_their_linked_enrolled_children(client: TestClient) -> None:
    h = login(client, "ada@example.org")
    r = client.get("/v1/students", headers=h)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    ids = {s["id"] for s in r.json()["data"]}
    assert ids == {client.refs["00000"], client.refs["00001"]}
    meta = r.json()["meta"]
    assert set(meta) == {"as_of", "synced_at", "lag", "stale", "next_cursor"} and meta["stale"] is False


def test_not_yours_and_nonexistent_get_the_identical_404(client: TestClient) -> None:
    h = login(client, "ada@example.org")
    not_mine = client.get(f"/v1/students/{client.refs['00002']}/attendance", headers=h)
    missing = client.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", headers=h)
    leaver = client.get(f"/v1/students/{client.refs['00003']}", headers=h)
    for r in (not_mine, leaver):
        assert (r.status_code, r.content, r.headers.get("content-type")) == (
            missing.status_code,
            missing.content,
            missing.headers.get("content-type"),
        )
    assert missing.status_code == 404


def test_attendance_applies_the_lag_and_paginates(client: TestClient) -> None:
    h = login(client, "ada@example.org")
    sid = client.refs["00000"]
    r = client.get(
        f"/v1/students/{sid}/attendance",
        params={"from": str(TODAY - dt.timedelta(days=20)), "limit": 4},
        headers=h,
    )
    body = r.json()
    assert r.status_code == 200 and body["meta"]["lag"] == "PT30M"
    seen = [m["date"] for m in body["data"]]
    while body["meta"]["next_cursor"]:
        body = client.get(
            f"/v1/students/{sid}/attendance",
            headers=h,
            params={
                "from": str(TODAY - dt.timedelta(days=20)),
                "limit": 4,
                "cursor": body["meta"]["next_cursor"],
            },
        ).json()
        seen += [m["date"] for m in body["data"]]
    assert len(seen) == 10  # the mark recorded a minute ago is still inside the lag
    assert seen == sorted(seen, reverse=True)


def test_wrong_password_and_unknown_user_get_the_same_401(client: TestClient) -> None:
    a = client.post("/v1/auth/login", json={"username": "ada@example.org", "password": "wrong"})
    b = client.post("/v1/auth/login", json={"username": "nobody@example.org", "password": "wrong"})
    assert a.status_code == b.status_code == 401 and a.content == b.content


def test_data_routes_refuse_other_methods_and_bad_ranges(client: TestClient) -> None:
    h = login(client, "ada@example.org")
    sid = client.refs["00000"]
    assert client.post(f"/v1/students/{sid}/attendance", headers=h).status_code == 405
    assert client.head(f"/v1/students/{sid}", headers=h).status_code == 200
    r = client.get(
        f"/v1/students/{sid}/attendance", params={"from": "2020-01-01", "to": "2026-01-01"}, headers=h
    )
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "from" in r.json()["detail"]


def test_logout_kills_the_token(client: TestClient) -> None:
    h = login(client, "ada@example.org")
    assert client.post("/v1/auth/logout", headers=h).status_code == 204
    assert client.get("/v1/students", headers=h).status_code == 401
