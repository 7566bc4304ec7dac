"""The preset layout's streams: each stream's record kinds and the entities read for it, and
each entity's row converter. The mapped layout uses the same tables, with a contact list's
links read apart (``connectors.cloudschool.mapped``)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.cloudschool import attendance, normalize, normalize_work

# stream -> (record kinds, entities/files read for it)
STREAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "school": (("school",), ()),
    "students": (("student",), ("students",)),
    "contacts": (("contact", "link"), ("contacts",)),
    "classes": (("section",), ("classes",)),
    "class_members": (("enrollment",), ("class_members",)),
    "timetable": (("timetable",), ("timetable",)),
    "attendance": (("attendance",), ("attendance",)),
    "assignments": (("assignment",), ("assignments",)),
    "assignment_results": (("result",), ("assignment_results",)),
    "assessments": (("grade",), ("assessments",)),
    "behaviour": (("behaviour",), ("behaviour", "achievements")),
    "notices": (("notice",), ("notices",)),
    "progress_reports": (("report",), ("progress_reports",)),
}

CONVERTERS: dict[str, Callable[[normalize.Index, normalize.Ctx], normalize.Converter]] = {
    "students": normalize.students,
    "contacts": normalize.contacts,
    "classes": normalize.classes,
    "class_members": normalize.class_members,
    "timetable": normalize.timetable,
    "attendance": attendance.attendance,
    "assignments": normalize_work.assignments,
    "assignment_results": normalize_work.assignment_results,
    "assessments": normalize_work.assessments,
    "behaviour": normalize_work.behaviour,
    "achievements": normalize_work.achievements,
    "notices": normalize_work.notices,
    "progress_reports": normalize_work.progress_reports,
}
