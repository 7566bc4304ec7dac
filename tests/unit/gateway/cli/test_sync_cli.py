"""`portico sync`, `sync show|approve|discard` and `status` as IT uses them."""

from __future__ import annotations

import io
import re
import time
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
    # Not a terminal: one line per stream, when it ends; a blink of a stream has no rate.
    assert re.findall(r"^students: .*$", res.output, re.M) == [
        re.search(r"^students: 100 records, 2 pages in 0\.\ds$", res.output, re.M).group(0)  # type: ignore[union-attr]
    ]
    assert re.search(r"^contacts: 200 records, 4 pages in 0\.\ds$", res.output, re.M), res.output
    assert "records/s" not in res.output and "\r" not in res.output
    assert res.output.index("Syncing sis ...") < res.output.index("students: ")
    assert "published" in res.output
    assert re.search(r"student\s+\+100 ~0 -0 =0", res.output)
    # The summary table: one row per connector.
    assert "Sync summary" in res.output
    assert re.search(
        r"sis\s+│\s+1\s+│\s+published\s+│\s+[\d.]+\s+│\s+300\s+│\s+300\s+│\s+0\s+│\s+0\s+│\s+0", res.output
    )


def test_a_stream_that_takes_time_shows_its_rate_and_a_terminal_keeps_every_streams_line(
    tmp_path: Path, sqlite_url: str
) -> None:
    install()
    path = write_config(
        tmp_path, sqlite_url, options={"state_file": str(tmp_path / "source.json"), "page_delay": 0.3}
    )
    write_state(tmp_path / "source.json", 100)
    res = CliRunner().invoke(main, ["--config", str(path), "sync"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    found = re.search(
        r"^students: 100 records, 2 pages in (\d+\.\d)s \(([\d,]+) records/s\)$", res.output, re.M
    )
    assert found, res.output
    assert (
        abs(int(found.group(2).replace(",", "")) - 100 / float(found.group(1)))
        <= 100 / float(found.group(1)) * 0.2
    )


def test_on_a_terminal_each_stream_is_rewritten_in_place_then_left_on_its_own_line() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    from connectors.base import Page
    from gateway.cli.sync_cmds import _progress

    out = Tty()
    progress = _progress(out, live=True)
    assert progress.on_page and progress.on_stream_done
    for stream, total in (("students", 3), ("contacts", 2)):
        for n in range(1, total + 1):
            progress.on_page(stream, Page(records=[], cursor=None, full=True), n * 10, n)
            time.sleep(0.21)
        progress.on_stream_done(stream, total * 10, 0.7 * total)
    progress.on_stream_done("one", 1, 0.1)
    screen = [line.rsplit("\r", 1)[-1].replace("\x1b[K", "") for line in out.getvalue().split("\n")]
    assert screen == [
        "students: 30 records, 3 pages in 2.1s (14 records/s)",
        "contacts: 20 records, 2 pages in 1.4s (14 records/s)",
        "one: 1 record in 0.1s",
        "",
    ]
    assert out.getvalue().count("\rstudents: ") >= 3  # rewritten as pages came in


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
