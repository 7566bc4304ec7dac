"""No input reaches a 500: every date, cursor, id and number a caller sends is a 400 naming
the parameter (or, for an id, the uniform 404), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

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
