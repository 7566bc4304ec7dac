"""No input reaches a 500: every date, cursor, id and number a caller sends is a 400 naming
the parameter (or, for an id, the uniform 404), on SQLite and PostgreSQL; so is a NUL
character anywhere in a request (PostgreSQL's text cannot hold one)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.api.params import NUL_IN_JSON, NUL_IN_QUERY, may_hold_nul, nul_field
from gateway.api.routing import DatabaseRoute
from tests.support.world import World, build_world, cheap_hashing


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, db_url)
    yield served
    served.close()


def me(s: World) -> tuple[dict[str, str], str]:
    sid = s.district.cases.student_login
    return s.headers(s.ensure_account("student", sid).id), s.ref("student", sid)


def cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def names(s: World, path: str, h: dict[str, str], field: str) -> None:
    r = s.get(path, h)
    assert r.status_code == 400, (path, r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}, (path, r.json())


def test_dates_at_the_ends_of_the_calendar_are_a_400_naming_the_parameter(s: World) -> None:
    h, ref = me(s)
    for route in ("attendance", "attendance/summary", "behaviour", "assignments"):
        names(s, f"/v1/students/{ref}/{route}?to=0001-01-01", h, "to")
        names(s, f"/v1/students/{ref}/{route}?from=9999-12-31", h, "from")
    names(s, f"/v1/students/{ref}/timetable?from=9999-12-31", h, "from")
    names(s, f"/v1/students/{ref}/timetable?to=0001-01-01", h, "to")
    names(s, "/v1/notices?from=0001-01-01", h, "from")
    names(s, "/v1/notices?from=9999-12-31", h, "from")


def test_only_plain_dates_are_dates(s: World) -> None:
    h, ref = me(s)
    for bad in ("2026-W48-2", "20261124", "2026-11-24T00:00", "2026-02-30", "２０２６-１１-２４", ""):
        if bad:
            names(s, f"/v1/students/{ref}/attendance?from={bad}", h, "from")
    assert s.get(f"/v1/students/{ref}/attendance?from=2026-11-01&to=2026-11-24", h).status_code == 200


def test_cursors_the_api_never_returned_are_a_400_naming_cursor(s: World) -> None:
    h, ref = me(s)
    forged = {
        f"/v1/students/{ref}/attendance": [cursor("x", "y"), cursor("0001-01-01", "a"), cursor("2026-11-01", "a\x00b")],
        f"/v1/students/{ref}/grades": [cursor("not-a-day", "AAAA")],
        f"/v1/students/{ref}/timetable": [cursor("2026-11-24", "x" * 30, "AAAA"), cursor("a", "b")],
        "/v1/notices": [cursor("a", "b", "c"), cursor("1", "yesterday", "AAAA"), cursor("2", "2026-11-24T00:00:00+00:00", "A")],
        f"/v1/students/{ref}/access-log": [cursor("²"), cursor("9" * 40), cursor("-1")],
    }  # fmt: skip
    for path, cursors in forged.items():
        for c in [*cursors, "%%%", "A" * 300, "\u00e9t\u00e9"]:
            names(s, f"{path}?cursor={c}", h, "cursor")


def test_numbers_and_ids_in_the_query_are_checked(s: World) -> None:
    h, ref = me(s)
    for bad in ("0", "-1", "abc", "1e3", "99999999999999999999999", "5000"):
        names(s, f"/v1/students/{ref}/attendance?limit={bad}", h, "limit")
    names(s, f"/v1/students/{ref}/assignments?class=%00", h, "class")
    names(s, f"/v1/students/{ref}/assignments?class=a%20b", h, "class")
    names(s, f"/v1/students/{ref}/export?format=xml", h, "format")


def test_ids_in_the_path_that_no_record_could_have_get_the_uniform_404(s: World) -> None:
    h, ref = me(s)
    missing = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA", h)
    assert missing.status_code == 404
    for bad in ("%00", "a%00b", "%C3%A9", "%2E%2E", "x" * 300, "%F0%9F%98%80", "a%2Fb"):
        for tail in ("", "/attendance", "/export", "/access-log", "/corrections"):
            r = s.get(f"/v1/students/{bad}{tail}", h)
            assert (r.status_code, r.content) == (404, missing.content), (bad, tail, r.status_code)
        r = s.get(f"/v1/students/{ref}/reports/{bad}", h)
        assert (r.status_code, r.content) == (404, missing.content), (bad, r.text)


def test_a_nul_in_a_path_is_the_uniform_404_and_anywhere_else_a_400_naming_the_field(s: World) -> None:
    contact = s.district.cases.two_child_contact
    h = s.headers(s.ensure_account("guardian", contact).id)
    kid = sorted(
        {s.ref("student", ln.student_id) for ln in s.district.iter("link") if ln.contact_id == contact}
    )[0]
    feed = s.client.post("/v1/account/feeds", json={"student_id": kid}, headers=h)
    token = s.client.post(
        "/v1/account/tokens",
        json={"students": [kid], "kinds": ["attendance"], "expires_in_days": 5},
        headers=h,
    )
    assert feed.status_code == token.status_code == 201
    feed_id, token_id = feed.json()["data"]["id"], token.json()["data"]["id"]
    missing = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA", h)
    # Ids in the path: the account's feeds and tokens (once a 500 on PostgreSQL), students,
    # reports, calendar feeds; with a NUL alone, inside a real id, or after one.
    for bad in ("%00", f"{token_id[:4]}%00{token_id[4:]}", f"{feed_id}%00"):
        for method, path in (
            ("DELETE", f"/v1/account/tokens/{bad}"),
            ("DELETE", f"/v1/account/feeds/{bad}"),
            ("GET", f"/v1/students/{bad}/attendance"),
            ("GET", f"/v1/students/{kid}/reports/{bad}"),
            ("GET", f"/v1/calendar/{bad}.ics"),
        ):
            r = s.client.request(method, path, headers=h)
            assert (r.status_code, r.content) == (404, missing.content), (method, path, r.text)
    listed = s.client.get("/v1/account/tokens", headers=h).json()["data"]
    assert [t["id"] for t in listed] == [token_id]  # nothing revoked
    assert [f["id"] for f in s.client.get("/v1/account/feeds", headers=h).json()["data"]] == [feed_id]
    # The query, signed in or not.
    names(s, f"/v1/students/{kid}/attendance?from=%00", h, "from")
    names(s, f"/v1/students/{kid}/assignments?limit=20&class=AAAA%00", h, "class")
    names(s, "/v1/notices?cursor=%00", {}, "cursor")
    # JSON bodies, each field named where it is.
    for method, path, body, field in (
        ("POST", "/v1/account/feeds", {"student_id": "a\x00"}, "student_id"),
        ("POST", "/v1/account/tokens", {"students": [kid, "\x00"], "kinds": ["attendance"], "expires_in_days": 5},
         "students.1"),
        ("PUT", "/v1/account/alerts", {"children": [{"id": kid, "kinds": {}}, {"id": "x\x00"}]}, "children.1.id"),
        ("POST", f"/v1/students/{kid}/corrections", {"about": "name", "message": "spelt\x00wrong"}, "message"),
        ("POST", "/v1/auth/login", {"username": "someone\x00", "password": "p"}, "username"),
    ):  # fmt: skip
        r = s.client.request(method, path, json=body, headers=h)
        assert (r.status_code, r.headers["content-type"]) == (400, "application/problem+json"), path
        assert [e["field"] for e in r.json()["errors"]] == [field], (path, r.json())
    # Nested deeper than Python's recursion limit (orjson reads 1,024 levels): still the 400.
    deep = b'{"username": ' + b"[" * 1020 + b'"\\u0000"' + b"]" * 1020 + b', "password": "p"}'
    r = s.client.post("/v1/auth/login", content=deep, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["errors"][0]["field"]) == (400, "username" + ".0" * 1020)
    # The six characters "\u0000" written out are text like any other.
    written = {"about": "name", "message": "C:\\u0000 is not a folder"}
    assert s.client.post(f"/v1/students/{kid}/corrections", json=written, headers=h).status_code == 201


def test_every_route_with_a_body_is_a_database_route_which_refuses_a_nul_in_it(s: World) -> None:
    routes = [c for c in iter_route_contexts(s.client.app.routes) if isinstance(c.original_route, APIRoute)]
    with_bodies = [c for c in routes if c.body_field is not None]
    assert len(with_bodies) > 10
    assert [c.path for c in with_bodies if not isinstance(c.original_route, DatabaseRoute)] == []


def test_a_nul_in_a_json_body_is_named_by_its_field() -> None:
    assert nul_field({"a": "x", "b": [{"c": "ok"}, {"c": "n\x00"}]}) == "b.1.c"
    assert nul_field({"a": {"k\x00": 1}}) == "a"  # a key: its object (never the key itself)
    assert nul_field("\x00") == nul_field({"k\x00": 1}) == "body"
    assert nul_field({"a": ["x", 1, None, 2.5, True], "b": "\\u0000"}) is None
    # in order: the key comes before its value
    assert nul_field({"a": "ok", "b\x00": {"c": "\x00"}}) == "body"


def test_one_scan_finds_a_nul_in_a_raw_query_or_json_body_however_it_is_written() -> None:
    """The edge (query strings) and the JSON bodies' check share one rule before decoding."""
    for query in (b"from=%00", b"a=1&class=AAAA%00", b"q=\x00", b"%00=x"):
        assert may_hold_nul(query, NUL_IN_QUERY), query
    for query in (b"limit=10", b"q=%2500", b"q=%0", b""):
        assert not may_hold_nul(query, NUL_IN_QUERY), query
    assert may_hold_nul(b'{"u": "a\\u0000"}', NUL_IN_JSON)
    assert not may_hold_nul(b'{"u": "a%00", "v": "\\u0001"}', NUL_IN_JSON)  # %00 is text in JSON
