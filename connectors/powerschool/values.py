"""Value parsers for PowerSchool wire fields: numbers that may be strings, flags, dates, times.

Every parser takes the value as JSON gave it. ``/ws/schema`` sends most values as strings
(``"507"``, ``"0"``) and some servers send numbers (``507``); both mean the same.
Timestamps (``transaction_date``, ``whenmodified``) carry no UTC offset: they are the
server's local time, read here in the district's zone (:class:`LocalTimes`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from connectors import records as r


def text(v: Any) -> str:
    if isinstance(v, (dict, list)):
        raise TypeError("not a scalar")
    return str(v)


def ident(v: Any) -> str:
    """An id as text: ``507``, ``"507"`` and ``"507.0"`` are the same id; blank is no id."""
    if isinstance(v, (bool, dict, list)) or v is None:
        raise TypeError("not an id")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError("not an id")
        return str(int(v))
    s = str(v).strip()
    if not s:
        raise ValueError("blank id")
    if s.endswith(".0") and s[:-2].lstrip("-").isdigit():
        s = s[:-2]
    return s


def integer(v: Any) -> int:
    if isinstance(v, bool):
        raise TypeError("not a number")
    if isinstance(v, int):
        return v
    f = float(v)
    if not f.is_integer():
        raise ValueError("not an integer")
    return int(f)


def number(v: Any) -> float:
    if isinstance(v, bool):
        raise TypeError("not a number")
    return float(v)


def flag(v: Any) -> bool:
    s = str(v).strip().lower()
    if s in ("1", "true", "y", "yes"):
        return True
    if s in ("0", "false", "n", "no", ""):
        return False
    raise ValueError("not a flag")


def date(v: Any) -> dt.date:
    s = str(v).strip()
    # A DATE column may come as a timestamp at midnight ("2025-09-08 00:00:00").
    return dt.date.fromisoformat(s[:10]) if len(s) > 10 else dt.date.fromisoformat(s)


def clock_time(v: Any) -> dt.time:
    """Seconds after midnight (PowerSchool's way) or ``HH:MM[:SS]``."""
    if isinstance(v, str) and ":" in v:
        return dt.time.fromisoformat(v)
    seconds = integer(v)
    if not 0 <= seconds < 86400:
        raise ValueError("out of range")
    return dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60)


_GRADE_NAMES = {0: "K", -1: "PK", -2: "PK3"}


def grade_level(v: Any) -> str:
    """Numeric PowerSchool grade levels (0 = K) as the district's grade names."""
    s = str(v).strip()
    if not s:
        raise ValueError("empty")
    try:
        n = int(float(s))
    except ValueError:
        return s  # already a name
    return _GRADE_NAMES.get(n, str(n))


# STUDENTS.ENROLL_STATUS: -1 pre-registered, 0 active, 1 inactive, 2 transferred out,
# 3 graduated, 4 imported historical; "any other integer = inactive" (the /ws/v1 docs).
ENROLL_STATUS = {
    -1: r.EnrollmentStatus.PRE_REGISTERED,
    0: r.EnrollmentStatus.ACTIVE,
    2: r.EnrollmentStatus.TRANSFERRED,
    3: r.EnrollmentStatus.GRADUATED,
}


def enroll_status(v: Any) -> r.EnrollmentStatus:
    return ENROLL_STATUS.get(integer(v), r.EnrollmentStatus.INACTIVE)


class LocalTimes:
    """Offset-less server timestamps as aware UTC datetimes, read in ``zone``.

    A timestamp with an offset keeps it. The offset of the zone is looked up once per
    minute of wall time, so a page of rows stamped within the same minutes costs one
    ``fromisoformat`` each.
    """

    def __init__(self, zone: str) -> None:
        self.zone = ZoneInfo(zone)
        self._offsets: dict[str, dt.timedelta] = {}

    def __call__(self, v: Any) -> dt.datetime:
        s = str(v).strip()
        when = dt.datetime.fromisoformat(s)
        if when.tzinfo is not None:
            return when.astimezone(dt.UTC)
        minute = s[:16]
        offset = self._offsets.get(minute)
        if offset is None:
            offset = when.replace(tzinfo=self.zone).utcoffset() or dt.timedelta(0)
            if len(self._offsets) > 10_000:
                self._offsets.clear()
            self._offsets[minute] = offset
        return (when - offset).replace(tzinfo=dt.UTC)

    def midnight(self, day: dt.date) -> dt.datetime:
        """The start of ``day`` in the zone, in UTC."""
        return dt.datetime.combine(day, dt.time(), self.zone).astimezone(dt.UTC)


def parse_stamp(value: str | None) -> dt.datetime | None:
    """A cursor value as a comparable instant (offset-less read as UTC: only order matters)."""
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
