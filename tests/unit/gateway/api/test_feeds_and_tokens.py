"""Calendar feeds and family tokens over the API (docs/feeds-and-tokens.md).

Feeds are parsed back by two independent parsers, ``icalendar`` and ``vobject``; the
lessons their recurrence rules expand to must be exactly the API's timetable.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject

from gateway.access import family
from tests.support.district import district as make_district
from tests.support.world import World, build_world, cheap_hashing

KINDS = ["attendance", "timetable"]


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)


@pytest.fixture
def s(tmp_path: Path, db_url: str) -> Iterator[World]:
    served = build_world(tmp_path, db_url)
    yield served
    served.close()


def kids_of(s: World, contact_id: str) -> list[str]:
    return sorted(
        {s.ref("student", ln.student_id) for ln in s.district.iter("link") if ln.contact_id == contact_id}
    )  # type: ignore[union-attr]


def mum(s: World) -> tuple[Any, dict[str, str], list[str]]:
    contact = s.district.cases.two_child_contact
    account = s.ensure_account("guardian", contact)
    return account, s.headers(account.id), kids_of(s, contact)


def make_feed(s: World, h: dict[str, str], student: str) -> dict[str, Any]:
    r = s.client.post("/v1/account/feeds", json={"student_id": student}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def fetch(s: World, url: str) -> Any:
    return s.get(url.removeprefix("http://127.0.0.1:8000"), {})


def api_lessons(
    s: World, h: dict[str, str], student: str, start: dt.date, end: dt.date
) -> set[tuple[str, str, str]]:
    """(date, start time, class id) of every lesson the API's timetable lists in start..end."""
    out: set[tuple[str, str, str]] = set()
    day = start
    while day <= end:
        last = min(end, day + dt.timedelta(days=60))
        cursor = None
        while True:
            q = f"/v1/students/{student}/timetable?from={day}&to={last}&limit=500" + (
                f"&cursor={cursor}" if cursor else ""
            )
            r = s.get(q, h)
            assert r.status_code == 200, r.text
            out |= {(x["date"], x["start_time"][:5], x["class"]["id"]) for x in r.json()["data"]}
            cursor = r.json()["meta"]["next_cursor"]
            if not cursor:
                break
        day = last + dt.timedelta(days=1)
    return out


def expand_icalendar(body: bytes, end: dt.date) -> tuple[set[tuple[str, str]], list[Any]]:
    """(date, start time) of every lesson occurrence by icalendar + dateutil's rrule, and the events."""
    from dateutil.rrule import rrulestr

    cal = icalendar.Calendar.from_ical(body)
    occurrences: set[tuple[str, str]] = set()
    lessons = [e for e in cal.walk("VEVENT") if "lesson" in [str(c) for c in e.get("categories").cats]]
    for ev in lessons:
        start = ev.decoded("dtstart")
        days = [start]
        if ev.get("rrule"):
            rule = rrulestr(ev.get("rrule").to_ical().decode(), dtstart=start)
            excluded = set()
            ex = ev.get("exdate")
            for group in ex if isinstance(ex, list) else ([ex] if ex else []):
                excluded |= {d.dt for d in group.dts}
            days = [d for d in rule if d not in excluded]
        occurrences |= {(d.date().isoformat(), d.strftime("%H:%M")) for d in days}
    return occurrences, lessons


def expand_vobject(body: bytes) -> set[tuple[str, str]]:
    cal = vobject.readOne(body.decode())
    out: set[tuple[str, str]] = set()
    for ev in cal.vevent_list:
        if "lesson" not in ev.categories.value:
            continue
        for d in ev.getrruleset(addRDate=True) if hasattr(ev, "rrule") else [ev.dtstart.value]:
            out.add((d.date().isoformat(), d.strftime("%H:%M")))
    return out


def test_a_feed_is_the_api_timetable_as_recurring_lessons_parsed_by_two_parsers(s: World) -> None:
    account, h, kids = mum(s)
    feed = make_feed(s, h, kids[0])
    assert feed["url"].endswith(".ics") and len(feed["url"].rsplit("/", 1)[1]) >= 43  # 256-bit secret
    r = fetch(s, feed["url"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert r.headers["cache-control"] == "no-store"
    body = r.content
    cal = icalendar.Calendar.from_ical(body)
    tz = cal.walk("VTIMEZONE")
    assert [str(t["TZID"]) for t in tz] == [s.config.district.timezone]
    today = s.clock().astimezone(ZoneInfo(s.config.district.timezone)).date()
    start = today - dt.timedelta(days=s.config.access.calendar_days_back)
    end = today + dt.timedelta(days=s.config.access.calendar_days_ahead)
    by_icalendar, lessons = expand_icalendar(body, end)
    assert lessons and all(e["DTSTART"].params["TZID"] == s.config.district.timezone for e in lessons)
    assert sum(1 for e in lessons if e.get("rrule")) >= len(lessons) // 2  # recurring, not one event per day
    expected = {(d, t) for d, t, _ in api_lessons(s, h, kids[0], start, end)}
    assert by_icalendar == expected
    assert expand_vobject(body) == expected
    # Stable UIDs: the same on the next fetch, and made of no name.
    again = icalendar.Calendar.from_ical(fetch(s, feed["url"]).content)
    assert [e["UID"] for e in again.walk("VEVENT")] == [e["UID"] for e in cal.walk("VEVENT")]
    student = next(x for x in s.district.iter("student") if s.ref("student", x.source_id) == kids[0])
    text = body.decode()
    for personal in (student.legal_first_name, student.legal_last_name, student.source_id):  # type: ignore[union-attr]
        assert personal not in text
    due = [e for e in cal.walk("VEVENT") if "assignment" in [str(c) for c in e.get("categories").cats]]
    api_due = s.get(f"/v1/students/{kids[0]}/assignments?from={start}&to={end}&limit=500", h).json()["data"]
    assert {e.decoded("dtstart").isoformat() for e in due} == {a["due_date"] for a in api_due}


def test_a_gap_in_the_weekly_pattern_becomes_exdates_that_both_parsers_honour(s: World) -> None:
    account, h, kids = mum(s)
    d = make_district(14, schools=2)
    sections = {e.section_id for e in d.iter("enrollment") if s.ref("student", e.student_id) == kids[0]}  # type: ignore[union-attr]
    today = s.clock().date()
    entry = next(e for e in d.roster.timetable if e.section_id in sections and e.week_pattern == "every")
    gap_from, gap_to = today + dt.timedelta(days=14), today + dt.timedelta(days=34)  # three weeks off
    i = d.roster.timetable.index(entry)
    d.roster.timetable[i : i + 1] = [
        dataclasses.replace(entry, end_date=gap_from - dt.timedelta(days=1)),
        dataclasses.replace(
            entry, source_id=entry.source_id + "-b", start_date=gap_to + dt.timedelta(days=1)
        ),
    ]
    s.sync(d)
    body = fetch(s, make_feed(s, h, kids[0])["url"]).content
    cal = icalendar.Calendar.from_ical(body)
    with_gaps = [e for e in cal.walk("VEVENT") if e.get("exdate")]
    assert len(with_gaps) == 1
    excluded = {
        x.dt.date()
        for group in (
            with_gaps[0]["EXDATE"] if isinstance(with_gaps[0]["EXDATE"], list) else [with_gaps[0]["EXDATE"]]
        )
        for x in group.dts
    }
    assert len(excluded) == 3 and all(gap_from <= x <= gap_to for x in excluded)
    start = today - dt.timedelta(days=s.config.access.calendar_days_back)
    end = today + dt.timedelta(days=s.config.access.calendar_days_ahead)
    expected = {(d_, t) for d_, t, _ in api_lessons(s, h, kids[0], start, end)}
    assert expand_icalendar(body, end)[0] == expected == expand_vobject(body)


def test_revoked_feeds_held_guardians_and_unknown_secrets_get_the_same_404(s: World) -> None:
    account, h, kids = mum(s)
    feeds = [make_feed(s, h, k) for k in kids]
    listed = s.get("/v1/account/feeds", h).json()["data"]
    assert {f["id"] for f in listed} == {f["id"] for f in feeds} and all("url" not in f for f in listed)
    unknown = fetch(s, "/v1/calendar/" + "A" * 43 + ".ics")
    assert unknown.status_code == 404
    assert s.client.delete(f"/v1/account/feeds/{feeds[0]['id']}", headers=h).status_code == 204
    revoked = fetch(s, feeds[0]["url"])
    assert (revoked.status_code, revoked.content, revoked.headers["content-type"]) == (
        404, unknown.content, unknown.headers["content-type"],
    )  # fmt: skip
    assert fetch(s, feeds[1]["url"]).status_code == 200
    # The child taken away (a child-protection hold): dead at once, and the same 404.
    held_kid = next(
        x.source_id for x in s.district.iter("student") if s.ref("student", x.source_id) == kids[1]
    )  # type: ignore[union-attr]
    s.hold("student", held_kid, "child-protection", "referral")
    gone = fetch(s, feeds[1]["url"])
    assert (gone.status_code, gone.content) == (404, unknown.content)


def test_a_held_guardians_feed_and_token_answer_exactly_like_unknown_ones(s: World) -> None:
    kid, _, apart = s.district.cases.split_household
    account = s.ensure_account("guardian", apart)
    h = s.headers(account.id)
    feed = make_feed(s, h, s.ref("student", kid))
    tok = s.client.post(
        "/v1/account/tokens",
        json={"students": [s.ref("student", kid)], "kinds": KINDS, "expires_in_days": 30},
        headers=h,
    ).json()["data"]
    pft = {"Authorization": f"Bearer {tok['token']}"}
    assert fetch(s, feed["url"]).status_code == 200
    assert s.get(f"/v1/students/{s.ref('student', kid)}/attendance", pft).status_code == 200
    s.hold("contact", apart, "court-order", "order")
    unknown = fetch(s, "/v1/calendar/" + "B" * 43 + ".ics")
    held = fetch(s, feed["url"])
    assert (held.status_code, held.content, dict(held.headers)) == (
        404,
        unknown.content,
        dict(unknown.headers),
    )
    nobody = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", pft)
    mine = s.get(f"/v1/students/{s.ref('student', kid)}/attendance", pft)
    assert (mine.status_code, mine.content) == (nobody.status_code, nobody.content) == (404, nobody.content)
    assert s.get("/v1/students", pft).json()["data"] == []


def test_a_family_token_reads_only_its_children_and_kinds_and_never_writes(s: World) -> None:
    account, h, kids = mum(s)
    r = s.client.post(
        "/v1/account/tokens",
        json={"students": [kids[0]], "kinds": ["attendance"], "expires_in_days": 7},
        headers=h,
    )
    assert r.status_code == 201, r.text
    tok = r.json()["data"]
    assert tok["token"].startswith("pft_") and len(tok["token"]) >= 4 + 43
    pft = {"Authorization": f"Bearer {tok['token']}"}
    assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 200
    assert s.get(f"/v1/students/{kids[0]}/attendance/summary", pft).status_code == 200
    assert [x["id"] for x in s.get("/v1/students", pft).json()["data"]] == [kids[0]]
    nobody = s.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", pft)
    for outside in (
        f"/v1/students/{kids[1]}/attendance",  # a child not chosen
        f"/v1/students/{kids[0]}/grades",  # a kind not chosen
        f"/v1/students/{kids[0]}/export",
        f"/v1/students/{kids[0]}/access-log",
        f"/v1/students/{kids[0]}/corrections",
        "/v1/notices",
    ):
        got = s.get(outside, pft)
        assert (got.status_code, got.content) == (404, nobody.content), outside
    for method, path, body in (
        ("POST", f"/v1/students/{kids[0]}/corrections", {"about": "x", "message": "y"}),
        ("GET", "/v1/me", None),
        ("POST", "/v1/auth/logout", None),
        ("POST", "/v1/account/tokens", {"students": [kids[0]], "kinds": KINDS, "expires_in_days": 1}),
        ("GET", "/v1/account/feeds", None),
    ):
        got = s.client.request(method, path, json=body, headers=pft)
        assert got.status_code == 403 and got.headers["content-type"] == "application/problem+json", path
    # Listed (never the token itself), then revoked: 401 like a dead session.
    listed = s.get("/v1/account/tokens", h).json()["data"]
    assert [t["id"] for t in listed] == [tok["id"]] and "token" not in listed[0]
    assert s.client.delete(f"/v1/account/tokens/{tok['id']}", headers=h).status_code == 204
    assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 401
    assert s.client.delete(f"/v1/account/tokens/{tok['id']}", headers=h).status_code == 404


def test_tokens_expire_are_capped_by_config_and_only_name_visible_children(s: World) -> None:
    account, h, kids = mum(s)
    most = s.config.access.family_token_max_lifetime.days
    too_long = s.client.post(
        "/v1/account/tokens", json={"students": kids, "kinds": KINDS, "expires_in_days": most + 1}, headers=h
    )
    assert too_long.status_code == 400 and "expires_in_days" in too_long.text
    stranger = next(
        x.source_id for x in s.district.iter("student") if s.ref("student", x.source_id) not in kids
    )  # type: ignore[union-attr]
    r = s.client.post(
        "/v1/account/tokens",
        json={"students": [s.ref("student", stranger)], "kinds": KINDS, "expires_in_days": 1},
        headers=h,
    )
    assert r.status_code == 404
    assert (
        s.client.post(
            "/v1/account/feeds", json={"student_id": s.ref("student", stranger)}, headers=h
        ).status_code
        == 404
    )
    tok = s.client.post(
        "/v1/account/tokens", json={"students": kids, "kinds": KINDS, "expires_in_days": 1}, headers=h
    ).json()["data"]
    pft = {"Authorization": f"Bearer {tok['token']}"}
    assert s.get(f"/v1/students/{kids[1]}/timetable", pft).status_code == 200
    s.clock.move_to(s.clock().date() + dt.timedelta(days=2))  # type: ignore[attr-defined]
    assert s.get(f"/v1/students/{kids[1]}/timetable", pft).status_code == 401


def test_every_feed_fetch_and_token_read_is_audited_and_both_are_throttled(
    tmp_path: Path, db_url: str
) -> None:
    s = build_world(
        tmp_path,
        db_url,
        api={"throttles": {"feed_fetches_per_feed": {"count": 2, "per": "PT1H"},
                           "requests_per_family_token": {"count": 3, "per": "PT1H"}}},
    )  # fmt: skip
    try:
        account, h, kids = mum(s)
        feed = make_feed(s, h, kids[0])
        tok = s.client.post(
            "/v1/account/tokens",
            json={"students": [kids[0]], "kinds": KINDS, "expires_in_days": 1},
            headers=h,
        ).json()["data"]
        pft = {"Authorization": f"Bearer {tok['token']}"}
        before = _audited(s, account.id)
        assert fetch(s, feed["url"]).status_code == 200
        after_feed = _audited(s, account.id)
        assert sorted(after_feed[len(before) :]) == [
            ("assignments", kids[0]),
            ("notices", kids[0]),
            ("timetable", kids[0]),
        ]
        assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 200
        assert _audited(s, account.id)[len(after_feed) :] == [("attendance", kids[0])]
        assert fetch(s, feed["url"]).status_code == 200
        limited = fetch(s, feed["url"])
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 200
        assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 200
        assert s.get(f"/v1/students/{kids[0]}/attendance", pft).status_code == 429
    finally:
        s.close()


def _audited(s: World, account_id: str) -> list[tuple[str, str]]:
    from gateway.privacy.audit import EVENTS

    with s.cache.engine.connect() as conn:
        rows = conn.execute(
            EVENTS.select().where(EVENTS.c.actor_id == account_id).order_by(EVENTS.c.id)
        ).all()
    return [(r.category, r.student_ref) for r in rows if r.outcome == "allowed"]


def test_secrets_are_stored_only_as_hashes(s: World) -> None:
    account, h, kids = mum(s)
    feed = make_feed(s, h, kids[0])
    tok = s.client.post(
        "/v1/account/tokens", json={"students": kids, "kinds": KINDS, "expires_in_days": 1}, headers=h
    ).json()["data"]
    secret = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    with s.cache.engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(family.FEEDS.select()).all()]
        stored += [tuple(r) for r in conn.execute(family.TOKENS.select()).all()]
    dump = repr(stored)
    assert secret not in dump and tok["token"] not in dump and tok["token"][4:] not in dump
