"""The synthetic district the tests sync and serve: one spec family, sized per test."""

from __future__ import annotations

import datetime as dt
from typing import Any

from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from tests.support.clock import TODAY

SEED = 11


def spec(
    students: int = 14, *, schools: int = 2, seed: int = SEED, today: dt.date = TODAY, **more: Any
) -> DistrictSpec:
    """Two schools on ``TODAY`` (2026-11-24) from seed 11 unless a test needs otherwise."""
    return DistrictSpec(seed=seed, schools=schools, students=students, today=today, **more)


def district(students: int = 14, **spec_fields: Any) -> SyntheticDistrict:
    return SyntheticDistrict(spec(students, **spec_fields))
