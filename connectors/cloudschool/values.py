"""Fast cell parsers: dates by slicing (cached), flags, numbers; errors name the field only.

Parsing 3.8M attendance rows with ``strptime`` per row would dominate the run, so a
fixed-width format (``%d/%m/%Y``, ``%d/%m/%Y %H:%M`` ...) is compiled to string slices,
results are memoised (an export repeats the same few hundred dates), and ``strptime``
is kept only as the fallback for cells like ``1/9/2026``.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo


class BadCell(Exception):
    """A cell that cannot be parsed; carries the field name and a reason, never the value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


_WIDTH = {"d": 2, "m": 2, "Y": 4, "H": 2, "M": 2, "S": 2}
_CACHE_LIMIT = 200_000
T = TypeVar("T")


def _slicer(fmt: str) -> tuple[int, dict[str, tuple[int, int]], list[tuple[int, str]]] | None:
    """Positions of each directive in a fixed-width rendering of ``fmt``, or None."""
    pos = 0
    slices: dict[str, tuple[int, int]] = {}
    literals: list[tuple[int, str]] = []
    for part in re.findall(r"%.|[^%]", fmt):
        if part.startswith("%"):
            width = _WIDTH.get(part[1])
            if width is None:
                return None
            slices[part[1]] = (pos, pos + width)
            pos += width
        else:
            literals.append((pos, part))
            pos += 1
    return pos, slices, literals


def _fast(fmt: str) -> Callable[[str], tuple[int, ...]] | None:
    spec = _slicer(fmt)
    if spec is None:
        return None
    length, slices, literals = spec
    order = [slices.get(k) for k in "YmdHMS"]

    def parse(s: str) -> tuple[int, ...]:
        if len(s) != length or any(s[p] != ch for p, ch in literals):
            raise ValueError(s)
        return tuple(int(s[sl[0] : sl[1]]) if sl else 0 for sl in order)

    return parse


class _Memoised(ABC, Generic[T]):
    """A cell parser that parses each distinct cell once (a column repeats a few hundred
    dates across millions of rows), keeping at most ``_CACHE_LIMIT`` of them."""

    _cache: dict[str, T]

    def __call__(self, cell: str, field: str) -> T:
        hit = self._cache.get(cell)
        if hit is not None:
            return hit
        value = self._parse(cell.strip(), field)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[cell] = value
        return value

    @abstractmethod
    def _parse(self, s: str, field: str) -> T: ...


class DateParser(_Memoised[dt.date]):
    """``DateParser("%d/%m/%Y")("01/09/2026") == date(2026, 9, 1)``; ISO dates accepted too."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self._fast = _fast(fmt)
        self._cache = {}

    def _parse(self, s: str, field: str) -> dt.date:
        if not s:
            raise BadCell(field, "blank")
        try:
            if self._fast is not None:
                try:
                    y, m, d, *_ = self._fast(s)
                    return dt.date(y, m, d)
                except ValueError:
                    pass
            try:
                return dt.datetime.strptime(s, self.fmt).date()
            except ValueError:
                return dt.date.fromisoformat(s)
        except ValueError:
            raise BadCell(field, f"not a date in the format {self.fmt}") from None


class DateTimeParser(_Memoised[dt.datetime]):
    """School-local date-times (or bare dates, taken as local midnight) to aware UTC."""

    def __init__(self, fmt: str, date_fmt: str, tz: str) -> None:
        self.fmt = fmt
        self._fast = _fast(fmt)
        self._date = DateParser(date_fmt)
        self._tz = ZoneInfo(tz)
        self._cache = {}

    def local(self, day: dt.date, at: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, at, self._tz).astimezone(dt.UTC)

    def _parse(self, s: str, field: str) -> dt.datetime:
        if not s:
            raise BadCell(field, "blank")
        naive: dt.datetime | None = None
        if self._fast is not None:
            try:
                year, month, day, hour, minute, second = self._fast(s)
                naive = dt.datetime(year, month, day, hour, minute, second)
            except (ValueError, TypeError):
                naive = None
        for fmt in (self.fmt, self.fmt + ":%S"):  # some exports add seconds
            if naive is None:
                try:
                    naive = dt.datetime.strptime(s, fmt)
                except ValueError:
                    naive = None
        if naive is None:
            try:
                return self.local(self._date(s, field), dt.time())
            except BadCell:
                raise BadCell(field, f"not a date-time in the format {self.fmt}") from None
        return naive.replace(tzinfo=self._tz).astimezone(dt.UTC)


def parse_time(cell: str, field: str) -> dt.time:
    s = cell.strip()
    try:
        return dt.time.fromisoformat(s.zfill(5) if len(s) == 4 else s)
    except ValueError:
        raise BadCell(field, "not a time (HH:MM)") from None


class Flags:
    """Y/N cells (configurable spellings, compared without case or spaces)."""

    def __init__(self, true: list[str], false: list[str]) -> None:
        self._map = {v.strip().casefold(): True for v in true}
        self._map.update({v.strip().casefold(): False for v in false})

    def __call__(self, cell: str, field: str, blank: bool | None = None) -> bool:
        s = cell.strip().casefold()
        if not s and blank is not None:
            return blank
        value = self._map.get(s)
        if value is None:
            raise BadCell(field, "blank" if not s else "not a recognised flag (see flag_true/flag_false)")
        return value


def parse_int(cell: str, field: str, *, minimum: int | None = None) -> int:
    try:
        value = int(cell)
    except ValueError:
        raise BadCell(field, "not a whole number") from None
    if minimum is not None and value < minimum:
        raise BadCell(field, f"less than {minimum}")
    return value


def parse_float(cell: str, field: str) -> float:
    try:
        value = float(cell.strip().rstrip("%"))
    except ValueError:
        raise BadCell(field, "not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadCell(field, "not a finite number")
    return value


def opt(cell: str) -> str | None:
    """A stripped optional text cell: blank becomes None."""
    s = cell.strip()
    return s or None
