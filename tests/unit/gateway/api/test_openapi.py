"""The contract is published at /openapi.json: every route of the API contract (CONTRACT), one operation each."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from cache.store import open_cache
from gateway.api.app import create_app
from tests.support.config import make_config

CONTRACT = {
    ("post", "/v1/auth/activate"), ("post", "/v1/auth/login"), ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/password"), ("post", "/v1/auth/password-reset"),
    ("post", "/v1/auth/password-reset/confirm"), ("get", "/v1/me"), ("post", "/v1/me/aup"),
    ("get", "/v1/students"), ("get", "/v1/students/{student_id}"),
    ("get", "/v1/students/{student_id}/attendance"), ("get", "/v1/students/{student_id}/attendance/summary"),
    ("get", "/v1/students/{student_id}/timetable"), ("get", "/v1/students/{student_id}/grades"),
    ("get", "/v1/students/{student_id}/assignments"), ("get", "/v1/students/{student_id}/behaviour"),
    ("get", "/v1/students/{student_id}/reports"), ("get", "/v1/students/{student_id}/reports/{report_id}"),
    ("get", "/v1/notices"), ("get", "/v1/students/{student_id}/export"),
    ("post", "/v1/students/{student_id}/corrections"), ("get", "/v1/students/{student_id}/corrections"),
    ("get", "/v1/students/{student_id}/access-log"), ("get", "/healthz"), ("get", "/readyz"),
    ("post", "/v1/account/feeds"), ("get", "/v1/account/feeds"), ("delete", "/v1/account/feeds/{feed_id}"),
    ("post", "/v1/account/tokens"), ("get", "/v1/account/tokens"), ("delete", "/v1/account/tokens/{token_id}"),
    ("get", "/v1/calendar/{secret}.ics"),
}  # fmt: skip


def test_openapi_lists_every_contract_route_once_and_head_still_answers(
    tmp_path: Path, sqlite_url: str
) -> None:
    config, secrets = make_config(tmp_path, sqlite_url)
    cache = open_cache(config, secrets)
    try:
        with TestClient(create_app(config, cache)) as client:
            r = client.get("/openapi.json")
            assert r.status_code == 200
            ops = {(m, path) for path, item in r.json()["paths"].items() for m in item}
            assert ops >= CONTRACT, sorted(CONTRACT - ops)
            assert not any(m == "head" for m, _ in ops)
            get, head = client.get("/healthz"), client.head("/healthz")
            assert head.status_code == get.status_code == 200
            assert head.content == b"" and head.headers["content-length"] == get.headers["content-length"]
            assert client.delete("/healthz").status_code == 405
    finally:
        cache.dispose()
