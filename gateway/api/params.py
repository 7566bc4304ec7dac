"""Query parameters shared by data routes: date ranges, limits and opaque cursors."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from config.settings import ApiSettings
from gateway.api.problems import bad_request


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date


def date_range(
    raw_from: str | None, raw_to: str | None, today: dt.date, api: ApiSettings, default_days: int = 30
) -> DateRange:
    """``from..to`` inclusive; defaults to the last ``default_days``; bounded by ``api.max_range``."""
    errors = []
    end = start = None
    try:
        end = dt.date.fromisoformat(raw_to) if raw_to else today
    except ValueError:
        errors.append({"field": "to", "message": "expected a date YYYY-MM-DD"})
    try:
        start = dt.date.fromisoformat(raw_from) if raw_from else None
    except ValueError:
        errors.append({"field": "from", "message": "expected a date YYYY-MM-DD"})
    if errors:
        raise bad_request("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    assert end is not None
    if start is None:
        start = end - dt.timedelta(days=default_days - 1)
    if start > end:
        raise bad_request(
            "from: must not be after to", [{"field": "from", "message": "must not be after to"}]
        )
    if (end - start) > api.max_range:
        msg = f"the range may span at most {api.max_range.days} days"
        raise bad_request(f"from: {msg}", [{"field": "from", "message": msg}])
    return DateRange(start, end)


def page_limit(raw: int | None, api: ApiSettings) -> int:
    if raw is None:
        return api.default_page_size
    if raw < 1 or raw > api.max_page_size:
        msg = f"must be between 1 and {api.max_page_size}"
        raise bad_request(f"limit: {msg}", [{"field": "limit", "message": msg}])
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


def decode_cursor(raw: str | None, n: int) -> tuple[str, ...] | None:
    if not raw:
        return None
    try:
        parts = tuple(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode().split("\x1f"))
    except (ValueError, UnicodeDecodeError):
        parts = ()
    if len(parts) != n:
        raise bad_request(
            "cursor: not a cursor this API returned", [{"field": "cursor", "message": "invalid"}]
        )
    return parts


def decode_pair(raw: str | None) -> tuple[str, str] | None:
    """A (day, ref) cursor, the shape of every date-ordered list."""
    parts = decode_cursor(raw, 2)
    return None if parts is None else (parts[0], parts[1])
