"""Write a Cloud-School-like export of a synthetic district, with switches for real-file defects.

``write_export(district, out_dir, defects={...})`` writes the preset layout
(``connectors/cloudschool/README.md``) for one school plus ``export_manifest.csv``. Each defect named in ``DEFECTS`` is one
thing real exports do; the tests generate one export per defect instead of
hand-typing fixtures, and IT rehearses with ``portico simulate cloudschool``.
Single-file defects (header_only, empty_file, truncated, manifest_mismatch) hit the
``target`` entity's file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from simulators.cloudschool.layout import FILES
from simulators.cloudschool.rows import SchoolRows
from simulators.district.synthetic import SyntheticDistrict

DEFECTS: dict[str, str] = {
    "bom": "UTF-8 with a byte-order mark",
    "cp1252": "Windows-1252 instead of UTF-8",
    "crlf": "CRLF line endings",
    "quoted": "free text with commas, quotes and line breaks",
    "trailing_columns": "two empty columns after the last one",
    "header_typos": "header names with stray spaces and other case",
    "header_only": "the target file has its header and no rows",
    "empty_file": "the target file is empty (0 bytes)",
    "truncated": "the target file is cut off half-way (still being written)",
    "manifest_mismatch": "the manifest's sha256 and rows for the target file are wrong",
    "formula_cells": "text cells starting with =, +, - or @",
    "malformed_rows": "extra rows with a bad date, a blank id, an unknown mark, missing fields",
    "leading_zero_ids": "student and contact ids padded with two more leading zeros",
    "drop_students": "every other student missing from students.csv and contacts.csv",
}
MANIFEST = "export_manifest.csv"
# The free-text column of each file that the quoted/formula defects write into.
TEXT_COLUMN = {
    "assignments": "Title",
    "assignment_results": "Comment",
    "behaviour": "Narrative",
    "achievements": "Comment",
    "notices": "Body",
    "progress_reports": "Comments",
}
# What a "changed" row changes (changed_fraction): column -> new value.
CHANGE = {
    "students": ("PreferredForename", "Alex"),
    "contacts": ("MobileNumber", "+44 7700 900999"),
    "classes": ("Room", "Z99"),
    "class_members": ("EndDate", ""),
    "timetable": ("EndTime", "16:00"),
    "assignments": ("Title", "Revised task"),
    "assignment_results": ("Comment", "Revised"),
    "assessments": ("Date", "01/01/2027"),
    "behaviour": ("Narrative", "Revised"),
    "achievements": ("Comment", "Revised"),
    "notices": ("Body", "Revised"),
    "progress_reports": ("Comments", "Revised"),
}
FORMULAS = ("=1+2", "+44 7700 900123", "-2 points", "@SUM(A1:A9)", '=HYPERLINK("http://example.org","x")')


@dataclass
class ExportSummary:
    """What was written: data rows per file, and the rows the defects planted."""

    folder: Path
    rows: dict[str, int] = field(default_factory=dict)
    bad_rows: list[tuple[str, int]] = field(default_factory=list)  # (file, row number)
    formulas: list[tuple[str, int, str]] = field(default_factory=list)  # (file, row number, cell)
    changed: dict[str, int] = field(default_factory=dict)


def _header(entity: str, defects: set[str]) -> list[str]:
    cols = list(FILES[entity].columns)
    if "header_typos" in defects:
        styles = (
            str.lower,
            lambda c: f" {c} ",
            str.upper,
            lambda c: c.replace("ID", " Id"),
            lambda c: f"{c}  ",
        )
        cols = [styles[i % len(styles)](c) for i, c in enumerate(cols)]
    return cols


def _malformed(entity: str, rows: list[list[str]], cols: list[str]) -> list[tuple[int, list[str]]]:
    """(position, row) pairs to insert: copies of a real row broken one way each."""
    if not rows:
        return []
    base, at = rows[0], cols.index
    out: list[tuple[int, list[str]]] = []
    if entity == "students":
        bad_date, blank_id = list(base), list(base)
        bad_date[at("StudentID")], bad_date[at("DOB")] = "99999999", "31/02/2011"
        blank_id[at("StudentID")] = ""
        out += [(1, bad_date), (len(rows) // 2, blank_id)]
    elif entity == "attendance":
        unknown = list(base)
        unknown[at("Date")], unknown[at("Mark")] = "01/01/2001", "Q9"  # no such code
        out.append((len(rows) // 3, unknown))
    elif entity == "contacts":
        out.append((2, base[:5]))  # a row cut short
    return out


def _rows(entity: str, source: Iterable[list[str]], defects: set[str], change: float, rng: random.Random,
          summary: ExportSummary) -> list[list[str]]:  # fmt: skip
    cols = list(FILES[entity].columns)
    rows = list(source)
    if "leading_zero_ids" in defects:
        for c in ("StudentID", "ContactID"):
            if c in cols:
                i = cols.index(c)
                for row in rows:
                    row[i] = "00" + row[i]
    if "drop_students" in defects and entity in ("students", "contacts"):
        rows = [row for row in rows if row[0][-1:] not in "02468"]  # StudentID is the first column
    if change and (entity in CHANGE or entity == "attendance"):
        summary.changed[entity] = _change(entity, rows, cols, change, rng)
    text = cols.index(TEXT_COLUMN[entity]) if entity in TEXT_COLUMN else None
    if text is not None and "quoted" in defects:
        for row in rows[::3]:
            row[text] = f'{row[text]}, see "notes";\r\nsecond line'
    if "malformed_rows" in defects:
        for pos, bad in sorted(_malformed(entity, rows, cols), reverse=True):
            rows.insert(pos, bad)
    if text is not None and "formula_cells" in defects:
        for n, row in enumerate(rows[::4]):
            row[text] = FORMULAS[n % len(FORMULAS)]
    if "trailing_columns" in defects:
        rows = [[*row, "", ""] for row in rows]
    return rows


def _change(entity: str, rows: list[list[str]], cols: list[str], fraction: float, rng: random.Random) -> int:
    changed = 0
    if entity == "attendance":
        i_mark, i_late = cols.index("Mark"), cols.index("MinutesLate")
        for row in rows:
            if rng.random() < fraction:
                late = row[i_mark] == "L"
                row[i_mark], row[i_late] = ("/", "") if late else ("L", "12")
                changed += 1
        return changed
    column, value = CHANGE[entity]
    i = cols.index(column)
    for row in rows:
        if rng.random() < fraction and row[i] != value:
            row[i] = value
            changed += 1
    return changed


def _encode(entity: str, header: list[str], rows: list[list[str]], defects: set[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if "crlf" in defects else "\n")
    writer.writerow([*header, "", ""] if "trailing_columns" in defects else header)
    writer.writerows(rows)
    text = buf.getvalue()
    if "cp1252" in defects:
        return text.encode("cp1252")
    return text.encode("utf-8-sig" if "bom" in defects else "utf-8")


def write_export(
    district: SyntheticDistrict,
    out_dir: str | os.PathLike[str],
    *,
    school_id: str | None = None,
    defects: Iterable[str] = (),
    manifest: bool = True,
    changed_fraction: float = 0.0,
    target: str = "students",
    seed: int = 0,
    settled: bool = True,
) -> ExportSummary:
    """Write one school's export into ``out_dir`` (created if needed); see module docstring.

    ``settled`` dates the files an hour back, as an export written earlier would be
    (a truncated file keeps the current time: it is still being written).
    """
    wanted = set(defects)
    unknown = wanted - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects: {', '.join(sorted(unknown))} (known: {', '.join(DEFECTS)})")
    if target not in FILES:
        raise ValueError(f"unknown target {target!r}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    summary = ExportSummary(folder)
    school = SchoolRows(district, school_id)
    rng = random.Random(seed)
    entries: list[tuple[str, int, str]] = []
    past = time.time() - 3600
    for entity, make in school.files().items():
        name = FILES[entity].file
        only_header = "header_only" in wanted and entity == target
        rows = [] if only_header else _rows(entity, make(), wanted, changed_fraction, rng, summary)
        cols = list(FILES[entity].columns)
        for pos, row in enumerate(rows, start=2):
            if "malformed_rows" in wanted and (len(row) < len(cols) or _is_planted(entity, row, cols)):
                summary.bad_rows.append((name, pos))
            if entity in TEXT_COLUMN and row[cols.index(TEXT_COLUMN[entity])] in FORMULAS:
                summary.formulas.append((name, pos, row[cols.index(TEXT_COLUMN[entity])]))
        data = _encode(entity, _header(entity, wanted), rows, wanted)
        if entity == target and "empty_file" in wanted:
            data = b""
        entries.append((name, len(rows), hashlib.sha256(data).hexdigest()))
        if entity == target and "truncated" in wanted:
            data = data[: len(data) // 2]
        summary.rows[name] = len(rows)
        path = folder / name
        path.write_bytes(data)
        if settled and not (entity == target and "truncated" in wanted):
            os.utime(path, (past, past))
    if manifest:
        exported_at = f"{district.today.isoformat()}T18:00:00Z"
        lines = ["file,rows,sha256,exported_at"]
        for name, count, sha in entries:
            if "manifest_mismatch" in wanted and name == FILES[target].file:
                count, sha = count + 1, hashlib.sha256(b"another export").hexdigest()
            lines.append(f"{name},{count},{sha},{exported_at}")
        (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


def _is_planted(entity: str, row: list[str], cols: list[str]) -> bool:
    if entity == "students":
        return row[cols.index("StudentID")] in ("", "99999999")
    if entity == "attendance":
        return row[cols.index("Mark")] == "Q9"
    return False
