"""Alert and digest emails in the recipient's language: a plain-text part, an HTML part, and
the one-click unsubscribe headers of RFC 8058.

A message says no more than the district allows (``alerts.detail``): a child's first name
and the kind of record ("Alex: an unexcused absence"), or only that there is something new
in the portal. Never a mark, a comment, a date of an incident or another person's name.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.alerts.sender import Letter
from gateway.ops.mail import Message
from gateway.web import i18n
from gateway.web.render import N_, environment

KIND_TEXT = {
    "absence": N_("an absence"),
    "unauthorised_absence": N_("an unexcused absence"),
    "late": N_("a late arrival"),
    "assignment_missing": N_("a missing assignment"),
    "assignment_late": N_("an assignment handed in late"),
    "low_score": N_("a score below your alert threshold"),
    "behaviour": N_("a behavior event"),
    "achievement": N_("an achievement"),
    "notice": N_("a new notice"),
    "report": N_("a new progress report"),
}
SUBJECTS = {
    "instant": N_("New in the parent portal: %(name)s, %(what)s"),
    "daily": N_("Your daily summary from the parent portal"),
    "weekly": N_("Your weekly summary from the parent portal"),
}
NEW_IN_PORTAL = N_("There is something new in the parent portal")


def _one_line(text: str) -> str:
    """A name as one line of printable text (it goes into a Subject header too)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:60]


def render(letter: Letter) -> Message:
    letter = replace(
        letter, items=tuple(replace(i, first_name=_one_line(i.first_name)) for i in letter.items)
    )
    locale = letter.locale if letter.locale in i18n.LOCALES else i18n.DEFAULT
    gettext = i18n.translations(locale).ugettext
    named = letter.detail == "first_name_and_kind"
    lines = [
        gettext("%(name)s: %(what)s") % {"name": item.first_name, "what": gettext(KIND_TEXT[item.kind])}
        for item in letter.items
    ]
    if not named:
        subject = gettext(NEW_IN_PORTAL)
    elif letter.mode == "instant":
        first = letter.items[0]
        subject = gettext(SUBJECTS["instant"]) % {
            "name": first.first_name,
            "what": gettext(KIND_TEXT[first.kind]),
        }
    else:
        subject = gettext(SUBJECTS[letter.mode])
    heading = gettext(NEW_IN_PORTAL) + (":" if named else ".")
    see = gettext("Sign in to the portal to see it:")
    choose = gettext("Choose which alerts you receive:")
    stop = gettext("Stop these emails:")
    text = "\n".join(
        [
            heading,
            "",
            *([f"- {line}" for line in lines] + [""] if named else []),
            f"{see} {letter.portal_url}",
            "",
            f"{choose} {letter.preferences_url}",
            f"{stop} {letter.unsubscribe_url}",
            "",
            letter.district,
        ]
    )
    html = (
        environment(locale)
        .get_template("alert_email.html")
        .render(
            lang=locale.replace("_", "-"),
            subject=subject,
            heading=heading,
            lines=lines if named else [],
            letter=letter,
        )
    )
    return Message(
        letter.to,
        subject,
        text + "\n",
        html=html,
        headers=(
            ("List-Unsubscribe", f"<{letter.unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ("Content-Language", locale.replace("_", "-")),
            ("Auto-Submitted", "auto-generated"),
        ),
        message_id=letter.message_id or None,
        kind="alert",
    )
