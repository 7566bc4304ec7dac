"""Query parameters shared by data routes: dates, date ranges, limits, ids and opaque cursors.

Every value a caller sends is checked here before it reaches a query or a date
calculation: a bad one is a 400 ``invalid-request`` naming the parameter, never a 500.
Dates are ``YYYY-MM-DD`` between :data:`MIN_DATE` and :data:`MAX_DATE` (so no range
arithmetic can leave the calendar); ids and cursors have the shapes this API hands out.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from config.settings import ApiSettings
from gateway.api.problems import Problem, bad_request

# School records live well inside these; anything outside is a mistake or a probe.
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Opaque ids are keyed blind indexes: 22 URL-safe base64 characters (at most 24 accepted).
_REF = re.compile(r"[A-Za-z0-9_-]{1,24}")
_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
MAX_CURSOR = 256


def invalid(field: str, message: str) -> Problem:
    return bad_request(f"{field}: {message}", [{"field": field, "message": message}])


# NUL is no character of any id, date, name or text Portico takes, and PostgreSQL's text
# cannot hold one: a request string holding one is refused where the request is read (the
# edge for the path and the query, the API's JSON bodies, the portal's forms), so no
# engine ever sees one and both answer alike. Never echoed: only the field is named.
NUL = "\x00"
# How a NUL is written in the raw bytes of a request, before they are decoded: a query
# string (percent-encoded, or sent raw) and a JSON body (JSON writes NUL only so).
NUL_IN_QUERY = (b"%00", b"\x00")
NUL_IN_JSON = (b"\\u0000",)


def may_hold_nul(raw: bytes, written: tuple[bytes, ...]) -> bool:
    """Whether ``raw`` request bytes hold a NUL written any of the ways in ``written``: the
    one scan before a query string or a JSON body is decoded to be searched (most requests
    hold none, and are never decoded for it). ``find``, not ``in``: bytes' ``in`` first
    tries its operand as an integer (a TypeError raised and cleared), on every call."""
    for way in written:  # noqa: SIM110 - no generator for any(): most requests run this
        if raw.find(way) >= 0:
            return True
    return False


def holds_nul(field: str) -> Problem:
    return invalid(field, "must not contain a NUL character")


def nul_pair(pairs: Iterable[tuple[str, str]], whole: str) -> str | None:
    """The name of the first field of a query string or form (name, value pairs) whose
    value holds a NUL (``whole`` when a name does), or None."""
    for name, value in pairs:
        if NUL in name:
            return whole
        if NUL in value:
            return name
    return None


def nul_field(value: object, at: str = "") -> str | None:
    """Where a parsed JSON body holds a NUL: the dotted name of the first field whose
    string (in it at any depth) does (its object's for a key; ``body`` for the body
    itself), or None. Walked with a stack of its own, not by recursion: JSON may nest
    deeper than Python's recursion limit (orjson reads 1,024 levels)."""
    # Each entry: a value and its dotted name, or (a key's entry) the key and its object's.
    stack: list[tuple[bool, object, str]] = [(False, value, at)]
    while stack:
        is_key, item, where = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where or "body"
            continue
        if is_key:
            continue
        entries: list[tuple[object, object]]
        if isinstance(item, dict):
            entries = list(item.items())
        elif isinstance(item, list):
            entries = list(enumerate(item))
        else:
            continue
        for key, inner in reversed(entries):  # popped in order: each key, then what it holds
            stack.append((False, inner, f"{where}.{key}" if where else str(key)))
            stack.append((True, key, where))
    return None


def is_ref(raw: str) -> bool:
    return _REF.fullmatch(raw) is not None


def parse_date(raw: str, field: str) -> dt.date:
    """A ``YYYY-MM-DD`` date within the range Portico serves, or a 400 naming ``field``."""
    try:
        if _DATE.fullmatch(raw) is None:
            raise ValueError(raw)
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise invalid(field, "expected a date YYYY-MM-DD") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise invalid(field, f"expected a date between {MIN_DATE} and {MAX_DATE}")
    return day


def parse_ref(raw: str | None, field: str) -> str | None:
    """An opaque id given as a query parameter (e.g. ``class``), or a 400 naming ``field``."""
    if raw is None:
        return None
    if not is_ref(raw):
        raise invalid(field, "not an id this API returned")
    return raw


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date


def date_range(
    raw_from: str | None,
    raw_to: str | None,
    today: dt.date,
    api: ApiSettings,
    default_days: int = 30,
    *,
    ahead: bool = False,
) -> DateRange:
    """``from..to`` inclusive, bounded by ``api.max_range``. Without dates: the last
    ``default_days`` to today, or with ``ahead`` the ``default_days`` from ``from`` (or today)."""
    errors: list[dict[str, str]] = []
    dates: dict[str, dt.date | None] = {}
    for field, raw in (("from", raw_from), ("to", raw_to)):
        try:
            dates[field] = parse_date(raw, field) if raw else None
        except Problem as p:
            errors += p.extra["errors"]
    if errors:
        raise bad_request("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    start, end = dates["from"], dates["to"]
    span = dt.timedelta(days=default_days - 1)
    if ahead:
        start = start or today
        end = end or start + span
    else:
        end = end or today
        start = start or end - span
    if start > end:
        raise invalid("from", "must not be after to")
    if (end - start) > api.max_range:
        raise invalid("from", f"the range may span at most {api.max_range.days} days")
    return DateRange(start, end)


def page_limit(raw: int | None, api: ApiSettings) -> int:
    if raw is None:
        return api.default_page_size
    if raw < 1 or raw > api.max_page_size:
        raise invalid("limit", f"must be between 1 and {api.max_page_size}")
    return raw


T = TypeVar("T")


def one_page(
    rows: Sequence[T], n: int, cursor_of: Callable[[T], tuple[str, ...]]
) -> tuple[list[T], str | None]:
    """Rows fetched with ``limit=n + 1``: the page of ``n``, and the cursor after its last row
    (None when nothing follows)."""
    if len(rows) <= n:
        return list(rows), None
    page = list(rows[:n])
    return page, encode_cursor(*cursor_of(page[-1]))


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def _not_a_cursor() -> Problem:
    return invalid("cursor", "not a cursor this API returned")


def decode_cursor(raw: str | None, *shapes: Callable[[str], bool]) -> tuple[str, ...] | None:
    """The parts of a cursor this API returned, each checked by its shape; else a 400."""
    if not raw:
        return None
    if len(raw) > MAX_CURSOR:
        raise _not_a_cursor()
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _not_a_cursor() from None
    parts = tuple(text.split("\x1f"))
    if len(parts) != len(shapes) or not all(ok(p) for ok, p in zip(shapes, parts, strict=True)):
        raise _not_a_cursor()
    return parts


def is_day(raw: str) -> bool:
    if _DATE.fullmatch(raw) is None:
        return False
    try:
        return MIN_DATE <= dt.date.fromisoformat(raw) <= MAX_DATE
    except ValueError:
        return False


def is_time(raw: str) -> bool:
    return _TIME.fullmatch(raw) is not None


def is_stamp(raw: str) -> bool:
    """An ISO 8601 date-time with its offset, as the API writes them."""
    if len(raw) > 40 or not raw[:1].isdigit():
        return False
    try:
        return dt.datetime.fromisoformat(raw).tzinfo is not None
    except ValueError:
        return False


def is_flag(raw: str) -> bool:
    return raw in ("0", "1")


def is_row_id(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and len(raw) <= 18


def decode_pair(raw: str | None) -> tuple[str, str] | None:
    """A (day, ref) cursor, the shape of every date-ordered list."""
    parts = decode_cursor(raw, is_day, is_ref)
    return None if parts is None else (parts[0], parts[1])
