"""`portico serve` runs the API and the scheduler in one process, logs JSON, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from simulators.powerschool.server import free_port
from tests.support.fake_source import MODULE, write_config, write_state

ROOT = Path(__file__).resolve().parent.parent


def test_serve_answers_health_checks_runs_scheduled_syncs_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_state(tmp_path / "source.json", students=20)
    path = write_config(tmp_path, sqlite_url, schedule={"interval": 1})
    port = free_port()
    cmd = [sys.executable, "-m", MODULE, "--config", str(path), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = None
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    # Every line is structured, uvicorn's and APScheduler's included.
    events = [json.loads(line)["event"] for line in output.splitlines() if line.strip()]
    assert health.status_code == 200
    # /readyz turns 200 once the scheduler's first sync has published a snapshot.
    assert ready is not None and ready.status_code == 200, output[-2000:]
    assert "sync.finished" in events and "scheduler.job" in events
    assert events[-1] == "serve.stopped"  # the scheduler was shut down, not killed
    assert proc.returncode == 0, output[-2000:]
