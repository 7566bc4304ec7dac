"""GET/PUT /v1/account/alerts: the caller's choices per child and kind, checked field by field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.access import sessions
from gateway.alerts import prefs
from tests.support.alerts import Family, family


@pytest.fixture
def fam(tmp_path: Path, sqlite_url: str) -> Iterator[Family]:
    f = family(tmp_path, sqlite_url)
    yield f
    f.app.dispose()


def bearer(f: Family, account_id: str) -> dict[str, str]:
    with f.app.cache.engine.begin() as conn:
        token, _ = sessions.create(conn, account_id, f.app.config.access)
    return {"Authorization": f"Bearer {token}"}


def test_the_defaults_then_a_choice_per_child_and_kind_round_trip(fam: Family) -> None:
    with TestClient(fam.app.api()) as c:
        h = bearer(fam, fam.mum)
        got = c.get("/v1/account/alerts", headers=h)
        assert got.status_code == 200, got.text
        doc = got.json()["data"]
        assert sorted(k["first_name"] for k in doc["children"]) == ["First0", "First1"]
        assert doc["children"][0]["kinds"]["absence"] == "instant"
        assert doc["children"][0]["kinds"]["behaviour"] == "daily"
        assert doc["quiet_hours"] == {"start": "21:00", "end": "07:00"} and doc["threshold"] == 50
        first, second = doc["children"][0]["id"], doc["children"][1]["id"]
        put = c.put(
            "/v1/account/alerts",
            headers=h,
            json={
                "children": [{"id": first, "kinds": {"absence": "instant", "behaviour": "weekly"}}],
                "threshold": 65,
                "quiet_hours": {"start": "22:30", "end": "06:45"},
                "language": "es",
            },
        )
        assert put.status_code == 200, put.text
        again = c.get("/v1/account/alerts", headers=h).json()["data"]
        by_id = {k["id"]: k["kinds"] for k in again["children"]}
        assert by_id[first]["behaviour"] == "weekly" and by_id[second]["behaviour"] == "daily"
        assert again["threshold"] == 65 and again["language"] == "es"
        assert again["quiet_hours"] == {"start": "22:30", "end": "06:45"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"children": [{"id": "AAAAAAAAAAAAAAAAAAAAAA", "kinds": {}}]}, "children[0].id"),
        ({"children": [{"id": "x", "kinds": {"absence": "hourly"}}]}, "children.0.kinds.absence"),
        ({"children": [{"id": "x", "kinds": {"weather": "off"}}]}, "children.0.kinds.weather"),
        ({"threshold": 101}, "threshold"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
        ({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "quiet_hours"),
        ({"language": "fr"}, "language"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_stored(
    fam: Family, body: dict[str, object], field: str
) -> None:
    with TestClient(fam.app.api()) as c:
        r = c.put("/v1/account/alerts", headers=bearer(fam, fam.mum), json=body)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    with fam.app.cache.engine.connect() as conn:
        assert prefs.load(conn, fam.mum) == prefs.Prefs()


def test_another_family_s_child_is_refused_the_same_as_one_that_does_not_exist(fam: Family) -> None:
    with TestClient(fam.app.api()) as c:
        mine = c.get("/v1/account/alerts", headers=bearer(fam, fam.mum)).json()["data"]["children"]
        dads = {
            k["id"]
            for k in c.get("/v1/account/alerts", headers=bearer(fam, fam.dad)).json()["data"]["children"]
        }
        not_his = next(k["id"] for k in mine if k["id"] not in dads)
        r1 = c.put("/v1/account/alerts", headers=bearer(fam, fam.dad), json={"children": [{"id": not_his}]})
        r2 = c.put(
            "/v1/account/alerts",
            headers=bearer(fam, fam.dad),
            json={"children": [{"id": "AAAAAAAAAAAAAAAAAAAAAA"}]},
        )
    assert r1.status_code == r2.status_code == 400 and r1.json() == r2.json()


def test_without_a_session_the_answer_is_401(fam: Family) -> None:
    with TestClient(fam.app.api()) as c:
        assert c.get("/v1/account/alerts").status_code == 401
        assert c.put("/v1/account/alerts", json={}).status_code == 401
