"""OneRoster test bundles, built from the binding's own column lists (never the connector's).

Every header is the full column list of its file, in the binding's order, read from
``tests/support/data/oneroster/oneroster-1.2-csv-columns.csv`` (and, for the four files 1.1 lays out
differently, ``oneroster-1.1-csv-columns.csv``); see the ``.SOURCE.md`` beside them. A
fixture row names only the cells it fills, and :func:`write_bundle` refuses a column the
binding does not have, a required cell left blank, a ``status`` filled in a bulk file or
left blank in a delta one: a fixture that breaks the binding is a broken test, not a test.

``BULK`` and ``DELTA`` are a small synthetic school (Hollybrook Academy, invented people,
``example.*`` emails, drama-range phone numbers) in which every link form the binding allows
appears: a parent link stated on the student's row only, on the parent's row only, on both,
one parent row naming two children, a guardian, a relative, a disabled parent, and a teacher
who is also a parent (a secondary role). The delta removes a student (every row about them
``tobedeleted``), changes a parent's email, disables another, adds a parent with a link
stated on her own row, re-grades one result and adds another; every other file is absent.
"""

from __future__ import annotations

import copy
import csv
import io
import zipfile
from functools import cache
from pathlib import Path

Row = dict[str, str]
DATA = Path(__file__).resolve().parent / "data" / "oneroster"
FILES_11 = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users",
)  # fmt: skip


@cache
def spec_columns(version: str = "1.2") -> dict[str, list[tuple[str, str]]]:
    """file (without .csv) -> [(column, required)] in the binding's order."""
    out: dict[str, list[tuple[str, str]]] = {}
    with (DATA / "oneroster-1.2-csv-columns.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["file"].removesuffix(".csv"), []).append((row["column"], row["required"]))
    if version == "1.1":
        with (DATA / "oneroster-1.1-csv-columns.csv").open(newline="", encoding="utf-8") as fh:
            differ: dict[str, list[tuple[str, str]]] = {}
            for row in csv.DictReader(fh):
                differ.setdefault(row["file"].removesuffix(".csv"), []).append(
                    (row["column"], row["required"])
                )
        out = {f: differ.get(f, cols) for f, cols in out.items() if f in FILES_11}
    return out


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)  # RFC 4180 line ends
    return buf.getvalue()


def file_text(file: str, rows: list[Row], *, delta: bool, version: str = "1.2") -> str:
    """One file as the binding lays it out (see module docstring for what is refused)."""
    columns = spec_columns(version)[file]
    names = [c for c, _ in columns]
    for n, row in enumerate(rows, start=2):
        unknown = set(row) - set(names)
        assert not unknown, f"{file}.csv row {n}: not columns of the binding: {sorted(unknown)}"
        for col, required in columns:
            filled = bool(row.get(col))
            if required == "Yes":
                assert filled, f"{file}.csv row {n}: {col} is required by the binding"
            elif required == "Yes for Delta":
                assert filled == delta, (
                    f"{file}.csv row {n}: {col} is {'required' if delta else 'blank'} in a {'delta' if delta else 'bulk'} file"
                )
    return _csv([names, *[[row.get(c, "") for c in names] for row in rows]])


def manifest_text(modes: dict[str, str], version: str = "1.2") -> str:
    files = FILES_11 if version == "1.1" else tuple(spec_columns("1.2"))
    rows = [["propertyName", "value"], ["manifest.version", "1.0"], ["oneroster.version", version]]
    rows += [[f"file.{f}", modes.get(f, "absent")] for f in files]
    rows += [["source.systemName", "Synthetic SIS (Portico test fixture)"]]
    return _csv(rows)


def write_bundle(
    dest: Path,
    files: dict[str, list[Row]],
    *,
    delta: tuple[str, ...] = (),
    version: str = "1.2",
    as_zip: bool = False,
    extra: dict[str, str] | None = None,
) -> Path:
    """A bundle at ``dest`` (a folder, or ``dest`` with .zip): every file in ``files`` bulk
    unless named in ``delta``, every other file absent in the manifest. ``extra`` adds files
    as raw text (to break the binding on purpose)."""
    texts = {f"{f}.csv": file_text(f, rows, delta=f in delta, version=version) for f, rows in files.items()}
    texts["manifest.csv"] = manifest_text({f: "delta" if f in delta else "bulk" for f in files}, version)
    texts.update(extra or {})
    if as_zip:
        path = dest.with_suffix(".zip")
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in texts.items():
                zf.writestr(name, text)
        return path
    dest.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (dest / name).write_text(text, encoding="utf-8", newline="")
    return dest


def bulk() -> dict[str, list[Row]]:
    return copy.deepcopy(BULK)


def delta() -> dict[str, list[Row]]:
    return copy.deepcopy(DELTA)


# fmt: off
BULK: dict[str, list[Row]] = {
    "academicSessions": [
        {'sourcedId': 'as-2026', 'title': '2025-26', 'type': 'schoolYear', 'startDate': '2025-09-01', 'endDate': '2026-08-01', 'schoolYear': '2026'},
        {'sourcedId': 'as-2026-t1', 'title': 'Autumn Term 2025', 'type': 'term', 'startDate': '2025-09-01', 'endDate': '2025-12-20', 'parentSourcedId': 'as-2026', 'schoolYear': '2026'},
        {'sourcedId': 'as-2026-t2', 'title': 'Spring Term 2026', 'type': 'term', 'startDate': '2026-01-05', 'endDate': '2026-03-28', 'parentSourcedId': 'as-2026', 'schoolYear': '2026'},
    ],
    "categories": [
        {'sourcedId': 'cat-hw', 'title': 'Homework', 'weight': '40'},
        {'sourcedId': 'cat-as', 'title': 'Assessments', 'weight': '60'},
    ],
    "classes": [
        {'sourcedId': 'cls-7ma1', 'title': '7X/Ma1', 'grades': '07', 'courseSourcedId': 'crs-ma7', 'classCode': '7X/Ma1', 'classType': 'scheduled', 'location': 'Room M4', 'schoolSourcedId': 'org-sch-100', 'termSourcedIds': 'as-2026-t1,as-2026-t2', 'subjects': 'Mathematics', 'subjectCodes': 'MA', 'periods': '2,5'},
        {'sourcedId': 'cls-7en1', 'title': '7X/En1', 'grades': '07', 'courseSourcedId': 'crs-en7', 'classCode': '7X/En1', 'classType': 'scheduled', 'location': 'Room E2', 'schoolSourcedId': 'org-sch-100', 'termSourcedIds': 'as-2026-t1,as-2026-t2', 'subjects': 'English', 'subjectCodes': 'EN', 'periods': '3'},
        {'sourcedId': 'cls-7x', 'title': 'Form 7X', 'grades': '07', 'courseSourcedId': 'crs-reg', 'classCode': '7X', 'classType': 'homeroom', 'location': 'Room F1', 'schoolSourcedId': 'org-sch-100', 'termSourcedIds': 'as-2026-t1,as-2026-t2'},
        {'sourcedId': 'cls-rb', 'title': 'Reception Bluebell', 'grades': 'KG', 'courseSourcedId': 'crs-reg', 'classCode': 'RB', 'classType': 'homeroom', 'location': 'Bluebell Room', 'schoolSourcedId': 'org-sch-100', 'termSourcedIds': 'as-2026-t1,as-2026-t2'},
    ],
    "courses": [
        {'sourcedId': 'crs-ma7', 'schoolYearSourcedId': 'as-2026', 'title': 'Mathematics Year 7', 'courseCode': 'MA7', 'grades': '07', 'orgSourcedId': 'org-sch-100', 'subjects': 'Mathematics', 'subjectCodes': 'MA'},
        {'sourcedId': 'crs-en7', 'schoolYearSourcedId': 'as-2026', 'title': 'English Year 7', 'courseCode': 'EN7', 'grades': '07', 'orgSourcedId': 'org-sch-100', 'subjects': 'English', 'subjectCodes': 'EN'},
        {'sourcedId': 'crs-reg', 'schoolYearSourcedId': 'as-2026', 'title': 'Registration', 'courseCode': 'REG', 'grades': 'KG,07', 'orgSourcedId': 'org-sch-100'},
    ],
    "demographics": [
        {'sourcedId': 's-1001', 'birthDate': '2014-02-11', 'sex': 'female'},
        {'sourcedId': 's-1002', 'birthDate': '2013-10-30', 'sex': 'male'},
        {'sourcedId': 's-1003', 'birthDate': '2014-06-02', 'sex': 'female'},
        {'sourcedId': 's-1004', 'birthDate': '2013-12-19', 'sex': 'male'},
        {'sourcedId': 's-1005', 'birthDate': '2021-11-03', 'sex': 'female'},
    ],
    "enrollments": [
        {'sourcedId': 'e-001', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 't-3001', 'role': 'teacher', 'primary': 'true', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-002', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 't-3002', 'role': 'teacher', 'primary': 'true', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-003', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 't-3001', 'role': 'teacher', 'primary': 'false', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-004', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 't-3001', 'role': 'teacher', 'primary': 'true', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-005', 'classSourcedId': 'cls-rb', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 't-3002', 'role': 'teacher', 'primary': 'true', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-006', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1001', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-007', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1002', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-008', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1003', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-009', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-010', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1001', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-011', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1002', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-012', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1003', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-013', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-014', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1001', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-015', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1002', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-016', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1003', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-017', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01'},
        {'sourcedId': 'e-018', 'classSourcedId': 'cls-rb', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1005', 'role': 'student', 'beginDate': '2025-09-01'},
    ],
    "lineItems": [
        {'sourcedId': 'li-001', 'title': 'Fractions practice', 'description': 'Worksheet 3, questions 1-20', 'assignDate': '2025-10-06', 'dueDate': '2025-10-13', 'classSourcedId': 'cls-7ma1', 'categorySourcedId': 'cat-hw', 'academicSessionSourcedId': 'as-2026-t1', 'resultValueMin': '0.0', 'resultValueMax': '20.0', 'schoolSourcedId': 'org-sch-100'},
        {'sourcedId': 'li-002', 'title': 'Persuasive letter', 'description': 'Write to the council, "for" or "against" the new cycle path', 'assignDate': '2025-11-03', 'dueDate': '2025-11-17', 'classSourcedId': 'cls-7en1', 'categorySourcedId': 'cat-as', 'academicSessionSourcedId': 'as-2026-t1', 'resultValueMin': '0.0', 'resultValueMax': '40.0', 'schoolSourcedId': 'org-sch-100'},
        {'sourcedId': 'li-003', 'title': 'Algebra unit test', 'assignDate': '2025-12-01', 'dueDate': '2025-12-01', 'classSourcedId': 'cls-7ma1', 'categorySourcedId': 'cat-as', 'academicSessionSourcedId': 'as-2026-t1', 'schoolSourcedId': 'org-sch-100'},
    ],
    "orgs": [
        {'sourcedId': 'org-dist-1', 'name': 'Ashdown Learning Trust', 'type': 'district'},
        {'sourcedId': 'org-sch-100', 'name': 'Hollybrook Academy', 'type': 'school', 'identifier': '9994001', 'parentSourcedId': 'org-dist-1'},
    ],
    "results": [
        {'sourcedId': 'res-001', 'lineItemSourcedId': 'li-001', 'studentSourcedId': 's-1001', 'scoreStatus': 'fully graded', 'score': '18', 'scoreDate': '2025-10-14', 'comment': 'Clear working, well done', 'classSourcedId': 'cls-7ma1', 'inProgress': 'false', 'incomplete': 'false', 'late': 'false', 'missing': 'false'},
        {'sourcedId': 'res-002', 'lineItemSourcedId': 'li-001', 'studentSourcedId': 's-1002', 'scoreStatus': 'submitted', 'scoreDate': '2025-10-13', 'classSourcedId': 'cls-7ma1'},
        {'sourcedId': 'res-003', 'lineItemSourcedId': 'li-001', 'studentSourcedId': 's-1003', 'scoreStatus': 'not submitted', 'scoreDate': '2025-10-14', 'classSourcedId': 'cls-7ma1', 'missing': 'true'},
        {'sourcedId': 'res-004', 'lineItemSourcedId': 'li-001', 'studentSourcedId': 's-1004', 'scoreStatus': 'exempt', 'scoreDate': '2025-10-10', 'comment': 'Exempt, on a school trip', 'classSourcedId': 'cls-7ma1'},
        {'sourcedId': 'res-005', 'lineItemSourcedId': 'li-002', 'studentSourcedId': 's-1001', 'scoreStatus': 'partially graded', 'score': '22', 'scoreDate': '2025-11-20', 'comment': 'Content marked; spelling, punctuation and grammar still to mark', 'classSourcedId': 'cls-7en1', 'incomplete': 'false'},
        {'sourcedId': 'res-006', 'lineItemSourcedId': 'li-002', 'studentSourcedId': 's-1002', 'scoreStatus': 'fully graded', 'score': '30.5', 'scoreDate': '2025-11-21', 'classSourcedId': 'cls-7en1', 'late': 'true'},
        {'sourcedId': 'res-007', 'lineItemSourcedId': 'li-002', 'studentSourcedId': 's-1003', 'scoreStatus': 'not submitted', 'scoreDate': '2025-11-10', 'classSourcedId': 'cls-7en1', 'inProgress': 'true'},
        {'sourcedId': 'res-008', 'lineItemSourcedId': 'li-003', 'studentSourcedId': 's-1003', 'scoreStatus': 'fully graded', 'score': '41', 'scoreDate': '2025-12-03', 'textScore': 'B', 'classSourcedId': 'cls-7ma1'},
        {'sourcedId': 'res-009', 'lineItemSourcedId': 'li-003', 'studentSourcedId': 's-1004', 'scoreStatus': 'ext:awaitingModeration', 'scoreDate': '2025-12-03', 'classSourcedId': 'cls-7ma1'},
    ],
    "roles": [
        {'sourcedId': 'r-s-1001-student', 'userSourcedId': 's-1001', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-s-1002-student', 'userSourcedId': 's-1002', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-s-1003-student', 'userSourcedId': 's-1003', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-s-1004-student', 'userSourcedId': 's-1004', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-s-1005-student', 'userSourcedId': 's-1005', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2001-parent', 'userSourcedId': 'p-2001', 'roleType': 'primary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2002-parent', 'userSourcedId': 'p-2002', 'roleType': 'primary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2003-parent', 'userSourcedId': 'p-2003', 'roleType': 'primary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2004-guardian', 'userSourcedId': 'p-2004', 'roleType': 'primary', 'role': 'guardian', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2005-relative', 'userSourcedId': 'p-2005', 'roleType': 'primary', 'role': 'relative', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2006-parent', 'userSourcedId': 'p-2006', 'roleType': 'primary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-t-3001-teacher', 'userSourcedId': 't-3001', 'roleType': 'primary', 'role': 'teacher', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-t-3002-teacher', 'userSourcedId': 't-3002', 'roleType': 'primary', 'role': 'teacher', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-t-3002-parent', 'userSourcedId': 't-3002', 'roleType': 'secondary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
    ],
    "users": [
        {'sourcedId': 's-1001', 'enabledUser': 'true', 'username': 'amira.okonjo-hale01', 'userIds': '{UPN:A999400125001},{ArborStudentId:1201}', 'givenName': 'Amira', 'familyName': 'Okonjo-Hale', 'identifier': 'A999400125001', 'agentSourcedIds': 'p-2001,p-2002', 'grades': '07', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 's-1002', 'enabledUser': 'true', 'username': 'tomasz.brennan02', 'userIds': '{UPN:A999400125002},{ArborStudentId:1202}', 'givenName': 'Tomasz', 'familyName': 'Brennan', 'identifier': 'A999400125002', 'grades': '07', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 's-1003', 'enabledUser': 'true', 'username': 'priya.castellane03', 'userIds': '{UPN:A999400125003},{ArborStudentId:1203}', 'givenName': 'Priya', 'familyName': 'Castellane', 'identifier': 'A999400125003', 'agentSourcedIds': 'p-2004', 'grades': '07', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 's-1004', 'enabledUser': 'true', 'username': 'oliver.quennell04', 'userIds': '{UPN:A999400125004},{ArborStudentId:1204}', 'givenName': 'Oliver', 'familyName': 'Quennell', 'identifier': 'A999400125004', 'agentSourcedIds': 't-3002,p-2006', 'grades': '07', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 's-1005', 'enabledUser': 'true', 'username': 'zara.okonjo-hale05', 'userIds': '{UPN:A999400122005},{ArborStudentId:1205}', 'givenName': 'Zara', 'familyName': 'Okonjo-Hale', 'identifier': 'A999400122005', 'grades': 'KG', 'preferredGivenName': 'Zee', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2001', 'enabledUser': 'true', 'username': 'ngozi.oh@example.com', 'givenName': 'Ngozi', 'familyName': 'Okonjo-Hale', 'email': 'ngozi.oh@example.com', 'sms': '+447700900101', 'agentSourcedIds': 's-1005', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2002', 'enabledUser': 'true', 'username': 'd.hale@example.net', 'givenName': 'Daniel', 'familyName': 'Hale', 'email': 'd.hale@example.net', 'sms': '+447700900102', 'agentSourcedIds': 's-1001', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2003', 'enabledUser': 'true', 'username': 'marta.b@example.org', 'givenName': 'Marta', 'familyName': 'Brennan', 'email': 'marta.b@example.org', 'sms': '+447700900103', 'agentSourcedIds': 's-1002,s-1003', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2004', 'enabledUser': 'true', 'username': 'k.darcy@example.com', 'givenName': 'Kieran', 'familyName': "D'Arcy", 'email': 'k.darcy@example.com', 'sms': '+447700900104', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2005', 'enabledUser': 'true', 'username': 'eileen.q@example.org', 'givenName': 'Eileen', 'familyName': 'Quennell', 'email': 'eileen.q@example.org', 'agentSourcedIds': 's-1004', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2006', 'enabledUser': 'false', 'username': 'ruth.q@example.net', 'givenName': 'Ruth', 'familyName': 'Quennell', 'email': 'ruth.q@example.net', 'sms': '+447700900106', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 't-3001', 'enabledUser': 'true', 'username': 'h.marchetti@hollybrook.example.sch.uk', 'givenName': 'Helen', 'familyName': 'Marchetti', 'email': 'h.marchetti@hollybrook.example.sch.uk', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 't-3002', 'enabledUser': 'true', 'username': 's.quennell@hollybrook.example.sch.uk', 'givenName': 'Samuel', 'familyName': 'Quennell', 'email': 's.quennell@hollybrook.example.sch.uk', 'sms': '+447700900108', 'primaryOrgSourcedId': 'org-sch-100', 'pronouns': 'he/him'},
    ],
}
DELTA: dict[str, list[Row]] = {
    "demographics": [
        {'sourcedId': 's-1004', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'birthDate': '2013-12-19', 'sex': 'male'},
    ],
    "enrollments": [
        {'sourcedId': 'e-009', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'classSourcedId': 'cls-7ma1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01', 'endDate': '2025-12-05'},
        {'sourcedId': 'e-013', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'classSourcedId': 'cls-7en1', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01', 'endDate': '2025-12-05'},
        {'sourcedId': 'e-017', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'classSourcedId': 'cls-7x', 'schoolSourcedId': 'org-sch-100', 'userSourcedId': 's-1004', 'role': 'student', 'beginDate': '2025-09-01', 'endDate': '2025-12-05'},
    ],
    "results": [
        {'sourcedId': 'res-002', 'status': 'active', 'dateLastModified': '2025-12-04T17:40:00.000Z', 'lineItemSourcedId': 'li-001', 'studentSourcedId': 's-1002', 'scoreStatus': 'fully graded', 'score': '15', 'scoreDate': '2025-12-04', 'classSourcedId': 'cls-7ma1'},
        {'sourcedId': 'res-010', 'status': 'active', 'dateLastModified': '2025-12-04T17:41:00.000Z', 'lineItemSourcedId': 'li-003', 'studentSourcedId': 's-1001', 'scoreStatus': 'fully graded', 'score': '47', 'scoreDate': '2025-12-04', 'textScore': 'A', 'classSourcedId': 'cls-7ma1'},
        {'sourcedId': 'res-009', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'lineItemSourcedId': 'li-003', 'studentSourcedId': 's-1004', 'scoreStatus': 'ext:awaitingModeration', 'scoreDate': '2025-12-03', 'classSourcedId': 'cls-7ma1'},
    ],
    "roles": [
        {'sourcedId': 'r-s-1004-student', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'userSourcedId': 's-1004', 'roleType': 'primary', 'role': 'student', 'beginDate': '2025-09-01', 'endDate': '2025-12-05', 'orgSourcedId': 'org-sch-100'},
        {'sourcedId': 'r-p-2007-parent', 'status': 'active', 'dateLastModified': '2025-12-05T08:30:00.000Z', 'userSourcedId': 'p-2007', 'roleType': 'primary', 'role': 'parent', 'orgSourcedId': 'org-sch-100'},
    ],
    "users": [
        {'sourcedId': 's-1004', 'status': 'tobedeleted', 'dateLastModified': '2025-12-04T16:05:00.000Z', 'enabledUser': 'true', 'username': 'oliver.quennell04', 'userIds': '{UPN:A999400125004},{ArborStudentId:1204}', 'givenName': 'Oliver', 'familyName': 'Quennell', 'identifier': 'A999400125004', 'agentSourcedIds': 't-3002,p-2006', 'grades': '07', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2001', 'status': 'active', 'dateLastModified': '2025-12-04T09:12:31.250Z', 'enabledUser': 'true', 'username': 'ngozi.okonjo-hale@example.com', 'givenName': 'Ngozi', 'familyName': 'Okonjo-Hale', 'email': 'ngozi.okonjo-hale@example.com', 'sms': '+447700900101', 'agentSourcedIds': 's-1005', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2002', 'status': 'active', 'dateLastModified': '2025-12-05T08:00:00.000Z', 'enabledUser': 'false', 'username': 'd.hale@example.net', 'givenName': 'Daniel', 'familyName': 'Hale', 'email': 'd.hale@example.net', 'sms': '+447700900102', 'agentSourcedIds': 's-1001', 'primaryOrgSourcedId': 'org-sch-100'},
        {'sourcedId': 'p-2007', 'status': 'active', 'dateLastModified': '2025-12-05T08:30:00.000Z', 'enabledUser': 'true', 'username': 'aisha.brennan@example.org', 'givenName': 'Aisha', 'familyName': 'Brennan', 'email': 'aisha.brennan@example.org', 'agentSourcedIds': 's-1002', 'primaryOrgSourcedId': 'org-sch-100'},
    ],
}
# fmt: on
