"""Languages: the catalogs (Babel, compiled in memory from the committed .po files), choosing
one from the browser or a cookie, and dates, times and numbers in the chosen locale.

The .po files are the only form committed: they are read and compiled once per process,
so a fresh checkout, an editable install and a wheel all work without a build step.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("en_US", "en_GB", "es")
DEFAULT = "en_US"
# What a bare language in Accept-Language means here.
LANGUAGE_DEFAULT = {"en": "en_US", "es": "es"}
# The name of each language in itself, for the switcher.
NATIVE = {"en_US": "English (US)", "en_GB": "English (UK)", "es": "Español"}
LOCALE_DIR = Path(__file__).parent / "locale"
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def _id(tag: str) -> str | None:
    """A supported locale for one language tag (``en-gb`` → ``en_GB``, ``es-MX`` → ``es``)."""
    if not _TAG.match(tag):
        return None
    parts = tag.replace("-", "_").split("_")
    exact = {loc.lower(): loc for loc in LOCALES}
    if len(parts) > 1 and f"{parts[0]}_{parts[1]}".lower() in exact:
        return exact[f"{parts[0]}_{parts[1]}".lower()]
    if parts[0].lower() in exact:
        return exact[parts[0].lower()]
    return LANGUAGE_DEFAULT.get(parts[0].lower())


@functools.lru_cache(maxsize=1024)
def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The locale for a request: a chosen one (cookie) if supported, else the browser's
    preference order (``q`` weights), else US English."""
    if chosen is not None and chosen in LOCALES:
        return chosen
    prefs: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q=([0-9.]+)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                q = 0.0
        if tag and q > 0:
            prefs.append((-q, i, tag.strip()))
    for _, _, tag in sorted(prefs):
        found = _id(tag)
        if found:
            return found
    return DEFAULT


@functools.cache
def translations(locale: str) -> Translations:
    """The catalog of ``locale``, compiled from its .po file once per process."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


# What one locale writes for one value: a page shows the same dates, times and numbers
# again and again (a month of days, a week of lessons), and Babel's formatting is costly.
_MEMO = 4096


@functools.lru_cache(maxsize=_MEMO)
def _date(locale: str, day: dt.date, style: str) -> str:
    return dates.format_date(day, style, locale=locale)


@functools.lru_cache(maxsize=_MEMO)
def _weekday(locale: str, day: dt.date) -> str:
    return dates.format_skeleton("MMMMEEEEd", day, locale=locale)


@functools.lru_cache(maxsize=_MEMO)
def _time(locale: str, t: dt.time) -> str:
    return dates.format_time(t, "short", locale=locale)


@functools.lru_cache(maxsize=_MEMO)
def _datetime(locale: str, local: dt.datetime, style: Literal["medium", "long"]) -> str:
    # The locale's own date and time order, with minutes (not seconds) for the time.
    pattern = str(dates.get_datetime_format(style, locale=locale))
    return pattern.replace("{1}", _date(locale, local.date(), style)).replace(
        "{0}", _time(locale, local.time())
    )


@functools.lru_cache(maxsize=16)
def _day_names(locale: str) -> tuple[str, ...]:
    names = dates.get_day_names("abbreviated", locale=locale)
    return tuple(names[i] for i in range(7))


@functools.lru_cache(maxsize=_MEMO)
def _number(locale: str, value: float) -> str:
    return numbers.format_decimal(value, locale=locale, decimal_quantization=False)


@functools.lru_cache(maxsize=_MEMO)
def _percent(locale: str, value: float) -> str:
    return numbers.format_percent(value / 100, "#,##0.#%", locale=locale)


class Formatter:
    """Dates, times and numbers for one locale, in a given time zone."""

    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        self.code = locale
        self.locale = Locale.parse(locale)
        self.tz = tz

    def date(self, value: dt.date | str | None, style: str = "medium") -> str:
        if value is None or value == "":
            return ""
        day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
        return _date(self.code, day, style)

    def weekday(self, day: dt.date) -> str:
        return _weekday(self.code, day)

    def month(self, day: dt.date) -> str:
        return _date(self.code, day, "LLLL y")

    def day_names(self) -> list[str]:
        """Monday first, abbreviated."""
        return list(_day_names(self.code))

    def datetime(self, value: dt.datetime | str | None, style: Literal["medium", "long"] = "medium") -> str:
        if value is None or value == "":
            return ""
        stamp = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        # Naive local time as the memo's key: aware datetimes of the same instant in two
        # zones are equal keys, so a memo keyed by them answered one zone's time for both.
        local = stamp.astimezone(self.tz).replace(second=0, microsecond=0, tzinfo=None)
        return _datetime(self.code, local, style)

    def time(self, value: dt.time | str | None) -> str:
        if value is None or value == "":
            return ""
        return _time(self.code, dt.time.fromisoformat(value) if isinstance(value, str) else value)

    def number(self, value: float | int | str | None) -> str:
        if value is None or value == "":
            return ""
        return _number(self.code, float(value))

    def percent(self, value: float | None) -> str:
        """``value`` in percent (12.5 → 12.5 %, as the locale writes it)."""
        return "" if value is None else _percent(self.code, float(value))


@functools.lru_cache(maxsize=64)
def formatter(locale: str, tz: ZoneInfo) -> Formatter:
    return Formatter(locale, tz)
