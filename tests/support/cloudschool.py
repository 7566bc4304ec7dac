"""The synthetic district as a Cloud-School-like export (one uk school), and its connector."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from config.errors import RecordError
from connectors.cloudschool.connector import CloudSchoolConnector
from connectors.cloudschool.options import Options
from connectors.records import Record, School
from simulators.cloudschool.export import ExportSummary, write_export
from simulators.district.synthetic import SyntheticDistrict
from tests.support.district import district as make_district

# The connector's clock: the evening of the district's today, after the school day.
CLOCK = dt.datetime(2026, 11, 24, 18, 30, tzinfo=dt.UTC)


@lru_cache(maxsize=1)
def district() -> SyntheticDistrict:
    return make_district(40, style="uk")


def school() -> School:
    first = next(iter(district().iter("school")))
    assert isinstance(first, School)
    return first


def school_id() -> str:
    return school().source_id


def export(folder: Path, **kwargs: Any) -> ExportSummary:
    return write_export(district(), folder, school_id=school_id(), **kwargs)


def connector(folder: Path, **options: Any) -> CloudSchoolConnector:
    first = school()
    opts = {
        "path": str(folder),
        "school_id": first.source_id,
        "school_name": first.name,
        "year_start_date": first.year_start_date,
        "year_end_date": first.year_end_date,
        **options,
    }
    return CloudSchoolConnector(
        "school", Options.model_validate(opts), base_dir=folder.parent, clock=lambda: CLOCK
    )


def read_all(conn: CloudSchoolConnector) -> tuple[dict[str, list[Record]], list[RecordError]]:
    """Every stream read in order: records by kind, and the rows set aside."""
    records: dict[str, list[Record]] = defaultdict(list)
    rejected: list[RecordError] = []
    for stream in conn.streams():
        for page in conn.read(stream.name, None, full=True):
            assert page.full
            for r in page.records:
                records[r.kind].append(r)
            rejected += page.rejected
    return dict(records), rejected
