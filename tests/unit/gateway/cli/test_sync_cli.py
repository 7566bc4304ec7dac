"""`portico sync`, `sync show|approve|discard` and `status` as IT uses them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from tests.support.fake_source import install, write_config, write_state


@pytest.fixture
def portico(tmp_path: Path, sqlite_url: str):
    install()
    path = write_config(tmp_path, sqlite_url, breaker={"failures": 2, "cooldown": "PT10M"})
    state = tmp_path / "source.json"

    def run(*args: str, students: int = 100, version: str = "a", down: bool = False) -> Result:
        write_state(state, students, version, down)
        return CliRunner(env={"COLUMNS": "250"}).invoke(
            main, ["--config", str(path), *args], catch_exceptions=False
        )

    return run


def run_id(result: Result) -> int:
    found = re.search(r"run (\d+) ", result.output)
    assert found, result.output
    return int(found.group(1))


def test_a_manual_sync_prints_per_stream_progress_and_the_counts(portico) -> None:
    res = portico("sync")
    assert res.exit_code == 0, res.output
    assert re.search(r"students: 100 records in [\d.]+s", res.output)
    assert re.search(r"contacts: 200 records in [\d.]+s", res.output)
    assert "published" in res.output
    assert re.search(r"student\s+\+100 ~0 -0 =0", res.output)


def test_a_held_run_is_shown_without_personal_data_and_can_be_approved(portico) -> None:
    portico("sync")
    held = portico("sync", students=50, version="b")
    assert held.exit_code == 3, held.output
    rid = run_id(held)
    show = portico("sync", "show", str(rid))
    assert show.exit_code == 0
    assert "run " + str(rid) + " of sis: held" in show.output
    assert "student     added 0, changed 50, removed 50" in show.output
    assert "held because: 50 of 100 student records would be removed" in show.output
    for personal in ("First", "Last", "example.org", "00001", "8b"):
        assert personal not in show.output
    approved = portico("sync", "approve", str(rid))
    assert approved.output.strip() == f"run {rid} published"
    again = portico("sync", "approve", str(rid))
    assert again.exit_code != 0 and "is published, not held" in again.output
    status = portico("status")
    assert f"snapshot of run {rid}" in status.output


def test_a_discarded_run_leaves_the_last_good_snapshot_serving(portico) -> None:
    first = run_id(portico("sync"))
    rid = run_id(portico("sync", students=10))
    res = portico("sync", "discard", str(rid))
    assert res.output.strip() == f"run {rid} discarded"
    assert f"snapshot of run {first}" in portico("status").output


def test_a_manual_sync_runs_through_an_open_breaker_and_says_so(portico) -> None:
    portico("sync")
    for _ in range(2):
        assert portico("sync", down=True).exit_code == 1
    status = portico("status")
    assert "failures in a row: 2" in status.output and "breaker open until" in status.output
    res = portico("sync")
    assert "circuit breaker is open after 2 failed runs; a manual sync runs anyway" in res.output
    assert res.exit_code == 0
    assert "failures in a row: 0" in portico("status").output


def test_showing_a_run_that_does_not_exist_fails_cleanly(portico) -> None:
    res = portico("sync", "show", "999")
    assert res.exit_code == 2 and "no run 999" in res.output
