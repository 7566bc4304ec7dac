"""Options of the Cloud-School-like CSV connector: folder, file/column mapping, formats, guards."""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.records import AttendanceCategory

# The entities of an export, in the order they are read. Keys of ``files:`` in YAML.
ENTITIES: tuple[str, ...] = (
    "students",
    "contacts",
    "classes",
    "class_members",
    "timetable",
    "attendance",
    "assignments",
    "assignment_results",
    "assessments",
    "behaviour",
    "achievements",
    "notices",
    "progress_reports",
)

Entity = Literal[
    "students",
    "contacts",
    "classes",
    "class_members",
    "timetable",
    "attendance",
    "assignments",
    "assignment_results",
    "assessments",
    "behaviour",
    "achievements",
    "notices",
    "progress_reports",
]

# "skip" is not a mark: the register has not been taken yet, so nothing is published
# and the row is not an error either (counted as ``skipped`` in the read stats).
CodeCategory = Literal[
    "present", "late", "authorised_absence", "unauthorised_absence", "not_required", "skip"
]


class Strict(BaseModel):
    # A misspelt option silently ignored is a mapping not applied: unknown keys are errors.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileMapping(Strict):
    """Overrides for one entity's file: its name, header names, and whether it is read."""

    file: str | None = None
    # preset column name -> the header the district's export uses instead
    columns: dict[str, str] = Field(default_factory=dict)
    # extra headers the district's export carries that Portico should ignore quietly
    ignore_columns: list[str] = Field(default_factory=list)
    enabled: bool = True
    # A header-only file holds the export unless the entity may legitimately be empty.
    allow_empty: bool = False


class AttendanceCode(Strict):
    category: CodeCategory
    late: bool = False
    meaning: str = ""

    def canonical(self) -> AttendanceCategory | None:
        return None if self.category == "skip" else AttendanceCategory(self.category)


def _code(category: CodeCategory, meaning: str, late: bool = False) -> AttendanceCode:
    return AttendanceCode(category=category, late=late, meaning=meaning)


# The DfE national codes most UK MIS exports use. "U" is late after the register
# closed, which the DfE counts as an unauthorised absence (still late, so minutes
# kept). "-" means no mark has been entered yet: skipped (see CodeCategory), because
# publishing it as "not required" would tell parents something untrue and setting it
# aside would hold every export taken before the afternoon registers are done.
DEFAULT_ATTENDANCE_CODES: dict[str, AttendanceCode] = {
    "/": _code("present", "present (AM)"),
    "\\": _code("present", "present (PM)"),
    "L": _code("late", "late before registers closed", late=True),
    "U": _code("unauthorised_absence", "late after registers closed", late=True),
    "N": _code("unauthorised_absence", "no reason yet provided"),
    "O": _code("unauthorised_absence", "unauthorised absence"),
    "M": _code("authorised_absence", "medical or dental appointment"),
    "I": _code("authorised_absence", "illness"),
    "C": _code("authorised_absence", "authorised: other circumstances"),
    "E": _code("authorised_absence", "excluded, no alternative provision"),
    "H": _code("authorised_absence", "authorised holiday"),
    "G": _code("unauthorised_absence", "unauthorised holiday"),
    "#": _code("not_required", "school closed to pupils"),
    "X": _code("not_required", "not required to attend"),
    "-": _code("skip", "no mark entered yet"),
}


class Options(Strict):
    """``options:`` of a ``type: cloudschool`` connector (the preset layout: README.md)."""

    path: str = Field(min_length=1, description="the export folder (relative to the config file)")
    preset: Literal["cloudschool"] = "cloudschool"
    files: dict[Entity, FileMapping] = Field(default_factory=dict)
    manifest: str | None = "export_manifest.csv"
    require_manifest: bool = False
    # "auto": UTF-8 (BOM or not), falling back to Windows-1252 when the bytes are not UTF-8.
    encoding: str = "auto"
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    date_format: str = "%d/%m/%Y"
    datetime_format: str = "%d/%m/%Y %H:%M"
    time_format: str = "%H:%M"
    flag_true: list[str] = Field(default_factory=lambda: ["Y"], min_length=1)
    flag_false: list[str] = Field(default_factory=lambda: ["N"], min_length=1)
    # Merged over DEFAULT_ATTENDANCE_CODES: a district adds or overrides single marks.
    attendance_codes: dict[str, AttendanceCode] = Field(default_factory=dict)
    # recorded_at of a mark when the export has no RecordedAt column: the session's time.
    session_times: dict[str, dt.time] = Field(
        default_factory=lambda: {"AM": dt.time(8, 45), "PM": dt.time(13, 15)}
    )
    settle_seconds: float = Field(default=60.0, ge=0)
    max_rejected: int = Field(default=100, ge=0)
    archive_dir: str | None = None
    timezone: str = "Europe/London"
    school_id: str = Field(min_length=1)
    school_name: str = Field(min_length=1)
    year_start_date: dt.date | None = None
    year_end_date: dt.date | None = None
    page_size: int = Field(default=5000, ge=1)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone (expected an IANA name like Europe/London)") from None
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        if value != "auto":
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError("unknown encoding (use auto, utf-8, utf-8-sig or cp1252)") from None
        return value

    @model_validator(mode="after")
    def _flags_disjoint(self) -> Options:
        true = {v.strip().casefold() for v in self.flag_true}
        if true & {v.strip().casefold() for v in self.flag_false}:
            raise ValueError("flag_true and flag_false share a value")
        return self

    def codes(self) -> dict[str, AttendanceCode]:
        return {**DEFAULT_ATTENDANCE_CODES, **self.attendance_codes}

    def mapping(self, entity: str) -> FileMapping:
        for key, overrides in self.files.items():
            if key == entity:
                return overrides
        return FileMapping()
