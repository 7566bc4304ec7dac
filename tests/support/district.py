"""The synthetic district the tests sync and serve: one spec family, sized per test."""

from __future__ import annotations

import datetime as dt

from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from tests.support.clock import TODAY

SEED = 11


def spec(
    students: int = 14, *, schools: int = 2, seed: int = SEED, today: dt.date = TODAY, **more: object
) -> DistrictSpec:
    """Two schools on ``TODAY`` (2026-11-24) from seed 11 unless a test needs otherwise."""
    return DistrictSpec(seed=seed, schools=schools, students=students, today=today, **more)  # type: ignore[arg-type]


def district(students: int = 14, **spec_fields: object) -> SyntheticDistrict:
    return SyntheticDistrict(spec(students, **spec_fields))  # type: ignore[arg-type]
