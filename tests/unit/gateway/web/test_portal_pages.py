"""The portal's pages over HTTP: headers, cookies, CSRF, the uniform 404, errors, expiry and emails."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.access import accounts, invitations
from gateway.web.render import CSRF_EXEMPT, ROUTES
from tests.support.web import Browser, Inbox, portal, signed_in_guardian
from tests.support.world import World, cheap_hashing

CHILD_PAGES = ["attendance", "timetable", "grades", "assignments", "behaviour", "notices", "reports", "access-log", "export", "corrections"]  # fmt: skip


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)


@pytest.fixture
def s(tmp_path: Path) -> Iterator[World]:
    yield from portal(tmp_path)


def parent(s: World) -> tuple[Browser, list[str]]:
    b, _ = signed_in_guardian(s)
    home = b.get("/")
    assert home.status_code == 200
    return b, list(dict.fromkeys(re.findall(r"/children/([\w-]+)/attendance", home.text)))


def test_every_page_forbids_scripts_frames_and_referrers_and_personal_pages_are_never_stored(
    s: World,
) -> None:
    anonymous = Browser(s)
    before = [anonymous.get(p) for p in ("/sign-in", "/password-reset")]
    b, kids = parent(s)  # (one client: this browser's cookies replace the anonymous one's)
    after = [b.get(p) for p in ["/", "/account", "/aup", *(f"/children/{kids[0]}/{p}" for p in CHILD_PAGES)]]
    for r in [*before, *after]:
        path = r.request.url.path
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
        assert "<script" not in r.text
    css = b.get(re.search(r'href="(/static/portico\.css\?v=\w+)"', b.get("/").text).group(1))  # type: ignore[union-attr]
    assert css.status_code == 200 and "immutable" in css.headers["cache-control"]


def test_the_session_cookie_ends_with_the_browser_and_is_secure_outside_loopback(s: World) -> None:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    username = accounts.username_of(s.cache.keyring, account)
    local = Browser(s).sign_in(username).headers["set-cookie"]
    assert local.startswith("portico_session=") and "Secure" not in local
    remote = Browser(s, "https://portal.example.org").sign_in(username).headers.get_list("set-cookie")
    cookie = next(c for c in remote if c.startswith("__Host-portico_session="))
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # no persistent login


def test_a_child_who_is_not_yours_is_the_same_404_page_as_one_who_does_not_exist(s: World) -> None:
    b, kids = parent(s)
    stranger = next(
        s.ref("student", st.source_id)
        for st in s.district.iter("student")
        if s.ref("student", st.source_id) not in kids
    )
    for page in CHILD_PAGES:
        mine = b.get(f"/children/{kids[0]}/{page}")
        theirs, nobody = (
            b.get(f"/children/{stranger}/{page}"),
            b.get(f"/children/AAAAAAAAAAAAAAAAAAAAAA/{page}"),
        )
        assert mine.status_code == 200
        assert theirs.status_code == nobody.status_code == 404, page
        assert theirs.text.replace(stranger, "") == nobody.text.replace("AAAAAAAAAAAAAAAAAAAAAA", ""), page


def test_an_address_no_page_has_is_a_404_page_in_the_readers_language_and_the_apis_stay_json(
    s: World,
) -> None:
    def check(who: Browser) -> None:
        for path in ("/no-such-page", "/children", "/static/no-such.css", "/v1x"):
            r = who.get(path, headers={"Accept-Language": "es"})
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("text/html") and r.headers["content-language"] == "es"
            assert "Página no encontrada" in r.text and '<html lang="es">' in r.text, path
            assert "default-src 'none'" in r.headers["content-security-policy"]
            english = who.get(path)
            assert english.headers["content-language"] == "en-US" and "Page not found" in english.text

    check(Browser(s))  # signed out
    b, _ = parent(s)
    check(b)  # signed in (one client: the same cookie jar, now with the session)
    for path in (
        "/v1/no-such-route",
        "/v1/students/AAAAAAAAAAAAAAAAAAAAAA/nothing",
        "/docs/no-such.js",
        "/v1",
    ):
        r = b.client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json", path
        assert r.json()["type"] == "not-found"


def test_every_post_without_its_csrf_token_is_refused(s: World) -> None:
    b, kids = parent(s)
    assert {"/u/{token}"} == CSRF_EXEMPT  # the one-click unsubscribe, tested in test_alerts_pages
    posts = [
        r.path.replace("{student_id}", kids[0])
        for r in ROUTES
        if "POST" in (r.methods or ()) and r.path not in CSRF_EXEMPT
    ]
    assert len(posts) >= 10
    for path in posts:
        for form in ({}, {"csrf": "forged"}):
            r = b.client.post(path, data=form, follow_redirects=False)
            assert r.status_code == 403 and "This form has expired" in r.text, path
    assert b.get("/").status_code == 200  # nothing was done: still signed in


def test_forms_are_bounded_and_must_be_forms(s: World) -> None:
    b = Browser(s)
    token = re.search(r'name="csrf" value="([^"]+)"', b.get("/sign-in").text).group(1)  # type: ignore[union-attr]
    big = b.client.post("/sign-in", data={"csrf": token, "username": "x" * 20_000, "password": "y"})
    assert big.status_code == 413
    as_json = b.client.post("/sign-in", json={"csrf": token})
    assert as_json.status_code == 400


def test_sign_in_failures_read_the_same_and_are_throttled_like_the_api(s: World) -> None:
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    username = accounts.username_of(s.cache.keyring, account)
    b = Browser(s)
    wrong = b.post("/sign-in", {"username": username, "password": "not it at all"})
    unknown = b.post("/sign-in", {"username": "nobody@example.org", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.text.replace(username, "U") == unknown.text.replace("nobody@example.org", "U")
    statuses = [b.post("/sign-in", {"username": username, "password": "wrong"}).status_code for _ in range(6)]
    assert statuses[-1] == 429
    r = b.post("/sign-in", {"username": username, "password": "wrong"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and "Too many attempts" in r.text


def test_an_expired_school_aup_password_must_be_changed_before_any_record_is_shown(tmp_path: Path) -> None:
    for s in portal(tmp_path, access={"password_policy": "school-aup"}):
        account = s.ensure_account("guardian", s.district.cases.two_child_contact)
        with s.cache.engine.begin() as conn:
            accounts.set_fields(conn, account.id, password_changed_at=s.clock() - dt.timedelta(days=91))
        b = Browser(s)
        b.sign_in(accounts.username_of(s.cache.keyring, account))
        home = b.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/account/password"
        page = b.get("/account/password")
        assert "Your password has expired" in page.text and "an upper-case letter (A–Z)" in page.text
        weak = b.post(
            "/account/password", {"current_password": "Correct horse battery 9", "new_password": "short"}
        )
        assert weak.status_code == 400
        for rule in ("at least 8 characters", "an upper-case letter (A–Z)", "a digit (0–9)"):
            assert rule in weak.text
        same = b.post(
            "/account/password",
            {"current_password": "Correct horse battery 9", "new_password": "Correct horse battery 9"},
        )
        assert "not a password you have used before" in same.text
        ok = b.post(
            "/account/password",
            {"current_password": "Correct horse battery 9", "new_password": "Tulip garden 4 ever"},
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/account?done=password"
        assert b.get("/").status_code == 200


def test_invitation_and_reset_emails_link_to_their_pages_and_keep_the_code(s: World) -> None:
    inbox = Inbox()
    s.client.app.state.portico.mailer = inbox  # type: ignore[attr-defined]
    account = s.account_of("guardian", s.district.cases.two_child_contact)
    assert account is not None
    invitations.invite(s.cache, s.cache.config, inbox, [account.id])
    body = inbox.messages[-1].body
    link = next(line for line in body.splitlines() if "/activate?token=" in line)
    assert link.startswith("http://127.0.0.1:8000/activate?token=")
    token = link.split("token=")[1]
    assert token in re.findall(r"^([A-Za-z0-9_-]{40,})$", body, re.M)  # the code, for API clients
    b = Browser(s)
    assert b.get(f"/activate?token={token}").status_code == 200
    r = b.post(
        "/activate", {"token": token, "password": "A long walk by the quiet river"}, from_page="/sign-in"
    )
    assert r.status_code == 303 and r.headers["location"] == "/aup"
    assert b.get(f"/activate?token={token}").status_code == 400  # used once
    username = accounts.username_of(s.cache.keyring, account)
    Browser(s).post("/password-reset", {"username": username})
    reset = next(
        line for line in inbox.messages[-1].body.splitlines() if "/password-reset/confirm?token=" in line
    )
    rtoken = reset.split("token=")[1]
    b = Browser(s)
    assert "Choose a new password" in b.get(f"/password-reset/confirm?token={rtoken}").text
    done = b.post(
        "/password-reset/confirm",
        {"token": rtoken, "password": "Another long walk by the sea"},
        from_page="/sign-in",
    )
    assert done.status_code == 303 and done.headers["location"] == "/sign-in?done=reset"
    Browser(s).sign_in(username, "Another long walk by the sea")


def test_the_policy_is_accepted_once_per_version_and_a_new_version_asks_again(tmp_path: Path) -> None:
    for s in portal(tmp_path, access={"aup": {"version": "2027-1", "text": "New rules."}}):
        account = s.ensure_account("guardian", s.district.cases.two_child_contact)
        with s.cache.engine.begin() as conn:
            accounts.set_fields(conn, account.id, aup_version="2026-1")
        b = Browser(s)
        b.sign_in(accounts.username_of(s.cache.keyring, account))
        assert b.get("/").headers["location"] == "/aup"
        assert b.post("/aup", {"version": "2027-1"}).status_code == 400  # the box must be ticked
        assert b.post("/aup", {"version": "2027-1", "agree": "yes"}).headers["location"] == "/"
        with s.cache.engine.connect() as conn:
            stored = accounts.get(conn, account.id)
        assert stored is not None and stored.aup_version == "2027-1" and stored.aup_accepted_at is not None
        assert "You accepted this version" in b.get("/aup").text


def test_a_page_with_its_css_weighs_under_60_kb(s: World) -> None:
    b, kids = parent(s)
    home = b.get("/")
    css = b.get(re.search(r'href="(/static/portico\.css\?v=\w+)"', home.text).group(1))  # type: ignore[union-attr]
    for path in ["/", *(f"/children/{kids[0]}/{p}" for p in CHILD_PAGES)]:
        assert len(b.get(path).content) + len(css.content) < 60_000, path


def test_every_data_page_says_how_old_its_records_are_and_warns_when_they_are_stale(s: World) -> None:
    b, kids = parent(s)
    paths = ["/", *(f"/children/{kids[0]}/{p}" for p in CHILD_PAGES)]
    for path in paths:
        page = b.get(path).text
        assert "Records as of" in page and "These records may be out of date." not in page, path
    with s.cache.engine.begin() as conn:  # the SIS has not been read for two days
        conn.execute(
            text("UPDATE source_state SET synced_at = :t"),
            {"t": dt.datetime.now(dt.UTC) - dt.timedelta(days=2)},
        )
    for path in paths:
        assert "These records may be out of date." in b.get(path).text, path


def test_a_signed_in_browser_opening_sign_in_goes_straight_on(s: World) -> None:
    b, _ = parent(s)
    r = b.get("/sign-in?next=/account")
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert b.get("/sign-in?next=//evil.example/x").headers["location"] == "/"  # never off the site


def test_bad_values_in_a_page_address_get_a_400_page_never_a_500(s: World) -> None:
    b, kids = parent(s)
    child = kids[0]
    for path in (
        f"/children/{child}/attendance?month=2026-13",
        f"/children/{child}/attendance?month=1999-01",
        f"/children/{child}/timetable?week=yesterday",
        f"/children/{child}/timetable?week=2031-01-01",
    ):
        r = b.get(path)
        assert r.status_code == 400 and "Something is not right" in r.text, path
    assert b.get(f"/children/{child}/access-log?before=not-a-number").status_code == 200
    assert b.get(f"/children/{'x' * 300}/attendance").status_code == 404
    assert b.get(f"/children/{child}/reports/{'y' * 30}").status_code == 404
    assert b.get("/activate").status_code == 400  # no token: the same page as a used one
    assert (
        b.post("/sign-in/code", {"step": "forged", "code": "123456"}, from_page="/account").status_code == 303
    )
    chosen = b.post("/language", {"locale": "xx_YY", "next": "https://evil.example/"}, from_page="/account")
    assert chosen.headers["location"] == "/" and "portico_lang" not in chosen.headers.get("set-cookie", "")
