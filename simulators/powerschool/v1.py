"""The simulated server's ``/ws/v1`` lists: schools, a school's students and sections.

Ids are DCIDs, ``local_id`` the student number, ``school_enrollment`` carries both the
school's DCID and its number; a list of one element is sent as an object and an empty one
as ``""``; expansions not asked for are not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulators.powerschool import model as m
from simulators.powerschool.responses import SimResponse
from simulators.powerschool.responses import json_response as _json

if TYPE_CHECKING:
    from simulators.powerschool.core import PowerSchoolSim

_LETTER = {-1: "P", 0: "A", 1: "I", 2: "T", 3: "G"}


def block(plural: str, singular: str, items: list[dict[str, Any]], expansions: str = "") -> SimResponse:
    if not items:
        return _json(200, {plural: ""})
    # One element comes back as an object, not a one-element list.
    listed = {
        "@expansions": expansions,
        "@extensions": "",
        singular: items[0] if len(items) == 1 else items,
    }
    return _json(200, {plural: listed})


def schools(sim: PowerSchoolSim, query: Mapping[str, str], count: bool) -> SimResponse:
    rows = sim.static_rows("schools")
    if count:
        return _json(200, {"resource": {"count": len(rows) + sim.skew("school")}})
    paged = sim.page_bounds(query, sim.v1_page_cap, clamp=True)
    assert not isinstance(paged, SimResponse)
    start, size = paged
    items = [{"id": int(r["dcid"]), "name": r["name"], "school_number": int(r["school_number"]),
              "low_grade": int(r["low_grade"]), "high_grade": int(r["high_grade"])}
             for r in rows[start : start + size]]  # fmt: skip
    return block("schools", "school", items, "school_boundary, full_time_equivalencies")


def school_list(
    sim: PowerSchoolSim, kind: str, school: str, query: Mapping[str, str], count: bool
) -> SimResponse:
    view = sim.state.view(kind, where=lambda rec: rec.school_id == school, key=("school", school))
    if count:
        return _json(200, {"resource": {"count": len(view) + sim.skew(kind)}})
    paged = sim.page_bounds(query, sim.v1_page_cap, clamp=True)
    assert not isinstance(paged, SimResponse)
    start, size = paged
    rows = list(sim.state.page(kind, view, start, start + size))
    wanted = {e.strip() for e in query.get("expansions", "").split(",")}
    items = [student(sim, rec, wanted) if kind == "student" else section(sim, rec) for rec, _ in rows]
    return block(f"{kind}s", kind, items, query.get("expansions", ""))


def student(sim: PowerSchoolSim, s: Any, wanted: set[str]) -> dict[str, Any]:
    mo = sim.model
    item: dict[str, Any] = {
        "id": int(s.source_id), "local_id": int(mo.student_number.get(s.source_id, "0")),
        "name": {"first_name": s.legal_first_name, "last_name": s.legal_last_name},
    }  # fmt: skip
    code = m.STATUS_CODES[s.enrollment_status]
    if "demographics" in wanted:
        item["demographics"] = {"birth_date": s.date_of_birth.isoformat()} if s.date_of_birth else ""
    if "school_enrollment" in wanted:
        grade = m.GRADE_NUMBERS.get(s.grade_level, s.grade_level)
        item["school_enrollment"] = {
            "enroll_status": _LETTER.get(code, "I"), "enroll_status_code": code,
            "grade_level": int(grade) if str(grade).lstrip("-").isdigit() else grade,
            "entry_date": s.entry_date.isoformat() if s.entry_date else "",
            "exit_date": (s.exit_date.isoformat() if s.exit_date else ""),
            "school_number": int(mo.school_number.get(s.school_id, "0")), "school_id": int(s.school_id),
        }  # fmt: skip
    if "schedule_setup" in wanted:
        item["schedule_setup"] = {"home_room": s.homeroom} if s.homeroom else ""
    if "contact_info" in wanted:
        item["contact_info"] = {"email": s.email} if s.email else ""
    return item


def section(sim: PowerSchoolSim, s: Any) -> dict[str, Any]:
    mo = sim.model
    staff = mo.staff.get((s.school_id, s.teacher_name or ""))
    return {
        "id": int(s.source_id), "school_id": int(s.school_id), "course_id": int(mo.course_dcid[s.course_code]),
        "term_id": int(mo.year_term_dcid[mo.school_number[s.school_id]]),
        "section_number": "1", "expression": "1(A-E)", "external_expression": "1(M-F)",
        **({"staff_id": int(staff) + 500} if staff else {}), "gradebooktype": "PTP",
    }  # fmt: skip
