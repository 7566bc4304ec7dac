"""Two `portico worker` processes on one PostgreSQL cache: each connector syncs in one place at a time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from cache.store import open_cache
from config.loader import load
from config.secrets import SecretResolver
from tests.support import REPO
from tests.support.clock import wait_until
from tests.support.fake_source import MODULE, write_config, write_state


def finished_runs(cache) -> list[tuple[float, float]]:
    with cache.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT started_at, finished_at FROM sync_run WHERE finished_at IS NOT NULL ORDER BY started_at"
            )
        ).all()
    return [(a.timestamp(), b.timestamp()) for a, b in rows]


@pytest.mark.postgres
def test_two_worker_processes_never_run_one_connector_at_the_same_time(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_state(tmp_path / "source.json", students=100)
    path = write_config(
        tmp_path,
        pg_url,
        schedule={"interval": 1},
        options={"state_file": str(tmp_path / "source.json"), "page_size": 10, "page_delay": 0.03},
    )
    # The schema exists before the workers start, as after `portico` has run once.
    cache = open_cache(load(str(path)).config, SecretResolver(base_dir=tmp_path))
    cmd = [sys.executable, "-m", MODULE, "--config", str(path), "worker"]
    workers = [
        subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    try:
        wait_until(lambda: len(finished_runs(cache)) >= 5, 40, "five finished runs")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        logs = [w.communicate(timeout=30)[0] for w in workers]
        print("\n".join(log[-2000:] for log in logs))  # shown by pytest when the test fails
    runs = finished_runs(cache)
    cache.dispose()
    events = [[json.loads(line) for line in log.splitlines() if line.startswith("{")] for log in logs]
    outcomes = [[e["status"] for e in ev if e.get("event") == "sync.finished"] for ev in events]
    skipped = sum(
        1 for ev in events for e in ev if e.get("event") == "sync.skipped" and e["reason"] == "locked"
    )
    with capsys.disabled():
        print(
            f"\n  [figure] 2 workers on PostgreSQL: {len(runs)} runs, none overlapping; "
            f"published per worker {[o.count('published') for o in outcomes]}, {skipped} attempts skipped by the lock"
        )
    assert [w.returncode for w in workers] == [0, 0], logs
    assert all(any(e.get("event") == "worker.stopped" for e in ev) for ev in events)
    assert len(runs) >= 5
    for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
        assert start >= end, "two runs of one connector overlapped"
    assert skipped >= 1  # both workers really competed for the connector
