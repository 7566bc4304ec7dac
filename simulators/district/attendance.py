"""Attendance marks of the synthetic district, computed per index so any slice is cheap."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from zoneinfo import ZoneInfo

from connectors.records import AttendanceCategory, AttendanceMark
from simulators.district.roster import mix

P, L, A, U = (
    AttendanceCategory.PRESENT,
    AttendanceCategory.LATE,
    AttendanceCategory.AUTHORISED_ABSENCE,
    AttendanceCategory.UNAUTHORISED_ABSENCE,
)
GOLDEN = 0x9E3779B97F4A7C15
ATTENDANCE_TAG = 0xA77E
# Whole-day absences (about 4% of days) share one code across the day's sessions.
WHOLE_DAY = {
    "us": (("E", A),) * 6 + (("A", U),) * 3 + (("E", A),),
    "uk": (("I", A),) * 6 + (("M", A), ("C", A), ("N", U), ("G", U)),
}
# Per-session outcome on the other days, by a hash value in 0..9999 (upper bounds).
PRESENT_BELOW, LATE_BELOW, VERY_LATE_BELOW, AUTHORISED_BELOW = 9650, 9850, 9900, 9950
PRESENT_CODES = {"us": ("P",), "uk": ("/", "\\")}  # uk: "/" AM, "\\" PM
SESSION_CODES: dict[str, dict[str, tuple[str, AttendanceCategory]]] = {
    "us": {"late": ("T", L), "very_late": ("T", L), "auth": ("E", A), "unauth": ("A", U)},
    "uk": {"late": ("L", L), "very_late": ("U", U), "auth": ("M", A), "unauth": ("O", U)},
}
# When registers are taken, local time, and how many minutes after that a mark may land.
REGISTER = {"AM": (dt.time(8, 40), 51), "PM": (dt.time(13, 20), 31), "day": (dt.time(8, 40), 51)}


class AttendanceBook:
    """Marks ordered by student, then date, then session; index -> mark in O(log students)."""

    def __init__(
        self,
        seed: int,
        style: str,
        timezone: str,
        days: Sequence[dt.date],
        student_ids: Sequence[str],
        ranges: Sequence[tuple[int, int]],
    ) -> None:
        self.seed, self.style = seed, style
        self.sessions = ("AM", "PM") if style == "uk" else ("day",)
        self.days, self.student_ids, self.ranges = days, student_ids, ranges
        per = len(self.sessions)
        self.offsets = [0, *accumulate((b - a) * per for a, b in ranges)]
        self.day_keys = [(i + 1) * GOLDEN & ((1 << 64) - 1) for i in range(len(days))]
        self.suffixes = [
            [f"-{d.isoformat()}" if s == "day" else f"-{d.isoformat()}-{s}" for s in self.sessions]
            for d in days
        ]
        zone, utc = ZoneInfo(timezone), dt.UTC
        self.recorded: list[list[list[dt.datetime]]] = []
        for d in days:
            per_session = []
            for s in self.sessions:
                at, spread = REGISTER[s]
                base = dt.datetime.combine(d, at, zone).astimezone(utc)
                per_session.append([base + dt.timedelta(minutes=m) for m in range(spread)])
            self.recorded.append(per_session)
        self.student_keys = [mix(seed * GOLDEN + ATTENDANCE_TAG * 1_000_003 + i) for i in range(len(ranges))]

    def count(self) -> int:
        return self.offsets[-1]

    def iter(self, start: int, stop: int) -> Iterator[AttendanceMark]:
        if start >= stop:
            return
        per = len(self.sessions)
        student = bisect_right(self.offsets, start) - 1
        first_day, _ = self.ranges[student]
        pos = start - self.offsets[student]
        day, session = first_day + pos // per, pos % per
        remaining = stop - start
        while remaining > 0:
            _, end_day = self.ranges[student]
            for mark in self._student(student, day, end_day, session):
                yield mark
                remaining -= 1
                if remaining == 0:
                    return
            student += 1
            day, session = self.ranges[student][0] if student < len(self.ranges) else 0, 0

    def _student(self, student: int, day: int, end_day: int, session: int) -> Iterator[AttendanceMark]:
        sid, key = self.student_ids[student], self.student_keys[student]
        sessions, style = self.sessions, self.style
        codes, whole = SESSION_CODES[style], WHOLE_DAY[style]
        present = PRESENT_CODES[style]
        late, very_late, auth, unauth = codes["late"], codes["very_late"], codes["auth"], codes["unauth"]
        dates, day_keys, suffixes, recorded = self.days, self.day_keys, self.suffixes, self.recorded
        for d in range(day, end_day):
            h = mix(key ^ day_keys[d])
            date, suffix, rec = dates[d], suffixes[d], recorded[d]
            absent_all_day = (h & 1023) < 41
            for s in range(session, len(sessions)):
                v = (h >> (10 + 14 * s)) % 10_000
                minutes = None
                if absent_all_day:
                    code, category = whole[(h >> 50) % 10]
                elif v < PRESENT_BELOW:
                    code, category = present[s % len(present)], P
                elif v < VERY_LATE_BELOW:
                    code, category = late if v < LATE_BELOW else very_late
                    minutes = 3 + v % 37
                else:
                    code, category = auth if v < AUTHORISED_BELOW else unauth
                times = rec[s]
                yield AttendanceMark(
                    source_id=sid + suffix[s],
                    student_id=sid,
                    date=date,
                    session=sessions[s],
                    source_code=code,
                    category=category,
                    minutes_late=minutes,
                    recorded_at=times[(h >> (38 + 6 * s)) % len(times)],
                )
            session = 0

    def get(self, source_id: str, student_index: dict[str, int]) -> AttendanceMark | None:
        """Find a mark from its id (``<student>-<yyyy-mm-dd>[-<session>]``) without a scan."""
        sid, _, rest = source_id.partition("-")
        student = student_index.get(sid)
        if student is None or len(rest) < 10:
            return None
        try:
            date = dt.date.fromisoformat(rest[:10])
        except ValueError:
            return None
        session = rest[11:] if len(rest) > 10 else "day"
        if session not in self.sessions:
            return None
        d = bisect_right(self.days, date) - 1
        first, end = self.ranges[student]
        if d < first or d >= end or self.days[d] != date:
            return None
        s = self.sessions.index(session)
        return next(self._student(student, d, d + 1, s))
