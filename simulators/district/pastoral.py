"""Behaviour events, progress reports and notices of the synthetic district."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from zoneinfo import ZoneInfo

from connectors.records import Audience, BehaviourEvent, Notice, Polarity, ProgressReport
from simulators.district import names
from simulators.district.roster import UK_GRADES, US_GRADES, Roster, mix

DAYS_PER_EVENT = 8  # one behaviour or achievement entry per student every ~8 school days


def _key(seed: int, tag: int, a: int, b: int = 0) -> int:
    return mix(mix(mix(seed * 0x9E3779B97F4A7C15 + tag) + a) + b)


def _utc(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), zone).astimezone(dt.UTC)


def year_label(grade: str) -> str:
    """How a notice names a year group: "Year 8", "Grade 3", "Kindergarten"."""
    if grade.startswith("Year"):
        return grade
    return "Kindergarten" if grade == "K" else f"Grade {grade}"


class Pastoral:
    """Behaviour by student then event; reports by student; notices as a small list."""

    def __init__(
        self,
        seed: int,
        style: str,
        timezone: str,
        roster: Roster,
        days: Sequence[dt.date],
        ranges: Sequence[tuple[int, int]],
        year_start: dt.date,
        today: dt.date,
        attendance_rate: Callable[[int, dt.date, dt.date], float | None] = lambda _s, _a, _b: None,
    ) -> None:
        """``attendance_rate(student, first, last)`` is the share of sessions from ``first``
        to ``last`` the student attended (None without marks); report comments follow it."""
        self.seed, self.style, self.roster, self.days, self.ranges = seed, style, roster, days, ranges
        self.attendance_rate = attendance_rate
        self.year_start = year_start
        self.zone = ZoneInfo(timezone)
        self.event_offsets = [0, *accumulate((b - a) // DAYS_PER_EVENT for a, b in ranges)]
        # Last year's final report (so every student has one) and this year's interim.
        last_year = f"{year_start.year - 1}-{year_start.year}"
        interim = year_start + dt.timedelta(days=63)
        final = year_start - dt.timedelta(days=35)
        self.reports_meta = [(f"End of year report {last_year}", last_year, final)]
        if interim <= today:
            period = "Autumn" if style == "uk" else "Q1"
            self.reports_meta.append((f"{period} progress report", period, interim))
        # A student who left before a report was issued does not get it.
        self.report_offsets = [
            0,
            *accumulate(
                sum(1 for *_, issued in self.reports_meta if s.exit_date is None or s.exit_date > issued)
                for s in roster.students
            ),
        ]
        self.notices = self._notices(year_start, today)

    # behaviour -----------------------------------------------------------------
    def count_behaviour(self) -> int:
        return self.event_offsets[-1]

    def behaviour(self, start: int, stop: int) -> Iterator[BehaviourEvent]:
        roster, offsets = self.roster, self.event_offsets
        student = bisect_right(offsets, start) - 1
        for i in range(start, stop):
            while offsets[student + 1] <= i:
                student += 1
            k = i - offsets[student]
            h = _key(self.seed, 5, student, k)
            day = self.days[self.ranges[student][0] + k * DAYS_PER_EVENT + h % DAYS_PER_EVENT]
            good = (h >> 8) % 10 < 7
            words = names.ACHIEVEMENTS if good else names.BEHAVIOURS
            category = words[(h >> 16) % len(words)]
            sections = roster.student_sections[student]
            teacher = roster.sections[sections[(h >> 24) % len(sections)]].teacher_name
            points = 1 + (h >> 32) % 3
            sid = roster.students[student].source_id
            yield BehaviourEvent(
                source_id=f"{sid}-B{k + 1}",
                student_id=sid,
                occurred_at=_utc(day, 9 + (h >> 40) % 6, (h >> 48) % 60, self.zone),
                polarity=Polarity.ACHIEVEMENT if good else Polarity.BEHAVIOUR,
                points=points if good else -points,
                category=category,
                description=f"{category} in class" if (h >> 56) % 4 else None,
                staff_name=teacher,
            )

    # reports -------------------------------------------------------------------
    def count_reports(self) -> int:
        return self.report_offsets[-1]

    def reports(self, start: int, stop: int) -> Iterator[ProgressReport]:
        offsets = self.report_offsets
        student = bisect_right(offsets, start) - 1
        for i in range(start, stop):
            while offsets[student + 1] <= i:
                student += 1
            k = i - offsets[student]
            title, period, issued = self.reports_meta[k]
            h = _key(self.seed, 6, student, k)
            sid = self.roster.students[student].source_id
            yield ProgressReport(
                source_id=f"{sid}-R{k + 1}",
                student_id=sid,
                title=title,
                period=period,
                issued_date=issued,
                comments=self._comment(student, issued, h),
            )

    def _comment(self, student: int, issued: dt.date, h: int) -> str:
        """A comment that agrees with the student's attendance over the report's period
        (this year's marks only; last year's report has no record here to contradict)."""
        rate = self.attendance_rate(student, self.year_start, issued) if issued >= self.year_start else None
        if rate is not None and rate < names.LOW_ATTENDANCE:
            return names.ATTENDANCE_COMMENT
        if rate == 1.0 and h % 3 == 0:
            return names.FULL_ATTENDANCE_COMMENT
        return names.REPORT_COMMENTS[h % len(names.REPORT_COMMENTS)]

    # notices -------------------------------------------------------------------
    def _notices(self, year_start: dt.date, today: dt.date) -> list[Notice]:
        """District, school, year and section notices; some expired, some not yet published."""
        roster, zone = self.roster, self.zone
        out: list[Notice] = []
        grades = UK_GRADES if self.style == "uk" else US_GRADES
        day = dt.timedelta(days=1)

        def add(
            audience: Audience,
            title: str,
            body: str,
            start: dt.date,
            end: dt.date | None,
            school: str | None = None,
            year: str | None = None,
            section: str | None = None,
        ) -> None:
            out.append(
                Notice(
                    source_id=f"N{len(out) + 1:05d}",
                    audience=audience,
                    school_id=school,
                    year_group=year,
                    section_id=section,
                    title=title,
                    body=body,
                    publish_from=_utc(start, 7, 30, zone),
                    publish_to=_utc(end, 18, 0, zone) if end else None,
                )
            )

        add(
            Audience.DISTRICT,
            "Welcome back",
            "The new school year starts this week.",
            year_start - 7 * day,
            year_start + 14 * day,
        )
        add(
            Audience.DISTRICT,
            "Winter weather closures",
            "How we tell families about closures.",
            today - 10 * day,
            today + 60 * day,
        )
        admissions = "Admissions for next year" if self.style == "uk" else "Enrollment for next year"
        add(Audience.DISTRICT, admissions, "Applications open soon.", today + 14 * day, None)
        trips = names.UK_TRIPS if self.style == "uk" else names.US_TRIPS
        for school in roster.schools:
            add(
                Audience.SCHOOL,
                f"{school.name}: picture day",
                f"Class photographs at {school.name} this week.",
                year_start,
                year_start + 21 * day,
                school=school.source_id,
            )
            add(
                Audience.SCHOOL,
                f"{school.name}: parent conferences",
                f"Book a conversation with your child's teachers at {school.name}.",
                today - 3 * day,
                today + 30 * day,
                school=school.source_id,
            )
            for g, grade in enumerate(grades):
                trip, body = trips[g * len(trips) // len(grades)]
                group = year_label(grade)
                add(
                    Audience.YEAR,
                    f"{group} {trip} ({school.name})",
                    f"For {group} at {school.name}: {body[0].lower()}{body[1:]}",
                    today - 5 * day,
                    today + 40 * day,
                    school=school.source_id,
                    year=grade,
                )
        for n, section in enumerate(roster.sections):
            start = today - (n % 20) * day
            topic, body = names.CLASS_TOPICS[n % len(names.CLASS_TOPICS)]
            group = year_label(grades[roster.section_grade[n]])
            teacher = f", {section.teacher_name}" if section.teacher_name else ""
            add(
                Audience.SECTION,
                f"{group} {section.course_name}{teacher} ({section.course_code}): {topic}",
                body,
                start,
                start + 10 * day,
                section=section.source_id,
            )
        return out
