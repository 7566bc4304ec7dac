"""A PowerSchool-like SIS over HTTP (Starlette + uvicorn), fed by the synthetic district.

``make_app`` builds the ASGI app around :class:`~simulators.powerschool.core.PowerSchoolSim`
(reachable as ``app.state.sim`` for fault knobs, the change overlay and counters);
``run_in_thread`` serves it on a free loopback port for tests and the demo; ``serve``
is what ``portico simulate powerschool`` runs.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from simulators.district.synthetic import DistrictSpec, SyntheticDistrict
from simulators.powerschool.core import PowerSchoolSim, SimResponse
from simulators.powerschool.faults import Faults

__all__ = ["Faults", "PowerSchoolSim", "free_port", "make_app", "port_in_use", "run_in_thread", "serve"]

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ConnectionDropped(Exception):
    """Raised after half a body is sent, so the server closes the connection."""


class _DroppingResponse(Response):
    """Announces the full length, sends half, then fails: the client sees a cut connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True}
        )
        raise ConnectionDropped("simulated connection drop")


def make_app(
    district: SyntheticDistrict,
    *,
    client_id: str,
    client_secret: str,
    faults: Faults | None = None,
    v1_page_cap: int = 100,
    schema_page_cap: int = 1000,
    tables_without_txn: Sequence[str] = (),
    plugin: bytes | None = None,
) -> Starlette:
    """The simulator as an ASGI app; ``app.state.sim`` is its :class:`PowerSchoolSim`.
    ``plugin``: the installed plugin zip, whose grants the server enforces (None: all granted)."""
    sim = PowerSchoolSim(
        district,
        client_id=client_id,
        client_secret=client_secret,
        faults=faults,
        v1_page_cap=v1_page_cap,
        schema_page_cap=schema_page_cap,
        tables_without_txn=tables_without_txn,
        plugin=plugin,
    )

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        out: SimResponse = sim.respond(
            request.method, request.url.path, dict(request.query_params), request.headers, body
        )
        if out.delay:
            await asyncio.sleep(out.delay)
        cls = _DroppingResponse if out.drop else Response
        return cls(out.body, status_code=out.status, headers=out.headers)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])
    app.state.sim = sim
    return app


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (for servers started in a thread or child process)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


_free_port = free_port  # the name scripts/bench_sync.py imports


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could not listen on ``host:port`` now (checked as uvicorn binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def run_in_thread(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` from a daemon thread; returns (base_url, stop). Loopback only by default."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="critical", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"ps-sim-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"simulator did not start on {host}:{port}")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://{host}:{port}", stop


def serve(
    spec: DistrictSpec,
    host: str = "127.0.0.1",
    port: int = 8700,
    *,
    client_id: str,
    client_secret: str,
    faults: Faults | None = None,
    v1_page_cap: int = 100,
    schema_page_cap: int = 1000,
    tables_without_txn: Sequence[str] = (),
    plugin: bytes | None = None,
    log_level: str = "info",
) -> None:
    """Serve a district built from ``spec`` until interrupted (``portico simulate powerschool``)."""
    app = make_app(
        SyntheticDistrict(spec),
        client_id=client_id,
        client_secret=client_secret,
        faults=faults,
        v1_page_cap=v1_page_cap,
        schema_page_cap=schema_page_cap,
        tables_without_txn=tables_without_txn,
        plugin=plugin,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
