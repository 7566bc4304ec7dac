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


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def test_serve_with_two_processes_answers_from_both_runs_one_scheduler_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str
) -> None:
    write_state(tmp_path / "source.json", students=20)
    path = write_config(tmp_path, sqlite_url, schedule={"interval": 1})
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        MODULE,
        "--config",
        str(path),
        "serve",
        "--port",
        str(port),
        "--processes",
        "2",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ready() -> httpx.Response | None:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
        except httpx.TransportError:
            return None
        return r if r.status_code == 200 else None

    try:
        wait_until(ready, 60, "GET /readyz answering 200")
        servers = _children(proc.pid)
        # Each server has its own connections: many requests, each on a new connection
        # (the kernel spreads them), all answered.
        answers = [httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code for _ in range(20)]
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
        print(output[-3000:])
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    assert len(servers) == 2
    assert answers == [200] * 20
    assert "serve.processes" in events and "sync.finished" in events
    # One scheduler, in the parent: its start is logged once, not once per server.
    assert [line.get("source") for line in lines if line["event"] == "scheduler.job"].count("sis") == 1
    assert events[-1] == "serve.stopped"
    assert proc.returncode == 0, output[-2000:]
    assert not any(Path(f"/proc/{pid}").exists() for pid in servers)
