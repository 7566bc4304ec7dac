"""The portal through Starlette's TestClient: forms posted with their CSRF token, as a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from gateway.web import mount
from tests.district_app import PASSWORD, Served, serve


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form"
    return found.group(1)


class Browser:
    """One browser's cookie jar on the portal."""

    def __init__(self, served: Served, base_url: str = "http://127.0.0.1") -> None:
        self.served = served
        self.client = served.client
        self.client.base_url = httpx.URL(base_url)
        self.client.cookies.clear()

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, follow_redirects=False, **kw)

    def post(self, path: str, form: dict[str, str], *, from_page: str | None = None) -> httpx.Response:
        """Post ``form`` with the CSRF token of ``from_page`` (default: the page posted to)."""
        token = csrf_of(self.get(from_page or path.split("?")[0]).text)
        return self.client.post(path, data={"csrf": token, **form}, follow_redirects=False)

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        r = self.post("/sign-in", {"username": username, "password": password})
        assert r.status_code == 303, r.text
        return r


def portal(tmp_path: Path, **config: Any) -> Iterator[Served]:
    served = serve(tmp_path, f"sqlite:///{tmp_path / 'cache.db'}", **config)
    mount.install(served.client.app)  # type: ignore[arg-type]
    try:
        yield served
    finally:
        served.close()
