"""kill -9 at random points of a sync, 30 times: the cache stays whole and the next run completes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kill9 import VERSIONS, kill_loop, snapshot


@pytest.mark.slow
def test_thirty_kills_mid_sync_leave_an_intact_database_whole_snapshots_and_a_working_next_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = kill_loop(tmp_path, rounds=30, seed=5)
    with capsys.disabled():
        print(
            f"\n  [figure] kill -9 x{report.kills}: {report.interrupted} mid-run, "
            f"{report.published_before_kill} after publishing; reader saw {report.reads} snapshots, "
            f"{len(report.bad_reads)} mixed; integrity failures {len(report.integrity_failures)}; "
            f"next run {report.final_status}"
        )
    assert report.integrity_failures == []
    assert report.bad_reads == []
    assert report.reads > 0
    assert report.final_status == "published"
    # the kills really landed inside syncs, not only before or after them
    assert report.interrupted >= 5
    import sqlite3

    conn = sqlite3.connect(tmp_path / "cache.db", isolation_level=None)
    got = snapshot(conn)
    assert got is not None and got[1:] == (VERSIONS["a"], VERSIONS["a"])
    # nothing staged by a killed run is left behind after the clean run
    leftover = conn.execute(
        "SELECT count(*) FROM record WHERE valid_from > (SELECT published_run FROM source_state)"
    ).fetchone()[0]
    running = conn.execute("SELECT count(*) FROM sync_run WHERE status = 'running'").fetchone()[0]
    assert (leftover, running) == (0, 0)
