"""Alert emails: what ``detail`` allows, two parts, the unsubscribe headers, and names that
cannot break a header."""

from __future__ import annotations

from gateway.alerts.sender import Item, Letter
from gateway.ops.mail import _build
from gateway.web.alert_mail import render


def letter(**kw: object) -> Letter:
    values: dict[str, object] = {
        "to": "mum@example.org",
        "locale": "en_GB",
        "mode": "instant",
        "items": (Item("unauthorised_absence", "Alex"),),
        "detail": "first_name_and_kind",
        "district": "Test District",
        "portal_url": "https://portal.example.org/",
        "preferences_url": "https://portal.example.org/account/alerts",
        "unsubscribe_url": "https://portal.example.org/u/acc_x.unauthorised_absence.mac",
        "message_id": "alert.0123",
        **kw,
    }
    return Letter(**values)  # type: ignore[arg-type]


def test_first_name_and_kind_in_the_recipient_s_language_with_one_click_unsubscribe() -> None:
    m = render(letter())
    assert m.subject == "New in the parent portal: Alex, an unauthorised absence"
    assert (
        "Alex: an unauthorised absence" in m.body
        and m.html is not None
        and "<li>Alex: an unauthorised absence</li>" in m.html
    )
    assert ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click") in m.headers
    built = _build("portal@district.example.org", m)
    assert built["List-Unsubscribe"] == "<https://portal.example.org/u/acc_x.unauthorised_absence.mac>"
    assert built["Message-ID"] == "<alert.0123@district.example.org>"
    assert [p.get_content_type() for p in built.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_portal_only_says_neither_name_nor_kind() -> None:
    m = render(
        letter(detail="portal_only", mode="daily", items=(Item("behaviour", "Alex"), Item("late", "Sam")))
    )
    text = m.subject + m.body + (m.html or "")
    assert (
        "Alex" not in text
        and "Sam" not in text
        and "behaviour" not in text.lower()
        and "late arrival" not in text
    )
    assert m.subject == "There is something new in the parent portal"


def test_a_name_with_line_breaks_or_markup_cannot_break_the_headers_or_the_page() -> None:
    m = render(letter(items=(Item("absence", "Al\r\nBcc: x@evil.example\x00<b>"),)))
    built = _build("portal@district.example.org", m)  # would raise on a header with a line break
    assert "\n" not in m.subject and "Bcc" not in str(built["Bcc"] or "")
    assert m.html is not None and "<b>" not in m.html
