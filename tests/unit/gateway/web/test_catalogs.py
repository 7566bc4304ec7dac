"""The portal's languages: every message translated in every catalog, the template up to
date with the code, placeholders kept, the language chosen from the browser or a cookie,
and the files a wheel must carry."""

from __future__ import annotations

import fnmatch
import re
import tomllib

import pytest
from babel.messages.pofile import read_po

from gateway.web import i18n
from scripts.i18n import POT, extract, po_path
from tests.support import REPO

ROOT = REPO
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def test_the_committed_template_holds_exactly_the_messages_in_the_code() -> None:
    fresh = {m.id for m in extract() if m.id}
    with POT.open("rb") as fh:
        committed = {m.id for m in read_po(fh) if m.id}
    assert fresh == committed, (
        f"run scripts/i18n update: new {sorted(fresh - committed)}, gone {sorted(committed - fresh)}"
    )


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_every_message_is_translated_with_its_placeholders(locale: str) -> None:
    wanted = {m.id for m in extract() if m.id}
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    found = {m.id: m for m in catalog if m.id}
    assert wanted <= set(found), f"{locale}: not in the catalog: {sorted(wanted - set(found))}"
    untranslated = [i for i in wanted if not found[i].string or found[i].fuzzy]
    assert not untranslated, f"{locale}: untranslated: {untranslated}"
    for msgid in wanted:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(str(found[msgid].string))), (
            locale,
            msgid,
        )


def test_british_english_uses_the_uk_words() -> None:
    gb = i18n.translations("en_GB")
    assert [gb.ugettext(w) for w in ("Schedule", "Grades", "Grade level", "Behavior")] == [
        "Timetable", "Marks", "Year group", "Behaviour",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", None, "es"),
        ("en-GB,en;q=0.9", None, "en_GB"),
        ("en", None, "en_US"),
        ("fr-FR,fr;q=0.9", None, "en_US"),
        ("fr;q=0.9, es;q=0.5", None, "es"),
        ("es;q=0.1, en-GB;q=0.8", None, "en_GB"),
        ("es", "en_GB", "en_GB"),  # the reader's own choice wins
        ("es", "xx", "es"),  # an unknown cookie is ignored
        ("", None, "en_US"),
        ("*;q=0,;;,x" * 100, None, "en_US"),
    ],
)
def test_the_language_comes_from_the_browser_unless_the_reader_chose_one(
    header: str, cookie: str | None, expected: str
) -> None:
    assert i18n.negotiate(header, cookie) == expected


def test_dates_and_numbers_follow_the_locale() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    assert i18n.Formatter("en_US", tz).date("2026-11-24") == "Nov 24, 2026"
    assert i18n.Formatter("en_GB", tz).date("2026-11-24") == "24 Nov 2026"
    assert i18n.Formatter("es", tz).date("2026-11-24") == "24 nov 2026"
    assert (
        i18n.Formatter("es", tz).number(1234.5) == "1234,5"
        or i18n.Formatter("es", tz).number(1234.5) == "1.234,5"
    )
    assert i18n.Formatter("en_GB", tz).time(dt.time(10, 30)) == "10:30"
    assert i18n.Formatter("en_US", tz).time(dt.time(10, 30)).startswith("10:30")


def test_the_wheel_carries_every_template_static_file_and_catalog() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "gateway"
    ]
    web = ROOT / "gateway" / "web"
    files = [p for d in ("templates", "static", "locale") for p in (web / d).rglob("*") if p.is_file()]
    assert files
    for path in files:
        rel = str(path.relative_to(ROOT / "gateway"))
        if rel.endswith(".pot"):
            continue  # the template is for translators, not for serving
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} would be missing from the wheel"
