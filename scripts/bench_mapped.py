"""Rows/s of the mapped layout reading Arbor-shaped long attendance, against two ceilings.

Writes one uk school's preset export (a full year of AM/PM attendance), rewrites its
attendance file in the layout of Arbor's BI ``ATTENDANCE`` dataset (``STUDENT_ID``,
``RAW_MARK``, ``PERIOD`` MORNING/AFTERNOON, ISO ``DATE``, ``NULL`` for empty cells: see
``tests/support/data/uk/SOURCE.md``), then in one process times: ``csv.reader`` over the Arbor file
(the ceiling), the preset connector over the preset file (the hand-tuned path, same
marks), and the mapped layout over the Arbor file with the mapping the README documents
(null token, row filter, value map, per-file date format). Compare the ratios, not the
absolute numbers, across runs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.cloudschool.connector import CloudSchoolConnector  # noqa: E402
from connectors.cloudschool.options import Options  # noqa: E402
from simulators.cloudschool.export import write_export  # noqa: E402
from simulators.district.calendar import school_year  # noqa: E402
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict  # noqa: E402

ARBOR_HEADER = ["STUDENT_ID", "APPLICATION_ID", "RAW_MARK", "MARK_CODE", "MINUTES_LATE", "PERIOD", "DATE",
                "IS_PRESENT", "IS_AUTHORIZED_ABSENT", "IS_UNAUTHORIZED_ABSENT", "IS_POSSIBLE_ATTENDANCE"]  # fmt: skip
MAPPED = {
    "sources": {
        "arbor": {"file": "attendance.csv", "date_format": "%Y-%m-%d", "flag_true": ["TRUE"],
                  "flag_false": ["FALSE"], "null": ["NULL"]},
    },
    "records": {
        "attendance": {
            "from": "arbor",
            "where": {"RAW_MARK": {"blank": False}},
            "fields": {"StudentID": "STUDENT_ID", "Date": "DATE",
                       "Session": {"column": "PERIOD", "map": {"MORNING": "AM", "AFTERNOON": "PM"}},
                       "Mark": "RAW_MARK", "MinutesLate": {"column": "MINUTES_LATE", "optional": True}},
        }
    },
}  # fmt: skip


def arbor_file(preset: Path, dest: Path) -> int:
    """The preset attendance file rewritten in Arbor's long layout; returns its data rows."""
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    with (
        (preset / "attendance_sessions.csv").open(encoding="utf-8-sig", newline="") as src,
        (dest / "attendance.csv").open("w", encoding="utf-8", newline="") as out,
    ):
        rows, w = csv.reader(src), csv.writer(out, lineterminator="\r\n")
        next(rows)
        w.writerow(ARBOR_HEADER)
        for sid, day, session, mark, late in rows:
            d = dt.datetime.strptime(day, "%d/%m/%Y").date().isoformat()
            period = "MORNING" if session == "AM" else "AFTERNOON"
            w.writerow(
                [
                    sid,
                    "uk_bench",
                    mark or "NULL",
                    "NULL",
                    late or "NULL",
                    period,
                    d,
                    "NULL",
                    "NULL",
                    "NULL",
                    "NULL",
                ]
            )
            n += 1
    return n


def read(conn: CloudSchoolConnector) -> tuple[int, int, float]:
    start = time.perf_counter()
    records = rejected = 0
    for page in conn.read("attendance", None, full=True):
        records += len(page.records)
        rejected += len(page.rejected)
    return records, rejected, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=2000)
    ap.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temporary one).")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    base = args.dir or Path(tempfile.mkdtemp(prefix="portico-bench-mapped-"))
    try:
        _, year_end = school_year(dt.date(2026, 11, 24), "uk")
        district = SyntheticDistrict(
            DistrictSpec(seed=7, schools=1, students=args.students, style="uk", today=year_end)
        )
        school = next(iter(district.iter("school")))
        preset = base / "preset"
        write_export(district, preset, school_id=school.source_id)
        rows = arbor_file(preset, base / "arbor")
        clock = dt.datetime.combine(district.today, dt.time(18), dt.UTC)
        common = {
            "school_id": school.source_id,
            "school_name": school.name,
            "settle_seconds": 0,
            "manifest": None,
        }
        hand = CloudSchoolConnector(
            "bench",
            Options.model_validate({"path": str(preset), **common}),
            base_dir=base,
            clock=lambda: clock,
        )
        mapped = CloudSchoolConnector(
            "bench",
            Options.model_validate({"path": str(base / "arbor"), **common, **MAPPED}),
            base_dir=base,
            clock=lambda: clock,
        )
        start = time.perf_counter()
        with (base / "arbor" / "attendance.csv").open(encoding="utf-8", newline="") as fh:
            ceiling_rows = sum(1 for _ in csv.reader(fh)) - 1
        ceiling = time.perf_counter() - start
        hand.export()  # hash once, as any run's gate does; not part of the timings
        mapped.read("school", None).__next__()
        h_records, h_rejected, h_seconds = read(hand)
        m_records, m_rejected, m_seconds = read(mapped)
        assert ceiling_rows == rows and h_records == m_records and h_rejected == m_rejected == 0, (
            h_records, m_records, h_rejected, m_rejected
        )  # fmt: skip
        print(f"attendance rows: {rows:,} ({args.students:,} students, a full year of AM/PM sessions)")
        print(f"csv.reader ceiling:          {ceiling_rows / ceiling:>10,.0f} rows/s")
        print(
            f"preset connector (hand path): {rows / h_seconds:>10,.0f} rows/s = {ceiling / h_seconds:.0%} of csv.reader"
        )
        print(f"mapped layout, Arbor file:    {rows / m_seconds:>10,.0f} rows/s = {ceiling / m_seconds:.0%} of csv.reader, "
              f"{h_seconds / m_seconds:.0%} of the preset path")  # fmt: skip
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
