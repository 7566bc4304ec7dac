"""School-year calendar of the synthetic district: year bounds, holidays, school days, terms."""

from __future__ import annotations

import datetime as dt

_DAY = dt.timedelta(days=1)
MON, WED, THU, FRI = 0, 2, 3, 4

# The school day's periods (name, start, end), shared by both styles.
PERIODS: tuple[tuple[str, dt.time, dt.time], ...] = (
    ("1", dt.time(8, 45), dt.time(9, 35)),
    ("2", dt.time(9, 40), dt.time(10, 30)),
    ("3", dt.time(10, 50), dt.time(11, 40)),
    ("4", dt.time(11, 45), dt.time(12, 35)),
    ("5", dt.time(13, 20), dt.time(14, 10)),
    ("6", dt.time(14, 15), dt.time(15, 5)),
)


def _on_or_after(day: dt.date, weekday: int) -> dt.date:
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


def _on_or_before(day: dt.date, weekday: int) -> dt.date:
    return day - dt.timedelta(days=(day.weekday() - weekday) % 7)


def _nth(year: int, month: int, weekday: int, n: int) -> dt.date:
    return _on_or_after(dt.date(year, month, 1), weekday) + dt.timedelta(weeks=n - 1)


def _week(monday: dt.date, days: int = 5) -> list[dt.date]:
    return [monday + dt.timedelta(days=i) for i in range(days)]


def school_year(today: dt.date, style: str) -> tuple[dt.date, dt.date]:
    """The school year containing ``today`` (summer holidays belong to the year before)."""
    first = today.year if today.month >= 8 else today.year - 1
    if style == "uk":
        start = _on_or_after(dt.date(first, 9, 2), WED)
        end = _on_or_before(dt.date(first + 1, 7, 23), FRI)
    else:
        start = _on_or_after(dt.date(first, 8, 24), WED)
        end = _nth(first + 1, 6, FRI, 3)
    return start, end


def holidays(start: dt.date, style: str) -> frozenset[dt.date]:
    """Weekday closures of the year beginning at ``start``."""
    y0, y1 = start.year, start.year + 1
    days: list[dt.date] = []
    if style == "uk":
        days += _week(_on_or_after(dt.date(y0, 10, 23), MON))  # October half term
        days += [dt.date(y0, 12, 20) + dt.timedelta(days=i) for i in range(16)]  # Christmas
        days += _week(_on_or_after(dt.date(y1, 2, 12), MON))  # February half term
        days += _week(_on_or_after(dt.date(y1, 3, 30), MON), 12)  # Easter fortnight
        days.append(_nth(y1, 5, MON, 1))  # early May bank holiday
        days += _week(_on_or_before(dt.date(y1, 5, 31), MON))  # May half term
    else:
        days.append(_nth(y0, 9, MON, 1))  # Labor Day
        thanksgiving = _nth(y0, 11, THU, 4)
        days += [thanksgiving, thanksgiving + _DAY]
        days += [dt.date(y0, 12, 21) + dt.timedelta(days=i) for i in range(12)]  # winter break
        days.append(_nth(y1, 1, MON, 3))  # Martin Luther King Jr. Day
        days.append(_nth(y1, 2, MON, 3))  # Presidents' Day
        days += _week(_on_or_after(dt.date(y1, 4, 1), MON))  # spring break
        days.append(_on_or_before(dt.date(y1, 5, 31), MON))  # Memorial Day
    return frozenset(days)


def school_days(start: dt.date, end: dt.date, style: str) -> list[dt.date]:
    """Every weekday from ``start`` to ``end`` inclusive that is not a holiday."""
    closed = holidays(start, style)
    out: list[dt.date] = []
    day = start
    while day <= end:
        if day.weekday() < 5 and day not in closed:
            out.append(day)
        day += _DAY
    return out


def terms(start: dt.date, end: dt.date, style: str) -> list[tuple[str, dt.date, dt.date]]:
    """Reporting terms (name, first day, last day) covering the year."""
    if style == "uk":
        spring = dt.date(start.year + 1, 1, 5)
        summer = _on_or_after(dt.date(start.year + 1, 4, 14), MON)
        return [
            ("Autumn", start, spring - _DAY),
            ("Spring", spring, summer - _DAY),
            ("Summer", summer, end),
        ]
    span = (end - start).days + 1
    cuts = [start + dt.timedelta(days=span * q // 4) for q in range(5)]
    cuts[4] = end + _DAY
    return [(f"Q{q + 1}", cuts[q], cuts[q + 1] - _DAY) for q in range(4)]
