"""Options of the Cloud-School-like CSV connector: folder, file/column mapping, formats, guards."""

from __future__ import annotations

import codecs
import datetime as dt
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.settings import TimeZoneName
from connectors.cloudschool.codes import DFE_2024
from connectors.cloudschool.mapped.check import layout_problems
from connectors.cloudschool.mapped.options import RecordMapping, Source
from connectors.records import AttendanceCategory
from connectors.rules import FLAGS_RULE, Policy, Rule

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
# The entities of an export, in the order they are read. Keys of ``files:`` in YAML.
ENTITIES: tuple[str, ...] = get_args(Entity)
# A mapped layout's records: the same entities, with a contact list's links apart.
MappedEntity = Literal[Entity, "links"]

# "skip" is not a mark: the register has not been taken yet, so nothing is published
# and the row is not an error either (counted as ``skipped`` in the read stats).
CodeCategory = Literal[
    "present",
    "late",
    "approved_educational_activity",
    "authorised_absence",
    "unauthorised_absence",
    "not_required",
    "skip",
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
    """A register code: its category and meaning, or ``same_as`` a statutory code (an MIS
    sub-code such as ``X01`` that stands for ``X``)."""

    category: CodeCategory | None = None
    same_as: str | None = None
    late: bool = False
    meaning: str = ""
    # A code withdrawn on this date: accepted on earlier records with a note, set aside after.
    withdrawn: dt.date | None = None

    @model_validator(mode="after")
    def _one(self) -> AttendanceCode:
        if (self.category is None) == (self.same_as is None):
            raise ValueError("a code has either a category or same_as (a code it stands for)")
        return self

    def canonical(self) -> AttendanceCategory | None:
        return None if self.category in (None, "skip") else AttendanceCategory(self.category)


def _default_codes() -> dict[str, AttendanceCode]:
    return {
        code: AttendanceCode(category=category, meaning=meaning, late=late, withdrawn=withdrawn)  # type: ignore[arg-type]
        for code, (category, meaning, late, withdrawn) in DFE_2024.items()
    }


# England's codes since 19 August 2024 (connectors/cloudschool/codes.py): no configuration needed.
DEFAULT_ATTENDANCE_CODES: dict[str, AttendanceCode] = _default_codes()


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
    timezone: TimeZoneName = "Europe/London"
    school_id: str = Field(min_length=1)
    school_name: str = Field(min_length=1)
    year_start_date: dt.date | None = None
    year_end_date: dt.date | None = None
    page_size: int = Field(default=5000, ge=1)
    # The district's written access rule (connectors.rules). The preset carries the flags
    # it needs, so it defaults to them; a mapped layout must state its rule.
    access: list[Rule] | None = None
    # The mapped layout (connectors/cloudschool/mapped): raw files and the records built
    # from them, instead of the preset's one file per entity.
    sources: dict[str, Source] = Field(default_factory=dict)
    records: dict[MappedEntity, RecordMapping | list[RecordMapping]] = Field(default_factory=dict)

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

    @model_validator(mode="after")
    def _layout(self) -> Options:
        problems = layout_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def mapped(self) -> bool:
        return bool(self.records)

    def mappings(self, entity: str) -> list[RecordMapping]:
        found = next((m for e, m in self.records.items() if e == entity), None)
        return [] if found is None else found if isinstance(found, list) else [found]

    def policy(self) -> Policy:
        return FLAGS_RULE if self.access is None else Policy(self.access)

    @model_validator(mode="after")
    def _codes_resolve(self) -> Options:
        self.codes()  # a same_as naming no code is a config error, not a failed sync
        return self

    def codes(self) -> dict[str, AttendanceCode]:
        """The default table with the district's codes over it; ``same_as`` resolved."""
        merged = {**DEFAULT_ATTENDANCE_CODES, **self.attendance_codes}
        out = {}
        for code, c in merged.items():
            if c.same_as is not None:
                target = merged.get(c.same_as)
                if target is None or target.same_as is not None:
                    raise ValueError(f"attendance_codes.{code}: same_as names no code with a category")
                c = target.model_copy(
                    update={"meaning": c.meaning or target.meaning, "late": c.late or target.late}
                )
            out[code] = c
        return out

    def mapping(self, entity: str) -> FileMapping:
        for key, overrides in self.files.items():
            if key == entity:
                return overrides
        return FileMapping()
