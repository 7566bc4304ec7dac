"""England's 2024 attendance codes are the default table: no configuration, each code's
statistical category and meaning, withdrawn codes only on records from before.

Reference: ``tests/support/data/dfe-attendance-codes-2024.csv`` (sources in its SOURCE.md)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from connectors.cloudschool.options import AttendanceCode, Options
from connectors.records import AttendanceCategory
from gateway.api.present import ATTENDANCE_CATEGORIES
from tests.support.exports import DFE_CODES

TABLE = DFE_CODES
# The statistical categories of the guidance, as Portico names them (L is a present mark that was late).
CATEGORY = {
    "present": {"present", "late"},
    "approved_educational_activity": {"approved_educational_activity"},
    "authorised_absence": {"authorised_absence"},
    "unauthorised_absence": {"unauthorised_absence"},
    "not_counted": {"not_required"},
}


def rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def codes() -> dict[str, AttendanceCode]:
    return Options.model_validate({"path": "x", "school_id": "1", "school_name": "s"}).codes()


@pytest.mark.parametrize("row", rows(), ids=lambda r: r["code"])
def test_each_code_in_force_since_august_2024_needs_no_configuration(row: dict[str, str]) -> None:
    code = codes()[row["code"]]
    assert code.category in CATEGORY[row["statistical_category"].replace("administrative", "not_counted")]
    counted = code.category != "not_required"
    assert counted == (row["counts_in_possible_sessions"] == "yes")
    assert code.meaning
    withdrawn = row["status"].startswith("inactive")
    assert (code.withdrawn == dt.date(2024, 8, 19)) == withdrawn


def test_every_category_has_a_meaning_families_can_read() -> None:
    assert set(ATTENDANCE_CATEGORIES) == {c.value for c in AttendanceCategory}


def test_an_mis_sub_code_can_stand_for_a_statutory_code_and_a_district_can_keep_a_withdrawn_one() -> None:
    table = Options.model_validate(
        {"path": "x", "school_id": "1", "school_name": "s",
         "attendance_codes": {"X01": {"same_as": "X"}, "H": {"category": "authorised_absence", "meaning": "Agreed holiday"}}}
    ).codes()  # fmt: skip
    assert (table["X01"].category, table["X01"].meaning) == ("not_required", codes()["X"].meaning)
    assert table["H"].withdrawn is None
    with pytest.raises(ValueError, match="same_as names no code"):
        Options.model_validate(
            {"path": "x", "school_id": "1", "school_name": "s", "attendance_codes": {"Z9": {"same_as": "ZZ"}}}
        )
