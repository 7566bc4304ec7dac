"""The data routes against the synthetic district: shapes, lag, ranges, paging, methods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cache.read.reader import Reader
from gateway.api.deps import ViewDep
from gateway.api.routing import DataRouter
from tests.support.world import STUDENT_ROUTES, World, build_world, cheap_hashing


@pytest.fixture
def s(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # Both engines: on PostgreSQL every data request runs on a worker thread.
    cheap_hashing(monkeypatch)
    served = build_world(tmp_path, db_url)
    yield served
    served.close()


def me(s: World) -> tuple[dict[str, str], str, str]:
    """The student-portal account of the district's data-rich student: headers, public id, SIS id."""
    sid = s.district.cases.student_login
    return s.headers(s.ensure_account("student", sid).id), s.ref("student", sid), sid


def records(s: World, kind: str, sid: str) -> list[Any]:
    return [r for r in s.district.iter(kind) if getattr(r, "student_id", None) == sid]


def test_every_data_route_answers_get_and_head_with_the_envelope_and_no_store(s: World) -> None:
    h, ref, _ = me(s)
    for path in [f"/v1/students/{ref}{p}" for p in STUDENT_ROUTES] + ["/v1/students", "/v1/notices"]:
        r = s.get(path, h)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-store"
        assert set(r.json()) == {"data", "meta"} and set(r.json()["meta"]) == {
            "as_of",
            "synced_at",
            "lag",
            "stale",
            "next_cursor",
        }
        assert s.client.head(path, headers=h).status_code == 200


def test_other_methods_get_405_on_every_data_route(s: World) -> None:
    h, ref, _ = me(s)
    for path in [f"/v1/students/{ref}{p}" for p in STUDENT_ROUTES] + ["/v1/students", "/v1/notices"]:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = s.client.request(method, path, headers=h)
            assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json", (
                method,
                path,
            )


def test_each_type_reports_its_configured_lag(s: World) -> None:
    h, ref, _ = me(s)
    lags = {
        "/attendance": "PT30M",
        "/grades": "P1D",
        "/assignments": "P1D",
        "/behaviour": "PT1H",
        "/timetable": "PT0S",
    }
    for path, lag in lags.items():
        assert s.get(f"/v1/students/{ref}{path}", h).json()["meta"]["lag"] == lag


def test_same_day_attendance_is_hidden_until_the_configured_local_time(s: World) -> None:
    h, ref, sid = me(s)
    today = s.clock().date()
    assert any(m.date == today for m in records(s, "attendance", sid))
    s.clock.at = dt.datetime.combine(today, dt.time(15, 29), dt.UTC)  # 10:29 in New York
    early = {m["date"] for m in s.get(f"/v1/students/{ref}/attendance", h).json()["data"]}
    s.clock.at = dt.datetime.combine(today, dt.time(17, 0), dt.UTC)
    later = {m["date"] for m in s.get(f"/v1/students/{ref}/attendance", h).json()["data"]}
    assert today.isoformat() not in early and today.isoformat() in later


def test_ranges_are_bounded_and_validated(s: World) -> None:
    h, ref, _ = me(s)
    for params in (
        {"from": "2020-01-01", "to": "2026-11-24"},
        {"from": "2026-11-24", "to": "2026-11-01"},
        {"from": "24/11/2026"},
    ):
        for path in ("/attendance", "/attendance/summary", "/timetable", "/assignments", "/behaviour"):
            r = s.client.get(f"/v1/students/{ref}{path}", params=params, headers=h)
            assert r.status_code == 400 and r.json()["type"] == "invalid-request", (path, params)
    assert s.client.get(f"/v1/students/{ref}/grades", params={"limit": 0}, headers=h).status_code == 400
    assert (
        s.client.get(f"/v1/students/{ref}/grades", params={"cursor": "nonsense"}, headers=h).status_code
        == 400
    )


@pytest.mark.parametrize("path", ["/attendance", "/timetable", "/grades", "/assignments", "/reports"])
def test_cursor_pagination_returns_every_item_once_in_order(s: World, path: str) -> None:
    h, ref, _ = me(s)
    params: dict[str, Any] = (
        {"from": "2026-09-01", "to": "2026-11-24"}
        if path != "/timetable"
        else {"from": "2026-11-02", "to": "2026-11-27"}
    )
    if path in ("/grades", "/reports"):
        params = {}
    whole = s.client.get(f"/v1/students/{ref}{path}", params={**params, "limit": 500}, headers=h).json()[
        "data"
    ]
    page = 1 if path == "/reports" else 3
    seen: list[Any] = []
    cursor = None
    while True:
        body = s.client.get(
            f"/v1/students/{ref}{path}",
            params={**params, "limit": page, **({"cursor": cursor} if cursor else {})},
            headers=h,
        ).json()
        seen += body["data"]
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            break
    assert len(whole) > page and seen == whole


def test_attendance_summary_counts_match_the_marks(s: World) -> None:
    h, ref, sid = me(s)
    params = {"from": "2026-09-01", "to": "2026-11-20"}
    summary = s.client.get(f"/v1/students/{ref}/attendance/summary", params=params, headers=h).json()["data"]
    marks = [
        m for m in records(s, "attendance", sid) if dt.date(2026, 9, 1) <= m.date <= dt.date(2026, 11, 20)
    ]
    assert summary["sessions"] == len(marks) > 0
    for cat, v in summary["by_category"].items():
        n = sum(1 for m in marks if m.category == cat)
        assert v["count"] == n and v["percent"] == round(100 * n / len(marks), 1)


def test_timetable_lists_each_class_lesson_on_its_weekday(s: World) -> None:
    h, ref, sid = me(s)
    week = s.client.get(
        f"/v1/students/{ref}/timetable", params={"from": "2026-11-23", "to": "2026-11-29"}, headers=h
    ).json()["data"]
    sections = {e.section_id for e in s.district.iter("enrollment") if e.student_id == sid}
    entries = [t for t in s.district.iter("timetable") if t.section_id in sections]
    weekly = [t for t in entries if t.week_pattern == "every"]
    assert week and all(dt.date.fromisoformat(x["date"]).isoweekday() == x["day"] for x in week)
    assert {x["class"]["id"] for x in week} <= {s.ref("section", sec) for sec in sections}
    assert len([x for x in week if x["day"] <= 5]) >= len(weekly)
    assert [(x["date"], x["start_time"]) for x in week] == sorted((x["date"], x["start_time"]) for x in week)


def test_assignments_carry_the_students_own_result(s: World) -> None:
    h, ref, sid = me(s)
    data = s.client.get(
        f"/v1/students/{ref}/assignments", params={"from": "2026-09-01", "to": "2026-11-20"}, headers=h
    ).json()["data"]
    mine = {s.ref("assignment", r.assignment_id): r for r in records(s, "result", sid)}
    assert data and any(a["result"] for a in data)
    for a in data:
        res = mine.get(a["id"])
        assert (a["result"] is None) == (res is None)
        if res is not None:
            assert a["result"]["status"] == res.status and a["result"]["score"] == res.score


def test_behaviour_totals_add_up_the_points_of_the_range(s: World) -> None:
    h, ref, sid = me(s)
    body = s.client.get(
        f"/v1/students/{ref}/behaviour",
        params={"from": "2026-08-01", "to": "2026-11-23", "limit": 2},
        headers=h,
    ).json()["data"]
    events = [b for b in records(s, "behaviour", sid) if b.occurred_at.date() <= dt.date(2026, 11, 23)]
    ach = sum(b.points for b in events if b.polarity == "achievement")
    beh = sum(b.points for b in events if b.polarity == "behaviour")
    assert len(body["events"]) == 2 and body["totals"] == {
        "achievement": ach,
        "behaviour": beh,
        "net": ach + beh,
    }


def test_behaviour_first_page_reads_the_range_once_and_the_next_page_carries_the_same_totals(
    s: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, ref, _ = me(s)
    reads: list[int] = []
    real = Reader._records_read  # every records read, awaited or not, builds its statement here

    def counted(self: Reader, *args: Any) -> Any:
        reads.append(args[-1].limit)  # the read: RecordsRead
        return real(self, *args)

    monkeypatch.setattr(Reader, "_records_read", counted)
    rng = {"from": "2026-08-01", "to": "2026-11-23"}
    whole = s.client.get(f"/v1/students/{ref}/behaviour", params={**rng, "limit": 500}, headers=h).json()
    first = s.client.get(f"/v1/students/{ref}/behaviour", params={**rng, "limit": 2}, headers=h).json()
    assert len(whole["data"]["events"]) > 3 and reads == [1_000_000, 1_000_000]  # one statement each
    assert first["data"]["events"] == whole["data"]["events"][:2] and first["meta"]["next_cursor"]
    second = s.client.get(
        f"/v1/students/{ref}/behaviour",
        params={**rng, "limit": 2, "cursor": first["meta"]["next_cursor"]},
        headers=h,
    ).json()
    assert second["data"]["events"] == whole["data"]["events"][2:4]
    assert first["data"]["totals"] == second["data"]["totals"] == whole["data"]["totals"]


def test_a_report_of_another_student_is_the_uniform_404_even_under_your_own_id(s: World) -> None:
    h, ref, sid = me(s)
    other = next(r for r in s.district.iter("report") if r.student_id != sid)
    theirs = s.get(f"/v1/students/{ref}/reports/{s.ref('report', other.source_id)}", h)
    nowhere = s.get(f"/v1/students/{ref}/reports/AAAAAAAAAAAAAAAAAAAAAA", h)
    assert theirs.status_code == nowhere.status_code == 404 and theirs.content == nowhere.content
    mine = records(s, "report", sid)[0]
    got = s.get(f"/v1/students/{ref}/reports/{s.ref('report', mine.source_id)}", h).json()["data"]
    assert got["title"] == mine.title and got["comments"] == mine.comments


def test_notices_come_current_first_and_page_without_repeats(s: World) -> None:
    h, _, _ = me(s)
    whole = s.client.get("/v1/notices", params={"limit": 500}, headers=h).json()["data"]
    flags = [n["current"] for n in whole]
    assert flags == sorted(flags, reverse=True) and any(flags)
    seen, cursor = [], None
    while True:
        body = s.client.get(
            "/v1/notices", params={"limit": 4, **({"cursor": cursor} if cursor else {})}, headers=h
        ).json()
        seen += body["data"]
        cursor = body["meta"]["next_cursor"]
        if not cursor:
            break
    assert seen == whole


def test_the_same_day_time_is_the_schools_own_not_the_districts(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_hashing(monkeypatch)
    s = build_world(tmp_path, sqlite_url, district={"name": "Test District", "timezone": "UTC"})
    try:
        h, ref, sid = me(s)  # the district says UTC; the student's school is in New York
        today = s.clock().date()
        assert any(m.date == today for m in records(s, "attendance", sid))
        # 15:20 UTC: past the 30-minute lag of the mark, past 10:30 in UTC, but 10:20 at school.
        s.clock.at = dt.datetime.combine(today, dt.time(15, 20), dt.UTC)
        early = {m["date"] for m in s.get(f"/v1/students/{ref}/attendance", h).json()["data"]}
        s.clock.at = dt.datetime.combine(today, dt.time(15, 31), dt.UTC)  # 10:31 at school
        later = {m["date"] for m in s.get(f"/v1/students/{ref}/attendance", h).json()["data"]}
        assert today.isoformat() not in early and today.isoformat() in later
    finally:
        s.close()


def test_bad_parameters_are_named_once_signed_in_and_never_before(s: World) -> None:
    h, ref, _ = me(s)
    r = s.client.get(f"/v1/students/{ref}/grades", params={"limit": "ten", "cursor": "x"}, headers=h)
    assert r.status_code == 400 and r.json()["errors"] == [
        {"field": "limit", "message": "expected an integer"}
    ]
    r = s.client.get(f"/v1/students/{ref}/assignments", params={"class": "c" * 25}, headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "class"
    # Nothing about the request is judged before sign-in: the same 401 as for a good one.
    for params in ({"limit": "ten"}, {"limit": "10"}):
        r = s.client.get(f"/v1/students/{ref}/grades", params=params)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert s.client.get(f"/v1/students/{ref}/grades", params={"unknown": "1"}, headers=h).status_code == 200


def test_the_contract_documents_each_data_route_with_its_parameters(s: World) -> None:
    paths = s.client.get("/openapi.json").json()["paths"]
    params = {p["name"]: p for p in paths["/v1/students/{student_id}/assignments"]["get"]["parameters"]}
    assert set(params) == {"student_id", "from", "to", "class", "limit", "cursor"}
    assert params["student_id"]["in"] == "path" and params["class"]["schema"]["anyOf"][0]["maxLength"] == 24
    assert params["limit"]["schema"]["anyOf"][0]["type"] == "integer"
    assert {p["name"] for p in paths["/v1/notices"]["get"]["parameters"]} == {"from", "limit", "cursor"}


def test_a_data_route_this_router_cannot_serve_fails_at_start_up() -> None:
    router = DataRouter("/v1/x", ["x"])

    async def no_view(student_id: str) -> None: ...

    async def a_float(view: ViewDep, ratio: float = 1.0) -> None: ...

    for bad in (no_view, a_float):
        with pytest.raises(TypeError, match=bad.__name__):
            router.get("/{student_id}")(bad)  # type: ignore[arg-type]
