"""The PowerSchool connector's streams: which endpoint feeds each canonical record kind."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.powerschool.normalize import FIELDS
from connectors.powerschool.values import RESULT_FLAGS


@dataclass(frozen=True)
class StreamSpec:
    """One stream. ``api``: ``district`` and ``school`` are /ws/v1 resources (the latter
    per school), ``table`` a /ws/schema table, ``query`` a PowerQuery (read-only POST)."""

    name: str
    kind: str
    api: str
    resource: str
    table: str = ""
    incremental: bool = False  # the table has transaction_date (q=transaction_date=ge=...)

    def list_path(self, school_id: str | None = None) -> str:
        if self.api == "district":
            return f"/ws/v1/district/{self.resource}"
        if self.api == "school":
            return f"/ws/v1/school/{school_id}/{self.resource}"
        if self.api == "table":
            return f"/ws/schema/table/{self.resource}"
        return f"/ws/schema/query/{self.resource}"

    def columns(self) -> list[str]:
        """The columns to ask for (``projection=``): those the normaliser reads."""
        cols = {path[0] for _, path, _, _, _ in FIELDS[self.kind][1] if path}
        if self.kind == "result":
            cols.update(key for key, _ in RESULT_FLAGS)
        return sorted(cols)


# In the order the sync engine reads them: records referenced by later streams come first.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("schools", "school", "district", "school"),
    StreamSpec("students", "student", "school", "student"),
    StreamSpec("contacts", "contact", "query", "com.portico.guardians.contacts", "person"),
    StreamSpec("links", "link", "query", "com.portico.guardians.student_contacts", "studentcontactassoc"),
    StreamSpec("sections", "section", "school", "section"),
    StreamSpec("enrollments", "enrollment", "table", "cc", "cc", incremental=True),
    StreamSpec("timetable", "timetable", "table", "section_meeting", "section_meeting"),
    StreamSpec("attendance", "attendance", "table", "attendance", "attendance", incremental=True),
    StreamSpec(
        "assignments", "assignment", "table", "assignmentsection", "assignmentsection", incremental=True
    ),
    StreamSpec("results", "result", "table", "assignmentscore", "assignmentscore", incremental=True),
    StreamSpec("grades", "grade", "table", "pgfinalgrades", "pgfinalgrades", incremental=True),
    StreamSpec("behaviour", "behaviour", "table", "log", "log", incremental=True),
    StreamSpec("notices", "notice", "table", "announcement", "announcement"),
    StreamSpec("reports", "report", "table", "u_progress_report", "u_progress_report"),
)
BY_NAME = {s.name: s for s in STREAMS}

# /ws/v1/metadata keys holding each resource's page-size cap.
V1_CAP_KEYS = {"school": "school_max_page_size", "student": "student_max_page_size",
               "section": "section_max_page_size"}  # fmt: skip
SCHEMA_CAP_KEY = "schema_table_query_max_page_size"
STUDENT_EXPANSIONS = "demographics,school_enrollment,schedule_setup,contact_info"
