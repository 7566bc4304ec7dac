"""`portico serve` runs the API and the scheduler in one process, logs JSON, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import REPO
from tests.support.clock import wait_until
from tests.support.fake_source import MODULE, write_config, write_state
from tests.support.net import free_port


def test_serve_answers_health_checks_runs_scheduled_syncs_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_state(tmp_path / "source.json", students=20)
    path = write_config(tmp_path, sqlite_url, schedule={"interval": 1})
    port = free_port()
    cmd = [sys.executable, "-m", MODULE, "--config", str(path), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ready() -> httpx.Response | None:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        except httpx.TransportError:
            return None
        return r if r.status_code == 200 else None

    try:
        # /readyz turns 200 once the scheduler's first sync has published a snapshot.
        wait_until(ready, 30, "GET /readyz answering 200")
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
        print(output[-3000:])  # shown by pytest when the test fails
    # Every line is structured, uvicorn's and APScheduler's included.
    events = [json.loads(line)["event"] for line in output.splitlines() if line.strip()]
    assert health.status_code == 200
    assert "sync.finished" in events and "scheduler.job" in events
    assert events[-1] == "serve.stopped"  # the scheduler was shut down, not killed
    assert proc.returncode == 0, output[-2000:]
