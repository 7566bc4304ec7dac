"""httpx's "HTTP Request:" lines (one per call: hundreds in a sync) show only at debug."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest

from config.settings import LoggingSettings
from gateway.ops.logging import configure_logging, reset_logging


@pytest.fixture
def served() -> Iterator[str]:
    from fastapi import FastAPI

    from simulators.powerschool.server import run_in_thread

    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    url, stop = run_in_thread(app)
    try:
        yield url
    finally:
        stop()


@pytest.mark.parametrize(("level", "shown"), [("info", False), ("warning", False), ("debug", True)])
def test_http_request_lines_appear_only_at_debug(served: str, level: str, shown: bool) -> None:
    out = io.StringIO()
    configure_logging(LoggingSettings(level=level, format="json"), stream=out)  # type: ignore[arg-type]
    try:
        with httpx.Client() as client:
            assert client.get(f"{served}/ping").status_code == 200
    finally:
        reset_logging()
    assert ("HTTP Request:" in out.getvalue()) is shown, out.getvalue()
