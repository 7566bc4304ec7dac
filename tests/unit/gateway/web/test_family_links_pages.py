"""The account page's calendar feeds and family tokens, by form, without JavaScript."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import icalendar
import pytest

from tests.support.web import Browser, cheap_portal, signed_in_guardian
from tests.support.world import World


@pytest.fixture
def s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from cheap_portal(tmp_path, monkeypatch)


def signed_in(s: World) -> tuple[Browser, list[str]]:
    b, _ = signed_in_guardian(s)
    page = b.get("/account")
    assert page.status_code == 200
    kids = re.findall(r'<option value="([\w-]{22})">', page.text)
    assert len(kids) == 2
    return b, kids


def shown_secret(page: str) -> str:
    found = re.search(r'id="secret" readonly value="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


def test_a_parent_makes_a_feed_reads_it_in_a_calendar_then_revokes_it_on_the_account_page(s: World) -> None:
    b, kids = signed_in(s)
    made = b.post("/account/feeds", {"student_id": kids[0]}, from_page="/account")
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    url = shown_secret(made.text)
    feed = s.get(url.removeprefix("http://127.0.0.1:8000"), {})
    assert feed.status_code == 200
    assert icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    page = b.get("/account").text
    assert url not in page  # shown once, never again
    feed_id = re.search(r'action="/account/feeds/(\w+)/revoke"', page).group(1)  # type: ignore[union-attr]
    gone = b.post(f"/account/feeds/{feed_id}/revoke", {}, from_page="/account")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/account?done=feed-revoked")
    assert s.get(url.removeprefix("http://127.0.0.1:8000"), {}).status_code == 404
    assert "/account/feeds/" not in b.get("/account").text


def test_a_parent_makes_a_scoped_token_that_reads_attendance_only_then_revokes_it(s: World) -> None:
    b, kids = signed_in(s)
    missing = b.post("/account/tokens", {"days": "30"}, from_page="/account")
    assert missing.status_code == 400 and "Choose at least one child." in missing.text
    made = b.post(
        "/account/tokens",
        {f"student-{kids[0]}": "yes", "kind-attendance": "yes", "days": "30"},
        from_page="/account",
    )
    assert made.status_code == 201
    token = shown_secret(made.text)
    assert token.startswith("pft_")
    h = {"Authorization": f"Bearer {token}"}
    assert s.get(f"/v1/students/{kids[0]}/attendance", h).status_code == 200
    assert s.get(f"/v1/students/{kids[0]}/grades", h).status_code == 404
    assert s.get(f"/v1/students/{kids[1]}/attendance", h).status_code == 404
    page = b.get("/account").text
    assert token not in page and "Attendance" in page
    token_id = re.search(r'action="/account/tokens/(\w+)/revoke"', page).group(1)  # type: ignore[union-attr]
    assert b.post(f"/account/tokens/{token_id}/revoke", {}, from_page="/account").status_code == 303
    assert s.get(f"/v1/students/{kids[0]}/attendance", h).status_code == 401


def test_a_form_without_its_csrf_token_makes_nothing_and_a_token_is_no_portal_cookie(s: World) -> None:
    b, kids = signed_in(s)
    forged = b.client.post("/account/feeds", data={"student_id": kids[0]}, follow_redirects=False)
    assert forged.status_code == 403
    assert "/account/feeds/" not in b.get("/account").text
    made = b.post(
        "/account/tokens",
        {f"student-{kids[0]}": "yes", "kind-timetable": "yes", "days": "7"},
        from_page="/account",
    )
    token = shown_secret(made.text)
    b.client.cookies.clear()
    b.client.cookies.set("portico_session", token)
    assert b.get("/").status_code == 303  # to the sign-in page: a token is not a session
