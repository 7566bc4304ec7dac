"""Requests are bounded at the edge: body per route, URL, header count and size, refused
with 413/414/431 problem+json before the body is read (a real server:
tests/integration/test_oversize_requests.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from cache.store import Cache, open_cache
from config.errors import ConfigError
from gateway.api.app import create_app
from tests.support.config import make_config


@pytest.fixture
def cache(tmp_path: Path, sqlite_url: str) -> Iterator[Cache]:
    config, secrets = make_config(tmp_path, sqlite_url)
    c = open_cache(config, secrets)
    yield c
    c.dispose()


def call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: list[bytes], method: str = "POST"
) -> dict[str, Any]:
    """One request straight into the ASGI app; records how much of the body it asked for."""
    out: dict[str, Any] = {"receives": 0, "body": b"", "headers": {}}
    parts = list(body)

    async def receive() -> dict[str, Any]:
        out["receives"] += 1
        if parts:
            return {"type": "http.request", "body": parts.pop(0), "more_body": bool(parts)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"portico.test"), *headers], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return out


def problem(out: dict[str, Any], status: int) -> dict[str, Any]:
    assert out["status"] == status, out
    assert out["headers"]["content-type"] == "application/problem+json"
    assert out["headers"]["connection"] == "close"  # the rest of the request is never read
    assert out["headers"]["x-content-type-options"] == "nosniff"
    body: dict[str, Any] = orjson.loads(out["body"])
    assert body["status"] == status
    return body


def test_a_declared_body_over_the_sign_in_limit_is_refused_413_without_reading_a_byte(cache: Cache) -> None:
    app = create_app(cache.config, cache)
    out = call(
        app,
        "/v1/auth/login",
        [(b"content-type", b"application/json"), (b"content-length", b"52428800")],
        [b"{"],
    )
    assert problem(out, 413)["type"] == "content-too-large"
    assert out["receives"] == 0
    assert "4096 bytes" in orjson.loads(out["body"])["detail"]


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(cache: Cache) -> None:
    app = create_app(cache.config, cache)
    body = [b"x" * 1024] * 200_000  # 200 MB if it were all read
    out = call(
        app,
        "/v1/auth/login",
        [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        body,
    )
    problem(out, 413)
    assert out["receives"] <= 5  # 4 KiB and one more KiB: then the client is told to go away


def test_a_correction_may_be_larger_than_a_sign_in_and_is_bounded_too(cache: Cache) -> None:
    app = create_app(cache.config, cache)
    h = [(b"content-type", b"application/json"), (b"authorization", b"Bearer nobody")]

    def post(path: str, size: int) -> dict[str, Any]:
        return call(app, path, [*h, (b"content-length", str(size).encode())], [b"x" * size])

    assert post("/v1/auth/login", 4097)["status"] == 413
    assert post("/v1/auth/login", 4000)["status"] == 400  # read, and refused as not JSON
    assert post("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/corrections", 30_000)["status"] == 400  # read: not JSON
    assert post("/v1/students/AAAAAAAAAAAAAAAAAAAAAA/corrections", 40_000)["status"] == 413


def test_the_limits_come_from_config(tmp_path: Path, sqlite_url: str) -> None:
    config, secrets = make_config(tmp_path, sqlite_url, api={"limits": {"body_bytes": 100_000}})
    c = open_cache(config, secrets)
    try:
        out = call(create_app(config, c), "/v1/auth/login", [(b"content-length", b"50000")], [b"x" * 50_000])
        assert out["status"] == 400  # read and parsed: the sign-in limit is now larger
    finally:
        c.dispose()


def test_a_limit_for_a_route_that_does_not_exist_stops_start_up(tmp_path: Path, sqlite_url: str) -> None:
    config, secrets = make_config(
        tmp_path, sqlite_url, api={"limits": {"route_body_bytes": {"/v1/nope": 10}}}
    )
    c = open_cache(config, secrets)
    try:
        with (
            pytest.raises(ConfigError, match="route_body_bytes.*/v1/nope"),
            TestClient(create_app(config, c)),
        ):
            pass  # the app starts: every route is in place, the limits are checked
    finally:
        c.dispose()


def test_long_urls_many_headers_large_headers_and_huge_tokens_are_refused(cache: Cache) -> None:
    with TestClient(create_app(cache.config, cache)) as client:
        long_url = client.get("/v1/students", params={"cursor": "A" * 5000})
        many = client.get("/healthz", headers={f"x-h{i}": "1" for i in range(100)})
        large = client.get("/healthz", headers={"x-big": "a" * 20_000})
        token = client.get("/v1/me", headers={"Authorization": "Bearer " + "t" * 100_000})
        bad_length = client.post("/v1/auth/login", content=b"{}", headers={"content-length": "2x"})
    assert long_url.status_code == 414 and long_url.json()["type"] == "uri-too-long"
    for r in (many, large, token):
        assert r.status_code == 431 and r.headers["content-type"] == "application/problem+json", r.text
    assert bad_length.status_code == 400
