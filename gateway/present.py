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
    }
