"""A family's journeys in headless Chromium: invitation to the family home by keyboard,
every page through axe (WCAG 2.2 AA) at phone and desktop width, switching children,
export, correction, sign-out, a post without its CSRF token, an idle session, a held
parent, a student, the authenticator, the languages, and alert choices with their
one-click unsubscribe."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import text

from gateway.access import holds, invitations
from tests.support.web import Portal, check, sign_in, tab_to

pytestmark = pytest.mark.browser
NEW = "A long walk by the quiet river"
CHILD_PAGES = [
    "attendance", "timetable", "grades", "assignments", "behaviour",
    "notices", "reports", "access-log", "export", "corrections",
]  # fmt: skip


def children_on(page: Any) -> list[str]:
    return list(dict.fromkeys(re.findall(r"/children/([\w-]+)/attendance", page.content())))


def test_a_parent_goes_from_the_invitation_email_to_the_family_home_with_the_keyboard_only(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    cid = s.district.cases.two_child_contact
    account = s.account_of("guardian", cid)
    assert account is not None and account.status == "pending"
    sent = invitations.invite(s.cache, s.cache.config, portal.inbox, [account.id])
    assert sent.sent == [account.id]
    email = portal.username("guardian", cid)
    link = portal.inbox.link(email, "/activate?token=")
    assert link.startswith(s.cache.config.portal_url("/activate?token="))
    page.goto(link.split("://", 1)[1].split("/", 1)[1].join(["/", ""]))
    assert "Activate your account" in page.title()
    assert "at least 15 characters" in page.inner_text("#password-rules")  # the rules before typing
    check(page, "activate", screenshots)
    tab_to(page, "#password")
    page.keyboard.type("password")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-summary")
    summary = page.inner_text(".error-summary")
    assert "at least 15 characters" in summary and "not a common or easily guessed password" in summary
    check(page, "activate-errors", screenshots)
    tab_to(page, "#password")
    page.keyboard.type(NEW)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/aup$"))
    check(page, "aup", screenshots)
    tab_to(page, "#agree")
    page.keyboard.press("Space")
    tab_to(page, "form[action='/aup'] button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    assert len(children_on(page)) == 2
    check(page, "home", screenshots)
    with s.cache.engine.connect() as conn:
        version = conn.execute(
            text("SELECT aup_version FROM account WHERE id = :i"), {"i": account.id}
        ).scalar()
    assert version == s.cache.config.access.aup.version  # accepted once, recorded
    # Then by keyboard alone into the first child's records.
    tab_to(page, f"a[href='/children/{children_on(page)[0]}/attendance']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/attendance$"))
    assert page.locator("table.calendar").count() == 1


def test_every_page_passes_axe_and_each_child_is_reached_by_the_switcher(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    first, second = children_on(page)
    for name in CHILD_PAGES:
        page.goto(f"/children/{first}/{name}")
        assert page.locator("h1").count() == 1
        assert "Records as of" in page.inner_text("main")  # every data page says how old it is
        check(page, f"child-{name}", screenshots)
    page.goto(f"/children/{first}/reports")
    report = page.locator(f"a[href^='/children/{first}/reports/']").first
    if report.count():
        report.click()
        check(page, "child-report", screenshots)
    page.goto(f"/children/{first}/behaviour")
    assert "subject teacher" in page.inner_text(".notice")  # seed 002's words
    page.goto(f"/children/{first}/attendance")
    assert "10:30" in page.inner_text(".notice")  # the not-live notice, from the visibility config
    page.click(f"nav.children a[href='/children/{second}/attendance']")
    page.wait_for_url(re.compile(rf"/children/{second}/attendance$"))
    assert (
        page.locator("nav.children a[aria-current=page]")
        .get_attribute("href")
        .endswith(f"{second}/attendance")
    )
    for path, name in (("/account", "account"), ("/account/password", "password"), ("/account/totp", "totp")):
        page.goto(path)
        check(page, name, screenshots)
    page.goto("/children/not-a-child/attendance")
    check(page, "not-found", screenshots)


def test_pages_before_sign_in_pass_axe(page: Any, screenshots: Path) -> None:
    for path, name in (
        ("/sign-in", "sign-in"),
        ("/password-reset", "reset-request"),
        ("/activate?token=x", "link-not-valid"),
    ):
        page.goto(path)
        check(page, name, screenshots)
    page.goto("/password-reset")
    page.fill("#username", "someone@example.org")
    page.click("form[action='/password-reset'] button[type=submit]")
    page.wait_for_selector("h1")
    assert "Check your email" in page.inner_text("h1")
    check(page, "reset-sent", screenshots)


def test_the_export_downloads_json_and_a_csv_zip_and_a_correction_is_sent_and_listed(
    page: Any, portal: Portal
) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    child = children_on(page)[0]
    page.goto(f"/children/{child}/export")
    with page.expect_download() as got:
        page.click("form:has(input[value=json]) button")
    doc = json.loads(Path(got.value.path()).read_bytes())
    assert doc["student_id"] == child and doc["records"]
    with page.expect_download() as got:
        page.click("form:has(input[value=csv]) button")
    assert got.value.suggested_filename.endswith(".zip")
    assert any(
        n.endswith(".csv")
        for n in zipfile.ZipFile(io.BytesIO(Path(got.value.path()).read_bytes())).namelist()
    )
    page.goto(f"/children/{child}/access-log")
    assert "Downloaded everything" in page.inner_text("main")
    page.goto(f"/children/{child}/corrections")
    page.click("form[action$='/corrections'] button[type=submit]")
    assert page.locator(".error-summary a[href='#about']").count() == 1  # each field named
    page.select_option("#about", "attendance")
    page.fill("#message", "The mark on 3 November says absent; she was on a school trip.")
    page.click("form[action$='/corrections'] button[type=submit]")
    page.wait_for_selector(".success")
    assert "Open: the school has it" in page.inner_text("table")


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(page: Any, portal: Portal) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    for form in ({}, {"csrf": "forged"}):
        refused = page.request.post("/account/sign-out-everywhere", form=form)
        assert refused.status == 403 and "This form has expired" in refused.text()
    page.goto("/")
    assert len(children_on(page)) == 2  # still signed in: nothing happened


def test_signing_out_ends_the_session_and_an_idle_session_sends_the_parent_to_sign_in(
    page: Any, portal: Portal
) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "portico_session")
    assert (
        cookie["expires"] == -1 and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    )  # ends with the browser
    child = children_on(page)[0]
    page.click("header form[action='/sign-out'] button")
    page.wait_for_url(re.compile(r"/sign-in\?done=signed-out$"))
    page.goto(f"/children/{child}/attendance")
    assert "/sign-in" in page.url
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    with s.cache.engine.begin() as conn:  # nobody touched it for longer than the idle timeout
        conn.execute(
            text("UPDATE session SET last_seen_at = :t"),
            {"t": dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)},
        )
    page.goto(f"/children/{child}/grades")
    assert re.search(r"/sign-in\?next=", page.url)
    assert not [c for c in page.context.cookies() if c["name"] == "portico_session"]


def test_a_held_parent_sees_only_the_neutral_message_and_a_student_only_themself(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    held = s.district.cases.split_household[2]
    s.ensure_account("guardian", held)
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    someone_elses = children_on(page)[0]
    page.goto("/children/does-not-exist/attendance")
    missing = page.inner_text("main")
    with s.cache.engine.begin() as conn:
        holds.place(conn, s.cache.keyring, source="sis", subject="contact", ref=s.ref("contact", held),
                    kind="court-order", reason="test", by="test")  # fmt: skip
    page.context.clear_cookies()
    sign_in(page, portal.username("guardian", held))
    page.wait_for_url(re.compile(r"/$"))
    assert "currently unavailable" in page.inner_text("main") and not children_on(page)
    check(page, "held-parent", screenshots)
    page.goto(f"/children/{s.ref('student', s.district.cases.split_household[0])}/attendance")
    assert page.inner_text("main") == missing  # the same 404 as a child who does not exist
    page.context.clear_cookies()
    student = s.ensure_account("student", s.district.cases.student_login)
    sign_in(page, portal.username("student", s.district.cases.student_login))
    page.wait_for_url(re.compile(r"/$"))
    assert page.inner_text("h1") == "Your records" and children_on(page) == [student.subject_ref]
    check(page, "student-home", screenshots)
    if someone_elses != student.subject_ref:
        page.goto(f"/children/{someone_elses}/attendance")
        assert page.inner_text("main") == missing


def test_an_authenticator_is_enrolled_and_then_asked_for_at_sign_in(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    sid = s.district.cases.split_household[1]
    s.ensure_account("guardian", sid)
    sign_in(page, portal.username("guardian", sid))
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/account/totp")
    page.click("form[action='/account/totp'] button")
    secret = page.inner_text(".secret").replace(" ", "")
    check(page, "totp-setup", screenshots)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/account/totp'] button")
    page.wait_for_url(re.compile(r"/account\?done=totp$"))
    page.click("header form[action='/sign-out'] button")
    sign_in(page, portal.username("guardian", sid))
    page.wait_for_selector("#code")
    check(page, "sign-in-code", screenshots)
    page.fill("#code", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.click("form[action='/sign-in/code'] button")
    assert "That code is not right" in page.inner_text(".error-summary")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/sign-in/code'] button")
    page.wait_for_url(re.compile(r"/$"))
    assert children_on(page)


def test_the_portal_speaks_the_browsers_language_and_switches_on_request(
    browser: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-MX", base_url=portal.url)
    page = context.new_page()
    try:
        page.goto("/sign-in")
        assert page.inner_text("h1") == "Iniciar sesión" and page.get_attribute("html", "lang") == "es"
        sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
        page.wait_for_url(re.compile(r"/$"))
        assert page.inner_text("h1") == "Su familia"
        check(page, "home-es", screenshots)
        child = children_on(page)[0]
        page.goto(f"/children/{child}/attendance")
        assert "noviembre" in page.inner_text("main")  # dates by locale
        check(page, "child-attendance-es", screenshots)
        page.goto("/no-such-page")  # an address no page has: the portal's 404, in Spanish
        assert page.inner_text("h1") == "Página no encontrada" and page.get_attribute("html", "lang") == "es"
        check(page, "not-found-address-es", screenshots)
        page.goto(f"/children/{child}/attendance")
        page.select_option("#locale", "en_GB")
        page.click("footer button")
        page.wait_for_url(re.compile(rf"/children/{child}/attendance$"))
        page.goto(f"/children/{child}/grades")
        assert page.get_attribute("html", "lang") == "en-GB" and "Marks" in page.inner_text("h1")
        assert "Year group" in page.inner_text("main")
        page.goto(f"/children/{child}/timetable")
        assert "Timetable" in page.inner_text("h1")
        check(page, "child-timetable-en-gb", screenshots)
    finally:
        context.close()


def test_alert_choices_are_reached_from_the_account_page_saved_and_stopped_with_one_click(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    from gateway.alerts import prefs, unsubscribe

    s = portal.served
    account = s.ensure_account("guardian", s.district.cases.two_child_contact)
    sign_in(page, portal.username("guardian", s.district.cases.two_child_contact))
    page.wait_for_url(re.compile(r"/$"))
    first, _ = children_on(page)
    page.goto("/account")
    page.click("a[href='/account/alerts']")
    page.wait_for_url(re.compile(r"/account/alerts$"))
    assert page.locator("fieldset legend").count() == 3  # two children and the settings for both
    check(page, "alerts", screenshots)
    page.select_option(f"[id='{first}.behaviour']", "instant")
    page.fill("#threshold", "lots")
    page.click("form[action='/account/alerts'] button[type=submit]")
    assert "Enter a percentage" in page.inner_text(".error-summary")
    check(page, "alerts-errors", screenshots)
    page.fill("#threshold", "40")
    page.select_option("#language", "es")
    page.focus("#language")
    page.keyboard.press("Tab")  # the save button, by keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/account/alerts\?done=1$"))
    with s.cache.engine.connect() as conn:
        saved = prefs.load(conn, account.id)
    assert (
        saved.children[first]["behaviour"] == "instant" and saved.threshold == 40 and saved.language == "es"
    )
    # The email's one-click link: a page with one button, then that kind is off for every child.
    link = unsubscribe.unsubscribe_url(s.cache.keyring, s.config, account.id, "behaviour")
    page.goto("/u/" + link.rsplit("/u/", 1)[1])
    check(page, "unsubscribe", screenshots)
    page.click("main form button")
    assert "no longer get emails" in page.inner_text("main")
    with s.cache.engine.connect() as conn:
        assert prefs.load(conn, account.id).mode(s.config.alerts, first, "behaviour") == "off"


def test_a_password_can_be_pasted_into_the_sign_in_form(page: Any, portal: Portal) -> None:
    s = portal.served
    s.ensure_account("guardian", s.district.cases.two_child_contact)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/sign-in")
    assert page.locator("script").count() == 0  # nothing on the page could block a paste
    page.fill("#username", portal.username("guardian", s.district.cases.two_child_contact))
    page.evaluate("t => navigator.clipboard.writeText(t)", "Correct horse battery 9")
    page.focus("#password")
    page.keyboard.press("Control+V")
    assert page.input_value("#password") == "Correct horse battery 9"
    page.click("form[action='/sign-in'] button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
