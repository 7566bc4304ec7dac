"""The alert and digest emails as a parent opens them: sent through a real SMTP server
(aiosmtpd), the HTML part taken from the received message and opened in headless Chromium,
where axe (WCAG 2.2 AA) finds nothing; phone and desktop screenshots beside the portal's.

Mail clients show the HTML part with no stylesheet of the portal and run no script, so the
page is loaded exactly as the message carries it, and it must carry no script of its own
(axe itself runs as script, injected by the test)."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest

from config.settings import MailSettings
from gateway.alerts.sender import Item, Letter
from gateway.ops.mail import SmtpMailer
from gateway.web.alert_mail import render
from tests.support.mail import smtp_server
from tests.support.web import PHONE, check

CASES = [
    # (name, locale, mode, detail, items)
    ("instant-en", "en_US", "instant", "first_name_and_kind", [("unauthorised_absence", "Alex")]),
    (
        "daily-en-gb",
        "en_GB",
        "daily",
        "first_name_and_kind",
        [("absence", "Alex"), ("assignment_missing", "Sam"), ("low_score", "Sam"), ("notice", "Alex")],
    ),
    ("weekly-es", "es", "weekly", "first_name_and_kind", [("behaviour", "Sam"), ("report", "Sam")]),
    ("portal-only-es", "es", "instant", "portal_only", [("unauthorised_absence", "Alex")]),
]


@pytest.fixture
def mail_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    yield page
    context.close()


def _html_part(message: EmailMessage) -> str:
    parts = [p for p in message.walk() if p.get_content_type() == "text/html"]
    assert len(parts) == 1, "an alert email carries exactly one HTML part"
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(parts[0].get_content_charset() or "utf-8")


@pytest.mark.parametrize(("name", "locale", "mode", "detail", "items"), CASES, ids=[c[0] for c in CASES])
def test_an_alert_email_received_over_smtp_reads_accessibly_in_a_browser(
    mail_page: Any,
    screenshots: Path,
    name: str,
    locale: str,
    mode: str,
    detail: str,
    items: list[tuple[str, str]],
) -> None:
    letter = Letter(
        to="guardian@example.org",
        locale=locale,
        mode=mode,
        items=tuple(Item(kind, first) for kind, first in items),
        detail=detail,
        district="Example Unified School District",
        portal_url="https://portal.example.org/",
        preferences_url="https://portal.example.org/account/alerts",
        unsubscribe_url="https://portal.example.org/u/" + "A" * 43,
    )
    with smtp_server() as (inbox, port):
        SmtpMailer(MailSettings(backend="smtp", smtp_port=port)).send(render(letter))
    (received,) = inbox.messages
    html = _html_part(received.message)
    assert "<script" not in html.lower() and "<link" not in html.lower(), "an email loads nothing"
    mail_page.set_content(html)
    lang = mail_page.evaluate("document.documentElement.lang")
    assert lang == locale.replace("_", "-")
    links = mail_page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    assert letter.unsubscribe_url in links and letter.preferences_url in links
    body = mail_page.inner_text("body")
    if detail == "portal_only":
        assert all(first not in body for _, first in items), "a portal-only email names no child"
    else:
        assert all(first in body for _, first in items)
    check(mail_page, f"email-{name}", screenshots)
