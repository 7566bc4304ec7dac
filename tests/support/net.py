"""Loopback servers a test starts: free ports, and an ASGI app under a real uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from simulators.powerschool.server import free_port
from tests.support.clock import wait_until

__all__ = ["free_port", "serving"]


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[str]:
    """``app`` served by uvicorn from a thread on a free 127.0.0.1 port (``options`` go to
    ``uvicorn.Config``): its base URL while the block runs."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn starting")
        assert server.started, "uvicorn stopped before it started serving"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
