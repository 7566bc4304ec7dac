"""Fuzz: any rows at all either land as records or are set aside with file, row and reason."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.cloudschool.mapping import PRESET
from connectors.cloudschool.options import ENTITIES
from tests.support.cloudschool import connector

# Characters Windows-1252 can encode (control characters included), so every file can be
# written in any of the encodings real exports arrive in.
TEXT = st.text(st.characters(codec="cp1252"), max_size=12)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])
NEWLINES = st.sampled_from(["\n", "\r\n"])
DATES = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y"))
NICE = {
    "StudentID": st.from_regex(r"\A0{0,3}[0-9]{1,5}\Z"),
    "DOB": DATES,
    "AdmissionDate": DATES,
    "LeavingDate": st.one_of(st.just(""), DATES),
    "Date": DATES,
    "Session": st.sampled_from(["AM", "PM", "am", "EV"]),
    "Mark": st.sampled_from(["/", "\\", "L", "U", "N", "M", "-", "#", "Z", ""]),
    "MinutesLate": st.one_of(st.just(""), st.integers(-3, 90).map(str)),
    "Year": st.sampled_from(["Year 7", "Year 11", ""]),
}
FORMULA = st.sampled_from(["=1+2", "+44", "-1", "@SUM(A1)", 'a,"b"\nc'])


def _cell(column: str) -> st.SearchStrategy[str]:
    return st.one_of(NICE.get(column, TEXT), TEXT, FORMULA)


def _rows(entity: str) -> st.SearchStrategy[list[list[str]]]:
    cols = PRESET[entity].columns
    row = st.tuples(*(_cell(c) for c in cols)).map(list)
    odd = st.lists(TEXT, min_size=1, max_size=len(cols) + 2)  # wrong width
    return st.lists(st.one_of(row, row, row, odd), max_size=25)


def _read(entity: str, rows: list[list[str]], encoding: str = "utf-8", newline: str = "\n") -> None:
    only = {e: {"enabled": e == entity, "allow_empty": True} for e in ENTITIES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        name = PRESET[entity].file
        with (folder / name).open("w", encoding=encoding, newline="") as fh:
            # csv.writer quotes only the characters of its own line terminator, so with
            # "\n" a bare "\r" in a cell would really end the row: quote every cell then.
            quoting = csv.QUOTE_MINIMAL if newline == "\r\n" else csv.QUOTE_ALL
            writer = csv.writer(fh, lineterminator=newline, quoting=quoting)
            writer.writerow(PRESET[entity].columns)
            writer.writerows(rows)
        conn = connector(folder, settle_seconds=0, max_rejected=10**6, files=only, page_size=7)
        stream = "behaviour" if entity in ("behaviour", "achievements") else entity
        pages = list(conn.read(stream, None, full=True))
    records = [r for p in pages for r in p.records]
    rejected = [e for p in pages for e in p.rejected]
    stats = conn.stats[name]
    # Every row lands, is set aside, or is an unmarked register ("-"): none vanishes.
    assert stats.rows == len(rows)
    assert stats.landed + stats.rejected + stats.skipped == stats.rows
    assert len(rejected) == stats.rejected
    for e in rejected:
        where, _, row_no = e.where.rpartition(" row ")
        assert where == name and int(row_no) >= 2 and e.reason
    if entity == "contacts":  # a link per row, each contact once
        assert sum(r.kind == "link" for r in records) == stats.landed
    elif entity != "assessments":  # a grade's aspects merge into one record
        assert len(records) == stats.landed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows("students"), encoding=ENCODINGS, newline=NEWLINES)
def test_fuzzed_student_rows_land_or_are_set_aside(
    rows: list[list[str]], encoding: str, newline: str
) -> None:
    _read("students", rows, encoding, newline)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows("attendance"), encoding=ENCODINGS, newline=NEWLINES)
def test_fuzzed_attendance_rows_land_or_are_set_aside(
    rows: list[list[str]], encoding: str, newline: str
) -> None:
    _read("attendance", rows, encoding, newline)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entity=st.sampled_from(ENTITIES).filter(lambda e: e not in ("students", "attendance")), data=st.data())
def test_fuzzed_rows_of_any_file_land_or_are_set_aside(entity: str, data: st.DataObject) -> None:
    _read(entity, data.draw(_rows(entity)))
