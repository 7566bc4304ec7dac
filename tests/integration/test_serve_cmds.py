"""`portico serve` runs the API and the scheduler in one process, logs JSON, stops cleanly on SIGTERM;
`--processes N` serves from N processes, and the shipped API unit starts the number it names."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import REPO
from tests.support.clock import wait_until
from tests.support.fake_source import MODULE, write_config, write_state
from tests.support.net import free_port
from tests.support.systemd import UNITS, exec_start


@dataclass
class Run:
    """What one `portico` server command did between its start and SIGTERM."""

    servers: list[int]  # its child processes while it served
    probed: Any  # what the probe returned while it served
    lines: list[dict[str, Any]]  # its log, every line JSON
    returncode: int

    @property
    def events(self) -> list[str]:
        return [line["event"] for line in self.lines]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _run(tmp_path: Path, sqlite_url: str, args: list[str], ready: str, probe: Callable[[str], Any]) -> Run:
    """Run ``portico --config … ARGS --port P`` over a fake source until GET ``ready`` answers
    200, call ``probe(base_url)``, then stop it with SIGTERM."""
    write_state(tmp_path / "source.json", students=20)
    path = write_config(tmp_path, sqlite_url, schedule={"interval": 1})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", MODULE, "--config", str(path), *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def answered() -> httpx.Response | None:
        try:
            r = httpx.get(base + ready, timeout=1)
        except httpx.TransportError:
            return None
        return r if r.status_code == 200 else None

    try:
        wait_until(answered, 60, f"GET {ready} answering 200")
        servers = _children(proc.pid)
        probed = probe(base)
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
        print(output[-3000:])  # shown by pytest when the test fails
    # Every line is structured, uvicorn's and APScheduler's included.
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert proc.returncode == 0, output[-2000:]
    return Run(servers, probed, lines, proc.returncode)


def _health_many(base: str) -> list[int]:
    # Each server has its own connections: many requests, each on a new connection (the
    # kernel spreads them), all answered.
    return [httpx.get(f"{base}/healthz", timeout=5).status_code for _ in range(20)]


def test_serve_answers_health_checks_runs_scheduled_syncs_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str
) -> None:
    # /readyz turns 200 once the scheduler's first sync has published a snapshot.
    run = _run(
        tmp_path, sqlite_url, ["serve"], "/readyz", lambda base: httpx.get(f"{base}/healthz", timeout=2)
    )
    assert run.probed.status_code == 200
    assert "sync.finished" in run.events and "scheduler.job" in run.events
    assert run.events[-1] == "serve.stopped"  # the scheduler was shut down, not killed


def test_serve_with_two_processes_answers_from_both_runs_one_scheduler_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str
) -> None:
    run = _run(tmp_path, sqlite_url, ["serve", "--processes", "2"], "/readyz", _health_many)
    assert len(run.servers) == 2
    assert run.probed == [200] * 20
    assert "serve.processes" in run.events and "sync.finished" in run.events
    # One scheduler, in the parent: its start is logged once, not once per server.
    assert [line.get("source") for line in run.lines if line["event"] == "scheduler.job"].count("sis") == 1
    assert run.events[-1] == "serve.stopped"
    assert not any(Path(f"/proc/{pid}").exists() for pid in run.servers)


def test_the_shipped_api_unit_starts_one_server_per_core_of_a_two_core_host(
    tmp_path: Path, sqlite_url: str
) -> None:
    binary, *args = exec_start(UNITS / "portico-api.service")
    assert Path(binary).name == "portico" and args == ["api", "--processes", "2"]
    run = _run(tmp_path, sqlite_url, args, "/healthz", _health_many)
    assert len(run.servers) == 2
    assert run.probed == [200] * 20
    assert "serve.processes" in run.events and "scheduler.job" not in run.events  # the worker syncs
    assert not any(Path(f"/proc/{pid}").exists() for pid in run.servers)
