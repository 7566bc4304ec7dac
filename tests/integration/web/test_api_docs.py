"""The API's contract and docs page work offline: the bearer scheme, a schema for every
answer, errors as problem+json (400, never 422), Swagger UI served by Portico itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cache.store import open_cache
from gateway.api.app import create_app
from tests.support.config import make_config
from tests.support.web import Portal


def document(tmp_path: Path, sqlite_url: str, **config: Any) -> tuple[TestClient, dict[str, Any]]:
    cfg, secrets = make_config(tmp_path, sqlite_url, **config)
    client = TestClient(create_app(cfg, open_cache(cfg, secrets)))
    return client, client.get("/openapi.json").json()


def test_every_operation_has_its_success_schema_and_problem_errors_and_never_422(
    tmp_path: Path, sqlite_url: str
) -> None:
    _, doc = document(tmp_path, sqlite_url)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }  # fmt: skip
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert "422" not in responses, (method, path)
            assert responses["400"]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
            ok = [code for code in responses if code.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                if code not in ("202", "204"):
                    assert responses[code].get("content"), (method, path, code)
            if path.startswith("/v1/students") or path in ("/v1/me", "/v1/notices"):
                assert op["security"] == [{"bearer": []}] and "401" in responses, (method, path)
            if "{student_id}" in path:
                assert "404" in responses, (method, path)
    login = doc["paths"]["/v1/auth/login"]["post"]
    assert "security" not in login and "429" in login["responses"]


def test_a_bad_request_is_the_documented_400_problem(tmp_path: Path, sqlite_url: str) -> None:
    client, _ = document(tmp_path, sqlite_url)
    r = client.post("/v1/auth/login", json={"username": ""})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} >= {"username", "password"}


def test_the_docs_page_and_its_assets_are_served_by_portico_with_no_inline_script(
    tmp_path: Path, sqlite_url: str
) -> None:
    client, _ = document(tmp_path, sqlite_url, api={"docs": True})
    page = client.get("/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"https?://", page.text)  # nothing from a CDN
    assert not re.search(r"<script>(?!</script>)", page.text)  # every script is a file
    for src in re.findall(r'(?:src|href)="(/docs/[^"]+)"', page.text):
        assert client.get(src).status_code == 200, src
    off = tmp_path / "off"
    off.mkdir()
    closed, _ = document(off, f"sqlite:///{off / 'cache.db'}")
    assert closed.get("/docs").status_code == 404  # off unless enabled


@pytest.mark.browser
def test_swagger_ui_renders_the_contract_in_chromium_without_a_network(page: Any, portal: Portal) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto("/docs")
    page.wait_for_selector(
        "#operations-students-attendance_v1_students__student_id__attendance_get", timeout=20_000
    )
    assert page.locator("button.authorize").count() == 1  # the bearer scheme
    assert not failed
