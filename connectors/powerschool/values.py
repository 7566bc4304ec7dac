"""Value parsers for PowerSchool wire fields: numbers that may be strings, flags, codes, times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors import records as r

# Each parser accepts the value as JSON gives it (often a string).


def text(v: Any) -> str:
    if isinstance(v, (dict, list)):
        raise TypeError("not a scalar")
    return str(v)


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
    if s in ("0", "false", "n", "no"):
        return False
    raise ValueError("not a flag")


def date(v: Any) -> dt.date:
    return dt.date.fromisoformat(v)


def aware(v: Any) -> dt.datetime:
    value = dt.datetime.fromisoformat(v)
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("date-time without an offset")
    return value.astimezone(dt.UTC) if offset else value


def clock_time(v: Any) -> dt.time:
    """Seconds since midnight (PowerSchool's way) or ``HH:MM[:SS]``."""
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
        n = int(s)
    except ValueError:
        return s  # already a name, e.g. "Year 7"
    return _GRADE_NAMES.get(n, str(n))


ENROLL_STATUS = {
    -1: r.EnrollmentStatus.PRE_REGISTERED,
    0: r.EnrollmentStatus.ACTIVE,
    1: r.EnrollmentStatus.INACTIVE,
    2: r.EnrollmentStatus.TRANSFERRED,
    3: r.EnrollmentStatus.GRADUATED,
}
CODE_CATEGORY = {
    "present": r.AttendanceCategory.PRESENT,
    "tardy": r.AttendanceCategory.LATE,
    "excused": r.AttendanceCategory.AUTHORISED_ABSENCE,
    "unexcused": r.AttendanceCategory.UNAUTHORISED_ABSENCE,
    "not_required": r.AttendanceCategory.NOT_REQUIRED,
}
LOG_TYPE = {"merit": r.Polarity.ACHIEVEMENT, "discipline": r.Polarity.BEHAVIOUR}
RESULT_FLAGS = (
    ("isexempt", r.ResultStatus.EXEMPT),
    ("ismissing", r.ResultStatus.MISSING),
    ("islate", r.ResultStatus.LATE),
    ("iscollected", r.ResultStatus.SUBMITTED),
)


def enroll_status(v: Any) -> r.EnrollmentStatus:
    return ENROLL_STATUS[integer(v)]


def code_category(v: Any) -> r.AttendanceCategory:
    return CODE_CATEGORY[str(v).lower()]


def log_type(v: Any) -> r.Polarity:
    return LOG_TYPE[str(v).lower()]


def audience(v: Any) -> r.Audience:
    return r.Audience(v)


def result_status(row: dict[str, Any]) -> r.ResultStatus:
    for key, status in RESULT_FLAGS:
        value = row.get(key)
        if value not in (None, "") and flag(value):
            return status
    return r.ResultStatus.NONE
