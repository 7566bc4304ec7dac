"""Time for tests: the synthetic district's today, a clock tests can move, and waiting on a condition."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

TODAY = dt.date(2026, 11, 24)  # the synthetic district's "today" (DistrictSpec's default)


def utc(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=dt.UTC)


@dataclass
class Clock:
    """An application clock: noon in the district's time zone on ``TODAY`` unless moved."""

    at: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.at

    def move_to(self, day: dt.date, hour_utc: int = 17) -> None:
        self.at = dt.datetime.combine(day, dt.time(hour_utc), dt.UTC)


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition") -> T:
    """Poll ``condition`` until it returns something true, and return that; TimeoutError
    naming ``what`` when ``timeout`` seconds pass first. For tests that wait on another
    thread or process: wait for what must happen, never for a fixed time."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
