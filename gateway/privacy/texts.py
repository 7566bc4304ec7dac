"""The words of privacy mail: correction requests to a school, breach notification drafts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.privacy.breach import Affected, Report

CATEGORY_WORDS = {
    "profile": "profile (name, school, year group)",
    "directory": "list of students",
    "attendance": "attendance",
    "timetable": "timetable",
    "grades": "grades",
    "assignments": "assignments and results",
    "behaviour": "behaviour and achievement records",
    "reports": "progress reports",
    "notices": "school notices",
    "export": "full data export",
    "corrections": "correction requests",
    "access-log": "access log",
}


def student_name(s: dict[str, Any]) -> str:
    first = s.get("preferred_first_name") or s.get("legal_first_name") or ""
    last = s.get("preferred_last_name") or s.get("legal_last_name") or ""
    return f"{first} {last}".strip() or "(name not held)"


def correction_email(
    *,
    request_id: str,
    student: dict[str, Any],
    school_name: str | None,
    requester: dict[str, Any],
    about: str,
    message: str,
) -> tuple[str, str]:
    """Subject (no personal data: subjects leak into mail logs) and body for the school's data contact."""
    subject = f"Portico correction request {request_id}"
    who = " ".join(x for x in (requester.get("first_name"), requester.get("last_name")) if x)
    body = f"""A correction request was made through Portico. Portico has not changed any record:
please review it in the SIS, then close it with
  portico corrections resolve {request_id} --status resolved|rejected --note "..."

Request:   {request_id}
Student:   {student_name(student)} (SIS id {student.get("source_id")})
School:    {school_name or student.get("school_id")}
From:      {who or "the student"} ({requester.get("role")}){" <" + requester["email"] + ">" if requester.get("email") else ""}
About:     {about}

{message}
"""
    return subject, body


def _categories(a: Affected) -> str:
    return ", ".join(CATEGORY_WORDS.get(c, c) for c in sorted(a.categories))


def family_draft(guardian: dict[str, Any], children: list[Affected], report: Report, district: str) -> str:
    w = report.window
    greeting = (
        " ".join(x for x in (guardian.get("first_name"), guardian.get("last_name")) if x) or "Parent/Guardian"
    )
    lines = [
        f"To: {guardian.get('email') or '(no email held: send by post or phone ' + (guardian.get('phone') or 'unknown') + ')'}",
        f"Subject: Important: a security incident affecting your child's school records ({district})",
        "",
        f"Dear {greeting},",
        "",
        f"We are writing to tell you about a security incident in {district}'s parent portal (Portico).",
        f"Between {w.start:%Y-%m-%d %H:%M} and {w.end:%Y-%m-%d %H:%M} UTC, the following information may have",
        "been seen by someone who was not entitled to it:",
        "",
    ]
    for a in children:
        lines.append(f"  - {student_name(a.student)}: {_categories(a)}")
    lines += [
        "",
        "What we are doing: the access has been stopped and is being investigated, and the Board of",
        "Education has been informed. You do not need to do anything, but you may wish to change your",
        "portal password. If you have questions, please reply to this message.",
        "",
        f"{district}",
    ]
    return "\n".join(lines) + "\n"


def district_summary(report: Report, district: str, generated_at: dt.datetime) -> str:
    w = report.window
    per_cat: dict[str, int] = {}
    for a in report.students:
        for c in a.categories:
            per_cat[c] = per_cat.get(c, 0) + 1
    families = report.families()
    without = sum(1 for a in report.students if not a.guardians)
    no_email = sum(1 for g, _ in families.values() if not g.get("email"))
    lines = [
        f"Breach report for {district}, generated {generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"Window:            {w.start:%Y-%m-%d %H:%M} to {w.end:%Y-%m-%d %H:%M} UTC",
        f"Account filter:    {w.account or 'any'}",
        f"Address filter:    {w.address or 'any'}",
        f"Reads in window:   {report.reads}",
        f"Students affected: {len(report.students)}",
        f"Families to tell:  {len(families)} ({no_email} without an email address: post or phone)",
        f"Students with no guardian to notify in the snapshot: {without}",
        "",
        "Students affected per data category:",
    ]
    lines += [f"  {CATEGORY_WORDS.get(c, c)}: {n}" for c, n in sorted(per_cat.items())]
    lines += [
        "",
        "The district's contract requires families and the Board to be told within 48 hours of",
        "discovery. Drafts for each family are in families/; the full list is affected.csv.",
    ]
    return "\n".join(lines) + "\n"
