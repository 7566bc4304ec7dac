"""Decrypted canonical records → the API's shapes. Allow-lists: a field not named here is never sent."""

from __future__ import annotations

from typing import Any


def student_summary(ref: str, s: dict[str, Any], school_name: str | None) -> dict[str, Any]:
    return {
        "id": ref,
        "first_name": s.get("preferred_first_name") or s["legal_first_name"],
        "last_name": s.get("preferred_last_name") or s["legal_last_name"],
        "school": {"name": school_name},
        "grade_level": s["grade_level"],
        "homeroom": s.get("homeroom"),
    }


def student_profile(ref: str, s: dict[str, Any], school_name: str | None) -> dict[str, Any]:
    out = student_summary(ref, s, school_name)
    out["legal_name"] = {"first": s["legal_first_name"], "last": s["legal_last_name"]}
    out["preferred_name"] = {"first": s.get("preferred_first_name"), "last": s.get("preferred_last_name")}
    out["enrollment"] = {
        "status": s["enrollment_status"],
        "entry_date": s["entry_date"],
        "exit_date": s.get("exit_date"),
    }
    return out


def attendance_mark(ref: str, a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ref,
        "date": a["date"],
        "session": a["session"],
        "code": a["source_code"],
        "category": a["category"],
        "minutes_late": a.get("minutes_late"),
        # What the code means for families, and a note such as "no longer used" (may be null).
        "meaning": a.get("meaning"),
        "note": a.get("note"),
    }


# The attendance categories, in the order the DfE's statistics use them, and what each means.
ATTENDANCE_CATEGORIES = {
    "present": "Present",
    "late": "Late, arrived before the register closed (counts as present)",
    "approved_educational_activity": "At an approved educational activity away from school (counts as attending)",
    "authorised_absence": "Absent with the school's permission",
    "unauthorised_absence": "Absent without the school's permission",
    "not_required": "Not counted: not required to attend, or unable to attend for a reason outside the family's control",
}


def section_brief(ref: str | None, sec: dict[str, Any] | None) -> dict[str, Any]:
    if sec is None:
        return {"id": ref, "name": None, "code": None, "teacher": None, "room": None}
    return {
        "id": ref,
        "name": sec["course_name"],
        "code": sec["course_code"],
        "teacher": sec.get("teacher_name"),
        "room": sec.get("room"),
    }


def lesson(day: str, ref: str, e: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ref,
        "date": day,
        "day": e["day"],
        "period": e["period"],
        "start_time": e["start_time"],
        "end_time": e["end_time"],
        "class": section,
    }


def grade(ref: str, g: dict[str, Any], section: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ref,
        "class": section,
        "term": g["term"],
        "mark": g.get("mark"),
        "percent": g.get("percent"),
        "updated_at": g["updated_at"],
    }


def assignment(
    ref: str, a: dict[str, Any], section: dict[str, Any], result: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": ref,
        "class": section,
        "title": a["title"],
        "category": a.get("category"),
        "set_date": a.get("set_date"),
        "due_date": a["due_date"],
        "points_possible": a.get("points_possible"),
        "result": None
        if result is None
        else {
            "score": result.get("score"),
            "status": result["status"],
            "comment": result.get("comment"),
            "text_score": result.get("text_score"),
            "source_status": result.get("source_status"),
        },
    }


def behaviour_event(ref: str, b: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ref,
        "occurred_at": b["occurred_at"],
        "polarity": b["polarity"],
        "points": b["points"],
        "category": b["category"],
        "description": b.get("description"),
        "staff": b.get("staff_name"),
    }


def notice(ref: str, current: bool, n: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ref,
        "audience": n["audience"],
        "title": n["title"],
        "body": n["body"],
        "publish_from": n["publish_from"],
        "publish_to": n.get("publish_to"),
        "current": current,
    }


def report_summary(ref: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"id": ref, "title": r["title"], "period": r["period"], "issued_date": r["issued_date"]}


def report(ref: str, r: dict[str, Any]) -> dict[str, Any]:
    return {**report_summary(ref, r), "comments": r.get("comments")}
