"""The Cloud-School-like preset layout, mapping overrides, and checks against real headers.

A file's header is matched to the mapping after normalising both sides (spaces and
underscores dropped, case folded), so ``Student ID``, ``studentid `` and ``STUDENT_ID``
all find ``StudentID``. ``check_mapping`` reports every missing file, missing
required column, unknown column and unknown mapping key, naming file and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.errors import SourceDataError
from connectors.cloudschool.options import ENTITIES, Options
from connectors.cloudschool.reader import detect_encoding, normalise_header, read_header


@dataclass(frozen=True)
class FileSpec:
    """An entity's file in the preset: its name, its columns in order, the required ones."""

    entity: str
    file: str
    columns: tuple[str, ...]
    required: tuple[str, ...]


def _spec(entity: str, file: str, header: str, required: str) -> FileSpec:
    return FileSpec(entity, file, tuple(header.split(",")), tuple(required.split(",")))


# The preset layout (README.md, "Preset layout"). Required columns are the ones a record cannot be built
# without, plus the flags that decide a parent's access (never guessed when absent).
PRESET: dict[str, FileSpec] = {
    s.entity: s
    for s in (
        _spec(
            "students",
            "students.csv",
            "StudentID,UPN,LegalForename,LegalSurname,PreferredForename,DOB,Gender,Year,Reg,House,"
            "AdmissionDate,LeavingDate",
            "StudentID,LegalForename,LegalSurname,DOB,Year,AdmissionDate",
        ),
        _spec(
            "contacts",
            "contacts.csv",
            "StudentID,ContactID,Title,ContactForename,ContactSurname,Relationship,Priority,"
            "ParentalResponsibility,LivesWith,CourtOrder,PortalAccess,PrimaryEmail,MobileNumber",
            "StudentID,ContactID,ContactForename,ContactSurname,ParentalResponsibility,CourtOrder,PortalAccess",
        ),
        _spec("classes", "classes.csv", "ClassID,Subject,TeacherCode,TeacherName,Room", "ClassID,Subject"),
        _spec(
            "class_members", "class_members.csv", "ClassID,StudentID,StartDate,EndDate", "ClassID,StudentID"
        ),
        _spec(
            "timetable",
            "timetable.csv",
            "ClassID,Day,Period,StartTime,EndTime,WeekPattern",
            "ClassID,Day,Period,StartTime,EndTime",
        ),
        _spec(
            "attendance",
            "attendance_sessions.csv",
            "StudentID,Date,Session,Mark,MinutesLate",
            "StudentID,Date,Session,Mark",
        ),
        _spec(
            "assignments",
            "assignments.csv",
            "AssignmentID,ClassID,Title,SetDate,DueDate,MaxMark",
            "AssignmentID,ClassID,Title,DueDate",
        ),
        _spec(
            "assignment_results",
            "assignment_results.csv",
            "AssignmentID,StudentID,Mark,Status,Comment",
            "AssignmentID,StudentID",
        ),
        _spec(
            "assessments",
            "assessments.csv",
            "StudentID,ClassID,ResultSet,Aspect,Result,Date",
            "StudentID,ClassID,ResultSet,Result",
        ),
        _spec(
            "behaviour",
            "behaviour.csv",
            "IncidentID,StudentID,DateTime,Type,Polarity,Points,Reason,Narrative,LoggedBy",
            "IncidentID,StudentID,DateTime",
        ),
        _spec(
            "achievements",
            "achievements.csv",
            "AwardID,StudentID,Date,Type,Points,Comment,AwardedBy",
            "AwardID,StudentID,Date",
        ),
        _spec(
            "notices",
            "notices.csv",
            "NoticeID,AudienceType,AudienceID,Title,Body,PublishFrom,PublishTo",
            "NoticeID,AudienceType,Title,PublishFrom",
        ),
        _spec(
            "progress_reports",
            "progress_reports.csv",
            "ReportID,StudentID,Title,ReportingPeriod,IssuedDate,Comments",
            "ReportID,StudentID,Title,IssuedDate",
        ),
    )
}
assert tuple(PRESET) == ENTITIES


@dataclass(frozen=True)
class Bound:
    """A file's header matched to its mapping: column positions and what did not match."""

    file: str
    index: dict[str, int]  # preset column -> position in the row
    width: int  # number of named header cells (trailing empty ones dropped)
    missing: tuple[str, ...]  # required columns not found, quoted as looked for
    unknown: tuple[str, ...]  # header cells nobody maps or ignores
    duplicates: tuple[str, ...]


def file_name(options: Options, entity: str) -> str:
    return options.mapping(entity).file or PRESET[entity].file


def expected_headers(options: Options, entity: str) -> dict[str, str]:
    """Preset column -> the header name the export is expected to use for it."""
    overrides = options.mapping(entity).columns
    return {col: overrides.get(col, col) for col in PRESET[entity].columns}


def bind(options: Options, entity: str, header: list[str]) -> Bound:
    """Match ``header`` to the entity's mapping."""
    spec = PRESET[entity]
    expected = expected_headers(options, entity)
    while header and not header[-1].strip():
        header = header[:-1]  # trailing empty columns carry nothing
    positions: dict[str, int] = {}
    duplicates: list[str] = []
    for i, name in enumerate(header):
        key = normalise_header(name)
        if not key:
            continue
        if key in positions:
            duplicates.append(name.strip())
        else:
            positions[key] = i
    index: dict[str, int] = {}
    missing: list[str] = []
    for col, name in expected.items():
        pos = positions.get(normalise_header(name))
        if pos is not None:
            index[col] = pos
        elif col in spec.required:
            missing.append(f"'{name}'" if name == col else f"'{name}' (mapped from {col})")
    known = {normalise_header(n) for n in expected.values()}
    known |= {normalise_header(n) for n in options.mapping(entity).ignore_columns}
    unknown = [h.strip() for h in header if normalise_header(h) and normalise_header(h) not in known]
    return Bound(
        file_name(options, entity), index, len(header), tuple(missing), tuple(unknown), tuple(duplicates)
    )


def enabled_entities(options: Options) -> list[str]:
    return [e for e in ENTITIES if options.mapping(e).enabled]


Key = tuple[str | int, ...]  # where in the connector's ``options`` a problem belongs


def mapping_key_problems(options: Options) -> list[tuple[Key, str]]:
    """Mapping keys that are not preset columns (a typo would silently map nothing)."""
    problems: list[tuple[Key, str]] = []
    for entity, fm in options.files.items():
        for col in fm.columns:
            if col not in PRESET[entity].columns:
                problems.append(
                    (
                        ("files", entity, "columns", col),
                        f"files.{entity}.columns: {col!r} is not a column of the preset "
                        f"(one of {', '.join(PRESET[entity].columns)})",
                    )
                )
    return problems


def mapping_problems(options: Options, folder: Path) -> list[tuple[Key, str]]:
    """Every problem between the mapping and the files present in ``folder``, each with the
    options key it belongs to (for ``portico config validate`` to point at a line)."""
    problems = mapping_key_problems(options)
    if not folder.is_dir():
        return [*problems, (("path",), f"{folder.name or folder}: export folder not found")]
    for entity in enabled_entities(options):
        name = file_name(options, entity)
        path = folder / name
        key: Key = ("files", entity)
        if not path.is_file():
            problems.append((key, f"{name}: file not found in the export folder (files.{entity})"))
            continue
        try:
            header = read_header(path, detect_encoding(path, options.encoding), options.delimiter)
        except SourceDataError as exc:
            problems.append((key, str(exc)))
            continue
        if header is None:
            problems.append((key, f"{name}: empty file (no header row)"))
            continue
        bound = bind(options, entity, header)
        if not bound.index:
            # Nothing matched: most likely a file without a header row, whose first row is
            # data. Its cells are not echoed, since they would be personal data in a log.
            problems.append(((*key, "columns"), f"{name}: the first row names none of the mapped columns"))
            continue
        problems += [((*key, "columns"), f"{name}: missing column {c}") for c in bound.missing]
        problems += [
            (
                (*key, "columns"),
                f"{name}: unknown column {c!r} (map it under files.{entity}.columns or list it in "
                f"files.{entity}.ignore_columns)",
            )
            for c in bound.unknown
        ]
        problems += [((*key, "columns"), f"{name}: column {c!r} appears twice") for c in bound.duplicates]
    return problems


def check_mapping(options: Options, folder: Path) -> list[str]:
    """Every problem between the mapping and the files present in ``folder``; empty when fine."""
    return [message for _, message in mapping_problems(options, folder)]
