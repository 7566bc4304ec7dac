"""A subject-access export: everything the cache holds about one student that the caller may see.

Built from the cache directly, not from the data routes: every current record row
whose ``student_ref`` is the student, plus the section, assignment, school, timetable
and notice rows those reference, decrypted. What the caller may not see is left out:
the visibility lag (records still inside it), other contacts' links and contact
records (a guardian gets only their own), and for a student caller, contacts at all.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text

from cache.read.predicates import CURRENT
from cache.read.reader import Principal, Reader, StudentHandle
from cache.read.visibility import StudentVisibility
from cache.types import bind_all
from config.settings import Visibility
from gateway.privacy import corrections

_COLS = (
    "r.kind, r.ref, r.key_id, r.payload, r.stamp, r.day, r.parent_ref, r.contact_ref, r.student_ref, r.source"
)


class _Rows:
    def __init__(self, reader: Reader, source: str, published: int) -> None:
        self.reader, self.source, self.published = reader, source, published

    def select(self, where: str, params: dict[str, Any], *, by_student: bool = False) -> list[Any]:
        # By student: only the student_ref term may choose the index (see gateway.privacy.purge.unindexed).
        source = "(r.source || '')" if by_student else "r.source"
        sql = f"SELECT {_COLS} FROM record r WHERE {source} = :src AND {CURRENT.format(t='r')} AND {where}"
        conn = self.reader.conn
        full = {"src": self.source, "p": self.published, **params}
        return list(conn.execute(text(sql), bind_all(conn.dialect.name, full)).all())

    def by_refs(self, kind: str, refs: set[str]) -> list[Any]:
        out: list[Any] = []
        ordered = sorted(refs)
        for i in range(0, len(ordered), 500):
            chunk = ordered[i : i + 500]
            names = {f"x{j}": r for j, r in enumerate(chunk)}
            out += self.select(
                f"r.kind = :k AND r.ref IN ({', '.join(':' + n for n in names)})", {"k": kind, **names}
            )
        return out


def build(
    reader: Reader,
    principal: Principal,
    student: StudentHandle,
    *,
    now: dt.datetime,
    district_tz: ZoneInfo,
    visibility: Visibility,
    apply_lag: bool = True,
) -> dict[str, Any]:
    """The export document: ``{"student_id", "generated_at", "records": {kind: [...]}, "correction_requests"}``.

    ``principal.role`` decides the contacts: a guardian gets their own link and contact
    record only, a student none, an operator (a subject-access request handled by the
    district) every link and linked contact.
    """
    rows = _Rows(reader, student.source, student.published_run)
    # The same windows as the data routes (cache.read.visibility), in the school's zone.
    windows = StudentVisibility(visibility, now, reader, student, district_tz)

    def visible(kind: str, stamp: Any, day: Any) -> bool:
        return not apply_lag or windows.of(kind).shows(_aware(stamp), _date(day))

    operator = principal.role == "operator"
    picked: list[Any] = []
    mine_rows = rows.select("r.student_ref = :s", {"s": student.ref}, by_student=True)
    for src, run in student.feeds:  # sources attached to the student's (YAML students_of)
        mine_rows += _Rows(reader, src, run).select("r.student_ref = :s", {"s": student.ref}, by_student=True)
    for row in mine_rows:
        mine = principal.role == "guardian" and row.contact_ref == principal.subject_ref
        if row.kind == "link" and not (mine or operator):
            continue  # another contact's link (and for a student caller, any contact's)
        picked.append(row)
    sections = {
        r.parent_ref for r in picked if r.kind in ("enrollment", "grade", "timetable") and r.parent_ref
    }
    assignments = {r.parent_ref for r in picked if r.kind == "result" and r.parent_ref}
    index = reader.keyring.index
    school = index.ref(student.source, "school", str(student.data["school_id"]))
    picked += rows.by_refs("section", sections)
    picked += rows.by_refs("assignment", assignments)
    picked += rows.by_refs("school", {school})
    if sections:
        names = {f"x{j}": r for j, r in enumerate(sorted(sections))}
        picked += rows.select(
            f"r.kind = 'timetable' AND r.student_ref IS NULL AND r.parent_ref IN ({', '.join(':' + n for n in names)})",
            names,
        )
    audiences = {"district", f"school:{school}", f"year:{school}:{student.data.get('grade_level') or ''}"}
    audiences |= {f"section:{s}" for s in sections}
    names = {f"a{j}": a for j, a in enumerate(sorted(audiences))}
    picked += rows.select(f"r.kind = 'notice' AND r.audience IN ({', '.join(':' + n for n in names)})", names)
    if principal.role == "guardian":
        picked += rows.by_refs("contact", {principal.subject_ref})
    elif operator:
        picked += rows.by_refs(
            "contact", {r.contact_ref for r in picked if r.kind == "link" and r.contact_ref}
        )

    reader.keyring.preload(r.key_id for r in picked)
    records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    hidden_assignments = set()
    for r in picked:
        if not visible(r.kind, r.stamp, r.day):
            if r.kind == "assignment":
                hidden_assignments.add(r.ref)
            continue
        records[r.kind].append({"id": r.ref, **reader.open(r.source, r.kind, r.ref, r.key_id, r.payload)})
    # A result is shown with its assignment, never before it.
    records["result"] = [
        x
        for x in records.get("result", [])
        if _assignment_ref(index, student.source, x) not in hidden_assignments
    ]
    for kind in list(records):
        if not records[kind]:
            del records[kind]
        else:
            records[kind].sort(key=lambda x: x["id"])
    account = None if operator else principal.account_id
    requests = [
        c.public()
        for c in corrections.of_student(reader.conn, reader.keyring, student.source, student.ref, account)
    ]
    return {
        "student_id": student.ref,
        "generated_at": now,
        "records": dict(sorted(records.items())),
        "correction_requests": requests,
    }


def _aware(stamp: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(stamp, str):  # raw SQLite text
        return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC)
    if isinstance(stamp, dt.datetime) and stamp.tzinfo is None:
        return stamp.replace(tzinfo=dt.UTC)
    return stamp


def _date(day: dt.date | str | None) -> dt.date | None:
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def _assignment_ref(index: Any, source: str, result: dict[str, Any]) -> str:
    return str(index.ref(source, "assignment", str(result["assignment_id"])))


def to_json(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return orjson.dumps(v).decode()
    if isinstance(v, (dt.date, dt.datetime, dt.time)):
        return v.isoformat()
    return str(v)


def to_zip(doc: dict[str, Any]) -> bytes:
    """One CSV per record kind (columns: the union of fields), plus the correction requests."""
    tables: dict[str, list[dict[str, Any]]] = dict(doc["records"])
    tables["correction_requests"] = doc["correction_requests"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, items in tables.items():
            cols: list[str] = []
            for item in items:
                cols += [k for k in item if k not in cols]
            out = io.StringIO()
            w = csv.writer(out, lineterminator="\r\n")
            w.writerow(cols)
            for item in items:
                w.writerow([_cell(item.get(c)) for c in cols])
            zf.writestr(f"{name}.csv", out.getvalue())
        meta = {"student_id": doc["student_id"], "generated_at": doc["generated_at"]}
        zf.writestr("export.json", orjson.dumps(meta))
    return buf.getvalue()
