"""A real ``portico api`` process on loopback, raw HTTP over a socket, and the server's memory.

Shared by the tests of the edge (limits, logging paths): the API runs exactly as a
district runs it (``portico api``, uvicorn configured by ``gateway.api.server``), in its
own process, so its resident memory can be read from ``/proc``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from cache.keys.crypto import new_kek_line
from cache.migrations import runner as migrations
from tests.support import REPO
from tests.support.fake_source import write_state
from tests.support.net import free_port


@dataclass
class ApiProcess:
    proc: subprocess.Popen[str]
    port: int
    output: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_kib(self) -> int:
        """The server's resident memory now (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def write_api_config(tmp_path: Path, **sections: Any) -> Path:
    """A YAML config with one ``fake`` connector (tests.fake_source) and the given sections."""
    key_file = tmp_path / "kek.key"
    if not key_file.exists():
        key_file.write_text(new_kek_line("kek-test") + "\n")
    write_state(tmp_path / "source.json", students=4)
    raw: dict[str, Any] = {
        "district": {"name": "Test District", "timezone": "America/New_York"},
        "cache": {
            "url": f"sqlite:///{tmp_path / 'cache.db'}",
            "kek": {"file": str(key_file)},
            "keystore_url": f"sqlite:///{tmp_path / 'keys.db'}",
        },
        "connectors": [
            {"name": "sis", "type": "fake", "options": {"state_file": str(tmp_path / "source.json")}}
        ],
        "logging": {"format": "json"},
        **sections,
    }
    path = tmp_path / "portico.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    migrations.upgrade(raw["cache"]["url"], raw["cache"]["keystore_url"])  # as `portico db upgrade`
    return path


@contextlib.contextmanager
def api_process(tmp_path: Path, command: str = "api", **sections: Any) -> Iterator[ApiProcess]:
    """``portico <command>`` on a free loopback port until the block ends (then SIGTERM)."""
    path = write_api_config(tmp_path, **sections)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "tests.support.fake_source",
        "--config",
        str(path),
        command,
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api = ApiProcess(proc, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{api.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"portico {command} did not start: {proc.communicate()[0][-3000:]}")
            time.sleep(0.1)
        yield api
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        api.output = proc.communicate(timeout=30)[0]


@dataclass
class RawAnswer:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent: int = 0  # bytes of the request the client managed to send


def raw_request(port: int, head: bytes, body: Iterable[bytes] = (), timeout: float = 10) -> RawAnswer:
    """Send ``head`` then ``body`` chunks while reading the answer (the server may answer and
    close before the body is sent: a send that fails then is the point, not an error)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    received = bytearray()
    sent = 0

    def read() -> None:
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for part in (head, *body):
            sock.sendall(part)
            sent += len(part)
    except OSError:
        pass  # refused and closed: the rest of the request was never read
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    reader.join(timeout)
    sock.close()
    return parse_answer(bytes(received), sent)


def parse_answer(raw: bytes, sent: int = 0) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        return RawAnswer(None, sent=sent)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(lines[0].split()[1]), headers, body, sent)


def chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    """``total`` bytes of a JSON-ish body, made as they are sent (never held at once)."""
    block = b'{"username":"' + b"x" * (size - 14) + b'"'
    for _ in range(total // size):
        yield block


def chunked(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    """The same, in ``Transfer-Encoding: chunked`` framing."""
    for block in chunks(total, size):
        yield b"%x\r\n" % len(block) + block + b"\r\n"
    yield b"0\r\n\r\n"
