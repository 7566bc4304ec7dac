"""The parts of a page made without Starlette's general machinery write what it writes:
the form's return path (``request.url.path``) and the Set-Cookie headers."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Any

import pytest
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from gateway.web import browser, i18n, reads
from gateway.web.child import CALENDAR_TEXT, KINDS, LETTERS, TABS, calendar_html, tabs_html
from gateway.web.home import CARD_TEXT, card_html
from gateway.web.mount import Pages
from gateway.web.render import ROUTES, environment, here, translator


async def _nothing(request: Request) -> Response:
    return Response()


def _request(path: str, host: bytes = b"portal.example.org") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape"),
            "query_string": b"a=1&b=%3F",
            "root_path": "",
            "headers": [(b"host", host)],
            "server": ("10.0.0.1", 8443),
            "client": ("10.0.0.2", 50000),
        }
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/children/AbC-_12/attendance",
        "/children/x/reports/y",
        "/a?b#c\\d",  # decoded from %3F, %23, %5C
        "//double/slash",
        "/tab\there",
        "/line\nbreak\r",
        "/ünïcode/路径",
        "/%41/sp ace/;param",
        "/[bracket]/@at/:colon",
    ],
)
def test_the_return_path_is_starlettes_url_path(path: str) -> None:
    for host in (b"portal.example.org", b"127.0.0.1:8000", b"bad host/x"):
        assert here(_request(path, host)) == _request(path, host).url.path


def _starlette(name: str, value: str, max_age: int | None, secure: bool, samesite: str) -> bytes:
    r = Response()
    r.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite=samesite)  # type: ignore[arg-type]
    return r.raw_headers[-1][1]


@pytest.mark.parametrize(
    "value",
    ["en_US", "Ab-_09" * 7, "x", 'needs "quotes"; and=semicolons', "sp ace", "ünï", ""],
)
def test_a_cookie_is_set_as_starlettes_set_cookie_sets_it(value: str) -> None:
    for base, host, max_age in itertools.product(
        (browser.SESSION, browser.FORM, browser.LANGUAGE),
        (b"127.0.0.1:8000", b"portal.example.org"),
        (None, 3600),
    ):
        request = _request("/", host)
        response = Response()
        browser._set(response, request, base, value, max_age=max_age)
        name = browser._name(request, base)
        samesite = "lax" if base == browser.LANGUAGE else "strict"
        assert response.raw_headers[-1] == (
            b"set-cookie",
            _starlette(name, value, max_age, browser.secure(request), samesite),
        )


def _walk(routes: list[Route], scope: dict[str, Any]) -> tuple[Match, Route | None]:
    """What a walk of every route in order finds (Starlette's router): the first full
    match, else the first partial one."""
    partial: tuple[Match, Route | None] | None = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return match, route
        if match is Match.PARTIAL and partial is None:
            partial = (match, route)
    return partial or (Match.NONE, None)


def test_pages_find_the_route_a_walk_of_every_route_finds() -> None:
    routes = [
        *ROUTES,
        # Shapes the portal has none of yet: a parameter first, one that holds "/", one
        # sharing another's first and last segments, a literal route after a parameter.
        Route("/{lang}/about", _nothing),
        Route("/files/{rest:path}", _nothing),
        Route("/children/{student_id}/{tab}", _nothing),
        Route("/children/{student_id}/attendance", _nothing, methods=["POST"]),
        Route("/n/{n:int}/x", _nothing),
        Route("/t/{x}/last", _nothing, methods=["POST"]),  # a GET passes it for the next
        Route("/t/{x}/{y}", _nothing),
    ]
    pages = Pages(routes)
    filled = [route.path.replace("{rest:path}", "a/b/c").replace("{n:int}", "12") for route in routes]
    filled = [re.sub(r"\{[^}]+\}", "abc", p) for p in filled]
    weird = ["", "/", "//", "/children", "/children/", "/children//attendance", "/children/a/b/attendance",
             "/n/x/x", "/files/", "/files", "/es/about", "/account/feeds/x/revoke/", "/unknown"]  # fmt: skip
    for path, method, root in itertools.product(filled + weird, ("GET", "POST", "HEAD"), ("", "/portal")):
        scope = {"type": "http", "method": method, "path": root + path, "root_path": root}
        expected, route = _walk(routes, scope)
        match, found = pages.matches(scope)
        assert (match, found.get("route")) == (expected, route), (path, method, root)


# The family home's card as the template wrote it (before gateway.web.home.card_html).
_CARD_TEMPLATE = """\
{% for c in cards %}
<section class="card" aria-labelledby="child-{{ c["id"] }}">
  <h2 id="child-{{ c["id"] }}"><a href="/children/{{ c["id"] }}/attendance">{{ c["name"] }}</a></h2>
  <p class="muted">{{ c["school"] }}</p>
  <h3>{{ _("Today's attendance") }}</h3>
  {% if c["today"] is none %}
  <p>{{ _("Not shown yet: today's marks appear later in the day.") }}</p>
  {% elif not c["today"] %}
  <p>{{ _("No marks recorded today.") }}</p>
  {% else %}
  <ul>{% for m in c["today"] %}<li>{% if m["session"] != "day" %}{{ m["session"] }}: {% endif %}<span class="tag {{ m["category"] }}">{{ categories[m["category"]] }}</span></li>{% endfor %}</ul>
  {% endif %}
  <h3>{{ _("Next lessons") }}</h3>
  {% if c["next"] %}
  <ul>{% for l in c["next"] %}<li>{{ l }}</li>{% endfor %}</ul>
  {% else %}<p>{{ _("No lessons in the next few days.") }}</p>{% endif %}
  <h3>{{ _("Recent grades") }}</h3>
  {% if c["grades"] %}
  <ul>{% for g in c["grades"] %}<li>{{ g["class"] }}: <strong>{{ g["shown"] }}</strong> ({{ g["term"] }})</li>{% endfor %}</ul>
  {% else %}<p>{{ _("None yet.") }}</p>{% endif %}
  <h3>{{ _("Missing assignments") }}</h3>
  {% if c["missing"] %}
  <ul>{% for a in c["missing"] %}<li><span class="tag missing">{{ _("Missing") }}</span> {{ a }}</li>{% endfor %}</ul>
  {% if c["more_missing"] %}<p><a href="/children/{{ c["id"] }}/assignments">{{ c["more_missing"] }}</a></p>{% endif %}
  {% else %}<p>{{ _("None in the last 30 days.") }}</p>{% endif %}
  <h3>{{ _("Points in the last 30 days") }}</h3>
  <p>{{ c["points"] }}</p>
  {% if c["reports"] %}
  <h3>{{ _("New reports") }}</h3>
  <ul>{% for r in c["reports"] %}<li><a href="/children/{{ c["id"] }}/reports/{{ r["id"] }}">{{ r["title"] }}</a> ({{ r["issued"] }})</li>{% endfor %}</ul>
  {% endif %}
  <p><a href="/children/{{ c["id"] }}/attendance">{{ c["records"] }}</a></p>
</section>
{% endfor %}
"""
_CARD = {
    "id": "S1",
    "name": "Ana <b>&amp;</b> O'Brien",
    "school": 'North "High" · Grade level 7',
    "today": [{"session": "am", "category": "late"}, {"session": "day", "category": "present"}],
    "next": ["Dec 4 9:00 AM – Maths <1>, room 2&3"],
    "grades": [
        {"class": "Art & Design", "shown": "92.5%", "term": None},
        {"class": "M", "shown": "A", "term": "T1"},
    ],
    "missing": ["Essay <draft> (English, due Dec 1)"],
    "more_missing": "See all 7 missing",
    "points": "Achievement: 3 · Behavior: -1",
    "reports": [{"id": "R<1>", "title": "Term 1 & more", "issued": "Dec 1"}],
    "records": "All of Ana's records",
}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_card_is_written_as_the_template_wrote_it(locale: str) -> None:
    template = environment(locale).from_string(_CARD_TEMPLATE)
    categories = {k: i18n.translations(locale).ugettext(m) for k, m in reads.CATEGORY.items()}
    cards = [_CARD]
    for key, empty in [("today", None), ("today", []), ("next", []), ("grades", []), ("missing", []),
                       ("more_missing", None), ("reports", [])]:  # fmt: skip
        cards.append({**_CARD, key: empty})
    cards.append({**_CARD, "today": [{"session": "day", "category": k} for k in reads.CATEGORY]})
    text = CARD_TEXT(locale)
    for card in cards:
        assert card_html(text, card) == template.render(cards=[card], categories=categories)


# A month's calendar rows as attendance.html wrote them (before gateway.web.child.calendar_html).
_CALENDAR_TEMPLATE = """\
  {% for week in weeks %}
  <tr>
    {% for d in week %}
    <td class="{% if not d["in_month"] %}out{% endif %}{% if d["date"] == today %} today{% endif %}">
      <span class="day">{{ d["date"].day }}</span>
      {% if d["in_month"] and d["marks"] %}
      <ul>{% for m in d["marks"] %}<li>{% if m["session"] != "day" %}{{ m["session"] }} {% endif %}<span class="tag {{ m["category"] }}"><span class="long">{{ categories[m["category"]] }}</span><span class="short">{{ short[m["category"]] }}</span></span>{% if m["minutes_late"] %} {{ _("%(n)s min", n=m["minutes_late"]) }}{% endif %}</li>{% endfor %}</ul>
      {% endif %}
    </td>
    {% endfor %}
  </tr>
  {% endfor %}
"""


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_calendar_is_written_as_the_template_wrote_it(locale: str) -> None:
    template = environment(locale).from_string(_CALENDAR_TEMPLATE)
    lookup = i18n.translations(locale).ugettext
    first = dt.date(2026, 11, 30)
    marks = [
        {"session": "am", "category": "late", "minutes_late": 12},
        {"session": "day", "category": "present", "minutes_late": None},
        {"session": "<pm>", "category": "unauthorised_absence", "minutes_late": 0},
        *({"session": "day", "category": k, "minutes_late": None} for k in reads.CATEGORY),
    ]
    weeks = [
        [
            {
                "date": first + dt.timedelta(days=7 * w + i),
                "in_month": (w, i) != (0, 0),
                "marks": marks[: (i + w) % 4],
            }
            for i in range(7)
        ]
        for w in range(5)
    ]
    for today in (first, first + dt.timedelta(days=9), dt.date(2027, 1, 1)):
        assert calendar_html(CALENDAR_TEXT(locale), weeks, today) == template.render(
            weeks=weeks,
            today=today,
            categories={k: lookup(m) for k, m in reads.CATEGORY.items()},
            short={k: lookup(m) for k, m in reads.SHORT.items()},
        )


# A child page's tabs as _child.html wrote them (before gateway.web.child.tabs_html).
_TABS_TEMPLATE = """\
    {% for key, label in [("attendance", _("Attendance")), ("timetable", _("Schedule")), ("grades", _("Grades")), ("assignments", _("Assignments")), ("behaviour", _("Behavior")), ("notices", _("Notices")), ("reports", _("Reports")), ("access-log", _("Access log")), ("export", _("Download")), ("corrections", _("Corrections"))] %}
    <li><a href="/children/{{ child["id"] }}/{{ key }}"{% if key == tab %} aria-current="page"{% endif %}>{{ label }}</a></li>
    {% endfor %}
"""  # noqa: E501


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_the_tabs_are_written_as_the_template_wrote_them(locale: str) -> None:
    template = environment(locale).from_string(_TABS_TEMPLATE)
    for tab in [*TABS.messages, "none"]:
        for ref in ("AbC-_12", "<&>"):
            assert tabs_html(TABS(locale), ref, tab) == template.render(child={"id": ref}, tab=tab)


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_a_languages_words_are_translated_once_and_kept_in_one_place(locale: str) -> None:
    """Each table of words is the catalog's (escaped for markup written in Python, plain
    for a template to escape), made once a language; the templates' ``_()`` and the
    escaped tables read the same memo (render.Translator)."""
    lookup = i18n.translations(locale).ugettext
    _ = environment(locale).globals["_"]
    for texts in (CARD_TEXT, CALENDAR_TEXT, TABS, KINDS, LETTERS):
        assert texts(locale) == {k: str(escape(lookup(m))) for k, m in texts.messages.items()}
        assert texts.plain(locale) == {k: lookup(m) for k, m in texts.messages.items()}
        assert texts(locale) is texts(locale) and texts.plain(locale) is texts.plain(locale)
        for message in texts.messages.values():
            assert _(message) is translator(locale).escaped(message)
    assert any("&#39;" in text for text in CARD_TEXT("en_US").values())  # escaping is exercised
