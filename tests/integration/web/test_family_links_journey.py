"""A parent makes a calendar feed and a family token on the account page in headless
Chromium, uses both, then revokes both: every page through axe (WCAG 2.2 AA)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest

from tests.support.web import Portal, check, sign_in

pytestmark = pytest.mark.browser


def test_a_parent_makes_uses_and_revokes_a_calendar_feed_and_a_family_token(
    page: Any, portal: Portal, screenshots: Path
) -> None:
    s = portal.served
    _, mum, _ = s.district.cases.split_household
    s.ensure_account("guardian", mum)
    sign_in(page, portal.username("guardian", mum))
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/account")
    check(page, "account-feeds-tokens", screenshots)
    child = page.locator("#feed-student option").first.get_attribute("value")

    # A calendar feed: made, shown once, read by a calendar client, revoked.
    page.click("form[action='/account/feeds'] button[type=submit]")
    page.wait_for_selector("#secret")
    check(page, "feed-created", screenshots)
    url = page.input_value("#secret")
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    feed = httpx.get(portal.url + path)
    assert feed.status_code == 200 and icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    page.goto("/account")
    assert url not in page.content()
    page.click("form[action$='/revoke'][action^='/account/feeds/'] button[type=submit]")
    page.wait_for_url(re.compile(r"done=feed-revoked"))
    check(page, "feed-revoked", screenshots)
    assert httpx.get(portal.url + path).status_code == 404

    # A family token: the form's errors first, then attendance of one child, revoked.
    page.click("form[action='/account/tokens'] button[type=submit]")
    page.wait_for_selector(".error-summary")
    check(page, "token-errors", screenshots)
    page.check(f"#student-{child}")
    page.check("#kind-attendance")
    page.select_option("#days", "30")
    page.click("form[action='/account/tokens'] button[type=submit]")
    page.wait_for_selector("#secret")
    check(page, "token-created", screenshots)
    token = page.input_value("#secret")
    assert token.startswith("pft_")
    h = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{portal.url}/v1/students/{child}/attendance", headers=h).status_code == 200
    assert httpx.get(f"{portal.url}/v1/students/{child}/grades", headers=h).status_code == 404
    page.goto("/account")
    page.click("form[action$='/revoke'][action^='/account/tokens/'] button[type=submit]")
    page.wait_for_url(re.compile(r"done=token-revoked"))
    assert httpx.get(f"{portal.url}/v1/students/{child}/attendance", headers=h).status_code == 401
