"""The reference tables of the simulated server, built once from the model: schools, terms,
courses, staff and users, attendance codes, periods, cycle days, the calendar, bell
times and log types (rows of every column a server has, values as strings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from simulators.district.calendar import PERIODS
from simulators.powerschool.model import CODES, LETTERS, LOG_TYPE_IDS, PowerSchoolModel, yes


def schools(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [
        {"dcid": s.source_id, "id": str(i + 3), "school_number": m.school_number[s.source_id], "name": s.name,
         "abbreviation": "".join(w[0] for w in s.name.split()), "low_grade": "0", "high_grade": "12"}
        for i, s in enumerate(m.schools)
    ]  # fmt: skip


def terms(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [
        {"dcid": t.dcid, "id": t.id, "yearid": str(m.yearid), "schoolid": t.school_number, "name": t.name,
         "abbreviation": t.abbreviation, "firstday": t.first.isoformat(), "lastday": t.last.isoformat(),
         "isyearrec": yes(t.year), "portion": "1" if t.year else "4"}
        for t in m.terms
    ]  # fmt: skip


def courses(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [{"dcid": m.course_dcid[code], "id": str(int(m.course_dcid[code]) - 1000), "course_number": code,
             "course_name": name, "credit_hours": "1"} for code, name in m.courses.items()]  # fmt: skip


def schoolstaff(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [{"id": sid, "dcid": str(int(sid) + 500), "users_dcid": str(int(sid) + 1000),
             "schoolid": m.school_number[school]} for (school, _), sid in m.staff.items()]  # fmt: skip


def users(m: PowerSchoolModel) -> list[dict[str, Any]]:
    out = []
    for (_, name), sid in m.staff.items():
        title, _, last = name.partition(" ")
        out.append({"dcid": str(int(sid) + 1000), "first_name": title, "last_name": last,
                    "lastfirst": f"{last}, {title}"})  # fmt: skip
    return out


def attendance_code(m: PowerSchoolModel) -> list[dict[str, Any]]:
    out = []
    for school in m.schools:
        for k, (code, description, presence) in enumerate(CODES):
            cid = m.code_id[(school.source_id, code)]
            row = {"id": cid, "dcid": str(int(cid) + 100), "schoolid": m.school_number[school.source_id],
                   "yearid": str(m.yearid), "description": description, "presence_status_cd": presence,
                   "sortorder": str(k + 1)}  # fmt: skip
            if code:
                row["att_code"] = code
            out.append(row)
    return out


def period(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [
        {"id": m.period_id[(s.source_id, name)], "dcid": str(int(m.period_id[(s.source_id, name)]) + 100),
         "schoolid": m.school_number[s.source_id], "year_id": str(m.yearid), "period_number": name,
         "abbreviation": name, "name": f"Period {name}", "sort_order": str(k + 1)}
        for s in m.schools for k, (name, _, _) in enumerate(PERIODS)
    ]  # fmt: skip


def cycle_day(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [
        {"id": m.cycle_id[(s.source_id, letter)], "dcid": str(int(m.cycle_id[(s.source_id, letter)]) + 50),
         "schoolid": m.school_number[s.source_id], "year_id": str(m.yearid), "letter": letter,
         "abbreviation": letter, "day_name": f"{letter} Day", "day_number": str(k + 1)}
        for s in m.schools for k, letter in enumerate(LETTERS)
    ]  # fmt: skip


def calendar_day(m: PowerSchoolModel) -> list[dict[str, Any]]:
    out = []
    for s in m.schools:
        day = m.year_start
        while day <= m.year_end:
            session = day in m.school_days
            row = {"id": str(m.calendar_base[s.source_id] + (day - m.year_start).days),
                   "schoolid": m.school_number[s.source_id], "date_value": day.isoformat(),
                   "insession": yes(session), "membershipvalue": yes(session)}  # fmt: skip
            if session:
                row["cycle_day_id"] = m.cycle_id[(s.source_id, LETTERS[day.weekday()])]
                row["bell_schedule_id"] = m.bell_id[s.source_id]
                row["type"] = "In Session"
            else:
                row["cycle_day_id"], row["bell_schedule_id"] = "0", "0"
            out.append(row)
            day += dt.timedelta(days=1)
    return out


def bell_schedule_items(m: PowerSchoolModel) -> list[dict[str, Any]]:
    def seconds(t: dt.time) -> str:
        return str(t.hour * 3600 + t.minute * 60)

    return [
        {"id": str(1600 + i * 10 + k), "bell_schedule_id": m.bell_id[s.source_id],
         "period_id": m.period_id[(s.source_id, name)], "start_time": seconds(start),
         "end_time": seconds(end), "minutes_attended": "50"}
        for i, s in enumerate(m.schools) for k, (name, start, end) in enumerate(PERIODS)
    ]  # fmt: skip


def gen(m: PowerSchoolModel) -> list[dict[str, Any]]:
    return [{"id": gid, "dcid": gid, "cat": "logtype", "name": name, "sortorder": str(k + 1)}
            for k, (name, gid) in enumerate(LOG_TYPE_IDS.items())]  # fmt: skip


BUILT: dict[str, Callable[[PowerSchoolModel], list[dict[str, Any]]]] = {
    "schools": schools,
    "terms": terms,
    "courses": courses,
    "schoolstaff": schoolstaff,
    "users": users,
    "attendance_code": attendance_code,
    "period": period,
    "cycle_day": cycle_day,
    "calendar_day": calendar_day,
    "bell_schedule_items": bell_schedule_items,
    "gen": gen,
}


def rows(model: PowerSchoolModel, table: str) -> list[dict[str, Any]]:
    return BUILT[table](model)
