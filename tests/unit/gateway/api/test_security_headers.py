"""Headers on every answer (nosniff, no-store, HSTS behind a trusted HTTPS proxy, CSP and
frame-ancestors on HTML), redirects never built from the Host header, forwarding headers
believed from trusted proxies only, and private files created 0600."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import Request
from fastapi.testclient import TestClient
from starlette.responses import HTMLResponse, RedirectResponse

from cache.store import Cache, open_cache
from gateway.api.app import create_app
from gateway.bootstrap import build_application
from gateway.cli import main
from tests.support.config import make_config
from tests.support.world import login, privacy_world


@pytest.fixture
def cache(tmp_path: Path, sqlite_url: str) -> Iterator[Cache]:
    config, secrets = make_config(
        tmp_path, sqlite_url, api={"docs": True, "trusted_proxies": ["10.0.0.0/8", "127.0.0.1"]}
    )
    c = open_cache(config, secrets)
    yield c
    c.dispose()


def test_every_answer_says_nosniff_and_no_store_the_500_and_openapi_included(
    cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(cache.config, cache)
    with TestClient(app, raise_server_exceptions=False) as c:
        answers = [
            c.get("/openapi.json"),
            c.get("/healthz"),
            c.get("/readyz"),
            c.get("/v1/me"),
            c.get("/nowhere"),
            c.delete("/healthz"),
            c.post("/v1/auth/login", json={}),
            c.get("/docs"),
        ]
        monkeypatch.setattr("gateway.api.routes.health.json_response", lambda *a, **k: 1 / 0)
        crash = c.get("/healthz")
    assert crash.status_code == 500
    for r in [*answers, crash]:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["cache-control"] == "no-store", r.url
        assert "strict-transport-security" not in r.headers  # plain HTTP


def test_hsts_only_when_a_trusted_proxy_says_the_request_came_over_https(cache: Cache) -> None:
    app = create_app(cache.config, cache)
    https = {"X-Forwarded-Proto": "https"}
    with TestClient(app, client=("10.1.2.3", 4000)) as proxy:
        assert proxy.get("/healthz", headers=https).headers["strict-transport-security"] == "max-age=31536000"
        assert "strict-transport-security" not in proxy.get("/healthz").headers
    with TestClient(app, client=("192.0.2.7", 4000)) as direct:  # not a proxy of ours: ignored
        assert "strict-transport-security" not in direct.get("/healthz", headers=https).headers


def test_only_a_trusted_proxy_says_who_the_client_is(cache: Cache) -> None:
    """/metrics without a token answers loopback only: a proxy on loopback must not make
    every client look local, and a client must not claim to be local."""
    app = build_application(cache.config, cache=cache).api()
    with TestClient(app, client=("127.0.0.1", 4000)) as via_proxy:
        assert via_proxy.get("/metrics").status_code == 200  # the operator on the machine
        assert via_proxy.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
        chain = {"X-Forwarded-For": "203.0.113.9, 10.0.0.2"}  # through two of our proxies
        assert via_proxy.get("/metrics", headers=chain).status_code == 404
    with TestClient(app, client=("203.0.113.9", 4000)) as outsider:
        assert outsider.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 404


def test_the_docs_page_runs_no_inline_script_and_is_never_framed(cache: Cache) -> None:
    with TestClient(create_app(cache.config, cache)) as c:
        r = c.get("/docs")
    policy = r.headers["content-security-policy"]
    assert r.status_code == 200 and "frame-ancestors 'none'" in policy
    script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
    assert "unsafe-inline" not in script_src and "default-src 'none'" in policy
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"


def test_html_pages_get_a_policy_and_frame_ancestors_without_losing_their_own() -> None:
    from gateway.api.edge import HTML_CSP, security_headers

    html = [(b"content-type", b"text/html; charset=utf-8")]
    plain = dict(security_headers(html, https=False, hsts=b"max-age=1"))
    assert plain[b"content-security-policy"] == HTML_CSP and plain[b"x-frame-options"] == b"DENY"
    own = dict(
        security_headers([*html, (b"content-security-policy", b"default-src 'self'")], https=False, hsts=b"")
    )
    assert own[b"content-security-policy"] == b"default-src 'self'; frame-ancestors 'none'"
    strict = [
        *html,
        (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
        (b"cache-control", b"private, no-store"),
    ]
    kept = dict(security_headers(strict, https=True, hsts=b"max-age=5"))
    assert kept[b"content-security-policy"] == b"default-src 'none'; frame-ancestors 'none'"
    assert (
        kept[b"cache-control"] == b"private, no-store" and kept[b"strict-transport-security"] == b"max-age=5"
    )
    json_ = dict(security_headers([(b"content-type", b"application/json")], https=False, hsts=b""))
    assert b"content-security-policy" not in json_


def test_no_redirect_is_built_from_the_host_header(cache: Cache) -> None:
    app = create_app(cache.config, cache)

    @app.get("/test-page", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hello</p>")

    @app.get("/test-go", include_in_schema=False)
    async def go(request: Request) -> RedirectResponse:
        return RedirectResponse(str(request.url_for("page")) + "?x=1", status_code=303)

    with TestClient(app, base_url="http://evil.example") as c:
        slash = c.get("/v1/students/", follow_redirects=False)
        redirect = c.get("/test-go", follow_redirects=False)
        html = c.get("/test-page")
    assert slash.status_code == 404 and "location" not in slash.headers  # no trailing-slash redirect
    assert redirect.status_code == 303 and redirect.headers["location"] == "/test-page?x=1"
    assert redirect.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in html.headers["content-security-policy"]
    from gateway.api.edge import relative_location

    assert (
        relative_location(b"https://elsewhere.example/x", b"evil.example") == b"https://elsewhere.example/x"
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_databases_mail_exports_and_certificates_are_created_0600(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.registry.validate_connectors", lambda loaded: [])
    old = Path(sqlite_url.removeprefix("sqlite:///"))
    old.touch(mode=0o644)  # a file an older version left world-readable
    old.chmod(0o644)
    w = privacy_world(tmp_path, sqlite_url, students=12)
    try:
        with w.api() as c:
            h = login(c, w.users["mum"])
            sid = w.ref("student", w.district.cases.split_household[0])
            c.post(f"/v1/students/{sid}/corrections", headers=h, json={"about": "x", "message": "y"})
        cfg = str(w.config_yaml())
        runner = CliRunner()
        for args in (
            ["export", "--student", sid, "--out", str(tmp_path / "out" / "export.json")],
            [
                "purge",
                "--student",
                sid,
                "--reason",
                "deletion-request",
                "--certificates",
                str(tmp_path / "certs"),
            ],
        ):
            assert runner.invoke(main, ["--config", cfg, *args]).exit_code == 0
        files: list[Any] = [
            *tmp_path.glob("cache.db*"), *tmp_path.glob("keys.db*"), *(tmp_path / "outbox").glob("*.eml"),
            tmp_path / "out" / "export.json", *(tmp_path / "certs").glob("*.json"), *tmp_path.glob("*.lock"),
        ]  # fmt: skip
        names = {f.name for f in files}
        assert {"cache.db", "cache.db-wal", "cache.db-shm", "keys.db", "export.json"} <= names, names
        assert any(n.endswith(".lock") for n in names), names
        assert any(n.endswith(".eml") for n in names) and any(
            n.endswith(".json") and n != "export.json" for n in names
        )
        assert {f.name: oct(mode(f)) for f in files if mode(f) != 0o600} == {}
        assert mode(tmp_path / "outbox") == 0o700
    finally:
        w.cache.dispose()
