"""One logging path for every process: ``portico api`` and the demo run uvicorn through
Portico's redaction, access lines carry the route template (never an id), and the demo's
whole log passes the same scan as ``scripts/log_scan``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import REPO, log_scan_plugin
from tests.support.edge import api_process, raw_request
from tests.support.log_scan_plugin import needles
from tests.support.net import free_port


def test_portico_api_logs_every_line_as_json_with_route_templates(tmp_path: Path) -> None:
    probe = "Zq7nQ2pLx4TtYw9Vb3Rk1M"  # an id a caller might try
    with api_process(tmp_path) as api:
        httpx.get(f"{api.url}/v1/students/{probe}/attendance", params={"token": "s3cret"})
        httpx.post(
            f"{api.url}/v1/auth/login",
            json={"username": "someone@example.org", "password": "Hunter 2 hunter"},
        )
        raw_request(api.port, b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn's own warning, through our path
        raw_request(api.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
    lines = [ln for ln in api.output.splitlines() if ln.strip()]
    events = [json.loads(ln) for ln in lines]  # every line is JSON: nothing bypassed the renderer
    access = [e for e in events if e["event"] == "http.request"]
    assert {"method": "GET", "route": "/v1/students/{student_id}/attendance", "status": 401} in [
        {k: e[k] for k in ("method", "route", "status")} for e in access
    ]
    assert any(e.get("logger") == "uvicorn.error" and "Invalid HTTP request" in e["event"] for e in events)
    assert any("refused at the edge" in e["event"] for e in events)
    text = api.output
    for secret in (probe, "s3cret", "someone@example.org", "Hunter 2 hunter"):
        assert secret not in text


def test_the_demo_logs_through_the_same_redaction_and_passes_the_log_scan(tmp_path: Path) -> None:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gateway",
        "demo",
        "--dir",
        str(tmp_path / "demo"),
        "--students",
        "40",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        config = (tmp_path / "demo" / "portico.yaml").read_text()
        assert "outbox" in config
        with httpx.Client(base_url=base) as c:
            c.post(
                "/v1/auth/login", json={"username": "nobody@example.org", "password": "Not the password 1"}
            )
            c.get("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/attendance", params={"to": "0001-01-01"})
            c.post("/v1/auth/login", content=b"{" * 10_000, headers={"content-type": "application/json"})
            c.get("/docs")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    logins = re.findall(r"^  (.+?)\s{2,}(\S+@\S+)\s+(\S+)$", out, re.M)
    assert logins, out  # what the demo tells its user stays on stdout
    log = [ln for ln in err.splitlines() if ln.strip() and ln != "Aborted!"]  # click's word on Ctrl-C
    scanned = log_scan_plugin._state.get("stream")
    if scanned is not None:  # under scripts/log_scan: the demo's lines join the run's scan too
        scanned.write("\n".join(log) + "\n")
    assert any("http.request" in ln and "route=/v1/students/{student_id}/attendance" in ln for ln in log), (
        err[-3000:]
    )
    assert any("Uvicorn running" in ln for ln in log)  # uvicorn's own lines came through Portico's renderer
    assert all(re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d", ln) for ln in log), [
        ln for ln in log if not re.match(r"^\d{4}", ln)
    ][:3]
    hits = {kind: [ln for ln in log if pattern.search(ln)] for kind, pattern in needles().items()}
    for _, username, password in logins:
        hits.setdefault("login", []).extend(ln for ln in log if username in ln or password in ln)
    assert not any(hits.values()), {k: v[:2] for k, v in hits.items() if v}
