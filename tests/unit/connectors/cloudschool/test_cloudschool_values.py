"""Cell parsing: UK dates by slicing with fallbacks, local date-times to UTC, flags, ids as strings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.errors import SourceDataError
from connectors import registry
from connectors.cloudschool.connector import CloudSchoolConnector
from connectors.cloudschool.values import BadCell, DateParser, DateTimeParser, Flags, parse_time
from gateway.cli.demo_cmds import demo_connector
from gateway.cli.simulate_cmds import cloudschool_command
from tests.support.cloudschool import connector, export


def test_uk_dates_parse_by_slicing_and_fall_back_for_unpadded_and_iso_cells() -> None:
    parse = DateParser("%d/%m/%Y")
    assert parse("01/09/2026", "Date") == dt.date(2026, 9, 1)
    assert parse("1/9/2026", "Date") == dt.date(2026, 9, 1)
    assert parse(" 2026-09-01 ", "Date") == dt.date(2026, 9, 1)
    with pytest.raises(BadCell, match="not a date in the format %d/%m/%Y") as bad:
        parse("31/02/2026", "DOB")
    assert bad.value.field == "DOB" and "31" not in str(bad.value)
    with pytest.raises(BadCell, match="blank"):
        parse("  ", "DOB")


def test_school_local_date_times_become_aware_utc_across_summer_time() -> None:
    parse = DateTimeParser("%d/%m/%Y %H:%M", "%d/%m/%Y", "Europe/London")
    assert parse("01/07/2026 09:30", "At") == dt.datetime(2026, 7, 1, 8, 30, tzinfo=dt.UTC)
    assert parse("01/12/2026 09:30", "At") == dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    assert parse("01/07/2026", "At") == dt.datetime(2026, 6, 30, 23, 0, tzinfo=dt.UTC)
    assert parse("01/07/2026 09:30:15", "At") == dt.datetime(2026, 7, 1, 8, 30, 15, tzinfo=dt.UTC)
    with pytest.raises(BadCell, match="not a date-time"):
        parse("01/07/2026 25:99", "At")


def test_flags_times_and_their_errors() -> None:
    flag = Flags(["Y", "Yes"], ["N", "No"])
    assert flag(" y ", "F") is True and flag("NO", "F") is False and flag("", "F", blank=False) is False
    with pytest.raises(BadCell, match="blank"):
        flag("", "CourtOrder")
    with pytest.raises(BadCell, match="not a recognised flag"):
        flag("maybe", "CourtOrder")
    assert parse_time("9:05", "T") == dt.time(9, 5)
    with pytest.raises(BadCell):
        parse_time("nine", "T")


def test_a_file_that_is_not_utf8_under_an_explicit_utf8_encoding_is_named(tmp_path: Path) -> None:
    export(tmp_path, defects={"cp1252"}, manifest=False)
    conn = connector(tmp_path, encoding="utf-8", settle_seconds=0)
    with pytest.raises(SourceDataError, match=r"students\.csv: not readable as utf-8"):
        list(conn.read("students", None, full=True))


def test_the_registry_builds_the_connector_from_yaml_options(tmp_path: Path) -> None:
    export(tmp_path / "exp")
    ctx = registry.BuildContext(base_dir=tmp_path)
    conn = registry.build(
        "cloudschool", "school", {"path": "exp", "school_id": "100", "school_name": "S"}, ctx
    )
    assert isinstance(conn, CloudSchoolConnector) and isinstance(conn, registry.Connector)
    assert conn.check().ok
    assert [s.name for s in conn.streams()][:3] == ["school", "students", "contacts"]


def test_the_simulate_command_writes_an_export_the_connector_reads(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cloudschool_command, ["--out", str(tmp_path / "out"), "--students", "20", "--defect", "crlf"]
    )
    assert result.exit_code == 0, result.output
    assert "students.csv" in result.output and "school_id: '100'" in result.output
    assert b"\r\n" in (tmp_path / "out" / "students.csv").read_bytes()
    bad = CliRunner().invoke(cloudschool_command, ["--out", str(tmp_path / "x"), "--defect", "nonsense"])
    assert bad.exit_code != 0


def test_the_demo_connector_entry_validates_and_reads(tmp_path: Path) -> None:
    entry = demo_connector(tmp_path, students=20, today=dt.date(2026, 11, 24))
    ctx = registry.BuildContext(base_dir=tmp_path)
    conn = registry.build("cloudschool", str(entry["name"]), entry["options"], ctx)  # type: ignore[arg-type]
    assert conn.check().ok
    assert sum(len(p.records) for p in conn.read("students", None, full=True)) == 20
