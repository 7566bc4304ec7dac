"""Attendance rows to marks: the hot path of a read (millions of rows a year)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from connectors.cloudschool.codes import withdrawn_note
from connectors.cloudschool.normalize import Converter, Ctx, Index
from connectors.cloudschool.values import BadCell, parse_int
from connectors.records import AttendanceMark


def slot_setters(cls: type) -> list[Callable[[object, object], None]]:
    """The slot setters of a frozen record class, in field order (see ``attendance``)."""
    return [getattr(cls, f.name).__set__ for f in dataclasses.fields(cls)]


def attendance(ix: Index, ctx: Ctx) -> Converter:
    """The hot path (millions of rows): the date and session cells are parsed once per
    distinct pair, and marks are built through their slots. The frozen dataclass
    ``__init__`` sets each field with ``object.__setattr__``; setting the slots directly
    builds an equal object in under half the time, which is a third of this loop."""
    i_sid, i_date, i_session = ix("StudentID"), ix("Date"), ix("Session")
    i_mark, i_minutes = ix("Mark"), ix("MinutesLate")
    codes = {
        mark: (
            code.canonical(),
            code.late,
            code.meaning or None,
            code.withdrawn,
            withdrawn_note(mark, code.withdrawn) if code.withdrawn else None,
        )
        for mark, code in ctx.options.codes().items()
    }
    sessions = {s.upper(): at for s, at in ctx.options.session_times.items()}
    slots: dict[tuple[str, str], tuple[dt.date, str, str, dt.datetime]] = {}
    new, cls = object.__new__, AttendanceMark
    s_id, s_student, s_date, s_session, s_code, s_category, s_minutes, s_at, s_meaning, s_note = slot_setters(
        cls
    )

    def slot(date_cell: str, session_cell: str) -> tuple[dt.date, str, str, dt.datetime]:
        day = ctx.date(date_cell, "Date")
        session = session_cell.strip().upper()
        at = sessions.get(session)
        if at is None:
            raise BadCell("Session", "not a session of session_times (AM/PM)")
        value = slots[(date_cell, session_cell)] = (
            day,
            session,
            f"-{day.isoformat()}-{session}",
            ctx.datetime.local(day, at),
        )
        return value

    def convert(row: list[str]) -> AttendanceMark | None:
        sid = row[i_sid].strip()
        if not sid:
            raise BadCell("StudentID", "blank")
        day, session, suffix, recorded_at = slots.get((row[i_date], row[i_session])) or slot(
            row[i_date], row[i_session]
        )
        mark = row[i_mark]
        code = codes.get(mark) or codes.get(mark.strip().upper())
        if code is None:
            raise BadCell("Mark", "blank" if not mark.strip() else "not in attendance_codes")
        category, late, meaning, withdrawn, note = code
        if category is None:
            return None
        if withdrawn is not None and day >= withdrawn:
            raise BadCell(
                "Mark", f"code withdrawn on {withdrawn.isoformat()} (map it in attendance_codes to keep it)"
            )
        minutes = row[i_minutes]
        o = new(cls)
        s_id(o, sid + suffix)
        s_student(o, sid)
        s_date(o, day)
        s_session(o, session)
        s_code(o, mark.strip())
        s_category(o, category)
        s_minutes(o, parse_int(minutes, "MinutesLate", minimum=0) if late and minutes.strip() else None)
        s_at(o, recorded_at)
        s_meaning(o, meaning)
        s_note(o, note)
        return o

    return convert
