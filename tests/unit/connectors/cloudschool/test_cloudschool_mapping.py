"""Column and file mapping: the preset, overrides, and every missing or unknown column named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.errors import SourceDataError
from config.loader import load
from connectors import registry
from connectors.cloudschool.mapping import check_mapping
from connectors.cloudschool.options import Options
from tests.support.cloudschool import connector, export, read_all


def _rename_header(path: Path, old: str, new: str) -> None:
    header, rest = path.read_text(encoding="utf-8").split("\n", 1)
    path.write_text(header.replace(old, new) + "\n" + rest, encoding="utf-8")


def _options(folder: Path, **extra: object) -> Options:
    return Options.model_validate({"path": str(folder), "school_id": "100", "school_name": "S", **extra})


def test_the_preset_matches_a_generated_export(tmp_path: Path) -> None:
    export(tmp_path)
    assert check_mapping(_options(tmp_path), tmp_path) == []


def test_a_renamed_column_is_reported_missing_and_unknown(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    _rename_header(tmp_path / "students.csv", "DOB", "DateOfBirth")
    _rename_header(tmp_path / "contacts.csv", "CourtOrder", "Court Order Flag")
    problems = check_mapping(_options(tmp_path), tmp_path)
    assert problems == [
        "students.csv: missing column 'DOB'",
        "students.csv: unknown column 'DateOfBirth' (map it under files.students.columns or list it in "
        "files.students.ignore_columns)",
        "contacts.csv: missing column 'CourtOrder'",
        "contacts.csv: unknown column 'Court Order Flag' (map it under files.contacts.columns or list it in "
        "files.contacts.ignore_columns)",
    ]


def test_a_missing_required_column_holds_the_export_naming_file_and_column(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    _rename_header(tmp_path / "students.csv", "DOB", "DateOfBirth")
    with pytest.raises(SourceDataError, match=r"students\.csv: missing column 'DOB'; export held"):
        read_all(connector(tmp_path, settle_seconds=0))


def test_a_district_maps_its_own_column_and_file_names_without_code(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    _rename_header(tmp_path / "students.csv", "DOB", "Date of Birth")
    (tmp_path / "students.csv").rename(tmp_path / "pupils.csv")
    files = {"students": {"file": "pupils.csv", "columns": {"DOB": "Date of Birth"}}}
    assert check_mapping(_options(tmp_path, files=files), tmp_path) == []
    records, rejected = read_all(connector(tmp_path, settle_seconds=0, files=files))
    assert records["student"] and rejected == []
    assert check_mapping(_options(tmp_path), tmp_path) == [
        "students.csv: file not found in the export folder (files.students)"
    ]


def test_a_mapped_column_absent_from_the_file_names_both_spellings(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    files = {"students": {"columns": {"DOB": "BirthDate"}}}
    problems = check_mapping(_options(tmp_path, files=files), tmp_path)
    assert "students.csv: missing column 'BirthDate' (mapped from DOB)" in problems
    assert any("unknown column 'DOB'" in p for p in problems)


def test_a_mapping_key_that_is_not_a_preset_column_is_named(tmp_path: Path) -> None:
    export(tmp_path)
    problems = check_mapping(
        _options(tmp_path, files={"classes": {"columns": {"Teacher": "Tutor"}}}), tmp_path
    )
    assert problems[0].startswith("files.classes.columns: 'Teacher' is not a column of the preset")


def test_extra_columns_can_be_ignored_quietly(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    _rename_header(tmp_path / "classes.csv", "Room", "Room,Capacity")
    problems = check_mapping(_options(tmp_path), tmp_path)
    assert problems == [
        "classes.csv: unknown column 'Capacity' (map it under files.classes.columns or list it in "
        "files.classes.ignore_columns)"
    ]
    assert (
        check_mapping(_options(tmp_path, files={"classes": {"ignore_columns": ["capacity"]}}), tmp_path) == []
    )


def test_headers_match_despite_spaces_case_and_underscores(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    _rename_header(tmp_path / "students.csv", "LegalForename", " legal_forename  ")
    assert check_mapping(_options(tmp_path), tmp_path) == []


def test_a_missing_folder_and_an_empty_file_are_named(tmp_path: Path) -> None:
    assert check_mapping(_options(tmp_path), tmp_path / "nowhere") == ["nowhere: export folder not found"]
    export(tmp_path, defects={"empty_file"}, target="notices")
    assert check_mapping(_options(tmp_path), tmp_path) == ["notices.csv: empty file (no header row)"]


@pytest.mark.parametrize(
    "extra",
    [{"pathh": "x"}, {"files": {"pupils": {}}}, {"encoding": "klingon"}, {"timezone": "Mars/Base"},
     {"attendance_codes": {"V": {"category": "visiting"}}}, {"flag_true": ["Y"], "flag_false": ["y"]}],
)  # fmt: skip
def test_invalid_options_are_refused(extra: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Options.model_validate({"path": "x", "school_id": "100", "school_name": "S", **extra})


def test_a_district_adds_its_own_attendance_code(tmp_path: Path) -> None:
    export(tmp_path)
    opts = _options(tmp_path, attendance_codes={"V": {"category": "authorised_absence", "meaning": "visit"}})
    assert opts.codes()["V"].category == "authorised_absence"
    assert opts.codes()["/"].category == "present"


def test_config_validate_names_the_file_column_and_yaml_line(tmp_path: Path) -> None:
    export(tmp_path / "exports" / "maple", manifest=False)
    _rename_header(tmp_path / "exports" / "maple" / "students.csv", "DOB", "Birthday")
    config = tmp_path / "portico.yaml"
    config.write_text(
        "district: {name: Demo}\n"
        "cache: {kek: {env: PORTICO_KEK}}\n"
        "connectors:\n"
        "  - name: maple\n"
        "    type: cloudschool\n"
        "    options:\n"
        "      path: exports/maple\n"
        "      school_id: '100'\n"
        "      school_name: Maple\n"
        "      files:\n"
        "        students:\n"
        "          ignore_columns: [Birthday]\n"
    )
    problems = [str(p) for p in registry.world_problems(load(str(config)))]
    assert problems == [
        f"{config}:11: connectors[maple].options.files.students.columns: students.csv: missing column 'DOB'"
    ]


def test_a_file_without_a_header_row_is_named_without_echoing_its_first_row(tmp_path: Path) -> None:
    export(tmp_path, manifest=False)
    path = tmp_path / "contacts.csv"
    header, first, *rest = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([first, *rest]) + "\n", encoding="utf-8")
    problems = check_mapping(_options(tmp_path), tmp_path)
    assert problems == ["contacts.csv: the first row names none of the mapped columns"]
    with pytest.raises(SourceDataError, match=r"contacts\.csv: the first row names none") as exc:
        read_all(connector(tmp_path, settle_seconds=0))
    assert not any(cell and cell in str(exc.value) for cell in first.split(",") if len(cell) > 2)
