"""/metrics serves Prometheus text to operators only: with the token, or from loopback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cache.store import open_cache
from gateway.bootstrap import build_application
from gateway.sync.engine import SyncEngine
from tests.support.config import make_config
from tests.support.connectors import ListConnector
from tests.support.records import family


def unknown(page: bytes) -> bytes:
    """A 404 page without what differs from one address to the next: the portal's page names
    its own address (its language form returns there) and a new browser's form token."""
    return re.sub(rb'name="csrf" value="\w+"', b"", page.replace(b"/metrics", b"/no-such-path"))


def test_metrics_need_the_operator_token_and_otherwise_look_like_any_missing_path(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTICO_TEST_METRICS_TOKEN", "op-token-0123456789")
    config, secrets = make_config(
        tmp_path, sqlite_url, api={"metrics": {"token": {"env": "PORTICO_TEST_METRICS_TOKEN"}}}
    )
    cache = open_cache(config, secrets)
    try:
        SyncEngine(cache.engine, cache.keyring, config, config.connectors[0]).run(
            ListConnector("sis", family(5))
        )
        with TestClient(build_application(config, cache=cache, secrets=secrets).api()) as client:
            missing = client.get("/no-such-path")
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = client.get("/metrics", headers=headers)
                assert (r.status_code, unknown(r.content)) == (missing.status_code, unknown(missing.content))
            ok = client.get("/metrics", headers={"Authorization": "Bearer op-token-0123456789"})
            assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")
            assert 'portico_sync_last_success_timestamp_seconds{connector="sis"}' in ok.text
    finally:
        cache.dispose()


def test_without_a_token_only_loopback_may_scrape(tmp_path: Path, sqlite_url: str) -> None:
    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    try:
        with TestClient(
            build_application(config, cache=cache, secrets=secrets).api()
        ) as remote:  # the test client is not loopback
            assert remote.get("/metrics").status_code == 404
        with TestClient(
            build_application(config, cache=cache, secrets=secrets).api(), client=("127.0.0.1", 50000)
        ) as local:
            assert local.get("/metrics").status_code == 200
    finally:
        cache.dispose()
