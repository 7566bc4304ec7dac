"""A rehearsal export of a synthetic UK school, and the connector options that read it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connectors.records import School
from simulators.cloudschool.export import ExportSummary, write_export
from simulators.district.synthetic import DistrictSpec, SyntheticDistrict


def simulate_cloudschool(
    out: str | Path,
    *,
    defects: tuple[str, ...] | list[str] = (),
    students: int = 300,
    seed: int = 7,
    target: str = "students",
    manifest: bool = True,
    changed_fraction: float = 0.0,
    today: dt.date | None = None,
) -> tuple[ExportSummary, dict[str, str]]:
    """Write the export; returns what was written and the connector options to read it."""
    spec = DistrictSpec(
        seed=seed, schools=1, students=students, style="uk", today=today or DistrictSpec.today
    )
    district = SyntheticDistrict(spec)
    summary = write_export(
        district,
        out,
        defects=defects,
        manifest=manifest,
        changed_fraction=changed_fraction,
        target=target,
        seed=seed,
    )
    school = next(iter(district.iter("school")))
    assert isinstance(school, School)
    options = {"path": str(out), "school_id": school.source_id, "school_name": school.name}
    return summary, options
